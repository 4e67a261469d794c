"""No output ever replaces an input (issue 19, item 3): --save, --export and its .wav and the take
audio are compared with every file the command reads, links and relative paths resolved, and
refused (exit 2) before anything is generated; the stage itself never moves a file onto an input."""
import json
import os
import shutil

import numpy as np
import pytest
from cli_testutil import digest, listing

from shared_paths import LJ, LJ_TEXT, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.cli import run
from unitaf_blender.core.performance import Performance
from unitaf_blender.core.staging import OutputError, StagedFiles, same_file


@pytest.fixture
def take(tmp_path):
    """The actor's recording, tmp_path/take.wav (a copy of LJ001-0001)."""
    dst = tmp_path / "take.wav"
    shutil.copy(need(LJ), dst)
    return dst


def _lipsync(head_blend, audio, export, save, *extra):
    return run(["lipsync", "--blend", str(head_blend), "--object", "FBHead", "--audio", str(audio),
                "--transcript", LJ_TEXT, "--export", str(export), "--save", str(save), *map(str, extra)])


def test_export_beside_the_recording_is_refused(head_blend, take, tmp_path, capsys):
    """The issue's case: `lipsync --audio take.wav ... --export take.npz` wrote take.wav over the recording."""
    before, files = digest(take), listing(tmp_path)
    assert _lipsync(head_blend, take, tmp_path / "take.npz", tmp_path / "out.blend") == 2
    err = capsys.readouterr().err
    assert "the .wav of --export" in err and "--audio" in err and "never overwritten" in err
    assert "speech" not in err and "aligning" not in err          # refused before any work
    assert digest(take) == before and listing(tmp_path) == files


def test_a_link_or_a_relative_path_to_the_recording_is_seen_through(head_blend, take, tmp_path, capsys,
                                                                    monkeypatch):
    link = tmp_path / "links" / "line.wav"
    link.parent.mkdir()
    link.symlink_to(take)
    (tmp_path / "alias").symlink_to(tmp_path, target_is_directory=True)
    before, files = digest(take), listing(tmp_path)
    # the export's .wav is the link's target, named through another folder and a relative path
    monkeypatch.chdir(tmp_path / "links")
    assert _lipsync(head_blend, "line.wav", "../links/../take.npz", tmp_path / "out.blend") == 2
    assert "never overwritten" in capsys.readouterr().err
    # and the other way round: the recording named directly, the export through a linked folder
    assert _lipsync(head_blend, take, tmp_path / "alias" / "take.npz", tmp_path / "out.blend") == 2
    assert "never overwritten" in capsys.readouterr().err
    assert digest(take) == before and listing(tmp_path) == files


def test_save_onto_a_text_file_is_refused(head_blend, tmp_path, capsys):
    script = tmp_path / "script.blend"          # an odd name, but the user's text all the same
    script.write_text("Hello there.")
    assert run(["generate", "--blend", str(head_blend), "--object", "FBHead", "--text-file", str(script),
                "--save", str(script)]) == 2
    assert "--text-file" in capsys.readouterr().err and script.read_text() == "Hello there."


def _npz_take(folder, name="take1", seconds=1.0):
    """A performance with audio saved as <folder>/<name>.npz + .wav (an input for import-performance)."""
    folder.mkdir(parents=True, exist_ok=True)
    sr, n = 16000, int(seconds * 16000)
    audio = (0.2 * np.sin(np.arange(n) * 2 * np.pi * 220 / sr)).astype(np.float32)
    frames = int(seconds * 30) + 1
    weights = np.zeros((frames, 1), np.float32)
    weights[:, 0] = np.linspace(0, 1, frames)
    path = folder / f"{name}.npz"
    Performance(audio=audio, sample_rate=sr, fps=30, channels=("jawOpen",), weights=weights).save(str(path))
    return path


