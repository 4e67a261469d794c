"""Keying: values, frame times, intensity, smoothing, interpolation, clamping, save/reload."""
import numpy as np
import pytest
from helpers import make_face, make_perf

from blender_testutil import ALL_CHANNELS

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying
from unitaf_blender.blender.takes import TakeOptions, apply_take
from unitaf_blender.core.channels import ARKIT_52


def _keys(action, name):
    """(frames, values, F-curve) of the take's own frames: without the frames it eases in and
    out over (their keys hold the first and last value, or blend to what was under it)."""
    fc = compat.find_fcurve(action, keying.data_path(name))
    assert fc is not None, name
    co = np.empty(2 * len(fc.keyframe_points), np.float32)
    fc.keyframe_points.foreach_get("co", co)
    pad = action["unitaf_ease_frames"]
    assert len(fc.keyframe_points) > 2 * pad
    return co[0::2][pad:-pad], co[1::2][pad:-pad], fc


def test_smooth_keeps_lines_and_spreads_spikes():
    ramp = np.linspace(0, 1, 50, dtype=np.float32)[:, None]
    for w in (3, 4, 5):
        out = keying.smooth(ramp, w)
        assert out.shape == ramp.shape
        assert np.allclose(out[w:-w], ramp[w:-w], atol=1e-6)
    spike = np.zeros((21, 1), np.float32)
    spike[10] = 1.0
    out = keying.smooth(spike, 5)
    assert np.allclose(out[8:13, 0], 0.2) and out[7, 0] == 0 and out[13, 0] == 0
    assert np.array_equal(keying.smooth(spike, 4), out)   # even -> next odd, stays centred
    assert keying.smooth(spike, 1) is spike and keying.smooth(spike, 0) is spike


