"""Sound strips: placement on a free channel, files beside the .blend, relative paths, packing."""
import os
import shutil

import numpy as np
import pytest
from helpers import make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, sound
from unitaf_blender.blender.takes import TakeOptions, apply_take, save_blend
from unitaf_blender.core.audio_io import read_wav, write_wav

pytestmark = pytest.mark.usefixtures("needs_audio")


def _strip_by_name(name):
    return next(s for s in compat.all_strips(bpy.context.scene.sequence_editor) if s.name == name)


def test_strip_added_at_start_frame_on_free_channel(face, tmp_path):
    scene = bpy.context.scene
    scene.render.fps = 25
    other = tmp_path / "other.wav"
    write_wav(str(other), np.zeros(16000 * 4, np.float32), 16000)
    se = scene.sequence_editor_create()
    compat.new_sound_strip(se, "busy1", str(other), 1, 1)      # frames 1-101: overlaps
    compat.new_sound_strip(se, "busy2", str(other), 2, 40)     # frames 40-140: overlaps
    compat.new_sound_strip(se, "later", str(other), 3, 500)    # channel 3 is free at 20-70
    perf = make_perf(seconds=2.0)
    r = apply_take(scene, face, perf, TakeOptions(start_frame=20, audio_dir=str(tmp_path / "aud")))
    assert r.strip is not None and r.strip.channel == 3
    assert compat.strip_content_start(r.strip) == 20
    assert compat.strip_range(r.strip) == (20, 70)
    assert r.audio_path == str(tmp_path / "aud" / "take1.wav")
    audio, sr = read_wav(r.audio_path)
    assert sr == 16000 and np.abs(audio - perf.audio).max() < 1e-4
    # a take that does not overlap anything goes to channel 1
    r2 = apply_take(scene, face, perf, TakeOptions(start_frame=1000, audio_dir=str(tmp_path / "aud")))
    assert r2.strip.channel == 1 and r2.audio_path.endswith("take2.wav")


def test_free_channel_scan():
    bpy.ops.wm.read_factory_settings(use_empty=True)
    se = bpy.context.scene.sequence_editor_create()
    assert sound.free_channel(se, 1, 10) == 1


def test_take_in_an_opened_file_packs_and_writes_nothing_beside_it(face, tmp_path):
    """The panel keys a take in a file the user only opened (e.g. inside an asset library):
    its audio is packed, and no file or folder appears beside the .blend."""
    proj = tmp_path / "library"
    proj.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(proj / "shot.blend"))
    before = sorted(os.listdir(proj))
    face = bpy.data.objects["Face"]
    r = apply_take(bpy.context.scene, face, make_perf(seconds=1.0), TakeOptions(start_frame=1, take_name="hello"))
    assert r.audio_path is None and r.strip.sound.packed_file is not None
    assert sorted(os.listdir(proj)) == before


def test_audio_dir_beside_output_is_relative_and_survives_a_move(face, tmp_path):
    proj = tmp_path / "proj"
    proj.mkdir()
    bpy.ops.wm.save_as_mainfile(filepath=str(proj / "shot.blend"))
    face = bpy.data.objects["Face"]
    r = apply_take(bpy.context.scene, face, make_perf(seconds=1.0),
                   TakeOptions(start_frame=1, take_name="hello", audio_dir=str(proj / "shot_audio")))
    assert r.audio_path == str(proj / "shot_audio" / "hello.wav") and os.path.isfile(r.audio_path)
    assert r.strip.sound.filepath == "//shot_audio/hello.wav"
    assert r.strip.sound.packed_file is None
    assert sorted(os.listdir(proj / "shot_audio")) == ["hello.wav"]   # no temporary file left
    save_blend(str(proj / "shot.blend"))
    moved = tmp_path / "elsewhere" / "moved"
    shutil.move(str(proj), str(moved))
    bpy.ops.wm.open_mainfile(filepath=str(moved / "shot.blend"))
    snd = bpy.data.sounds[0]
    assert snd.filepath == "//shot_audio/hello.wav"
    assert os.path.isfile(bpy.path.abspath(snd.filepath))
    assert bpy.path.abspath(snd.filepath).startswith(str(moved))
    strip = compat.all_strips(bpy.context.scene.sequence_editor)[0]
    assert compat.strip_range(strip)[1] - compat.strip_range(strip)[0] > 1   # audio really loaded


def test_unsaved_blend_packs_audio(face, tmp_path, monkeypatch):
    import tempfile
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    r = apply_take(bpy.context.scene, face, make_perf(seconds=1.0), TakeOptions(start_frame=1))
    assert r.audio_path is None and r.strip.sound.packed_file is not None
    out = tmp_path / "a" / "packed.blend"
    out.parent.mkdir()
    save_blend(str(out))
    moved = tmp_path / "b.blend"
    shutil.move(str(out), str(moved))
    bpy.ops.wm.open_mainfile(filepath=str(moved))
    snd = bpy.data.sounds[0]
    assert snd.packed_file is not None and snd.packed_file.size > 1000
    strip = compat.all_strips(bpy.context.scene.sequence_editor)[0]
    assert compat.strip_range(strip) == (1, 1 + round(1.0 * bpy.context.scene.render.fps))
    assert os.listdir(tmp_path / "tmp") == []   # the temporary WAV used for packing is gone


def test_audio_dir_override_is_made_relative_on_save(face, tmp_path):
    r = apply_take(bpy.context.scene, face, make_perf(seconds=1.0),
                   TakeOptions(start_frame=1, audio_dir=str(tmp_path / "out_audio")))
    assert os.path.isabs(r.strip.sound.filepath) and r.strip.sound.packed_file is None
    save_blend(str(tmp_path / "out.blend"))
    assert bpy.data.sounds[0].filepath == "//out_audio/take1.wav"


def test_no_sound_when_disabled_or_silent(face):
    r = apply_take(bpy.context.scene, face, make_perf(), TakeOptions(add_sound=False))
    se = bpy.context.scene.sequence_editor
    assert r.strip is None and (se is None or compat.all_strips(se) == [])
    r = apply_take(bpy.context.scene, face, make_perf(audio=False), TakeOptions())
    assert r.strip is None and any("no audio" in w for w in r.warnings)
    assert se is None or compat.all_strips(se) == []
    assert not bpy.data.sounds
