"""Operators: Generate (threaded when invoked from the UI, synchronous from scripts and in
background mode), Retry on CPU, Cancel, Import, mapping edits. The neural runtime / model
operators are in neural_setup.py."""
import dataclasses
import functools

import bpy
from bpy.props import EnumProperty, StringProperty

from ..engines import EngineError, LipsyncRequest
from ..engines.auto_emotion import check_request
from ..engines.segments import with_segments
from . import jobs, mapping_store, props
from .job_ui import JobWatcher, job_busy, run_job
from .recording import read_recording, read_strip
from .settings import build_request, emotion_spec, engine_for, engine_options, lipsync_source, take_options, target_object
from .takes import TakeError, apply_take, check_take_options, validate_target


def _apply_by_name(scene_name, obj_name, opts, perf):
    """Resolve the scene/object again at apply time: they may have been renamed or deleted."""
    scene = bpy.data.scenes.get(scene_name)
    obj = bpy.data.objects.get(obj_name)
    if scene is None or obj is None:
        raise TakeError(f"The target '{obj_name}' or its scene no longer exists.")
    return apply_take(scene, obj, perf, opts)


def _report_result(op, result):
    for note in result.notes:
        op.report({'INFO'}, f"UniTAF: {note}")
    for w in result.warnings:
        op.report({'WARNING'}, w)
    op.report({'INFO'}, f"UniTAF: {result.action.name}, frames {result.frame_start}-{result.frame_end}")


def _oom_hint(job):
    if job.fallback_device:
        return f" Use 'Retry on {job.fallback_device.upper()}' in the UniTAF panel."
    return ""


class _TakeOperator(JobWatcher):
    """Generate and Animate from Audio: `_prepare` checks everything on the UI thread and returns
    (object, request, engine, take options); one execute path (threaded when invoked from the
    UI, job_ui.runs_threaded) runs the engine and keys the take."""

    def _prepare(self, context):
        raise NotImplementedError

    def execute(self, context):
        if job_busy(self):
            return {'CANCELLED'}
        try:
            obj, request, engine, opts = self._prepare(context)
        except (ValueError, EngineError) as e:     # TakeError, RecordingError, ...
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        apply = functools.partial(_apply_by_name, context.scene.name, obj.name, opts)
        return run_job(self, context, jobs.GenerateJob(engine, request, apply))

    def finished(self, job):
        if job.state == jobs.FAILED:
            self.report({'ERROR'}, job.error + _oom_hint(job))
            return {'CANCELLED'}
        return super().finished(job)

    def report_done(self, job):
        _report_result(self, job.result)


class UNITAF_OT_generate(_TakeOperator, bpy.types.Operator):
    """Generate speech and facial animation for the target mesh"""
    bl_idname = "unitaf.generate"
    bl_label = "Generate"
    bl_options = {'REGISTER', 'UNDO'}

    def _prepare(self, context):
        obj = target_object(context)
        validate_target(obj)
        request = build_request(context)
        opts = take_options(context.scene.unitaf)
        check_take_options(opts)
        engine = engine_for(context)
        checked = check_request(engine, request)
        for note in checked.notes:   # e.g. the language picked from the text's writing system
            self.report({'INFO'}, f"UniTAF: {note}")
        return obj, checked.request, engine, opts


class UNITAF_OT_lipsync(_TakeOperator, bpy.types.Operator):
    """Animate the target mesh from a recorded line: the Recording file (its strip plays the file
    in place) or the active sound strip (the take starts where the strip does)"""
    bl_idname = "unitaf.lipsync"
    bl_label = "Animate from Audio"
    bl_options = {'REGISTER', 'UNDO'}

    def _prepare(self, context):
        settings = context.scene.unitaf
        obj = target_object(context)
        validate_target(obj)
        path, strip = lipsync_source(context)
        opts = take_options(settings)
        check_take_options(opts)
        if strip is not None:
            audio, rate, first = read_strip(strip)
            opts.start_frame, opts.add_sound, source = first, False, strip.name
        else:
            audio, rate = read_recording(path)
            opts.recording, source = path, path
        text = settings.text_block.as_string() if settings.text_block else settings.text
        transcript = text if settings.lipsync_use_text and text.strip() else None
        engine = engine_for(context)
        request = LipsyncRequest(audio=audio, sample_rate=rate, transcript=transcript, emotion=emotion_spec(context),
                                 seed=settings.seed, source=source, options=engine_options(context))
        check_request(engine, request)   # every cheap check before the aligner's split
        checked = check_request(engine, with_segments(engine, request))
        for note in checked.notes:
            self.report({'INFO'}, f"UniTAF: {note}")
        if transcript is None:
            self.report({'INFO'}, "UniTAF: no transcript: the mouth follows the sound alone (less accurate).")
        return obj, checked.request, engine, opts


class UNITAF_OT_retry_on_fallback(JobWatcher, bpy.types.Operator):
    """Run the generation that ran out of GPU memory again on the CPU (slower, needs only RAM)"""
    bl_idname = "unitaf.retry_on_fallback"
    bl_label = "Retry on CPU"
    bl_options = {'REGISTER', 'UNDO'}

    @classmethod
    def poll(cls, context):
        job = jobs.current()
        return isinstance(job, jobs.GenerateJob) and job.fallback_device is not None

    def execute(self, context):
        failed = jobs.current()
        if not (isinstance(failed, jobs.GenerateJob) and failed.fallback_device):
            self.report({'ERROR'}, "There is no failed generation to retry.")
            return {'CANCELLED'}
        options = dict(failed.request.options, device=failed.fallback_device)
        request = dataclasses.replace(failed.request, options=options)
        self.report({'INFO'}, f"UniTAF: retrying on {failed.fallback_device.upper()}")
        return run_job(self, context, jobs.GenerateJob(failed.engine, request, failed.apply))

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
        return obj is not None and obj.type == 'MESH' and obj.data.shape_keys is not None


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


CLASSES = (UNITAF_OT_generate, UNITAF_OT_lipsync, UNITAF_OT_retry_on_fallback, UNITAF_OT_cancel,
           UNITAF_OT_import_performance, UNITAF_OT_emotion_from_preset,
           UNITAF_OT_mapping_auto, UNITAF_OT_mapping_preset, UNITAF_OT_mapping_clear)
