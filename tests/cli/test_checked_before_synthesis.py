"""Everything is checked before any synthesis (issue 19, item 5). The engine is replaced by one
that fails the test if it is ever asked to speak: each bad input must be refused with exit 2
and its reason while nothing has been generated (a generate call would exit 1)."""
import json

import pytest
from cli_testutil import listing

bpy = pytest.importorskip("bpy")
from unitaf_blender.cli import run
from unitaf_blender.engines.embedded.engine import EmbeddedEngine


@pytest.fixture
def no_synthesis(monkeypatch):
    """Any synthesis fails loudly (an AssertionError is an internal error: exit 1)."""
    calls = []

    def refuse(self, request, progress=None, cancel=None):
        calls.append(request)
        raise AssertionError("synthesis ran before every input was checked")
    monkeypatch.setattr(EmbeddedEngine, "generate", refuse)
    monkeypatch.setattr(EmbeddedEngine, "lipsync", refuse)
    return calls


def _generate(blend, out, *extra, obj="FBHead"):
    return run(["generate", "--blend", str(blend), "--object", obj, "--text", "Hello there.",
                "--save", str(out), *map(str, extra)])


@pytest.mark.parametrize("extra, needle", [
    (("--frame", "2000000000"), "--frame 2000000000 is outside Blender's frame range"),
    (("--intensity", "mouth=nan"), "--intensity mouth: must be a finite number"),
    (("--intensity", "brows=-1"), "--intensity brows: must be a finite number >= 0"),
    (("--take", ""), "--take is empty"),
    (("--take", "   "), "--take is empty"),
    (("--smoothing", "1000000000"), "--smoothing must be 0..1000 frames"),
    (("--emotion", ""), "--emotion is empty"),
    (("--seed", "-1"), "--seed must be 0.."),
    (("--text", "[happy Hello"), "'[' at character 0 is never closed"),
])
def test_bad_options_are_refused_before_synthesis(head_blend, tmp_path, capsys, no_synthesis, extra, needle):
    out = tmp_path / "out"
    out.mkdir()
    assert _generate(head_blend, out / "x.blend", *extra) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err, err
    assert no_synthesis == [] and listing(out) == []


def test_lipsync_options_are_refused_before_the_recording_is_aligned(head_blend, tmp_path, capsys, no_synthesis):
    from shared_paths import ASSETS, need
    out = tmp_path / "x.blend"
    assert run(["lipsync", "--blend", str(head_blend), "--object", "FBHead", "--audio",
                str(need(ASSETS / "audio" / "jfk.wav")), "--frame", "1048570", "--save", str(out)]) == 2
    assert "past Blender's last frame" in capsys.readouterr().err
    assert no_synthesis == [] and not out.exists()


@pytest.mark.parametrize("end", ["last", "first"])
def test_a_recording_whose_ease_frames_leave_the_frame_range_is_refused_before_it_is_aligned(
        head_blend, tmp_path, capsys, no_synthesis, end):
    """The take itself fits, but not the frames it eases in and out over: refused as apply_take
    would refuse it, before the recording is aligned."""
    import math

    from shared_paths import ASSETS, need
    from unitaf_blender.blender import ease
    from unitaf_blender.blender.recording import RecordingFile
    from unitaf_blender.blender.takes import MAX_FRAME, MIN_FRAME
    from unitaf_blender.core.retime import scene_fps
    audio = need(ASSETS / "audio" / "jfk.wav")
    bpy.ops.wm.open_mainfile(filepath=str(head_blend), load_ui=False)
    fps = scene_fps(bpy.context.scene.render.fps, bpy.context.scene.render.fps_base)
    length = int(math.ceil(RecordingFile(str(audio)).info().seconds * fps))
    frame = MAX_FRAME - length - 1 if end == "last" else MIN_FRAME + 1     # the take alone fits
    out = tmp_path / "x.blend"
    assert run(["lipsync", "--blend", str(head_blend), "--object", "FBHead", "--audio", str(audio),
                "--frame", str(frame), "--save", str(out)]) == 2
    err = capsys.readouterr().err
    where = f"past Blender's last frame {MAX_FRAME}" if end == "last" else f"before Blender's first frame {MIN_FRAME}"
    assert f"with {ease.frames(fps)} frames to ease in and out), {where}" in err, err
    assert no_synthesis == [] and not out.exists()


