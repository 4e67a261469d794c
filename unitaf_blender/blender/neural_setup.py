"""Blender side of the neural engine's set-up: where PyTorch is installed, the model download
(with its sizes and licences shown first), releasing loaded models.

Nothing here imports torch: preferences draw on every redraw, and the add-on must load where
torch is not installed. The network is used only by Install Neural Runtime and Download Models,
and only when Blender allows online access (Preferences > System > Network).
"""
import os
import sys
import time

import bpy
from bpy.props import EnumProperty

from ..engines import EngineError
from ..engines.unitaf import torch_install as neural_runtime
from . import jobs
from .job_ui import JobWatcher, job_busy, run_job_watched
from .settings import engine_options, preferences

RUNTIME_DIR = None   # folder the neural runtime is (to be) installed in; set by setup_runtime()
_STATUS_TTL = 5.0    # seconds the model-file status shown in the preferences is reused
_status_cache = {}   # (cache_dir, model_dir) -> (time, missing FileStatus list)
_torch_found = None  # cached importlib.util.find_spec("torch") result (None = not looked yet)

NON_COMMERCIAL_WARNING = ("MaskGCT's semantic codec (amphion/MaskGCT) is CC-BY-NC-4.0: "
                          "NON-COMMERCIAL use only. Do not use UniTAF output commercially.")


# ------------------------------------------------------------------------------ runtime folder

def runtime_dir_for(addon_id):
    """The extension's user folder `neural_runtime` (kept across updates); for a legacy add-on
    (not installed as an extension) a folder under the user scripts folder."""
    try:
        return bpy.utils.extension_path_user(addon_id, path="neural_runtime", create=True)
    except (ValueError, AttributeError):   # not an extension (or Blender < 4.2)
        return bpy.utils.user_resource('SCRIPTS', path=os.path.join("unitaf_blender_data", "neural_runtime"))


def setup_runtime(addon_id):
    """At register(): find the runtime folder and put an installed torch on sys.path (cheap)."""
    global RUNTIME_DIR
    RUNTIME_DIR = runtime_dir_for(addon_id)
    return neural_runtime.activate(RUNTIME_DIR)


def online_access():
    return bool(getattr(bpy.app, "online_access", True))   # the attribute exists from 4.2


def _offline_refusal(op, what):
    if online_access():
        return False
    op.report({'ERROR'}, f"{what} needs the internet, and Blender's online access is off. Allow it in "
                         "Preferences > System > Network > Allow Online Access, then try again.")
    return True


def torch_status():
    """(installed, text) about PyTorch without importing it."""
    global _torch_found
    info = neural_runtime.installed_info(RUNTIME_DIR) if RUNTIME_DIR else None
    if info is not None:
        return True, f"PyTorch {info.get('torch', '?')} ({info.get('flavour', '?')}) installed"
    if "torch" in sys.modules:
        return True, f"PyTorch {getattr(sys.modules['torch'], '__version__', '?')} loaded"
    if _torch_found is None:
        import importlib.util
        _torch_found = importlib.util.find_spec("torch") is not None
    if _torch_found:
        return True, "PyTorch found in Blender's Python"
    return False, "PyTorch is not installed"


# ------------------------------------------------------------------------------ model files

def model_store(context):
    from ..engines.unitaf.store import ModelStore
    prefs = preferences(context)
    cache_dir = bpy.path.abspath(prefs.cache_dir) if prefs is not None and prefs.cache_dir else None
    model_dir = bpy.path.abspath(prefs.model_dir) if prefs is not None and prefs.model_dir else None
    return ModelStore(cache_dir=cache_dir, model_dir=model_dir)


def missing_files(store, fresh=False):
    """store.missing(DEFAULT_FEATURES), reused for a few seconds (the preferences redraw often)."""
    from ..engines.unitaf.catalog import DEFAULT_FEATURES
    key = (store.cache_dir, store.model_dir)
    hit = _status_cache.get(key)
    if fresh or hit is None or time.monotonic() - hit[0] > _STATUS_TTL:
        hit = _status_cache[key] = (time.monotonic(), store.missing(DEFAULT_FEATURES))
    return hit[1]


