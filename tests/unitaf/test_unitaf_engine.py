"""The UniTAF engine through the engine interface and the CLI (tiny fixture weights standing in
for the official ones), the runtime (device choice, model cache, release, out-of-memory) and the
neural-runtime installer (with a fake pip: no network)."""
import os
import re
import stat
import sys
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from unitaf_blender.cli import setup_commands
from unitaf_blender.engines import Cancelled, EngineError, EngineUnavailable, GenerateRequest, get_engine, list_engines
from unitaf_blender.engines.unitaf import devices, model_set
from unitaf_blender.engines.unitaf import torch_install as nr
from unitaf_blender.engines.unitaf.engine import UniTAFEngine, resolve_voice
from unitaf_blender.engines.unitaf.store import ModelsMissing
from unitaf_tiny_models import EXPRESSION, SPEAKER, run_fresh_python, tiny_head_blend, tiny_model_dir

# The tests marked cpu_bf16_both reach precision=auto, so they run on CPUs with and without native bf16.

FAST = {"max_mel_tokens": 30, "diffusion_steps": 2}


def request(text="Hello there. Nice to see you.", **options):
    opts = {"model_dir": tiny_model_dir(), "device": "cpu", **FAST, **options}
    return GenerateRequest(text=text, emotion="calm:0.5", voice=str(SPEAKER), seed=3, options=opts)


@pytest.fixture(scope="module")
def engine():
    torch.set_num_threads(1)
    return get_engine("unitaf")


@pytest.mark.cpu_bf16_both
def test_registered_after_embedded(engine):
    ids = [e[0] for e in list_engines()]
    assert ids.index("unitaf") == ids.index("embedded") + 1
    assert isinstance(engine, UniTAFEngine) and engine.id == "unitaf"
    assert engine.voices()[0][0] == "lj_speech"
    ok, why = engine.available({"model_dir": tiny_model_dir(), "device": "cpu"})
    assert ok, why


@pytest.mark.cpu_bf16_both
def test_generate_performance_and_model_cache(engine, monkeypatch, cpu_outcome):
    devices.release()
    stages = []
    perf = engine.generate(request(), progress=lambda f, s: stages.append(s))
    assert perf.sample_rate == 22050 and perf.fps == 25.0
    assert perf.n_frames == int(np.floor(len(perf.audio) * 25 / 22050)) + 1     # face covers the audio
    assert "jawOpen" in perf.channels and "browDownLeft" in perf.channels and "headYaw" in perf.channels
    assert np.all((perf.weights[:, :52] >= 0) & (perf.weights[:, :52] <= 1))
    assert perf.meta["engine"] == "unitaf" and perf.meta["expression"] == "layer"
    assert perf.emotion_vectors.shape == (len(perf.meta["spans"]), 8)
    prec = devices.pick_precision(torch.device("cpu"))
    assert prec.name == ("bf16" if cpu_outcome == "cpu-with-bf16" else "fp32")     # auto follows the CPU
    # the precision and its reason are shown while loading and kept on the take
    assert f"loading models (cpu, {prec.name}: {prec.why})" in stages
    assert perf.meta["precision"] == prec.name
    for stage in ("voice analysis", "GPT tokens", "s2mel steps", "vocoder", "face"):
        assert any(stage in s for s in stages), stage
    # second Generate: nothing is loaded again (a load would raise here)
    assert len(devices.cached_keys()) == 1

    def no_reload(*a, **k):
        raise AssertionError("models were loaded twice")
    monkeypatch.setattr(model_set, "load_models", no_reload)
    again = engine.generate(request())
    np.testing.assert_array_equal(again.audio, perf.audio)          # same seed, same result
    np.testing.assert_array_equal(again.weights, perf.weights)
    monkeypatch.undo()
    # release frees the cache; the next Generate loads again
    assert devices.release() == 1 and devices.cached_keys() == []


@pytest.mark.cpu_bf16_both
def test_options_change_the_face(engine):
    neural = engine.generate(request(expression_layer=False))
    assert len(neural.channels) == 51 and "headYaw" not in neural.channels
    angry = engine.generate(request("[angry] Stop that now."))
    calm = engine.generate(request("[calm] Stop that now."))
    brow = angry.channels.index("browDownLeft")
    assert angry.weights[:, brow].mean() > calm.weights[:, brow].mean() + 0.3
    # a trained expression model (here the fixture's) replaces our layer
    model = engine.generate(request(expression_checkpoint=str(EXPRESSION)))
    assert model.meta["expression"] == "none+model" and len(model.channels) == 51


