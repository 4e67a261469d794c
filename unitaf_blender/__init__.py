"""UniTAF for Blender: text + emotion -> speech and facial animation.

Importing this package never imports bpy: the core and the engines run outside Blender.
Blender registration lives in `.blender.panel` and is loaded only by `register()`.
"""
__version__ = "0.1.0"


def register(addon_id=None):
    from .blender import panel
    panel.register(addon_id or __package__)


def unregister():
    from .blender import panel
    panel.unregister()
