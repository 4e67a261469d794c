"""Operators: Generate (threaded in the UI, synchronous in background mode), Retry on CPU, Import,
mapping edits. The neural runtime / model operators are in neural.py."""
import dataclasses
import functools
import os

import bpy
from bpy.props import EnumProperty, StringProperty

from ..engines import EngineError, GenerateRequest, get_engine
from . import jobs, mapping_store, props
from .takes import TakeError, TakeOptions, apply_take, validate_target

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


def active_engine_id(context) -> str:
    """The engine Generate uses: the scene's choice, or the preferences' default engine."""
    engine_id = context.scene.unitaf.engine
    if engine_id == props.DEFAULT_ENGINE:
        prefs = preferences(context)
        engine_id = prefs.default_engine if prefs is not None else ""
    return "" if engine_id in ("", "NONE") else engine_id


def _neural(context) -> bool:
    return active_engine_id(context) == "unitaf"


def emotion_spec(context) -> str:
    """The panel's emotion as an engine spec: "name:intensity", or 8 comma-separated weights
    (IndexTTS2 order, core.performance.EMOTIONS) when the UniTAF vector mode is on."""
    settings = context.scene.unitaf
    if _neural(context) and settings.emotion_mode == "VECTOR":
        return ",".join(f"{min(max(v, 0.0), 1.0):.4f}" for v in settings.emotion_vector)
    if settings.emotion == "neutral":
        return "calm:0.0"
    return f"{settings.emotion}:{settings.emotion_intensity:.3f}"


def _abspath(path):
    return os.path.normpath(bpy.path.abspath(path)) if path else ""


def engine_options(context) -> dict:
    """request.options from the preferences and the scene (keys as engines/unitaf/engine.py reads
    them; the embedded engine ignores what it does not know)."""
    settings = context.scene.unitaf
    options = {}
    prefs = preferences(context)
    device = "AUTO"
    if prefs is not None:
        device = prefs.device
        if prefs.cache_dir:
            options["cache_dir"] = _abspath(prefs.cache_dir)
        if prefs.model_dir:
            options["model_dir"] = _abspath(prefs.model_dir)
    if _neural(context):
        if settings.device_override != "PREFS":
            device = settings.device_override
        options.update(precision=settings.precision.lower(), sampling=settings.sampling.lower(),
                       emo_alpha=float(settings.emo_alpha), expression_layer=settings.expression_layer.lower())
        if settings.emotion_clip:
            options["emotion_clip"] = _abspath(settings.emotion_clip)
    options["device"] = device.lower()
    return options


def request_voice(context):
    """UniTAF: the voice clip (empty = the bundled LJ Speech voice); other engines: the voice id."""
    settings = context.scene.unitaf
    if _neural(context):
        clip = settings.voice_clip.strip()
        if clip and not any(c in clip for c in "/\\."):   # a voice id such as "lj_speech"
            return clip
        return _abspath(clip) or None
    return settings.voice or None


def build_request(context) -> GenerateRequest:
    settings = context.scene.unitaf
    text = settings.text_block.as_string() if settings.text_block else settings.text
    if not text.strip():
        raise TakeError("Type the text to speak (or pick a Text datablock).")
    return GenerateRequest(text=text, emotion=emotion_spec(context), voice=request_voice(context),
                           seed=settings.seed, options=engine_options(context))


def engine_for(context):
    return get_engine(active_engine_id(context) or None)


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


class JobWatcher:
    """Modal part shared by every threaded operator: a 0.1 s timer polls the job (which applies
    its result on this, the main thread), updates the progress and redraws; Esc cancels."""
    _job = None
    _timer = None

    def watch(self, context, job):
        self._job = job
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
        return self.finished(job)

    def finished(self, job):
        """Report the outcome; the return value ends the operator."""
        if job.state == jobs.DONE:
            self.report_done(job)
            return {'FINISHED'}
        if job.state == jobs.FAILED:
            self.report({'ERROR'}, job.error)
        else:
            self.report({'INFO'}, f"UniTAF: {job.label.lower()} cancelled; nothing was changed.")
        return {'CANCELLED'}

    def report_done(self, job):
        if isinstance(job.result, str) and job.result:
            self.report({'INFO'}, job.result)


def job_busy(op):
    job = jobs.current()
    if job is not None and not job.finished:
        op.report({'ERROR'}, f"A UniTAF job is already running ({job.label}; Esc or Cancel stops it).")
        return True
    return False


def run_job(op, context, job, threaded=True):
    """Start `job` on a worker thread watched by `op`'s modal handler (op is a JobWatcher), or
    synchronously when not `threaded` or in background mode (no timers or modal handlers run there)."""
    jobs.set_current(job)
    if not threaded or bpy.app.background:
        job.run_sync()
        return op.finished(job)
    job.start()
    return op.watch(context, job)


def _oom_hint(job):
    if job.fallback_device:
        return f" Use 'Retry on {job.fallback_device.upper()}' in the UniTAF panel."
    return ""