@pytest.mark.cpu_bf16_both
def test_clear_errors(engine, tmp_path):
    with pytest.raises(ModelsMissing) as exc:
        engine.generate(request(model_dir=str(tmp_path)))
    assert isinstance(exc.value, EngineUnavailable)
    assert "gpt.pth" in str(exc.value) and "GB" in str(exc.value)
    with pytest.raises(EngineError, match="Voice clip not found"):
        engine.generate(GenerateRequest(text="Hi.", voice=str(tmp_path / "none.wav"),
                                        options={"model_dir": tiny_model_dir()}))
    with pytest.raises(EngineError, match="Unknown UniTAF voice"):
        resolve_voice("en-us+f3")
    assert os.path.isfile(resolve_voice(None)) and resolve_voice("default") == resolve_voice("lj_speech")
    with pytest.raises(EngineError, match="Bad emotion"):
        engine.generate(GenerateRequest(text="Hi.", emotion="furious", options={"model_dir": tiny_model_dir()}))
    with pytest.raises(EngineError, match="sampling"):
        engine.generate(request(sampling="wild"))
    with pytest.raises(EngineError, match="emo_alpha"):
        engine.generate(request(emo_alpha=2))
    with pytest.raises(EngineError, match="Emotion clip not found"):
        engine.generate(request(emotion_clip=str(tmp_path / "angry.wav")))
    with pytest.raises(EngineError, match="empty"):
        engine.generate(request("   "))
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        engine.generate(request(), cancel=ev)


def test_default_voice_asset_is_a_short_pcm16_clip():
    from unitaf_blender.core.audio_io import read_wav
    audio, sr = read_wav(resolve_voice(None))
    assert sr == 22050 and 3.0 < len(audio) / sr < 15.0 and np.abs(audio).max() > 0.3


