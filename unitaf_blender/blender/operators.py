"""Operators: Generate (threaded in the UI, synchronous in execute), Import, mapping edits."""
import functools
import os

import bpy
from bpy.props import StringProperty

from ..engines import EngineError, GenerateRequest, get_engine
from . import jobs, mapping_store
from .takes import TakeError, TakeOptions, apply_take

ADDON_ID = None   # top-level add-on package, set by register()


def preferences(context):
    addon = context.preferences.addons.get(ADDON_ID) if ADDON_ID else None
    return addon.preferences if addon is not None else None


def target_object(context):
    """The panel's target, else the active object when it is a mesh."""
    settings = context.scene.unitaf
    if settings.target is not None:
        return settings.target
    obj = context.active_object
    return obj if obj is not None and obj.type == 'MESH' else None


def take_options(settings) -> TakeOptions:
    return TakeOptions(
        start_frame=None if settings.use_current_frame else settings.start_frame,
        intensity={"mouth": settings.intensity_mouth, "brows": settings.intensity_brows,
                   "eyes": settings.intensity_eyes, "other": settings.intensity_other},
        smoothing=settings.smoothing, interpolation=settings.interpolation,
        push_to_nla=settings.push_to_nla, add_sound=settings.add_sound)


def emotion_spec(settings) -> str:
    if settings.emotion == "neutral":
        return "calm:0.0"
    return f"{settings.emotion}:{settings.emotion_intensity:.3f}"


def build_request(context) -> GenerateRequest:
    settings = context.scene.unitaf
    text = settings.text_block.as_string() if settings.text_block else settings.text
    if not text.strip():
        raise TakeError("Type the text to speak (or pick a Text datablock).")
    options = {}
    prefs = preferences(context)
    if prefs is not None:
        options["device"] = prefs.device.lower()
        if prefs.cache_dir:
            options["model_dir"] = bpy.path.abspath(prefs.cache_dir)
    return GenerateRequest(text=text, emotion=emotion_spec(settings), voice=settings.voice or None,
                           seed=settings.seed, options=options)


def engine_for(context):
    engine_id = context.scene.unitaf.engine
    return get_engine(None if engine_id in ("", "NONE") else engine_id)


def _apply_by_name(scene_name, obj_name, opts, perf):
    """Resolve the scene/object again at apply time: they may have been renamed or deleted."""
    scene = bpy.data.scenes.get(scene_name)
    obj = bpy.data.objects.get(obj_name)
    if scene is None or obj is None:
        raise TakeError(f"The target '{obj_name}' or its scene no longer exists.")
    return apply_take(scene, obj, perf, opts)


def _report_result(op, result):
    for w in result.warnings:
        op.report({'WARNING'}, w)
    op.report({'INFO'}, f"UniTAF: {result.action.name}, frames {result.frame_start}-{result.frame_end}")


def _redraw(context):
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area.type == 'VIEW_3D':
                area.tag_redraw()


