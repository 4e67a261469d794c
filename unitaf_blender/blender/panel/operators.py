"""Operators: Generate and Animate from Audio (through the request path: checked here, prepared
and performed by a job, threaded when invoked from the UI, synchronous from scripts and in
background mode), Retry on CPU, Cancel, Import, mapping edits. The download and install
operators are in engine_setup.py and voice_setup.py."""
import functools

import bpy
from bpy.props import EnumProperty, StringProperty

from ...engines import EngineError
from ...engines.request_path import check
from .. import mapping_store, props
from ..takes import TakeError, apply_take, check_take_options, validate_target
from . import jobs
from .job_ui import JobWatcher, job_busy, run_job
from .settings import lipsync_recording, raw_request, take_options, target_object


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
    """Generate and Animate from Audio: `_prepare` checks everything on the UI thread (the request
    path's cheap check) and returns (object, checked request, take options); one execute path
    (threaded when invoked from the UI, job_ui.runs_threaded) prepares and performs the request
    and keys the take."""

    def _prepare(self, context):
        raise NotImplementedError

    def _target_and_options(self, context):
        """The target (checked) and the take options (checked) of the panel."""
        obj = target_object(context)
        validate_target(obj)
        opts = take_options(context.scene.unitaf)
        check_take_options(opts)
        return obj, opts

    def _checked(self, raw):
        checked = check(raw)
        for note in checked.notes:   # e.g. the language picked from the text's writing system
            self.report({'INFO'}, f"UniTAF: {note}")
        return checked

    def execute(self, context):
        if job_busy(self):
            return {'CANCELLED'}
        try:
            obj, checked, opts = self._prepare(context)
        except (ValueError, EngineError) as e:     # TakeError, RecordingError, ...
            self.report({'ERROR'}, str(e))
            return {'CANCELLED'}
        apply = functools.partial(_apply_by_name, context.scene.name, obj.name, opts)
        return run_job(self, context, jobs.GenerateJob(checked, apply))

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
        obj, opts = self._target_and_options(context)
        return obj, self._checked(raw_request(context)), opts


class UNITAF_OT_lipsync(_TakeOperator, bpy.types.Operator):
    """Animate the target mesh from a recorded line: the Recording file (its strip plays the file
    in place) or the active sound strip (the take starts where the strip does)"""
    bl_idname = "unitaf.lipsync"
    bl_label = "Animate from Audio"
    bl_options = {'REGISTER', 'UNDO'}

    def _prepare(self, context):
        obj, opts = self._target_and_options(context)
        recording, first = lipsync_recording(context)
        if first is not None:
            opts.start_frame, opts.add_sound = first, False
        else:
            opts.recording = recording.source
        raw = raw_request(context, recording)
        checked = self._checked(raw)   # the aligner's split of a long recording comes on the job's worker
        if raw.text is None:
            self.report({'INFO'}, "UniTAF: no transcript: the mouth follows the sound alone (less accurate).")
        return obj, checked, opts


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
        self.report({'INFO'}, f"UniTAF: retrying on {failed.fallback_device.upper()}")
        checked = failed.checked.with_options(device=failed.fallback_device)
        return run_job(self, context, jobs.GenerateJob(checked, failed.apply))

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
        from ...core.performance_files import load_performance
        path = bpy.path.abspath(self.filepath)
        try:
            obj = target_object(context)
            validate_target(obj)
            perf = load_performance(path)
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
        from ...core.performance import EMOTIONS
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