def test_roundtrip_values_after_save_and_reload(face, tmp_path):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 25, 1.0
    perf = make_perf(seconds=4.0, fps=25.0)
    result = apply_take(scene, face, perf, TakeOptions(start_frame=7, add_sound=False))
    assert (result.frame_start, result.frame_end) == (7, 7 + 100)
    path = str(tmp_path / "rt.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.wm.open_mainfile(filepath=path)
    obj = bpy.data.objects["Face"]
    action = bpy.data.actions[result_name := "UniTAF_Face_take1"]
    assert obj.data.shape_keys.animation_data.action.name == result_name
    for name in ("jawOpen", "mouthSmileLeft", "browInnerUp", "eyeBlinkLeft", "cheekSquintLeft"):
        frames, values, fc = _keys(action, name)
        assert np.array_equal(frames, np.arange(7, 108, dtype=np.float32))
        assert np.abs(values - perf.channel(name)).max() < 1e-6
        assert fc.keyframe_points[0].interpolation == 'LINEAR'
    # Blender evaluates the same numbers
    scene = bpy.context.scene
    j = ARKIT_52.index("jawOpen")
    for k in (0, 33, 100):
        scene.frame_set(7 + k)
        assert obj.data.shape_keys.key_blocks["jawOpen"].value == pytest.approx(perf.weights[k, j], abs=1e-6)
    assert action["unitaf_bake_fps"] == 25.0 and action["unitaf_engine"] == "test"
    assert action["unitaf_text"] == "hello" and action["unitaf_seed"] == 7
    assert action["unitaf_emotion"] == "happy:0.5"
    pad = result.ease_frames
    assert pad == 7 and tuple(action.frame_range) == (7.0 - pad, 107.0 + pad)


@pytest.mark.parametrize("fps,fps_base", [(24, 1.0), (30, 1.0), (30, 1.001)])
def test_fps_conversion_no_drift_over_ten_minutes(face, fps, fps_base):
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = fps, fps_base
    seconds = 600.0
    # jawOpen ramps linearly with time, so a key at frame k must hold t_k / 600 exactly.
    perf = make_perf(seconds=seconds, fps=25.0, audio=False, fn=lambda t, i: t / seconds)
    result = apply_take(scene, face, perf, TakeOptions(start_frame=1, add_sound=False))
    dst = fps / fps_base
    frames, values, _ = _keys(result.action, "jawOpen")
    n = int(np.floor(seconds * dst + 1e-9)) + 1
    assert len(frames) == n and result.frame_end == n
    expected = (np.arange(n) / dst) / seconds
    assert np.abs(values - expected).max() < 2e-6
    assert values[-1] == pytest.approx(((n - 1) / dst) / seconds, abs=1e-6)


def test_per_group_intensity(face):
    perf = make_perf(seconds=1.0, fn=lambda t, i: np.full_like(t, 0.5))
    opts = TakeOptions(start_frame=1, add_sound=False,
                       intensity={"mouth": 1.5, "brows": 0.0, "eyes": 0.5, "other": 1.0})
    action = apply_take(bpy.context.scene, face, perf, opts).action
    assert np.allclose(_keys(action, "jawOpen")[1], 0.75)
    assert np.allclose(_keys(action, "mouthSmileLeft")[1], 0.75)
    assert np.allclose(_keys(action, "browInnerUp")[1], 0.0)
    assert np.allclose(_keys(action, "eyeBlinkLeft")[1], 0.25)
    assert np.allclose(_keys(action, "cheekSquintLeft")[1], 0.5)   # "other"


def test_values_clamped_to_slider_range_but_rotations_are_not(clean_scene):
    obj = make_face(bpy, keys=("jawOpen", "headYaw"))
    obj.data.shape_keys.key_blocks["jawOpen"].slider_max = 0.8
    obj.data.shape_keys.key_blocks["headYaw"].slider_min = -1.0
    perf = make_perf(seconds=1.0, channels=ALL_CHANNELS,
                     fn=lambda t, i: np.full_like(t, 2.0 if ALL_CHANNELS[i] == "jawOpen" else -0.4))
    action = apply_take(bpy.context.scene, obj, perf, TakeOptions(start_frame=1, add_sound=False)).action
    assert np.allclose(_keys(action, "jawOpen")[1], 0.8)
    assert np.allclose(_keys(action, "headYaw")[1], -0.4)


def test_smoothing_option(face):
    def spike(t, i):
        v = np.zeros_like(t)
        v[12] = 1.0
        return v
    perf = make_perf(seconds=1.0, fn=spike)
    scene = bpy.context.scene
    scene.render.fps = 25
    raw = _keys(apply_take(scene, face, perf, TakeOptions(start_frame=0, add_sound=False)).action, "jawOpen")[1]
    smooth = _keys(apply_take(scene, face, perf, TakeOptions(start_frame=0, add_sound=False, smoothing=3)).action,
                   "jawOpen")[1]
    assert raw.max() == pytest.approx(1.0)
    assert np.allclose(smooth[11:14], 1 / 3) and smooth.max() < 0.34
    assert smooth.sum() == pytest.approx(raw.sum(), abs=1e-5)


@pytest.mark.parametrize("mode", ["LINEAR", "BEZIER", "CONSTANT"])
def test_interpolation_choice(face, mode):
    perf = make_perf(seconds=1.0)
    action = apply_take(bpy.context.scene, face, perf,
                        TakeOptions(start_frame=1, add_sound=False, interpolation=mode)).action
    _, _, fc = _keys(action, "jawOpen")
    assert {kp.interpolation for kp in fc.keyframe_points} == {mode}
    if mode == "BEZIER":   # handles computed by fc.update(), not left at (0, 0)
        key = fc.keyframe_points[action["unitaf_ease_frames"] + 5]
        assert key.co[0] - 1.0 < key.handle_left[0] < key.co[0]


def test_fast_path_scales(face):
    """A 10-minute, 61-channel take keys without the per-key API (speed is in bench/)."""
    obj = make_face(bpy, name="Full", keys=ALL_CHANNELS)
    perf = make_perf(seconds=600.0, fps=25.0, channels=ALL_CHANNELS, audio=False)
    bpy.context.scene.render.fps = 25
    result = apply_take(bpy.context.scene, obj, perf, TakeOptions(start_frame=1, add_sound=False))
    fcs = compat.action_fcurves(result.action)
    assert len(fcs) == 61 and all(len(fc.keyframe_points) == 15001 + 2 * result.ease_frames for fc in fcs)