@pytest.mark.cpu_bf16_both
def test_device_choice_and_oom(cpu_outcome):
    assert devices.pick_device("cpu").type == "cpu"
    assert devices.pick_device("auto").type in ("cuda", "mps", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(EngineError, match="no CUDA GPU"):
            devices.pick_device("cuda")
    with pytest.raises(EngineError, match="Unknown device"):
        devices.pick_device("tpu")
    # auto on CPU: bf16 only where the CPU has native bf16 (test_precision.py feeds flag sets)
    assert devices.native_bf16() == (cpu_outcome == "cpu-with-bf16")
    assert devices.pick_dtype(torch.device("cpu")) == (torch.bfloat16 if devices.native_bf16() else torch.float32)
    assert devices.pick_dtype(torch.device("cuda")) == torch.float16
    assert devices.pick_dtype(torch.device("cuda"), "bf16") == torch.bfloat16
    with pytest.raises(EngineError, match="fp16"):
        devices.pick_dtype(torch.device("cpu"), "fp16")
    devices.get_or_load("k", lambda: object())
    with pytest.raises(devices.OutOfMemory, match="CPU") as exc:
        with devices.oom_guard(torch.device("cuda")):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert exc.value.fallback_device == "cpu" and devices.cached_keys() == []   # models released
    with pytest.raises(ValueError, match="other"):
        with devices.oom_guard(torch.device("cuda")):
            raise ValueError("other")


@pytest.mark.cpu_bf16_both
def test_cli_generate_unitaf_keys_a_take_with_sound(tmp_path):
    """`generate --engine unitaf --model-dir DIR` through the same CLI as the embedded engine."""
    bpy = pytest.importorskip("bpy")
    from unitaf_blender.blender import compat
    from unitaf_blender.cli import run
    src = tiny_head_blend(bpy, tmp_path / "in.blend", ("jawOpen", "browDownLeft", "eyeBlinkLeft"))
    out = tmp_path / "out.blend"
    code = run(["generate", "--blend", str(src), "--object", "Head", "--text", "[angry] Hello there.",
                "--engine", "unitaf", "--model-dir", tiny_model_dir(), "--device", "cpu", "--voice", str(SPEAKER),
                "--save", str(out)])
    assert code == 0 and out.is_file()
    bpy.ops.wm.open_mainfile(filepath=str(out))
    key = bpy.data.objects["Head"].data.shape_keys
    paths = {fc.data_path for fc in compat.action_fcurves(key.animation_data.action)}
    assert 'key_blocks["jawOpen"].value' in paths and 'key_blocks["browDownLeft"].value' in paths
    if compat.has_audio():
        strips = compat.all_strips(bpy.context.scene.sequence_editor)
        assert len(strips) == 1 and strips[0].type == "SOUND"


@pytest.mark.cpu_bf16_both
def test_cli_lipsync_unitaf_keys_the_recording(tmp_path, capsys):
    """`lipsync --engine unitaf`: the face from the recording's own tokens, keyed through the same
    CLI; the strip is the recording; without a transcript it points to the embedded mode."""
    bpy = pytest.importorskip("bpy")
    from shared_paths import LJ, LJ_TEXT, need
    from unitaf_blender.blender import compat
    from unitaf_blender.cli import run
    recording = need(LJ)
    src = tiny_head_blend(bpy, tmp_path / "in.blend", ("jawOpen", "browDownLeft"))
    out = tmp_path / "out.blend"
    base = ["lipsync", "--blend", str(src), "--object", "Head", "--audio", str(recording), "--engine", "unitaf",
            "--model-dir", tiny_model_dir(), "--device", "cpu", "--save", str(out)]
    assert run(base) == 2 and not out.exists()
    assert "embedded" in capsys.readouterr().err
    assert run(base + ["--transcript", LJ_TEXT]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out))
    key = bpy.data.objects["Head"].data.shape_keys
    action = key.animation_data.action
    assert action["unitaf_engine"] == "unitaf" and 'key_blocks["jawOpen"].value' in {
        fc.data_path for fc in compat.action_fcurves(action)}
    if compat.has_audio():
        strips = compat.all_strips(bpy.context.scene.sequence_editor)
        assert len(strips) == 1 and strips[0].sound.filepath.endswith("LJ001-0001.wav")


# ------------------------------------------------------------------ neural runtime installer

def fake_python(tmp_path, script):
    """An executable standing in for `python -m pip ...`: prints pip-like lines, may create
    <target>/torch, exits with the given code."""
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


TARGET_OF = 'for a in "$@"; do if [ "$prev" = "--target" ]; then T="$a"; fi; prev="$a"; done\n'


@pytest.fixture(autouse=True)
def runtime_lock_here(tmp_path, monkeypatch):
    """A lock for this platform and every flavour, so the installer tests do not depend on which
    platforms the shipped lock covers; nor on this computer's NVIDIA driver (unknown here: the
    driver check is tested in test_runtime_lock.py)."""
    from unitaf_blender.engines.unitaf import gpu_driver, runtime_lock
    monkeypatch.setattr(gpu_driver, "installed_version", lambda: None)
    target, python = runtime_lock.this_target()
    lock = tmp_path / "runtime.lock"
    lock.write_text("".join(f"[{f} {target} {python} {nr.TORCH_INDEX}/{f}]\ntorch=={nr.TORCH_VERSION}+{f} "
                            f"--hash=sha256:{'a' * 64}\n" for f in ("cpu",) + nr.CUDA_FLAVOURS))
    monkeypatch.setattr(runtime_lock, "LOCK_FILE", str(lock))
    return lock