def download_listing(store, missing=None):
    """Lines shown before a download: the total, then every file with its size and licence, and
    the non-commercial warning when MaskGCT is among them. [] when nothing is missing."""
    from ..engines.model_files import human_size
    missing = missing_files(store, fresh=True) if missing is None else missing
    if not missing:
        return []
    total = sum(st.spec.approx_size if st.spec.size is None else st.spec.size for st in missing)
    lines = [f"{len(missing)} file(s), {human_size(total)} in total, into {store.cache_dir}"]
    for st in missing:
        size = st.spec.approx_size if st.spec.size is None else st.spec.size
        lines.append(f"{st.spec.display} ({human_size(size)}) - licence: {st.spec.licence}")
    if any(st.spec.repo_id == "amphion/MaskGCT" for st in missing):
        lines.append("WARNING: " + NON_COMMERCIAL_WARNING)
    lines.append("By downloading you accept each licence above.")
    return lines


# ------------------------------------------------------------------------------ preferences UI

def draw_preferences(prefs, context, layout):
    box = layout.box()
    box.label(text="Neural runtime (PyTorch)", icon='SCRIPTPLUGINS')
    ok, text = torch_status()
    box.label(text=text, icon='CHECKMARK' if ok else 'ERROR')
    if RUNTIME_DIR:
        box.label(text=f"Folder: {RUNTIME_DIR}")
    job = jobs.current()
    busy = job is not None and not job.finished
    row = box.row()
    row.enabled = not busy
    row.operator("unitaf.install_runtime", text="Reinstall Neural Runtime" if ok else "Install Neural Runtime",
                 icon='IMPORT')

    box = layout.box()
    box.label(text="Models", icon='FILE_FOLDER')
    box.prop(prefs, "cache_dir")
    box.prop(prefs, "model_dir")
    store = model_store(context)
    folder = store.model_dir or store.cache_dir
    if not os.path.isdir(folder):
        box.label(text=f"Folder does not exist yet: {folder}", icon='INFO')
    missing = missing_files(store)
    if missing:
        box.label(text=f"{len(missing)} model file(s) missing", icon='ERROR')
    else:
        box.label(text="All model files present", icon='CHECKMARK')
    if store.model_dir:
        box.label(text="A model folder is set: nothing is downloaded", icon='INFO')
    row = box.row(align=True)
    sub = row.row(align=True)
    sub.enabled = bool(missing) and not store.model_dir and not busy
    sub.operator("unitaf.download_models", icon='URL')
    row.operator("unitaf.release_models", icon='TRASH')
    if busy:
        layout.progress(text=f"{job.label}: {job.stage}", factor=job.progress, type='BAR')
        layout.operator("unitaf.cancel", icon='CANCEL')
    elif job is not None and job.state == jobs.FAILED and job.label != "Generate" and job.error:
        err = layout.box()
        for line in job.error.splitlines()[:4]:
            err.label(text=line, icon='ERROR')
    if not online_access():
        layout.label(text="Online access is off (Preferences > System > Network): no downloads", icon='INFO')


# ------------------------------------------------------------------------------ operators

FLAVOUR_ITEMS = [("cpu", "CPU", "Works everywhere (on macOS it uses Apple Metal); about 200 MB"),
                 ("cuda", "CUDA (recommended)", f"NVIDIA GPU, CUDA {neural_runtime.DEFAULT_CUDA[2:]} build; "
                                                "about 3 GB")] + [
    (f, f"CUDA {f[2:4]}.{f[4:]}", f"NVIDIA GPU, the {f} build (pick the one your driver supports)")
    for f in neural_runtime.CUDA_FLAVOURS]


def forget_status():
    global _torch_found
    _torch_found = None
    _status_cache.clear()


class _NetworkJob(JobWatcher):
    def finished(self, job):
        forget_status()
        return super().finished(job)


class UNITAF_OT_install_runtime(_NetworkJob, bpy.types.Operator):
    """Download and install PyTorch for the UniTAF neural engine into the add-on's own folder"""
    bl_idname = "unitaf.install_runtime"
    bl_label = "Install Neural Runtime"

    flavour: EnumProperty(name="Flavour", items=FLAVOUR_ITEMS, default="cpu")

    def invoke(self, context, event):
        if _offline_refusal(self, "Installing the neural runtime"):
            return {'CANCELLED'}
        return context.window_manager.invoke_props_dialog(self, width=460)

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "flavour")
        col.label(text=f"PyTorch {neural_runtime.TORCH_VERSION} + PyYAML + huggingface_hub via pip, into:")
        col.label(text=str(RUNTIME_DIR))
        col.label(text="Restart Blender afterwards if PyTorch was already loaded.", icon='INFO')

    def execute(self, context):
        if _offline_refusal(self, "Installing the neural runtime") or job_busy(self):
            return {'CANCELLED'}
        if not RUNTIME_DIR:
            self.report({'ERROR'}, "The add-on is not registered: no folder for the neural runtime.")
            return {'CANCELLED'}
        return _start(self, context, jobs.Job(install_work(RUNTIME_DIR, self.flavour), label="Install runtime"))