class UNITAF_OT_generate(bpy.types.Operator):
    """Generate speech and facial animation for the target mesh"""
    bl_idname = "unitaf.generate"
    bl_label = "Generate"
    bl_options = {'REGISTER', 'UNDO'}

    _job = None
    _timer = None

    def _prepare(self, context):
        obj = target_object(context)
        from .takes import validate_target
        validate_target(obj)
        request = build_request(context)
        engine = engine_for(context)
        opts = take_options(context.scene.unitaf)
        return obj, request, engine, opts

    def execute(self, context):   # synchronous: background mode, scripts
        try:
            obj, request, engine, opts = self._prepare(context)
            perf = engine.generate(request, lambda f, s: None, None)
            result = apply_take(context.scene, obj, perf, opts)
        except (TakeError, EngineError) as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        _report_result(self, result)
        return {'FINISHED'}

    def invoke(self, context, event):
        job = jobs.current()
        if job is not None and not job.finished:
            self.report({'ERROR'}, "A UniTAF generation is already running (Esc cancels it).")
            return {'CANCELLED'}
        try:
            obj, request, engine, opts = self._prepare(context)
        except (TakeError, EngineError) as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        apply = functools.partial(_apply_by_name, context.scene.name, obj.name, opts)
        self._job = jobs.GenerateJob(engine, request, apply)
        jobs.set_current(self._job)
        self._job.start()
        wm = context.window_manager
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        job = self._job
        if event.type == 'ESC' and event.value == 'PRESS':
            job.request_cancel()
            return {'RUNNING_MODAL'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        job.poll()
        context.window_manager.progress_update(int(job.progress * 100))
        _redraw(context)
        if not job.finished:
            return {'PASS_THROUGH'}
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        if job.state == jobs.DONE:
            _report_result(self, job.result)
            return {'FINISHED'}
        if job.state == jobs.FAILED:
            self.report({'ERROR'}, job.error)
        else:
            self.report({'INFO'}, "UniTAF: generation cancelled; nothing was changed.")
        return {'CANCELLED'}


class UNITAF_OT_cancel(bpy.types.Operator):
    """Cancel the running generation (the scene stays unchanged)"""
    bl_idname = "unitaf.cancel"
    bl_label = "Cancel"

    @classmethod
    def poll(cls, context):
        job = jobs.current()
        return job is not None and not job.finished

    def execute(self, context):
        jobs.current().request_cancel()
        return {'FINISHED'}


class UNITAF_OT_import_performance(bpy.types.Operator):
    """Key a recorded performance (Live Link Face CSV or UniTAF .npz) onto the target mesh"""
    bl_idname = "unitaf.import_performance"
    bl_label = "Import Performance"
    bl_options = {'REGISTER', 'UNDO'}

    filepath: StringProperty(subtype='FILE_PATH')
    filter_glob: StringProperty(default="*.csv;*.npz", options={'HIDDEN'})

    def invoke(self, context, event):
        context.window_manager.fileselect_add(self)
        return {'RUNNING_MODAL'}

    def execute(self, context):
        from ..core.livelink import read_livelink_csv
        from ..core.performance import Performance
        path = bpy.path.abspath(self.filepath)
        try:
            obj = target_object(context)
            from .takes import validate_target
            validate_target(obj)
            if not os.path.isfile(path):
                raise TakeError(f"File not found: {path}")
            try:
                perf = read_livelink_csv(path) if path.lower().endswith(".csv") else Performance.load(path)
            except (ValueError, OSError, KeyError) as e:
                raise TakeError(f"Cannot read {path}: {e}") from None
            opts = take_options(context.scene.unitaf)
            opts.take_name = bpy.path.display_name_from_filepath(path)
            result = apply_take(context.scene, obj, perf, opts)
        except TakeError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        _report_result(self, result)
        return {'FINISHED'}


class _MappingOperator:
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        obj = target_object(context)
        return obj is not None and obj.data.shape_keys is not None


class UNITAF_OT_mapping_auto(_MappingOperator, bpy.types.Operator):
    """Fill the mapping table by matching shape-key names to ARKit channels"""
    bl_idname = "unitaf.mapping_auto"
    bl_label = "Auto-map"

    def execute(self, context):
        mapping = mapping_store.auto_map_into(target_object(context))
        self.report({'INFO'}, mapping.report().splitlines()[0])
        return {'FINISHED'}


class UNITAF_OT_mapping_preset(_MappingOperator, bpy.types.Operator):
    """Fill the mapping table with the selected naming-convention preset"""
    bl_idname = "unitaf.mapping_preset"
    bl_label = "Apply Preset"

    def execute(self, context):
        obj = target_object(context)
        try:
            mapping = mapping_store.apply_preset_into(obj, obj.unitaf_mapping.preset)
        except ValueError as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        self.report({'INFO'}, mapping.report().splitlines()[0])
        return {'FINISHED'}


class UNITAF_OT_mapping_clear(_MappingOperator, bpy.types.Operator):
    """Forget the stored table and go back to automatic matching"""
    bl_idname = "unitaf.mapping_clear"
    bl_label = "Clear"

    def execute(self, context):
        mapping_store.clear_mapping(target_object(context))
        return {'FINISHED'}


CLASSES = (UNITAF_OT_generate, UNITAF_OT_cancel, UNITAF_OT_import_performance,
           UNITAF_OT_mapping_auto, UNITAF_OT_mapping_preset, UNITAF_OT_mapping_clear)
