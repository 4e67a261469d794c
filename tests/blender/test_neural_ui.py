"""Blender wiring of the UniTAF (neural) engine: panel settings -> GenerateRequest, preferences,
Install Neural Runtime / Download Models (refused offline), Release Models, Retry on CPU.

Engines, installers and downloads here are test doubles defined in this file (monkeypatched);
nothing touches the network.
"""
import json
import os
import pathlib
import subprocess
import sys
import threading
import time

import pytest
from helpers import make_face, make_perf

from blender_testutil import enabled_as_extension

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender.panel import engine_setup as neural
from unitaf_blender.blender.panel import job_ui, jobs, settings, ui
from unitaf_blender.core.performance import EMOTIONS
from unitaf_blender.engines import (
    CheckedRequest,
    check_cancel,
    engine_class,
    get_engine,
    request_path,
)
from unitaf_blender.engines.assets import find_assets
from unitaf_blender.engines.unitaf import torch_install
from unitaf_blender.engines.unitaf.catalog import DEFAULT_FEATURES
from unitaf_blender.engines.unitaf.store import ModelStore

ROOT = pathlib.Path(__file__).resolve().parents[2]
ADDON = "unitaf_blender"


class Recorder:
    """A layout that checks every property and operator it is given exists, and logs them."""

    def __init__(self, log):
        self.log, self.enabled = log, True

    def _child(self, *a, **k):
        return Recorder(self.log)
    row = column = box = grid_flow = split = _child

    def prop(self, data, name, **k):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name, k.get("index", -1)))

    def operator(self, idname, **k):
        mod, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, mod), name), idname
        self.log.append(("operator", idname, k.get("text")))
        return type("OperatorProperties", (), {})()    # the draw code may set properties on it

    def label(self, text="", **k):
        self.log.append(("label", text))

    def progress(self, text="", factor=0.0, type='BAR'):
        self.log.append(("progress", text, factor))

    def separator(self, **k):
        pass


def _draw(draw, *args):
    log = []
    owner = type("Owner", (), {"layout": Recorder(log)})()
    draw(owner, bpy.context, *args)
    return log


def _text(log):
    return "\n".join(str(e[1]) for e in log if e[0] == "label")


@pytest.fixture
def registered(clean_scene, monkeypatch, tmp_path):
    """The add-on registered the legacy way, with an Addon entry so its preferences exist, and the
    model cache pointed at an empty temporary folder."""
    import unitaf_blender
    from unitaf_blender.blender import props
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    props.unregister_properties()
    unitaf_blender.register(ADDON)
    addon = bpy.context.preferences.addons.new()
    addon.module = ADDON
    jobs.set_current(None)
    yield bpy.context.preferences.addons[ADDON].preferences
    jobs.set_current(None)
    addon = bpy.context.preferences.addons.get(ADDON)   # a factory reset drops it
    if addon is not None:
        bpy.context.preferences.addons.remove(addon)
    unitaf_blender.unregister()


class RecordingEngine:
    """Records every request; raises `fail(request)` when that returns an exception. It declares what
    the UniTAF engine declares (its options, voice clip and emotion mix), so the panel sends it the
    same request."""
    _real = engine_class("unitaf")
    id, label, options, voice_input = _real.id, _real.label, _real.options, _real.voice_input
    emotion_mix, wants_segments = _real.emotion_mix, _real.wants_segments

    def __init__(self, fail=None):
        self.requests, self.fail = [], fail

    def check(self, request):
        return CheckedRequest(request)

    def generate(self, request, progress, cancel):
        self.requests.append(request)
        error = self.fail(request) if self.fail else None
        if error is not None:
            raise error
        progress(1.0, "done")
        return make_perf(seconds=0.5)


def _neural_scene(tmp_path):
    obj = make_face(bpy)
    s = bpy.context.scene.unitaf
    s.target, s.text, s.engine = obj, "Hello there.", "unitaf"
    return obj, s


# ------------------------------------------------------------------------------ properties

