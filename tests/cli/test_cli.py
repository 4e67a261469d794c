"""The headless CLI: exit codes, output only on success, inputs never modified."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from cli_testutil import digest
from helpers import csv_without_columns

from shared_paths import ASSETS, ROOT, need

LLF_BLEND = ASSETS / "models" / "Live_Link_Face.blend"
LLF_CSV = ASSETS / "performances" / "MySlate_3_Jason_Millers_iPhone.csv"


def run_module(*args, cwd=None):
    """python -m unitaf_blender ... in a fresh process: the real exit code and streams."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "unitaf_blender", *map(str, args)],
                          capture_output=True, text=True, env=env, cwd=cwd or ROOT, timeout=600)


@pytest.fixture
def llf_copy(tmp_path):
    src = need(LLF_BLEND)
    dst = tmp_path / "in" / "Live_Link_Face.blend"
    dst.parent.mkdir()
    shutil.copy(src, dst)
    return dst


def test_help_lists_commands():
    from unitaf_blender.cli import run
    assert run(["--help"]) == 0
    assert run([]) == 0


def test_unknown_command_and_missing_args_exit_2(capsys):
    from unitaf_blender.cli import run
    assert run(["dance"]) == 2
    assert run(["generate", "--object", "X"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err


def test_import_performance_llf_end_to_end(llf_copy, tmp_path):
    """The issue's acceptance command, through a real `python -m unitaf_blender` process."""
    need(LLF_CSV)
    before = digest(llf_copy)
    out = tmp_path / "out" / "result.blend"
    out.parent.mkdir()
    res = run_module("import-performance", "--blend", llf_copy, "--object", "FBHead",
                     "--csv", LLF_CSV, "--save", out)
    assert res.returncode == 0, res.stderr[-2000:]
    assert out.is_file() and digest(llf_copy) == before

    check = r"""
import bpy, json, sys
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
scene = bpy.context.scene
key = bpy.data.objects["FBHead"].data.shape_keys
act = key.animation_data.action
from unitaf_blender.blender import compat
fcs = compat.action_fcurves(act)
jaw = [fc for fc in fcs if fc.data_path == 'key_blocks["JawOpen"].value'][0]
frames = [k.co[0] for k in jaw.keyframe_points]
vals = [k.co[1] for k in jaw.keyframe_points]
ease = act["unitaf_ease_frames"]   # keys before and after the recording: the take eases in and out
print("R" + json.dumps({"n_fc": len(fcs), "first": min(frames) + ease, "last": max(frames) - ease,
                       "fps": scene.render.fps / scene.render.fps_base,
                       "jaw_max": max(vals), "start": scene.frame_current}))
import os; sys.stdout.flush(); os._exit(0)  # some bpy modules hang in interpreter teardown
"""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-c", check, str(out)], capture_output=True, text=True, env=env)
    line = [l for l in r.stdout.splitlines() if l.startswith("R{")]
    assert line, r.stdout[-2000:] + r.stderr[-2000:]
    info = json.loads(line[0][1:])
    assert info["n_fc"] >= 51                       # all 51 LLF shape keys animated (no TongueOut)
    span_seconds = (info["last"] - info["first"]) / info["fps"]
    assert abs(span_seconds - 5.45) < 0.1           # the CSV's real duration at the scene fps
    assert 0.7 < info["jaw_max"] <= 1.0             # JawOpen peaks at 0.82 in the CSV (+ the head's rest 0.089)


BAD_CASES = {
    "no_object": ["--object", "Nobody", "--csv", LLF_CSV],
    "non_mesh": ["--object", "marker_jaw", "--csv", LLF_CSV],
    "missing_file": ["--object", "FBHead", "--csv", "/nonexistent/take.csv"],
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_import_input_exit_2_and_nothing_written(case, llf_copy, tmp_path):
    need(LLF_CSV)
    from unitaf_blender.cli import run
    before = digest(llf_copy)
    out = tmp_path / "out.blend"
    args = list(BAD_CASES[case])
    if case == "non_mesh":
        import bpy
        bpy.ops.wm.open_mainfile(filepath=str(llf_copy))
        args[1] = next(o.name for o in bpy.data.objects if o.type != "MESH")
    code = run(["import-performance", "--blend", str(llf_copy), *map(str, args), "--save", str(out)])
    assert code == 2
    assert not out.exists() and digest(llf_copy) == before


def test_unreadable_csv_exit_2(llf_copy, tmp_path):
    from unitaf_blender.cli import run
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\xff\x00garbage\x01\x02")
    out = tmp_path / "out.blend"
    code = run(["import-performance", "--blend", str(llf_copy), "--object", "FBHead",
                "--csv", str(bad), "--save", str(out)])
    assert code == 2 and not out.exists()


def test_mesh_without_shape_keys_exit_2(tmp_path):
    import bpy

    from unitaf_blender.cli import run
    bpy.ops.wm.read_factory_settings(use_empty=True)
    mesh = bpy.data.meshes.new("Plain")
    mesh.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
    bpy.context.scene.collection.objects.link(bpy.data.objects.new("Plain", mesh))
    src = tmp_path / "plain.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    before = digest(src)
    out = tmp_path / "out.blend"
    code = run(["generate", "--blend", str(src), "--object", "Plain", "--text", "Hello",
                "--save", str(out)])
    assert code == 2 and not out.exists() and digest(src) == before


def test_empty_text_exit_2(llf_copy, tmp_path):
    from unitaf_blender.cli import run
    out = tmp_path / "out.blend"
    code = run(["generate", "--blend", str(llf_copy), "--object", "FBHead", "--text", "   ",
                "--save", str(out)])
    assert code == 2 and not out.exists()


def test_save_path_must_be_blend(llf_copy, tmp_path):
    from unitaf_blender.cli import run
    code = run(["import-performance", "--blend", str(llf_copy), "--object", "FBHead",
                "--csv", str(LLF_CSV), "--save", str(tmp_path / "out.txt")])
    assert code == 2


def test_internal_failure_exit_1(llf_copy, tmp_path, monkeypatch):
    """An unexpected exception is an internal failure (1), and nothing is written."""
    need(LLF_CSV)
    import unitaf_blender.blender.takes as takes
    from unitaf_blender import cli

    def boom(*a, **k):
        raise RuntimeError("simulated crash")
    monkeypatch.setattr(takes, "apply_take", boom)
    out = tmp_path / "out.blend"
    code = cli.run(["import-performance", "--blend", str(llf_copy), "--object", "FBHead",
                    "--csv", str(LLF_CSV), "--save", str(out)])
    assert code == 1 and not out.exists()


def test_npz_round_trip_import(llf_copy, tmp_path):
    """Our own .npz + .wav goes through the same path and gets a sound strip."""
    import bpy

    from unitaf_blender.cli import run
    from unitaf_blender.core.performance import Performance
    t = np.arange(50) / 25.0
    weights = np.stack([0.5 + 0.5 * np.sin(t * 6), np.linspace(0, 1, 50)], axis=1)
    perf = Performance(audio=0.1 * np.sin(np.arange(44100) * 0.05), sample_rate=22050, fps=25,
                       channels=("jawOpen", "eyeBlinkLeft"), weights=weights, meta={"engine": "test"})
    npz, _ = perf.save(str(tmp_path / "take.npz"))
    out = tmp_path / "out" / "scene.blend"
    out.parent.mkdir()
    code = run(["import-performance", "--blend", str(llf_copy), "--object", "FBHead", "--npz", npz,
                "--frame", "10", "--save", str(out)])
    assert code == 0
    bpy.ops.wm.open_mainfile(filepath=str(out))
    se = bpy.context.scene.sequence_editor
    strips = list(se.strips_all if hasattr(se, "strips_all") else se.sequences_all)
    if bpy.app.build_options.audaspace:
        assert len(strips) == 1 and strips[0].frame_start == 10
        assert strips[0].sound.filepath.startswith("//")
        assert os.path.isfile(bpy.path.abspath(strips[0].sound.filepath))


def test_install_runtime_dry_run_prints_the_pinned_command(capsys, tmp_path):
    from unitaf_blender.cli import run
    assert run(["install-runtime", "--target", str(tmp_path / "rt"), "--flavour", "cpu", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "torch==2.13.0" in out and "--target" in out
    assert not (tmp_path / "rt").exists()
    assert run(["install-runtime", "--flavour", "cpu"]) == 2      # --target is required


def test_engines_lists_both_engines(capsys):
    from unitaf_blender.cli import run
    assert run(["engines"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("embedded") and "\nunitaf" in out


def test_blender_command_entry_point(llf_copy, tmp_path, capsys):
    """`blender -b scene.blend -c unitaf …` calls the registered callable with the arguments after
    the command id; the scene is already open there, so no --blend is given."""
    need(LLF_CSV)
    import bpy

    from unitaf_blender import _cli_execute
    bpy.ops.wm.open_mainfile(filepath=str(llf_copy))
    out = tmp_path / "farm.blend"
    assert _cli_execute(["import-performance", "--object", "FBHead", "--csv", str(LLF_CSV),
                         "--frame", "5", "--save", str(out)]) == 0
    assert out.is_file()
    assert _cli_execute(["import-performance", "--object", "Nobody", "--csv", str(LLF_CSV),
                         "--save", str(tmp_path / "no.blend")]) == 2
    assert "blender -c unitaf" in (_cli_execute(["--help"]) == 0 and capsys.readouterr().out)


def test_voices_lists_embedded_voices(capsys):
    from unitaf_blender.cli import run
    assert run(["voices"]) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert ids[0] == "hibari:heart" and "espeak:en-us+f3" in ids and "espeak:de" in ids
    assert run(["voices", "--engine", "nope"]) == 2


def test_a_csv_without_some_blendshape_columns_warns(llf_copy, tmp_path, capsys):
    """Issue 19, item 7: the keys a trimmed export cannot drive are named, not silently left alone."""
    from unitaf_blender.cli import run
    trimmed = csv_without_columns(LLF_CSV, ("JawOpen", "MouthClose", "EyeBlinkLeft"), tmp_path / "trimmed.csv")
    assert run(["import-performance", "--blend", str(llf_copy), "--object", "FBHead", "--csv", str(trimmed),
                "--save", str(tmp_path / "out.blend")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert any("no column for 3 blendshape(s)" in w and "JawOpen" in w and "MouthClose" in w
               and "EyeBlinkLeft" in w for w in warnings), warnings


def test_setup_commands_find_what_engines_declare(monkeypatch, capsys, tmp_path):
    """`models`, `voices download` and `install-runtime` act on what the engines declare; with no
    engine declaring one, a clear refusal (exit 2), not a crash."""
    from unitaf_blender.cli import run
    from unitaf_blender.engines import registry
    assert run(["models", "status", "--cache-dir", str(tmp_path)]) == 0
    assert "UniTAF model files" in capsys.readouterr().out
    monkeypatch.setattr(registry, "_ENGINES", {})
    for argv in (["models", "status"], ["voices", "download", "emma", "--offline"],
                 ["install-runtime", "--target", str(tmp_path / "rt"), "--dry-run"]):
        assert run(argv) == 2, argv
        assert "no engine of this build declares" in capsys.readouterr().err
