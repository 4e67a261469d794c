"""UniTAF for Blender: text + emotion -> speech and facial animation.

Importing this package never imports bpy: the core and the engines run outside Blender.
Blender registration lives in `.blender` and is loaded only by `register()`.
"""
__version__ = "0.1.0"


def register(addon_id=None):
    from . import blender
    blender.register(addon_id or __package__)


def unregister():
    from . import blender
    blender.unregister()
