"""Blender side of what the engines download and install (engines/assets.py): the runtime's
folder and installer, the model download (with its sizes and licences shown first), releasing
loaded models, checking the engine. The runtime and the model files are the assets the engines
declare with the ids "runtime" and "models"; no engine is named here.

Nothing here imports torch: preferences draw on every redraw, and the add-on must load where
torch is not installed. The network is used only by Install Neural Runtime and Download Models,
and only when Blender allows online access (Preferences > System > Network).
"""
import os
import sys
import time

import bpy
from bpy.props import EnumProperty

from ...engines import EngineError, engine_classes
from ...engines.assets import find_assets
from . import jobs
from .job_ui import JobWatcher, job_busy, run_job_watched
from .settings import active_engine, preference_folders, request_options

RUNTIME_DIR = None   # folder the runtime is (to be) installed in; set by setup_runtime()
_STATUS_TTL = 5.0    # seconds the model-file status shown in the preferences is reused
_status_cache = {}   # (store title, cache_dir, model_dir, features) -> (time, missing FileStatus list)
_module_found = None  # cached importlib.util.find_spec(runtime module) result (None = not looked yet)


def _runtime():
    return find_assets("runtime")


# ------------------------------------------------------------------------------ runtime folder

def runtime_dir_for(addon_id):
    """The extension's user folder `neural_runtime` (kept across updates); for a legacy add-on
    (not installed as an extension) a folder under the user scripts folder."""
    try:
        return bpy.utils.extension_path_user(addon_id, path="neural_runtime", create=True)
    except (ValueError, AttributeError):   # not an extension (or Blender < 4.2)
        return bpy.utils.user_resource('SCRIPTS', path=os.path.join("unitaf_blender_data", "neural_runtime"))


def setup_runtime(addon_id):
    """At register(): find the runtime folder and put an installed runtime on sys.path (cheap)."""
    global RUNTIME_DIR
    RUNTIME_DIR = runtime_dir_for(addon_id)
    runtime = _runtime()
    return runtime is not None and runtime.activate(RUNTIME_DIR)


def online_access():
    return bool(getattr(bpy.app, "online_access", True))   # the attribute exists from 4.2


def _offline_refusal(op, what):
    if online_access():
        return False
    op.report({'ERROR'}, f"{what} needs the internet, and Blender's online access is off. Allow it in "
                         "Preferences > System > Network > Allow Online Access, then try again.")
    return True


def runtime_status(runtime):
    """(installed, text) about the runtime without importing it."""
    global _module_found
    info = runtime.installed(RUNTIME_DIR) if RUNTIME_DIR else None
    if info is not None:
        return True, f"{runtime.name} {info.get(runtime.module, '?')} ({info.get('flavour', '?')}) installed"
    if runtime.module in sys.modules:
        return True, f"{runtime.name} {getattr(sys.modules[runtime.module], '__version__', '?')} loaded"
    if _module_found is None:
        import importlib.util
        _module_found = importlib.util.find_spec(runtime.module) is not None
    if _module_found:
        return True, f"{runtime.name} found in Blender's Python"
    return False, f"{runtime.name} is not installed"


# ------------------------------------------------------------------------------ model files

def model_files(context):
    """The model files the engines declare ("models"), in the preferences' folders."""
    return find_assets("models", preference_folders(context))


def missing_files(files, features=None, fresh=False):
    """files.missing(features), reused for a few seconds (the preferences and the panel redraw
    often); forget_status() drops it when a download or install ends."""
    store = files.store
    features = tuple(files.features if features is None else features)
    key = (store.title, store.cache_dir, store.model_dir, features)
    hit = _status_cache.get(key)
    if fresh or hit is None or time.monotonic() - hit[0] > _STATUS_TTL:
        hit = _status_cache[key] = (time.monotonic(), files.missing(features))
    return hit[1]


