"""Blender side of the embedded engine's downloadable voices: *Download Voice* for a natural
voice that is not on this computer (the *Voice* field's list is props.voice_search). The download goes
through the shared model store (size and licence shown first, Allow Online Access respected,
sha256-checked, Esc cancels), into the same cache folder as the UniTAF weights."""
import bpy

from . import jobs
from .job_ui import job_busy
from .neural_setup import _NetworkJob, _offline_refusal, _start, download_dialog, download_listing
from .settings import preferences


def voice_store(context):
    from ..engines.embedded.voice_catalog import voice_store as store_for
    prefs = preferences(context)
    cache_dir = bpy.path.abspath(prefs.cache_dir) if prefs is not None and prefs.cache_dir else None
    return store_for(cache_dir=cache_dir)


def missing_voice(context):
    """The natural voice the scene's *Voice* names when it must be downloaded first, else None."""
    from ..engines.embedded.voice_catalog import VoiceIdError, download_spec, parse_voice
    text = context.scene.unitaf.voice.strip()
    if not text.lower().startswith("hibari:"):
        return None
    try:
        spec = download_spec(parse_voice(text).name)
    except VoiceIdError:
        return None
    if spec is None or voice_store(context).file_status(spec).ok:
        return None
    return spec.features[0]


class UNITAF_OT_download_voice(_NetworkJob, bpy.types.Operator):
    """Download a natural voice (7.9 MB); its size and licence are shown first"""
    bl_idname = "unitaf.download_voice"
    bl_label = "Download Voice"

    name: bpy.props.StringProperty(name="Voice", description="A downloadable natural voice: fenrir, kore, emma, fable")

    def _listing(self, context):
        store = voice_store(context)
        return download_listing(store, store.missing([self.name]))

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
        return _start(self, context, jobs.Job(voice_download_work(voice_store(context), self.name),
                                              label="Download voice"))

    def _known(self):
        from ..engines.embedded.voice_catalog import VOICE_FEATURES
        if self.name in VOICE_FEATURES:
            return True
        self.report({'ERROR'}, f"No downloadable voice named '{self.name}'; choose {', '.join(VOICE_FEATURES)}.")
        return False


def voice_download_work(store, name):
    """The worker-thread half of Download Voice (no bpy)."""
    from ..engines.model_files import human_size

    def work(progress, cancel):
        def report(p):
            progress(p.done / p.total if p.total else 0.0,
                     f"{p.file} ({human_size(p.done)} of {human_size(p.total)})")
        store.download([name], report, cancel, allow_network=True)
        return f"UniTAF: voice '{name}' ready in {store.cache_dir}"
    return work


CLASSES = (UNITAF_OT_download_voice,)
