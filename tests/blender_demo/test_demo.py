"""The demo job: a fresh scene, the demo head keyed with a take, demo.blend/.wav + preview."""
import os

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from unitaf_blender.blender import demo
from unitaf_blender.core.audio_io import read_wav
from unitaf_blender.core.channels import ARKIT_52
from unitaf_blender.engines import EngineUnavailable, get_engine


def _fcurve_paths(action):
    from unitaf_blender.blender import compat
    return {fc.data_path for fc in compat.action_fcurves(action)}


def test_build_demo_writes_a_keyed_blend_the_wav_and_a_sheet(tmp_path, make_perf):
    perf = make_perf(seconds=1.0)
    res = demo.build_demo(perf, tmp_path, render=True, resolution=(48, 48), preview_mode="sheet",
                          progress=None)
    assert res["blend"] == str(tmp_path / "demo.blend") and os.path.isfile(res["blend"])
    assert res["preview"] == [str(tmp_path / "demo_preview_sheet.png")]
    assert os.path.getsize(res["preview"][0]) > 1000
    audio, sr = read_wav(res["wav"])
    assert sr == perf.sample_rate and len(audio) == len(perf.audio)
    assert (res["frame_start"], res["frame_end"]) == (1, 30)

    bpy.ops.wm.open_mainfile(filepath=res["blend"])
    scene = bpy.context.scene
    assert scene.render.fps == 30 and scene.sync_mode == 'AUDIO_SYNC'
    assert (scene.frame_start, scene.frame_end) == (1, 30)
    assert scene.camera is not None
    head = bpy.data.objects["UniTAF_Head"]
    key = head.data.shape_keys
    assert [kb.name for kb in key.key_blocks][1:] == list(ARKIT_52)
    paths = _fcurve_paths(key.animation_data.action)
    assert 'key_blocks["jawOpen"].value' in paths and len(paths) == 52
    # The keys follow the performance frame by frame (same 30 fps, take starts at frame 1).
    jaw = perf.channel("jawOpen")
    for frame in (1, 4, 6, 9, 30):
        scene.frame_set(frame)
        assert key.key_blocks["jawOpen"].value == pytest.approx(jaw[frame - 1], abs=1e-3)
    assert jaw.max() > 0.9 and jaw.min() < 0.1
    # The take's sound is in the file (packed), so demo.blend is self-contained.
    if bpy.app.build_options.audaspace:  # the bpy 4.2 wheel has no audio: no strip there
        strips = list(scene.sequence_editor.strips_all if hasattr(scene.sequence_editor, "strips_all")
                      else scene.sequence_editor.sequences_all)
        assert len(strips) == 1 and strips[0].sound.packed_file is not None


def test_head_rotation_channels_turn_the_head_object(tmp_path, make_perf):
    perf = make_perf(seconds=0.5, fps=25.0, head_yaw=0.1)      # resampled to the 30 fps scene
    said = []
    res = demo.build_demo(perf, tmp_path, render=False, progress=said.append)
    assert res["preview"] == [] and res["frame_start"] == 1 and res["frame_end"] >= 14
    scene = bpy.context.scene
    head = bpy.data.objects["UniTAF_Head"]
    scene.frame_set(7)
    assert head.rotation_euler.z == pytest.approx(0.1, abs=1e-6)
    assert head.rotation_euler.x == pytest.approx(0.0, abs=1e-6)
    # Rotation channels are handled, so the demo does not report them as unmapped.
    assert not any("no shape key" in line for line in said)


def test_empty_script_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        demo.run_demo(tmp_path, text="   ", progress=None)
    assert not os.listdir(tmp_path)


def test_run_demo_with_the_embedded_engine(tmp_path):
    try:
        get_engine(None)
        demo.generate_performance("Hi.", progress=None)
    except EngineUnavailable as e:
        pytest.skip(f"embedded engine not available here: {e}")
    res = demo.run_demo(tmp_path, text="[happy:0.8] Hello there!", emotion="happy:0.7",
                        render=False, progress=None)
    assert os.path.isfile(res["blend"]) and os.path.isfile(res["wav"])
    assert res["preview"] == []
    audio, rate = read_wav(res["wav"])
    assert np.abs(audio).max() > 0.01
    assert rate == 24000                        # the demo speaks with the natural voice (hibari)
    assert res["frame_end"] > res["frame_start"]