def test_install_commands_follow_the_lock(tmp_path):
    """One pip run per lock section: its index only, hashes required, no dependency resolution,
    and pip's own configuration ignored (tests/unitaf/test_runtime_lock.py installs for real)."""
    lock = tmp_path / "runtime.lock"
    lock.write_text("[cpu linux-x86_64 cp311 https://download.pytorch.org/whl/cpu]\n"
                    f"torch=={nr.TORCH_VERSION}+cpu --hash=sha256:{'a' * 64}\n"
                    "[cpu linux-x86_64 cp311 https://pypi.org/simple]\n"
                    f"PyYAML==6.0.4 --hash=sha256:{'b' * 64}\n")
    commands = nr.build_commands("/x/rt", "cpu", python="/py", lock=str(lock), where=("linux-x86_64", "cp311"))
    assert [c[c.index("--index-url") + 1] for c, _ in commands] == [f"{nr.TORCH_INDEX}/cpu", nr.PYPI_INDEX]
    for cmd, _ in commands:
        assert cmd[:5] == ["/py", "-m", "pip", "--isolated", "install"] and cmd[-1] == "-r"
        assert {"--require-hashes", "--no-deps", "--target"} <= set(cmd) and "--extra-index-url" not in cmd
    assert commands[0][1] == f"torch=={nr.TORCH_VERSION}+cpu --hash=sha256:{'a' * 64}\n"
    assert nr.EXTRA_PACKAGES == ("PyYAML==6.0.4", "huggingface_hub==2.4.0", "Jinja2==3.1.6")
    with pytest.raises(EngineError, match="flavour"):
        nr.build_commands("/x", "rocm-ish", lock=str(lock))


@pytest.mark.skipif(sys.platform == "win32", reason="fake pip is a POSIX shell script")
def test_install_success_progress_and_activate(tmp_path, monkeypatch):
    py = fake_python(tmp_path, TARGET_OF + 'echo "Collecting torch==2.13.0"\necho "  Downloading torch-2.13.0.whl (190 MB)"\n'
                     'echo "Installing collected packages: torch"\nmkdir -p "$T/torch"\n'
                     'echo "Successfully installed torch-2.13.0"\nexit 0\n')
    target = tmp_path / "user" / "runtime"
    seen = []
    info = nr.install(target, "cpu", progress=lambda f, s: seen.append((f, s)), python=py)
    assert info["torch"] == "2.13.0" and nr.installed_info(target)["flavour"] == "cpu"
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("Downloading" in s for _, s in seen)
    assert not [p for p in os.listdir(target.parent) if ".partial" in p]    # staging renamed away
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert nr.activate(target) and sys.path[0] == str(target)
    assert not nr.activate(tmp_path / "nothing")


@pytest.mark.skipif(sys.platform == "win32", reason="fake pip is a POSIX shell script")
def test_install_offline_failure_and_cancel(tmp_path):
    offline = fake_python(tmp_path, 'echo "WARNING: Retrying after connection broken by '
                          "'NewConnectionError(Failed to establish a new connection: [Errno -3] Temporary failure "
                          "in name resolution)'\"\necho \"ERROR: No matching distribution found for torch==2.13.0\"\nexit 1\n")
    target = tmp_path / "rt"
    with pytest.raises(EngineError, match="offline"):
        nr.install(target, "cpu", python=offline)
    assert not target.exists() and not [p for p in os.listdir(tmp_path) if ".partial" in p]
    with pytest.raises(EngineError, match="online access is off"):
        nr.install(target, "cpu", python=offline, allow_network=False)
    broken = fake_python(tmp_path, 'echo "ERROR: something else"\nexit 3\n')
    with pytest.raises(EngineError, match="exit code 3"):
        nr.install(target, "cuda", python=broken)
    slow = fake_python(tmp_path, TARGET_OF + 'mkdir -p "$T/torch"\necho "Collecting torch"\nsleep 30\n')
    ev = threading.Event()
    with pytest.raises(Cancelled):
        nr.install(target, "cpu", progress=lambda f, s: ev.set(), cancel=ev, python=slow)
    assert not target.exists() and not [p for p in os.listdir(tmp_path) if ".partial" in p]


def test_cli_install_runtime_dry_run(capsys, tmp_path):
    class Args:
        target, flavour, dry_run = str(tmp_path / "rt"), "cuda", True
    assert setup_commands.cmd_install_runtime(Args) == 0
    assert f"torch=={nr.TORCH_VERSION}" in capsys.readouterr().out
    Args.target = None
    assert setup_commands.cmd_install_runtime(Args) == 2


def test_cli_install_runtime_prints_the_cli_progress_line(capsys, monkeypatch, tmp_path):
    """install-runtime reports like generate: one '[ 40.0%] stage' line per step, on stderr."""
    monkeypatch.setattr(nr, "install", lambda target, flavour, progress, *a, **k: progress(0.4, "Collecting torch"))

    class Args:
        target, flavour, dry_run = str(tmp_path / "rt"), "cpu", False
    assert setup_commands.cmd_install_runtime(Args) == 0
    assert "[ 40.0%] Collecting torch\n" in capsys.readouterr().err


