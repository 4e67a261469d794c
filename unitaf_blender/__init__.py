"""UniTAF for Blender: text + emotion -> speech and facial animation.

Importing this package never imports bpy: the core and the engines run outside Blender.
`register()` loads the panel (`.blender.panel`) and registers the CLI as Blender's `unitaf`
command; the CLI and the panel never import each other.
"""
__version__ = "0.1.0"

_cli_handle = None


def _cli_execute(argv):
    from .cli import blender_command  # lazy: the CLI imports engines only when run
    return blender_command(argv)


def register(addon_id=None):
    global _cli_handle
    import bpy

    from .blender import panel
    panel.register(addon_id or __package__)
    if hasattr(bpy.utils, "register_cli_command"):
        _cli_handle = bpy.utils.register_cli_command("unitaf", _cli_execute)


def unregister():
    global _cli_handle
    import bpy

    from .blender import panel
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    panel.unregister()