def download_listing(files, missing=None):
    """Lines shown before a download (assets.ModelFiles.listing); [] when nothing is missing."""
    return files.listing(missing_files(files, fresh=True) if missing is None else missing)


# ------------------------------------------------------------------------------ preferences UI

def draw_preferences(prefs, context, layout):
    job = jobs.current()
    busy = job is not None and not job.finished
    runtime = _runtime()
    if runtime is not None:
        box = layout.box()
        box.label(text=runtime.label, icon='SCRIPTPLUGINS')
        ok, text = runtime_status(runtime)
        box.label(text=text, icon='CHECKMARK' if ok else 'ERROR')
        if RUNTIME_DIR:
            box.label(text=f"Folder: {RUNTIME_DIR}")
        row = box.row()
        row.enabled = not busy
        row.operator("unitaf.install_runtime", text="Reinstall Neural Runtime" if ok else "Install Neural Runtime",
                     icon='IMPORT')
    files = model_files(context)
    if files is not None:
        _draw_model_files(prefs, layout, files, busy)
    if busy:
        layout.progress(text=f"{job.label}: {job.stage}", factor=job.progress, type='BAR')
        layout.operator("unitaf.cancel", icon='CANCEL')
    elif job is not None and job.state == jobs.FAILED and job.label != "Generate" and job.error:
        err = layout.box()
        for line in job.error.splitlines()[:4]:
            err.label(text=line, icon='ERROR')
    if not online_access():
        layout.label(text="Online access is off (Preferences > System > Network): no downloads", icon='INFO')


def _draw_model_files(prefs, layout, files, busy):
    box = layout.box()
    box.label(text="Models", icon='FILE_FOLDER')
    box.prop(prefs, "cache_dir")
    box.prop(prefs, "model_dir")
    store = files.store
    folder = store.model_dir or store.cache_dir
    if not os.path.isdir(folder):
        box.label(text=f"Folder does not exist yet: {folder}", icon='INFO')
    missing = missing_files(files)
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


# ------------------------------------------------------------------------------ operators

def flavour_items(self=None, context=None):
    """The runtime's flavours (cpu, cuda, ...) as the engine declares them."""
    runtime = _runtime()
    _FLAVOUR_ITEMS[:] = [(c.value, c.label, c.help) for c in runtime.flavours] if runtime else [("cpu", "CPU", "")]
    return _FLAVOUR_ITEMS


_FLAVOUR_ITEMS = []   # kept referenced: Blender holds raw pointers to enum item strings


def forget_status():
    global _module_found
    _module_found = None
    _status_cache.clear()


class _NetworkJob(JobWatcher):
    def finished(self, job):
        forget_status()
        return super().finished(job)


class UNITAF_OT_install_runtime(_NetworkJob, bpy.types.Operator):
    """Download and install the neural runtime (PyTorch) into the add-on's own folder"""
    bl_idname = "unitaf.install_runtime"
    bl_label = "Install Neural Runtime"

    flavour: EnumProperty(name="Flavour", items=flavour_items)

    def invoke(self, context, event):
        if _offline_refusal(self, "Installing the neural runtime"):
            return {'CANCELLED'}
        return context.window_manager.invoke_props_dialog(self, width=460)

    def draw(self, context):
        col = self.layout.column()
        col.prop(self, "flavour")
        runtime = _runtime()
        col.label(text=f"{runtime.packages}, into:")
        col.label(text=str(RUNTIME_DIR))
        col.label(text=f"Restart Blender afterwards if {runtime.name} was already loaded.", icon='INFO')

    def execute(self, context):
        if _offline_refusal(self, "Installing the neural runtime") or job_busy(self):
            return {'CANCELLED'}
        runtime = _runtime()
        if not RUNTIME_DIR or runtime is None:
            self.report({'ERROR'}, "The add-on is not registered: no folder for the neural runtime.")
            return {'CANCELLED'}
        return _start(self, context, jobs.Job(install_work(runtime, RUNTIME_DIR, self.flavour),
                                              label="Install runtime"))