@pytest.fixture
def excluded_head(head_blend, tmp_path):
    """The Live Link head moved into a collection that is excluded from the view layer."""
    bpy.ops.wm.open_mainfile(filepath=str(head_blend), load_ui=False)
    obj = bpy.data.objects["FBHead"]
    hidden = bpy.data.collections.new("Hidden")
    bpy.context.scene.collection.children.link(hidden)
    for collection in list(obj.users_collection):
        collection.objects.unlink(obj)
    hidden.objects.link(obj)
    bpy.context.view_layer.layer_collection.children["Hidden"].exclude = True
    path = tmp_path / "in" / "excluded.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path


def test_a_target_in_an_excluded_collection_is_refused_first(excluded_head, tmp_path, capsys, no_synthesis):
    out = tmp_path / "x.blend"
    assert _generate(excluded_head, out) == 2
    err = capsys.readouterr().err
    assert "collection 'Hidden', which is excluded from the view layer" in err
    assert "driver" not in err and no_synthesis == [] and not out.exists()


def test_batch_lists_every_bad_line_before_synthesising_any(head_blend, tmp_path, capsys, no_synthesis):
    """30 lines, the last pinned past Blender's frame range, and structural errors on the way:
    all are listed, each as `line N:`, and no line is spoken."""
    lines = [{"object": "FBHead", "text": f"This is line {n}."} for n in range(1, 31)]
    lines[29]["frame"] = 2000000000
    lines[4]["character"] = "Zed"          # not in 'characters'
    lines[6]["seed"] = "seven"             # wrong type
    lines[8]["text"] = ""                  # empty text
    lines[10]["emotion"] = ""              # empty emotion
    lines[12]["gap"] = [1]                 # wrong type
    lines[14]["text"] = "[happy [sad] ]"   # nested brackets
    lines[16]["emotion"] = "hapy"          # checked by the engine, with the others
    path = tmp_path / "lines.json"
    path.write_text(json.dumps({"lines": lines}))
    out = tmp_path / "out"
    out.mkdir()
    assert run(["batch", str(path), "--blend", str(head_blend), "--save", str(out / "d.blend")]) == 2
    err = capsys.readouterr().err
    assert "8 lines of the batch are bad" in err
    for number, needle in ((5, "Zed"), (7, "seed"), (9, "'text'"), (11, "'emotion' is empty"), (13, "gap"),
                           (15, "do not nest"), (17, "hapy"), (30, "frame 2000000000")):
        assert any(line.startswith(f"line {number}:") and needle in line for line in err.splitlines()), (number, err)
    assert no_synthesis == [] and listing(out) == []


def test_batch_checks_its_outputs_once_before_the_blend_opens(head_blend, tmp_path, capsys, no_synthesis,
                                                              monkeypatch):
    """The lines' files and take names are known before the .blend opens: one check of every
    output (each check writes and removes probe files) then serves."""
    from unitaf_blender.cli import scene_commands
    steps, check_outputs, open_blend = [], scene_commands.check_outputs, scene_commands.open_blend
    monkeypatch.setattr(scene_commands, "check_outputs", lambda *a, **k: steps.append("check") or check_outputs(*a, **k))
    monkeypatch.setattr(scene_commands, "open_blend", lambda args: steps.append("open") or open_blend(args))
    path = tmp_path / "lines.json"
    path.write_text(json.dumps({"lines": [{"object": "Nobody", "text": "Hello."}]}))
    assert run(["batch", str(path), "--blend", str(head_blend), "--save", str(tmp_path / "d.blend")]) == 2
    assert "Nobody" in capsys.readouterr().err and no_synthesis == []
    assert steps == ["check", "open"]


@pytest.mark.parametrize("extra, needle", [(("--frame", "-2000000"), "--frame -2000000"),
                                           (("--gap", "nan"), "--gap must be")])
def test_batch_options_are_refused_first(head_blend, tmp_path, capsys, no_synthesis, extra, needle):
    path = tmp_path / "lines.json"
    path.write_text(json.dumps({"lines": [{"object": "FBHead", "text": "Hello."}]}))
    assert run(["batch", str(path), "--blend", str(head_blend), "--save", str(tmp_path / "d.blend"), *extra]) == 2
    assert needle in capsys.readouterr().err and no_synthesis == []