class UNITAF_OT_download_models(_NetworkJob, bpy.types.Operator):
    """Download the UniTAF model files (several GB); their sizes and licences are shown first"""
    bl_idname = "unitaf.download_models"
    bl_label = "Download Models"

    def invoke(self, context, event):
        if _offline_refusal(self, "Downloading the models"):
            return {'CANCELLED'}
        if not download_listing(model_store(context)):
            self.report({'INFO'}, "UniTAF: all model files are already present.")
            return {'CANCELLED'}
        return download_dialog(self, context, width=720)

    def draw(self, context):
        col = self.layout.column(align=True)
        for line in download_listing(model_store(context), missing_files(model_store(context))):
            col.label(text=line, icon='ERROR' if line.startswith("WARNING") else 'NONE')

    def execute(self, context):
        if _offline_refusal(self, "Downloading the models") or job_busy(self):
            return {'CANCELLED'}
        store = model_store(context)
        if store.model_dir:
            self.report({'ERROR'}, "A model folder is set in the preferences; UniTAF never downloads into it. "
                                   "Clear it to download into the cache folder, or copy the files there.")
            return {'CANCELLED'}
        return _start(self, context, jobs.Job(download_work(store), label="Download models"))


def download_dialog(op, context, width):
    """The confirmation dialog before a download (its draw() lists files, sizes, licences)."""
    try:
        return context.window_manager.invoke_props_dialog(op, width=width, confirm_text="Download")
    except TypeError:   # confirm_text is newer than some 4.x releases
        return context.window_manager.invoke_props_dialog(op, width=width)


def install_work(target, flavour):
    """The worker-thread half of Install Neural Runtime (no bpy)."""
    def work(progress, cancel):
        info = neural_runtime.install(target, flavour, progress, cancel, allow_network=True)
        neural_runtime.activate(target)
        return f"UniTAF: PyTorch {info['torch']} ({info['flavour']}) installed in {target}"
    return work


def download_work(store):
    """The worker-thread half of Download Models (no bpy): progress as a fraction of all bytes."""
    from ..engines.model_files import human_size
    from ..engines.unitaf.catalog import DEFAULT_FEATURES

    def work(progress, cancel):
        def report(p):
            frac = p.done / p.total if p.total else 0.0
            progress(frac, f"{p.index}/{p.count} {p.file} ({human_size(p.done)} of {human_size(p.total)})")
        store.download(DEFAULT_FEATURES, report, cancel, allow_network=True)
        return f"UniTAF: models ready in {store.cache_dir}"
    return work


def _start(op, context, job):
    # The dialog's execute cannot go modal itself: the watcher operator follows the job.
    return run_job_watched(op, context, job, "unitaf.watch_job", on_finish=forget_status)


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
        forget_status()   # a download or install changes what the preferences show
        return super().finished(job)


class UNITAF_OT_release_models(bpy.types.Operator):
    """Unload the UniTAF models and give their (GPU) memory back"""
    bl_idname = "unitaf.release_models"
    bl_label = "Release Models"

    @classmethod
    def poll(cls, context):
        job = jobs.current()
        return job is None or job.finished

    def execute(self, context):
        from .. import engines
        runtime = sys.modules.get(engines.__name__ + ".unitaf.devices")
        if runtime is None:   # never loaded: importing it would import torch for nothing
            self.report({'INFO'}, "UniTAF: no models are loaded.")
            return {'FINISHED'}
        freed = runtime.release()
        self.report({'INFO'}, f"UniTAF: released {freed} loaded model set(s).")
        return {'FINISHED'}


class UNITAF_OT_check_engine(bpy.types.Operator):
    """Check that the UniTAF engine can run here: PyTorch, the model files, the chosen device"""
    bl_idname = "unitaf.check_engine"
    bl_label = "Check Neural Engine"

    def execute(self, context):
        from ..engines import get_engine
        options = engine_options(context)
        try:   # imports torch: only on this explicit request, never while drawing
            ok, text = get_engine("unitaf").available(options)
        except EngineError as exc:
            ok, text = False, str(exc)
        forget_status()
        self.report({'INFO'} if ok else {'WARNING'}, f"UniTAF: {text}")
        return {'FINISHED'}


CLASSES = (UNITAF_OT_install_runtime, UNITAF_OT_download_models, UNITAF_OT_watch_job,
           UNITAF_OT_release_models, UNITAF_OT_check_engine)