def test_a_named_take_whose_audio_is_the_input_is_refused(head_blend, tmp_path, capsys):
    npz = _npz_take(tmp_path / "out_audio", "mine")       # the input lives where the take audio goes
    wav = npz.with_suffix(".wav")
    before = digest(wav)
    assert run(["import-performance", "--blend", str(head_blend), "--object", "FBHead", "--npz", str(npz),
                "--take", "mine", "--save", str(tmp_path / "out.blend")]) == 2
    assert "the audio of take 'mine'" in capsys.readouterr().err
    assert digest(wav) == before and not (tmp_path / "out.blend").exists()


@pytest.mark.skipif(not bpy.app.build_options.audaspace, reason="no sound strips without Audaspace")
def test_an_automatic_take_name_steps_over_an_input(head_blend, tmp_path):
    npz = _npz_take(tmp_path / "out_audio", "take1")
    wav = npz.with_suffix(".wav")
    before = digest(wav)
    assert run(["import-performance", "--blend", str(head_blend), "--object", "FBHead", "--npz", str(npz),
                "--save", str(tmp_path / "out.blend")]) == 0
    assert digest(wav) == before
    assert (tmp_path / "out_audio" / "take2.wav").exists()


def test_a_batch_line_recording_where_a_take_writes_is_refused(head_blend, tmp_path, capsys):
    rec = tmp_path / "d_audio" / "line001.wav"
    rec.parent.mkdir()
    shutil.copy(need(LJ), rec)
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"lines": [{"object": "FBHead", "text": "Hello there."},
                                           {"object": "FBHead", "audio": "d_audio/line001.wav", "text": LJ_TEXT}]}))
    before = digest(rec)
    assert run(["batch", str(lines), "--blend", str(head_blend), "--save", str(tmp_path / "d.blend")]) == 2
    err = capsys.readouterr().err
    assert "take 'line001'" in err and "line 2's recording" in err and "speech" not in err
    assert digest(rec) == before and not (tmp_path / "d.blend").exists()


def test_the_stage_never_moves_a_file_onto_a_protected_one(tmp_path):
    recording = tmp_path / "take.wav"
    recording.write_bytes(b"RIFF actor")
    link = tmp_path / "link.wav"
    link.symlink_to(recording)
    stage = StagedFiles(protect=[str(link)])
    for final in (recording, tmp_path / "sub" / ".." / "take.wav", link):
        with pytest.raises(OutputError, match="never overwritten"):
            stage.path_for(str(final))
        with pytest.raises(OutputError, match="never overwritten"):
            stage.add(str(tmp_path / "tmp.wav"), str(final))
    stage.path_for(str(tmp_path / "other.wav"))
    with pytest.raises(OutputError, match="same file"):   # two outputs onto one name
        stage.path_for(str(tmp_path / "other.wav"))
    stage.discard()
    assert recording.read_bytes() == b"RIFF actor" and sorted(os.listdir(tmp_path)) == ["link.wav", "take.wav"]


def test_same_file_resolves_links_and_relative_parts(tmp_path, monkeypatch):
    a = tmp_path / "a.wav"
    a.write_bytes(b"x")
    os.link(a, tmp_path / "hard.wav")
    (tmp_path / "soft.wav").symlink_to(a)
    monkeypatch.chdir(tmp_path)
    assert same_file("a.wav", str(a)) and same_file("./x/../a.wav", str(a))
    assert same_file(str(tmp_path / "hard.wav"), str(a)) and same_file("soft.wav", "a.wav")
    assert same_file(str(tmp_path / "new.wav"), "new.wav")            # not there yet: by name
    assert not same_file("a.wav", "b.wav")


def test_a_recorded_line_may_live_where_its_own_take_would_write(head_blend, tmp_path):
    """A recorded line writes no take audio (its strip plays the recording), so its name is free."""
    rec = tmp_path / "d_audio" / "line001.wav"
    rec.parent.mkdir()
    shutil.copy(need(LJ), rec)
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"lines": [{"object": "FBHead", "audio": "d_audio/line001.wav", "text": LJ_TEXT}]}))
    before = digest(rec)
    assert run(["batch", str(lines), "--blend", str(head_blend), "--save", str(tmp_path / "d.blend")]) == 0
    assert digest(rec) == before and (tmp_path / "d.blend").is_file()
