"""Recorded dialogue -> face from the CLI and batch (issue 13): the strip is the recording itself
(referenced, never copied; with --strip no new strip), the words become pose markers, the same
guarantees as generate."""
import json
import os
import shutil

import pytest
from cli_testutil import listing

from shared_paths import ASSETS, LJ, LJ_TEXT, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat
from unitaf_blender.cli import run

LLF_BLEND = ASSETS / "models" / "Live_Link_Face.blend"
JFK = ASSETS / "audio" / "jfk.wav"
JFK_TEXT = ("And so my fellow Americans, ask not what your country can do for you, ask what you can do "
            "for your country.")


@pytest.fixture
def recording(tmp_path):
    dst = tmp_path / "rec" / "line.wav"
    dst.parent.mkdir()
    shutil.copy(need(LJ), dst)
    return dst


def _markers(action):
    return [(m.name, m.frame) for m in sorted(action.pose_markers, key=lambda m: m.frame)]


def test_generate_puts_the_words_as_pose_markers(head_blend, tmp_path):
    out = tmp_path / "g.blend"
    assert run(["generate", "--blend", str(head_blend), "--object", "FBHead", "--text", "Hello there, Bob.",
                "--frame", "10", "--no-sound", "--save", str(out)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    action = bpy.data.objects["FBHead"].data.shape_keys.animation_data.action
    markers = _markers(action)
    assert [name for name, _ in markers] == ["Hello", "there", "Bob"]
    assert markers[0][1] >= 10 and markers[0][1] < markers[1][1] < markers[2][1]
    out2 = tmp_path / "g2.blend"
    assert run(["generate", "--blend", str(head_blend), "--object", "FBHead", "--text", "Hello there.",
                "--no-sound", "--no-markers", "--save", str(out2)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out2), load_ui=False)
    assert len(bpy.data.objects["FBHead"].data.shape_keys.animation_data.action.pose_markers) == 0


@pytest.mark.parametrize("transcript", [True, False])
def test_lipsync_keys_the_face_and_the_strip_plays_the_recording(head_blend, recording, tmp_path, transcript):
    out = tmp_path / "out" / "shot.blend"
    out.parent.mkdir()
    args = ["lipsync", "--blend", str(head_blend), "--object", "FBHead", "--audio", str(recording),
            "--frame", "5", "--save", str(out), "--export", str(out.parent / "take.npz")]
    if transcript:
        args += ["--transcript", LJ_TEXT]
    assert run(args) == 0
    names = listing(out.parent)
    assert not [n for n in names if n.endswith(".wav") and "audio" in n]   # the recording is not copied
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    scene = bpy.context.scene
    action = bpy.data.objects["FBHead"].data.shape_keys.animation_data.action
    assert action.frame_range[0] + action["unitaf_ease_frames"] == 5
    if transcript:
        words = [name for name, _ in _markers(action)]
        assert words[:3] == ["Printing", "in", "the"] and len(words) == len(LJ_TEXT.replace(",", "").split())
    if compat.has_audio():
        strips = compat.all_strips(scene.sequence_editor)
        assert len(strips) == 1 and compat.strip_content_start(strips[0]) == 5
        path = strips[0].sound.filepath
        assert path.startswith("//") and os.path.samefile(bpy.path.abspath(path), recording)
        assert strips[0].sound.packed_file is None


def test_lipsync_on_an_existing_strip_adds_no_strip_and_starts_with_it(head_blend, recording, tmp_path):
    if not compat.has_audio():
        pytest.skip("this bpy build has no Audaspace (bpy 4.2 wheel): no sound strips")
    bpy.ops.wm.open_mainfile(filepath=str(head_blend), load_ui=False)
    se = bpy.context.scene.sequence_editor_create()
    compat.new_sound_strip(se, "Take 7", str(recording), 3, 48)
    src = tmp_path / "with_strip.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(src))
    out = tmp_path / "out.blend"
    assert run(["lipsync", "--blend", str(src), "--object", "FBHead", "--strip", "Take 7",
                "--transcript", LJ_TEXT, "--save", str(out)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    assert [s.name for s in compat.all_strips(bpy.context.scene.sequence_editor)] == ["Take 7"]
    action = bpy.data.objects["FBHead"].data.shape_keys.animation_data.action
    assert action.frame_range[0] + action["unitaf_ease_frames"] == 48
    assert run(["lipsync", "--blend", str(src), "--object", "FBHead", "--strip", "Take 8",
                "--save", str(out)]) == 2


def test_lipsync_bad_input_writes_nothing(head_blend, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    silent = tmp_path / "silent.wav"
    import numpy as np

    from unitaf_blender.core.audio_io import write_wav
    write_wav(str(silent), np.zeros(22050, np.float32), 22050)
    for audio in (tmp_path / "missing.wav", silent):
        assert run(["lipsync", "--blend", str(head_blend), "--object", "FBHead", "--audio", str(audio),
                    "--save", str(out / "x.blend")]) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "Traceback" not in err
    assert listing(out) == []


def test_batch_line_with_a_recording(head_blend, recording, tmp_path):
    lines = tmp_path / "rec" / "lines.json"
    lines.write_text(json.dumps({"lines": [
        {"object": "FBHead", "text": "Hello there."},
        {"object": "FBHead", "audio": "line.wav", "text": LJ_TEXT}]}))
    out = tmp_path / "b.blend"
    assert run(["batch", str(lines), "--blend", str(head_blend), "--save", str(out)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    if compat.has_audio():
        sounds = sorted(os.path.basename(bpy.path.abspath(s.filepath)) for s in bpy.data.sounds)
        assert sounds == ["line.wav", "line001.wav"]   # the recording in place, the spoken line written


@pytest.mark.parametrize("fmt", ["wav", "flac"])
def test_lipsync_on_the_kennedy_recording(head_blend, tmp_path, fmt):
    """The other public-domain recording (16 kHz, long pauses), also from a FLAC copy where
    Blender's audio library is there to decode it."""
    path = tmp_path / f"jfk.{fmt}"
    if fmt == "wav":
        shutil.copy(need(JFK), path)
    else:
        sf = pytest.importorskip("soundfile")
        try:
            import aud  # noqa: F401
        except ImportError:
            pytest.skip("this bpy module has no Audaspace: FLAC cannot be decoded here")
        data, rate = sf.read(str(need(JFK)), dtype="float32")
        sf.write(str(path), data, rate, format="FLAC")
    out = tmp_path / "jfk.blend"
    assert run(["lipsync", "--blend", str(head_blend), "--object", "FBHead", "--audio", str(path),
                "--transcript", JFK_TEXT, "--frame", "1", "--save", str(out)]) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    action = bpy.data.objects["FBHead"].data.shape_keys.animation_data.action
    words = _markers(action)
    assert [w for w, _ in words][:3] == ["And", "so", "my"] and len(words) == 22
    ask = [frame for word, frame in words if word == "ask"]
    assert ask[0] > 3.0 * 30   # "ask" comes after the long pause, past 3 s (the aligner keeps it there)
