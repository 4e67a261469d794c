"""The panel: the UniTAF sidebar, its scene settings and each engine's options, the operators and
their jobs, the add-on preferences with the downloads and installs. Loaded by
`unitaf_blender.register()` only: nothing outside this package imports it, so keying a take (the
CLI, scripts) never loads the panel.

`register(addon_id)` takes the TOP-LEVEL add-on package name (e.g. "bl_ext.user_default.unitaf_blender"):
AddonPreferences must be keyed by it, not by this sub-package.
"""
import bpy

from .. import props
from . import engine_options, engine_setup, jobs, operators, rig_ui, scene_settings, settings, ui, voice_setup

_registered = []


def register(addon_id):
    settings.ADDON_ID = addon_id
    ui.UNITAF_AP_preferences.bl_idname = addon_id
    props.register_properties()
    scene_settings.register_scene_settings()
    engine_options.register_engine_options()
    engine_setup.setup_runtime(addon_id)   # an installed runtime becomes importable (nothing imported here)
    for cls in ((ui.UNITAF_AP_preferences,) + operators.CLASSES + engine_setup.CLASSES + voice_setup.CLASSES
                + ui.CLASSES + rig_ui.CLASSES):
        bpy.utils.register_class(cls)
        _registered.append(cls)


def unregister():
    job = jobs.current()
    if job is not None and not job.finished:
        job.request_cancel()
        job.wait(timeout=10.0)   # no thread may outlive the add-on
    jobs.set_current(None)
    while _registered:
        bpy.utils.unregister_class(_registered.pop())
    engine_options.unregister_engine_options()
    scene_settings.unregister_scene_settings()
    props.unregister_properties()
    settings.ADDON_ID = None
    engine_setup.RUNTIME_DIR = None