def test_neural_properties_save_and_reload(registered, tmp_path):
    s, o = bpy.context.scene.unitaf, bpy.context.scene.unitaf_options.unitaf
    s.engine = "unitaf"
    s.voice_clip = "//voices/me.wav"
    s.emotion_mode = "VECTOR"
    s.emotion_vector = (0.1, 0.0, 0.5, 0.0, 0.0, 0.25, 0.0, 1.0)
    o.emo_alpha = 0.6
    o.emotion_clip = "/tmp/angry.wav"
    o.expression_layer = "OFF"
    o.device = "CPU"
    o.precision = "BF16"
    o.sampling = "GREEDY"
    path = str(tmp_path / "neural.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    assert bpy.context.scene.unitaf.emotion_mode == "PRESET"
    bpy.ops.wm.open_mainfile(filepath=path)
    s, o = bpy.context.scene.unitaf, bpy.context.scene.unitaf_options.unitaf
    assert (s.engine, s.voice_clip, s.emotion_mode, o.emotion_clip) == (
        "unitaf", "//voices/me.wav", "VECTOR", "/tmp/angry.wav")
    assert list(s.emotion_vector) == pytest.approx([0.1, 0.0, 0.5, 0.0, 0.0, 0.25, 0.0, 1.0])
    assert o.emo_alpha == pytest.approx(0.6)
    assert (o.expression_layer, o.device, o.precision, o.sampling) == ("OFF", "CPU", "BF16", "GREEDY")
    assert len(s.emotion_vector) == len(EMOTIONS) == 8


def test_preferences_have_model_folder_and_device(registered):
    prefs = registered
    assert {"cache_dir", "model_dir", "device", "default_engine"} <= set(prefs.bl_rna.properties.keys())
    assert prefs.device == "AUTO" and prefs.model_dir == ""


# ------------------------------------------------------------------------------ requests

def test_emotion_vector_and_neural_options_reach_the_engine(registered, tmp_path, monkeypatch):
    engine = RecordingEngine()
    monkeypatch.setattr(request_path, "get_engine", lambda engine_id=None: engine)
    obj, s = _neural_scene(tmp_path)
    prefs = registered
    prefs.device = "CUDA"
    prefs.cache_dir = str(tmp_path / "cache")
    prefs.model_dir = str(tmp_path / "models")
    clip = tmp_path / "voice.wav"
    s.voice_clip = str(clip)
    s.emotion_mode = "VECTOR"
    s.emotion_vector = (0.0, 0.0, 0.7, 0.0, 0.0, 0.0, 0.3, 0.0)
    o = bpy.context.scene.unitaf_options.unitaf
    o.emo_alpha = 0.5
    o.emotion_clip = str(tmp_path / "emo.wav")
    o.expression_layer = "ON"
    o.precision = "FP16"
    o.sampling = "REFERENCE"
    s.seed = 9
    assert bpy.ops.unitaf.generate() == {'FINISHED'}
    req = engine.requests[-1]
    assert req.emotion == "0.0000,0.0000,0.7000,0.0000,0.0000,0.0000,0.3000,0.0000"
    from unitaf_blender.core.emotion import parse_emotion
    assert list(parse_emotion(req.emotion)) == pytest.approx([0, 0, 0.7, 0, 0, 0, 0.3, 0])
    assert req.voice == str(clip) and req.seed == 9 and req.text == "Hello there."
    assert req.options == {"device": "cuda", "cache_dir": str(tmp_path / "cache"),
                           "model_dir": str(tmp_path / "models"), "precision": "fp16", "sampling": "reference",
                           "emo_alpha": 0.5, "expression_layer": "on", "emotion_clip": str(tmp_path / "emo.wav")}
    assert obj.data.shape_keys.animation_data.action is not None
    # the per-scene device wins over the preferences; an empty voice clip = the bundled voice
    o.device, s.voice_clip, o.emotion_clip = "CPU", "", ""
    s.emotion_mode, s.emotion, s.emotion_intensity = "PRESET", "sad", 0.4
    assert bpy.ops.unitaf.generate() == {'FINISHED'}
    req = engine.requests[-1]
    assert req.options["device"] == "cpu" and "emotion_clip" not in req.options
    assert req.voice is None and req.emotion == "sad:0.400"


def test_embedded_engine_gets_no_neural_options_and_ignores_extra_ones(registered, tmp_path, monkeypatch):
    engine = RecordingEngine()
    monkeypatch.setattr(request_path, "get_engine", lambda engine_id=None: engine)
    obj, s = _neural_scene(tmp_path)
    s.engine, s.voice, s.emotion_mode = "embedded", "en-us", "VECTOR"   # vector mode is UniTAF only
    s.emotion, s.emotion_intensity = "happy", 0.5
    assert bpy.ops.unitaf.generate() == {'FINISHED'}
    req = engine.requests[-1]
    assert req.voice == "en-us" and req.emotion == "happy:0.500" and req.options == {"device": "auto"}
    # the embedded engine reads only the options it knows (fps), so the neural ones are harmless
    from unitaf_blender.engines.embedded import engine as embedded
    source = pathlib.Path(embedded.__file__).read_text()
    assert "request.options.get(\"fps\"" in source and "request.options[" not in source


def test_set_from_preset_fills_the_emotion_vector(registered):
    s = bpy.context.scene.unitaf
    s.emotion_vector = (0.3,) * 8
    s.emotion, s.emotion_intensity = "surprised", 0.65
    assert bpy.ops.unitaf.emotion_from_preset() == {'FINISHED'}
    expected = [0.65 if e == "surprised" else 0.0 for e in EMOTIONS]
    assert list(s.emotion_vector) == pytest.approx(expected)
    s.emotion = "neutral"
    bpy.ops.unitaf.emotion_from_preset()
    assert list(s.emotion_vector) == [0.0] * 8


def test_panel_shows_neural_settings_only_for_unitaf(registered, tmp_path):
    obj, s = _neural_scene(tmp_path)
    s.engine = "embedded"
    log = _draw(ui.UNITAF_PT_main.draw)
    props = {e[1] for e in log if e[0] == "prop"}
    assert "voice" in props and not props & {"voice_clip", "emo_alpha", "emotion_mode"}
    assert not ui.UNITAF_PT_engine_options.poll(bpy.context)
    s.engine = "unitaf"
    s.emotion_mode = "VECTOR"
    log = _draw(ui.UNITAF_PT_main.draw)
    assert {("prop", "emotion_vector", i) for i in range(8)} <= set(log)
    assert ("operator", "unitaf.emotion_from_preset", "Set from Preset") in log
    assert {"voice_clip", "emo_alpha", "emotion_mode"} <= {e[1] for e in log if e[0] == "prop"}
    assert "Voice: bundled LJ Speech" in _text(log)
    assert ui.UNITAF_PT_engine_options.poll(bpy.context)
    log = _draw(ui.UNITAF_PT_engine_options.draw)
    assert {"emotion_clip", "expression_layer", "device", "precision", "sampling"} <= {
        e[1] for e in log if e[0] == "prop"}
    assert ("operator", "unitaf.release_models", None) in log


# ------------------------------------------------------------------------------ preferences

def test_preferences_draw_runtime_and_model_boxes(registered, tmp_path):
    prefs = registered
    log = _draw(lambda owner, context: neural.draw_preferences(prefs, context, owner.layout))
    text = _text(log)
    assert "Neural runtime (PyTorch)" in text and f"Folder: {neural.RUNTIME_DIR}" in text
    assert ("operator", "unitaf.install_runtime", "Install Neural Runtime") in log or \
        ("operator", "unitaf.install_runtime", "Reinstall Neural Runtime") in log
    assert ("operator", "unitaf.download_models", None) in log
    assert "model file(s) missing" in text and "Folder does not exist yet" in text
    assert "Online access is off" in text    # the bpy module runs with online access off
    prefs.model_dir = str(tmp_path)
    log = _draw(lambda owner, context: neural.draw_preferences(prefs, context, owner.layout))
    assert "nothing is downloaded" in _text(log)


def test_runtime_folder_is_activated_at_register(clean_scene, monkeypatch, tmp_path):
    """An installed runtime (marker + torch folder) is put on sys.path by register()."""
    import unitaf_blender
    from unitaf_blender.blender import props
    folder = pathlib.Path(neural.runtime_dir_for(ADDON))
    assert folder.name == "neural_runtime" and "unitaf_blender_data" in str(folder)
    assert not folder.exists()
    os.makedirs(folder / "torch")
    (folder / torch_install.MARKER).write_text(json.dumps({"torch": "9.9.9", "flavour": "cpu"}))
    props.unregister_properties()
    try:
        unitaf_blender.register(ADDON)
        assert neural.RUNTIME_DIR == str(folder)
        assert sys.path[0] == str(folder)
        assert neural.runtime_status(find_assets("runtime")) == (True, "PyTorch 9.9.9 (cpu) installed")
        unitaf_blender.unregister()
    finally:   # an empty 'torch' folder on sys.path would shadow the real one
        while str(folder) in sys.path:
            sys.path.remove(str(folder))
        import importlib
        import shutil
        sys.path_importer_cache.pop(str(folder), None)
        shutil.rmtree(folder)
        importlib.invalidate_caches()


def test_runtime_folder_of_an_installed_extension(clean_scene, tmp_path):
    from unitaf_blender.blender import props
    if not (ROOT / "blender_manifest.toml").exists():
        pytest.skip("blender_manifest.toml is not in the repository root yet")
    props.unregister_properties()
    try:
        with enabled_as_extension(bpy, ROOT, tmp_path, "unitaf_neural") as (addon_id, mod, errors):
            assert not errors and mod is not None
            panel = sys.modules[addon_id + ".unitaf_blender.blender.panel"]
            runtime_dir = panel.engine_setup.RUNTIME_DIR
            assert runtime_dir == bpy.utils.extension_path_user(addon_id, path="neural_runtime")
            assert os.path.isdir(runtime_dir)
            for op in ("install_runtime", "download_models", "release_models", "retry_on_fallback",
                       "check_engine"):
                assert hasattr(bpy.ops.unitaf, op), op
            assert bpy.context.preferences.addons[addon_id].preferences.model_dir == ""
    finally:
        props.unregister_properties()
    assert not errors


# ------------------------------------------------------------------------------ network operators

@pytest.fixture
def no_network_calls(monkeypatch):
    """Record any call into the installer or the downloader (there must be none)."""
    calls = []
    monkeypatch.setattr(torch_install, "install", lambda *a, **k: calls.append(("install", a, k)))
    from unitaf_blender.engines import model_store  # the shared store: UniTAF weights and natural voices
    monkeypatch.setattr(model_store.ModelStore, "download", lambda *a, **k: calls.append(("download", a, k)))
    return calls


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*")) if os.path.exists(folder) else []


def test_network_operators_refuse_when_online_access_is_off(registered, no_network_calls, tmp_path):
    assert bpy.app.online_access is False
    prefs = registered
    prefs.cache_dir = str(tmp_path / "cache")
    runtime_before = _listing(neural.RUNTIME_DIR)
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.unitaf.install_runtime(flavour="cuda")
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.unitaf.install_runtime('INVOKE_DEFAULT')
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.unitaf.download_models()
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.unitaf.download_models('INVOKE_DEFAULT')
    assert no_network_calls == []
    assert _listing(neural.RUNTIME_DIR) == runtime_before
    assert not (tmp_path / "cache").exists() and jobs.current() is None


def test_install_runtime_runs_the_installer_when_online(registered, monkeypatch, no_network_calls):
    monkeypatch.setattr(neural, "online_access", lambda: True)

    def install(target, flavour, progress, cancel, allow_network=True):
        no_network_calls.append((target, flavour))
        progress(0.5, "Downloading torch")
        return {"torch": torch_install.TORCH_VERSION, "flavour": "cu130"}
    monkeypatch.setattr(torch_install, "install", install)
    assert bpy.ops.unitaf.install_runtime(flavour="cuda") == {'FINISHED'}
    assert no_network_calls == [(neural.RUNTIME_DIR, "cuda")]
    assert jobs.current().state == jobs.DONE and "installed" in jobs.current().result


def test_download_runs_on_a_worker_with_progress_and_cancel(tmp_path, monkeypatch):
    """download_work() in a Job: progress reaches the main thread; Esc (cancel) stops it."""
    from unitaf_blender.engines.model_download import DownloadProgress
    gate, workers = threading.Event(), []

    def download(self, features, progress, cancel, allow_network=True):
        workers.append(threading.get_ident())
        assert tuple(features) == DEFAULT_FEATURES and allow_network
        progress(DownloadProgress("amphion/MaskGCT/x", 50, 100, 250, 1000, 1, 4))
        gate.wait(5.0)
        check_cancel(cancel)
        return []
    monkeypatch.setattr(ModelStore, "download", download)
    job = jobs.Job(neural.download_work(find_assets("models", {"cache_dir": str(tmp_path)})), label="Download models")
    job.start()
    end = time.monotonic() + 5.0
    while job.progress == 0.0 and time.monotonic() < end:
        job.poll()
        time.sleep(0.005)
    assert job.progress == pytest.approx(0.25) and job.stage.startswith("1/4 amphion/MaskGCT/x")
    job.request_cancel()
    gate.set()
    job.wait(5.0)
    assert job.poll() == jobs.CANCELLED and workers and workers[0] != threading.get_ident()


def test_download_dialog_lists_sizes_licences_and_the_nc_warning(registered, tmp_path):
    files = find_assets("models", {"cache_dir": str(tmp_path / "cache")})
    store = files.store
    # one small file already in the cache is not offered again
    spec = store.spec("indextts2.w2v_stats")
    snapshot = tmp_path / "cache" / "models--IndexTeam--IndexTTS-2" / "snapshots" / spec.revision   # pinned commit
    snapshot.mkdir(parents=True)
    (snapshot / spec.filename).write_bytes(b"\0" * spec.size)
    lines = neural.download_listing(files)
    missing = store.missing(DEFAULT_FEATURES)
    assert spec.id not in {st.spec.id for st in missing} and len(missing) >= 10
    assert lines[0].startswith(f"{len(missing)} file(s), ") and " GB in total" in lines[0]
    for st in missing:
        line = next(l for l in lines if l.startswith(st.spec.display + " ("))
        assert f"licence: {st.spec.licence}" in line
    assert not any(l.startswith(spec.display) for l in lines)
    assert any("CC-BY-NC-4.0" in l and "NON-COMMERCIAL" in l for l in lines if l.startswith("WARNING"))
    assert any("model.safetensors (2.32 GB)" in l for l in lines)
    # the dialog draws exactly these lines (the preferences' cache folder)
    registered.cache_dir = str(tmp_path / "cache")
    log = _draw(neural.UNITAF_OT_download_models.draw)
    assert [e[1] for e in log if e[0] == "label"] == lines
    # nothing missing: no listing
    assert neural.download_listing(files, missing=[]) == []


def test_download_refuses_a_model_folder(registered, monkeypatch, no_network_calls, tmp_path):
    monkeypatch.setattr(neural, "online_access", lambda: True)
    registered.model_dir = str(tmp_path)
    with pytest.raises(RuntimeError, match="never downloads"):
        bpy.ops.unitaf.download_models()
    assert no_network_calls == []


# ------------------------------------------------------------------------------ release models

def test_release_models_without_torch_does_not_import_torch(tmp_path):
    """A fresh process: register, draw the preferences, Release Models; torch stays unimported."""
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import bpy, unitaf_blender
unitaf_blender.register("unitaf_blender")
from unitaf_blender.blender.panel import engine_setup as neural
class L:
    enabled = True
    def __getattr__(self, name):
        return lambda *a, **k: L()
prefs = bpy.context.preferences.addons.new(); prefs.module = "unitaf_blender"
neural.draw_preferences(bpy.context.preferences.addons["unitaf_blender"].preferences, bpy.context, L())
assert bpy.ops.unitaf.release_models() == {{'FINISHED'}}
print("TORCH_IMPORTED", "torch" in sys.modules)
import os; sys.stdout.flush(); os._exit(0)  # bpy 4.2/4.5 modules crash or hang in teardown
"""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"), HF_HUB_CACHE=str(tmp_path / "hf"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "TORCH_IMPORTED False" in out.stdout
    assert "no models are loaded" in out.stdout + out.stderr


def test_release_models_frees_loaded_models(registered):
    pytest.importorskip("torch")
    from unitaf_blender.engines.unitaf import devices
    devices.release()
    devices.get_or_load(("test", 1), lambda: object())
    devices.get_or_load(("test", 2), lambda: object())
    assert bpy.ops.unitaf.release_models() == {'FINISHED'}
    assert devices.cached_keys() == []


# ------------------------------------------------------------------------------ out of memory

def test_out_of_memory_offers_retry_on_cpu(registered, tmp_path, monkeypatch):
    pytest.importorskip("torch")
    from unitaf_blender.engines.unitaf.devices import OutOfMemory
    engine = RecordingEngine(fail=lambda req: OutOfMemory("The GPU ran out of memory while generating")
                             if req.options.get("device") != "cpu" else None)
    monkeypatch.setattr(request_path, "get_engine", lambda engine_id=None: engine)
    obj, s = _neural_scene(tmp_path)
    o = bpy.context.scene.unitaf_options.unitaf
    o.device, o.sampling = "CUDA", "GREEDY"
    n_actions = len(bpy.data.actions)
    with pytest.raises(RuntimeError, match="ran out of memory.*Retry on CPU"):
        bpy.ops.unitaf.generate()
    assert len(bpy.data.actions) == n_actions
    failed = jobs.current()
    assert failed.state == jobs.FAILED and failed.fallback_device == "cpu"
    log = _draw(ui.UNITAF_PT_main.draw)
    assert ("operator", "unitaf.retry_on_fallback", "Retry on CPU") in log
    assert bpy.ops.unitaf.retry_on_fallback() == {'FINISHED'}
    first, retry = engine.requests
    assert first.options["device"] == "cuda" and retry.options["device"] == "cpu"
    assert {k: v for k, v in retry.options.items() if k != "device"} == {
        k: v for k, v in first.options.items() if k != "device"}
    assert (retry.text, retry.emotion, retry.seed) == (first.text, first.emotion, first.seed)
    assert obj.data.shape_keys.animation_data.action is not None and jobs.current().state == jobs.DONE
    assert not bpy.ops.unitaf.retry_on_fallback.poll()   # nothing left to retry
    log = _draw(ui.UNITAF_PT_main.draw)
    assert not any(e[0] == "operator" and e[1] == "unitaf.retry_on_fallback" for e in log)


def test_other_failures_offer_no_retry(registered, tmp_path, monkeypatch):
    from unitaf_blender.engines import EngineError
    engine = RecordingEngine(fail=lambda req: EngineError("Voice clip not found: x.wav"))
    monkeypatch.setattr(request_path, "get_engine", lambda engine_id=None: engine)
    _neural_scene(tmp_path)
    with pytest.raises(RuntimeError, match="Voice clip not found"):
        bpy.ops.unitaf.generate()
    assert jobs.current().fallback_device is None and not bpy.ops.unitaf.retry_on_fallback.poll()
    with pytest.raises(RuntimeError, match="poll"):
        bpy.ops.unitaf.retry_on_fallback()
    assert len(engine.requests) == 1


def test_check_engine_reports_what_is_missing(registered, tmp_path):
    pytest.importorskip("torch")
    registered.cache_dir = str(tmp_path / "empty-cache")
    s = bpy.context.scene.unitaf
    s.engine, bpy.context.scene.unitaf_options.unitaf.device = "unitaf", "CPU"
    assert bpy.ops.unitaf.check_engine() == {'FINISHED'}   # a WARNING report, not an error
    ok, text = get_engine("unitaf").available(settings.request_options(bpy.context))
    assert not ok and "missing" in text and str(tmp_path / "empty-cache") in text


def test_voice_ids_pass_through_and_clips_become_absolute(registered, tmp_path):
    s = bpy.context.scene.unitaf
    s.engine = "unitaf"
    s.voice_clip = "lj_speech"
    assert settings.request_voice(bpy.context, engine_class("unitaf")) == "lj_speech"
    s.voice_clip = str(tmp_path / "sub" / ".." / "me.wav")
    assert settings.request_voice(bpy.context, engine_class("unitaf")) == str(tmp_path / "me.wav")


def test_download_models_runs_the_store_download_when_online(registered, monkeypatch, no_network_calls, tmp_path):
    monkeypatch.setattr(neural, "online_access", lambda: True)
    registered.cache_dir = str(tmp_path / "cache")
    seen = []
    monkeypatch.setattr(ModelStore, "download",
                        lambda self, features, progress, cancel, allow_network=True: seen.append(
                            (self.cache_dir, tuple(features), allow_network)) or [])
    assert bpy.ops.unitaf.download_models() == {'FINISHED'}
    assert seen == [(str(tmp_path / "cache"), DEFAULT_FEATURES, True)]
    assert jobs.current().label == "Download models" and jobs.current().state == jobs.DONE


def test_timer_fallback_polls_a_job_to_the_end():
    job = jobs.Job(lambda progress, cancel: "ok", label="Download models")
    job.start()
    job.wait(5.0)
    assert job_ui.poll_from_timer(job) is None and job.state == jobs.DONE and job.result == "ok"
    running = jobs.Job(lambda progress, cancel: threading.Event().wait(0.3))
    running.start()
    assert job_ui.poll_from_timer(running) == 0.2   # not finished: the timer fires again
    running.wait(5.0)


def test_default_engine_follows_the_preferences(registered, monkeypatch):
    """A scene left on "Default" generates with the engine picked in the add-on preferences."""
    from unitaf_blender.blender.panel import scene_settings

    class Prefs:
        default_engine = "unitaf"
        device, cache_dir, model_dir = "AUTO", "", ""
    s = bpy.context.scene.unitaf
    assert s.engine == scene_settings.DEFAULT_ENGINE          # new scenes follow the preferences
    monkeypatch.setattr(settings, "preferences", lambda context: Prefs)
    assert settings.active_engine_id(bpy.context) == "unitaf"
    Prefs.default_engine = "embedded"
    assert settings.active_engine_id(bpy.context) == "embedded"
    s.engine = "unitaf"                               # an explicit scene choice wins
    assert settings.active_engine_id(bpy.context) == "unitaf"


# ------------------------------------------------------------------------------ natural voices

def test_voice_field_lists_natural_voices_first(registered):
    from unitaf_blender.blender.panel import scene_settings
    s = bpy.context.scene.unitaf
    ids = [vid for vid, _ in scene_settings.voice_search(s, bpy.context, "")]
    assert ids[0] == "hibari:heart" and "espeak:en-us+f3" in ids
    assert ids.index("hibari:fable+younger") < ids.index("espeak:en-us")
    assert [vid for vid, _ in scene_settings.voice_search(s, bpy.context, "emma")][:2] == ["hibari:emma", "hibari:emma+deep"]
    log = _draw(ui.UNITAF_PT_main.draw)
    assert ("prop", "voice", -1) in log and not any(e[0] == "operator" and e[1] == "unitaf.download_voice" for e in log)


def test_a_missing_natural_voice_offers_a_download_that_respects_online_access(registered, monkeypatch,
                                                                               no_network_calls, tmp_path):
    from unitaf_blender.blender.panel import voice_setup
    registered.cache_dir = str(tmp_path / "cache")
    s = bpy.context.scene.unitaf
    s.voice = "hibari:emma+older"
    assert voice_setup.missing_voice(bpy.context) == "emma"
    log = _draw(ui.UNITAF_PT_main.draw)
    assert ("operator", "unitaf.download_voice", None) in log
    for s.voice in ("hibari:heart", "espeak:en-us", "hibari:nobody", ""):
        assert voice_setup.missing_voice(bpy.context) is None
    # the dialog lists the file, its size and licence before anything is fetched
    op = type("Op", (), {"name": "emma", "layout": None})()
    lines = voice_setup.UNITAF_OT_download_voice._listing(op, bpy.context)
    assert "voices/bf_emma.int8.onnx (7.9 MB) - licence: Apache-2.0" in "\n".join(lines)
    assert lines[0].startswith("1 file(s), 7.9 MB in total") and str(tmp_path / "cache") in lines[0]
    with pytest.raises(RuntimeError, match="online access is off"):
        bpy.ops.unitaf.download_voice(name="emma")
    assert no_network_calls == [] and jobs.current() is None
    monkeypatch.setattr(neural, "online_access", lambda: True)
    with pytest.raises(RuntimeError, match="No downloadable voice named 'heart'"):
        bpy.ops.unitaf.download_voice(name="heart")
    assert bpy.ops.unitaf.download_voice(name="emma") == {'FINISHED'}
    jobs.current().wait(5.0)
    assert jobs.current().poll() == jobs.DONE and "voice 'emma' ready" in jobs.current().result
    (_, args, kwargs), = no_network_calls
    assert args[0].cache_dir == str(tmp_path / "cache") and list(args[1]) == ["emma"] and kwargs["allow_network"]


def test_the_panel_reuses_a_voice_status_until_a_download_ends(registered, monkeypatch, tmp_path):
    """The main panel asks for the voice's files on every redraw: the answer is reused (as the
    preferences' model status is), kept apart from the model files in the same folder, and
    forgotten when a download or install ends."""
    from unitaf_blender.blender.panel import voice_setup
    from unitaf_blender.engines import model_store
    registered.cache_dir = str(tmp_path / "cache")
    bpy.context.scene.unitaf.voice = "hibari:emma"
    asked, real = [], model_store.ModelStore.missing
    monkeypatch.setattr(model_store.ModelStore, "missing",
                        lambda self, features=None: asked.append((self.title, tuple(features))) or real(self, features))
    for _ in range(3):
        assert voice_setup.missing_voice(bpy.context) == "emma"
    assert len(asked) == 1 and asked[0][1] == ("emma",)
    models = neural.model_files(bpy.context)
    assert neural.missing_files(models) and len(asked) == 2 and asked[1][0] == models.store.title != asked[0][0]
    neural.forget_status()
    assert voice_setup.missing_voice(bpy.context) == "emma" and len(asked) == 3