class UNITAF_OT_download_models(_NetworkJob, bpy.types.Operator):
    """Download the neural engine's model files (several GB); their sizes and licences are shown first"""
    bl_idname = "unitaf.download_models"
    bl_label = "Download Models"

    def invoke(self, context, event):
        if _offline_refusal(self, "Downloading the models"):
            return {'CANCELLED'}
        if not download_listing(model_files(context)):
            self.report({'INFO'}, "UniTAF: all model files are already present.")
            return {'CANCELLED'}
        return download_dialog(self, context, width=720)

    def draw(self, context):
        col = self.layout.column(align=True)
        files = model_files(context)
        for line in download_listing(files, missing_files(files)):
            col.label(text=line, icon='ERROR' if line.startswith("WARNING") else 'NONE')

    def execute(self, context):
        if _offline_refusal(self, "Downloading the models") or job_busy(self):
            return {'CANCELLED'}
        files = model_files(context)
        if files.store.model_dir:
            self.report({'ERROR'}, "A model folder is set in the preferences; UniTAF never downloads into it. "
                                   "Clear it to download into the cache folder, or copy the files there.")
            return {'CANCELLED'}
        return _start(self, context, jobs.Job(download_work(files), label="Download models"))


def download_dialog(op, context, width):
    """The confirmation dialog before a download (its draw() lists files, sizes, licences)."""
    try:
        return context.window_manager.invoke_props_dialog(op, width=width, confirm_text="Download")
    except TypeError:   # confirm_text is newer than some 4.x releases
        return context.window_manager.invoke_props_dialog(op, width=width)


def install_work(runtime, target, flavour):
    """The worker-thread half of Install Neural Runtime (no bpy)."""
    def work(progress, cancel):
        info = runtime.install(target, flavour, progress, cancel, allow_network=True)
        runtime.activate(target)
        return f"UniTAF: {runtime.name} {info[runtime.module]} ({info['flavour']}) installed in {target}"
    return work


def download_work(files):
    """The worker-thread half of Download Models (no bpy): progress as a fraction of all bytes."""
    from ...engines.model_files import human_size

    def work(progress, cancel):
        def report(p):
            frac = p.done / p.total if p.total else 0.0
            progress(frac, f"{p.index}/{p.count} {p.file} ({human_size(p.done)} of {human_size(p.total)})")
        files.download(progress=report, cancel=cancel, allow_network=True)
        return f"UniTAF: models ready in {files.store.cache_dir}"
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
    """Unload the engines' models and give their (GPU) memory back"""
    bl_idname = "unitaf.release_models"
    bl_label = "Release Models"

    @classmethod
    def poll(cls, context):
        job = jobs.current()
        return job is None or job.finished

    def execute(self, context):
        freed = sum(engine.release_models() for _, engine in engine_classes())
        if not freed:
            self.report({'INFO'}, "UniTAF: no models are loaded.")
        else:
            self.report({'INFO'}, f"UniTAF: released {freed} loaded model set(s).")
        return {'FINISHED'}


class UNITAF_OT_check_engine(bpy.types.Operator):
    """Check that the active engine can run here: its runtime, its model files, the chosen device"""
    bl_idname = "unitaf.check_engine"
    bl_label = "Check Engine"

    def execute(self, context):
        try:   # may import torch: only on this explicit request, never while drawing
            engine_id, cls = active_engine(context)
            ok, text = cls().available(request_options(context))
        except EngineError as exc:
            ok, text = False, str(exc)
        forget_status()
        self.report({'INFO'} if ok else {'WARNING'}, f"UniTAF: {text}")
        return {'FINISHED'}


CLASSES = (UNITAF_OT_install_runtime, UNITAF_OT_download_models, UNITAF_OT_watch_job,
           UNITAF_OT_release_models, UNITAF_OT_check_engine)