class UNITAF_OT_generate(JobWatcher, bpy.types.Operator):
    """Generate speech and facial animation for the target mesh"""
    bl_idname = "unitaf.generate"
    bl_label = "Generate"
    bl_options = {'REGISTER', 'UNDO'}

    def _prepare(self, context):
        obj = target_object(context)
        validate_target(obj)
        request = build_request(context)
        engine = engine_for(context)
        opts = take_options(context.scene.unitaf)
        return obj, request, engine, opts

    def _start(self, context, threaded):
        if job_busy(self):
            return {'CANCELLED'}
        try:
            obj, request, engine, opts = self._prepare(context)
        except (TakeError, EngineError) as e:
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        apply = functools.partial(_apply_by_name, context.scene.name, obj.name, opts)
        return run_job(self, context, jobs.GenerateJob(engine, request, apply), threaded)

    def execute(self, context):   # scripts and background mode: synchronous
        return self._start(context, threaded=False)

    def invoke(self, context, event):
        return self._start(context, threaded=True)

    def finished(self, job):
        if job.state == jobs.FAILED:
            self.report({'ERROR'}, job.error + _oom_hint(job))
            return {'CANCELLED'}
        return super().finished(job)

    def report_done(self, job):
        _report_result(self, job.result)


class UNITAF_OT_retry_on_fallback(JobWatcher, bpy.types.Operator):
    """Run the generation that ran out of GPU memory again on the CPU (slower, needs only RAM)"""
    bl_idname = "unitaf.retry_on_fallback"
    bl_label = "Retry on CPU"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        job = jobs.current()
        return isinstance(job, jobs.GenerateJob) and job.fallback_device is not None

    def _start(self, context, threaded):
        failed = jobs.current()
        if not (isinstance(failed, jobs.GenerateJob) and failed.fallback_device):
            self.report({'ERROR'}, "There is no failed generation to retry.")
            return {'CANCELLED'}
        options = dict(failed.request.options, device=failed.fallback_device)
        request = dataclasses.replace(failed.request, options=options)
        self.report({'INFO'}, f"UniTAF: retrying on {failed.fallback_device.upper()}")
        return run_job(self, context, jobs.GenerateJob(failed.engine, request, failed.apply), threaded)

    def execute(self, context):
        return self._start(context, threaded=False)

    def invoke(self, context, event):
        return self._start(context, threaded=True)

    def report_done(self, job):
        _report_result(self, job.result)


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


class UNITAF_OT_watch_job(JobWatcher, bpy.types.Operator):
    """Follow the running UniTAF job: progress bar, Esc cancels, a report when it ends"""
    bl_idname = "unitaf.watch_job"
    bl_label = "Watch UniTAF Job"
    bl_options = {'INTERNAL'}

    def invoke(self, context, event):
        job = jobs.current()
        if job is None or job.finished:
            return {'CANCELLED'}
        return self.watch(context, job)

    def execute(self, context):
        job = jobs.current()
        return {'CANCELLED'} if job is None or not job.finished else self.finished(job)

    def finished(self, job):
        from .neural import forget_status   # a download or install changes what the preferences show
        forget_status()
        return super().finished(job)


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
        from ..core.recordings import load_recording
        path = bpy.path.abspath(self.filepath)
        try:
            obj = target_object(context)
            validate_target(obj)
            perf = load_recording(path)
            opts = take_options(context.scene.unitaf)
            opts.take_name = bpy.path.display_name_from_filepath(path)
            result = apply_take(context.scene, obj, perf, opts)
        except ValueError as e:     # TakeError and every file problem
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        _report_result(self, result)
        return {'FINISHED'}


class UNITAF_OT_emotion_from_preset(bpy.types.Operator):
    """Set the emotion mix from the chosen emotion and intensity (the others go to 0)"""
    bl_idname = "unitaf.emotion_from_preset"
    bl_label = "Set from Preset"
    bl_options = {'REGISTER', 'UNDO'}

    def execute(self, context):
        from ..core.performance import EMOTIONS
        settings = context.scene.unitaf
        settings.emotion_vector = [settings.emotion_intensity if name == settings.emotion else 0.0
                                   for name in EMOTIONS]
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
    """Fill the mapping table with a naming-convention preset"""
    bl_idname = "unitaf.mapping_preset"
    bl_label = "Apply Preset"

    preset: EnumProperty(name="Preset", items=props.preset_items,
                         description="Naming convention of the mesh's shape keys")

    def execute(self, context):
        obj = target_object(context)
        try:
            mapping = mapping_store.apply_preset_into(obj, self.preset)
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


CLASSES = (UNITAF_OT_generate, UNITAF_OT_retry_on_fallback, UNITAF_OT_cancel, UNITAF_OT_watch_job,
           UNITAF_OT_import_performance, UNITAF_OT_emotion_from_preset,
           UNITAF_OT_mapping_auto, UNITAF_OT_mapping_preset, UNITAF_OT_mapping_clear)