def test_bf16_on_cpu_runs_the_gpt_in_bf16(engine):
    """precision=bf16 on CPU: the GPT and S2Mel take the bf16 paths and the take is still sound
    (same length as fp32, finite, similar face)."""
    ref = engine.generate(request(precision="fp32"))
    perf = engine.generate(request(precision="bf16"))
    sets = [v for v in devices._cache.values() if getattr(v, "dtype", None) == torch.bfloat16]
    assert sets, "no bf16 model set was loaded"
    assert sets[0].gpt.dtype == torch.bfloat16          # the GPT itself runs in bf16 on CPU
    assert abs(len(perf.audio) - len(ref.audio)) <= 0.1 * len(ref.audio) + 22050
    assert np.isfinite(perf.audio).all() and np.isfinite(perf.weights).all()
    assert perf.weights.shape[1] == ref.weights.shape[1]


def test_check_catches_request_errors_without_loading(engine, tmp_path):
    """check(): every cheap error up front, with the tiny model folder (nothing is loaded)."""
    checked = engine.check(request("[happy] Hi there."))
    assert checked.request.text == "[happy] Hi there." and checked.settings.layer == "auto"
    for bad, match in ((request("[hapy] Hi."), "hapy"), (request("x" * 20_001), "limit"),
                       (request("[sad] ... !"), "no speakable text"), (request("   "), "empty"),
                       (request(sampling="wild"), "sampling"), (request(expression_layer="maybe"), "expression_layer"),
                       (request(diffusion_steps="many"), "Bad UniTAF option"),
                       (request(emotion_clip=str(tmp_path / "x.wav")), "Emotion clip not found")):
        with pytest.raises(EngineError, match=match):
            engine.check(bad)
    with pytest.raises(ModelsMissing, match="model folder not found"):
        engine.check(request(model_dir=str(tmp_path / "nowhere")))


def test_check_never_imports_torch():
    code = ("import sys\n"
            "from unitaf_blender.engines import GenerateRequest, get_engine\n"
            "e = get_engine('unitaf')\n"
            "try:\n    e.check(GenerateRequest(text='Hi there.', options={'model_dir': '/nonexistent'}))\n"
            "except Exception as exc:\n    print(type(exc).__name__)\n"
            "print('torch' in sys.modules)")
    assert run_fresh_python(code).split() == ["ModelsMissing", "False"]


@pytest.mark.parametrize("option, value, match", [("device", "gpu", "Unknown device 'gpu'"),
                                                  ("device", "cuda:x", "Unknown device"),
                                                  ("precision", "half", "Unknown precision 'half'"),
                                                  ("expression_mode", "attention", "expression_mode must be")])
def test_check_refuses_bad_option_names_without_torch(option, value, match):
    """A misspelt device, precision or expression mode fails in check(), before the model files
    are looked at and without importing torch (torch is blocked in the child process)."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from unitaf_blender.engines import EngineError, GenerateRequest, get_engine\n"
            f"opts = {{'model_dir': '/nonexistent', {option!r}: {value!r}}}\n"
            "try:\n    get_engine('unitaf').check(GenerateRequest(text='Hi there.', options=opts))\n"
            "except EngineError as exc:\n    print(type(exc).__name__); print(exc)\n")
    printed = run_fresh_python(code)
    kind, message = printed.split("\n", 1)
    assert kind == "EngineError" and re.search(match, message), printed


def test_option_name_lists_are_the_devices_lists():
    """options.py holds the one list of names; devices.py resolves every one of them."""
    from unitaf_blender.engines.unitaf import options
    assert list(devices.DTYPES) == list(options.PRECISIONS)
    assert devices.pick_device("CPU").type == "cpu"
    assert devices.pick_dtype(torch.device("cpu"), "float32") == torch.float32
    with pytest.raises(EngineError, match="Unknown device"):
        devices.pick_device("gpu")
    for mode in options.EXPRESSION_MODES:
        assert options.expression_mode_name(mode.upper()) == mode
