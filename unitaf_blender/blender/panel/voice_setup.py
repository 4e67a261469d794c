"""Blender side of downloadable voices (the "voices" asset an engine declares, engines/assets.py):
*Download Voice* for a voice that is not on this computer (the *Voice* field's list is
scene_settings.voice_search). The download goes through the shared model store (size and
licence shown first, Allow Online Access respected, sha256-checked, Esc cancels), into the same
cache folder as the other model files."""
import bpy

from ...engines import EngineError
from . import jobs
from .engine_setup import _NetworkJob, _offline_refusal, _start, download_dialog, missing_files
from .job_ui import job_busy
from .settings import active_engine, preference_folders


def voice_files(context):
    """The downloadable voices the active engine declares, in the preferences' cache (or None)."""
    cache_dir = preference_folders(context)["cache_dir"]
    try:
        _, cls = active_engine(context)
    except EngineError:
        return None
    return next((group for group in cls().assets({"cache_dir": cache_dir}) if group.id == "voices"), None)


def missing_voice(context):
    """The voice download the scene's *Voice* needs first, else None."""
    files = voice_files(context)
    if files is None or files.voice_feature is None:
        return None
    feature = files.voice_feature(context.scene.unitaf.voice)
    return feature if feature is not None and missing_files(files, [feature]) else None


class UNITAF_OT_download_voice(_NetworkJob, bpy.types.Operator):
    """Download a voice; its size and licence are shown first"""
    bl_idname = "unitaf.download_voice"
    bl_label = "Download Voice"

    name: bpy.props.StringProperty(name="Voice", description="A downloadable voice (natural voices: fenrir, kore, "
                                                             "emma, fable)")

    def _listing(self, context):
        files = voice_files(context)
        return files.listing(files.missing([self.name]))

    def invoke(self, context, event):
        if _offline_refusal(self, "Downloading a voice") or not self._known():
            return {'CANCELLED'}
        if not self._listing(context):
            self.report({'INFO'}, f"UniTAF: the voice '{self.name}' is already here.")
            return {'CANCELLED'}
        return download_dialog(self, context, width=640)

    def draw(self, context):
        col = self.layout.column(align=True)
        for line in self._listing(context):
            col.label(text=line)

    def execute(self, context):
        if _offline_refusal(self, "Downloading a voice") or not self._known() or job_busy(self):
            return {'CANCELLED'}
        return _start(self, context, jobs.Job(voice_download_work(voice_files(context).store, self.name),
                                              label="Download voice"))

    def _known(self):
        files = voice_files(bpy.context)
        known = files.features if files is not None else ()
        if self.name in known:
            return True
        self.report({'ERROR'}, f"No downloadable voice named '{self.name}'; choose {', '.join(known)}.")
        return False


def voice_download_work(store, name):
    """The worker-thread half of Download Voice (no bpy)."""
    from ...engines.model_files import human_size

    def work(progress, cancel):
        def report(p):
            progress(p.done / p.total if p.total else 0.0,
                     f"{p.file} ({human_size(p.done)} of {human_size(p.total)})")
        store.download([name], report, cancel, allow_network=True)
        return f"UniTAF: voice '{name}' ready in {store.cache_dir}"
    return work


CLASSES = (UNITAF_OT_download_voice,)
