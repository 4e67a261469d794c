"""Blender layer of UniTAF: the only package that imports bpy.

`register(addon_id)` takes the TOP-LEVEL add-on package name (e.g. "bl_ext.user_default.unitaf_blender"):
AddonPreferences must be keyed by it, not by this sub-package.
"""
import bpy

from . import jobs, neural_setup, operators, props, rig_ui, settings, ui, voice_setup

_cli_handle = None
_registered = []


def _cli_execute(argv):
    from ..cli import blender_command  # lazy: the CLI imports engines only when run
    return blender_command(argv)


def register(addon_id):
    global _cli_handle
    settings.ADDON_ID = addon_id
    ui.UNITAF_AP_preferences.bl_idname = addon_id
    props.register_properties()
    neural_setup.setup_runtime(addon_id)   # an installed PyTorch becomes importable (no torch import here)
    for cls in ((ui.UNITAF_AP_preferences,) + operators.CLASSES + neural_setup.CLASSES + voice_setup.CLASSES
                + ui.CLASSES + rig_ui.CLASSES):
        bpy.utils.register_class(cls)
        _registered.append(cls)
    if hasattr(bpy.utils, "register_cli_command"):
        _cli_handle = bpy.utils.register_cli_command("unitaf", _cli_execute)


def unregister():
    global _cli_handle
    job = jobs.current()
    if job is not None and not job.finished:
        job.request_cancel()
        job.wait(timeout=10.0)   # no thread may outlive the add-on
    jobs.set_current(None)
    if _cli_handle is not None:
        bpy.utils.unregister_cli_command(_cli_handle)
        _cli_handle = None
    while _registered:
        bpy.utils.unregister_class(_registered.pop())
    props.unregister_properties()
    settings.ADDON_ID = None
    neural_setup.RUNTIME_DIR = None
