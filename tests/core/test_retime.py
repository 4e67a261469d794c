import math

import numpy as np
import pytest

from unitaf_blender.core.performance import Performance
from unitaf_blender.core.retime import align_face, frame_times, resample, retime_performance, scene_fps

NTSC = 30000 / 1001


def ramp(n, fps, channels=2):
    """Track whose channel c at frame i is (c + 1) * time: linear, so resampling is exact."""
    t = np.arange(n) / fps
    return np.stack([(c + 1) * t for c in range(channels)], axis=1).astype(np.float32)


def test_scene_fps_and_frame_times():
    assert scene_fps(30, 1.001) == pytest.approx(NTSC, abs=1e-12)
    assert scene_fps(24) == 24.0
    t = frame_times(4, 25, start_frame=10)
    assert t.dtype == np.float64 and np.allclose(t, [0.4, 0.44, 0.48, 0.52])
    # index-based: frame 18000 at 29.97 lands exactly at 600.6 s
    assert frame_times(18001, NTSC)[-1] == pytest.approx(600.6, abs=1e-9)
    assert frame_times(0, 30).shape == (0,)


@pytest.mark.parametrize("fps,base", [(0, 1), (-24, 1), (30, 0), (float("nan"), 1), ("x", 1),
                                      (float("inf"), 1)])
def test_scene_fps_rejects_bad_rates(fps, base):
    with pytest.raises(ValueError, match="fps"):
        scene_fps(fps, base)


def test_identity_at_equal_fps():
    w = np.random.default_rng(0).random((57, 5)).astype(np.float32)
    out = resample(w, 30, 30)
    assert out.dtype == np.float32 and out.shape == w.shape
    assert np.array_equal(out, w)


def test_25_to_30():
    w = ramp(51, 25)                 # 2.0 s
    out = resample(w, 25, 30)
    assert out.shape == (61, 2)      # floor(2.0 * 30) + 1
    t = np.arange(61) / 30
    assert np.allclose(out[:, 0], t, atol=1e-6) and np.allclose(out[:, 1], 2 * t, atol=1e-6)


def test_30_to_2997_over_ten_minutes_has_no_drift():
    n_src = 30 * 600 + 1                       # 10 min at 30 fps, frame i at i / 30 s
    n_out = math.floor(600 * NTSC + 1e-9) + 1
    k = n_out - 1
    # a linear track v(t) = t - k / 29.97 reads 0 exactly where output frame k belongs,
    # so the value found at the last output frame is that frame's time error in seconds
    v = (np.arange(n_src, dtype=np.float64) / 30 - k / NTSC)[:, None]
    out = resample(v, 30, NTSC)
    assert out.shape == (n_out, 1)
    assert abs(float(out[-1, 0])) < 1e-6
    # and through the whole take, frames stay on k / 29.97 (float32 output precision)
    ramp_out = resample(np.arange(n_src, dtype=np.float64)[:, None] / 30, 30, NTSC)[:, 0]
    assert np.abs(ramp_out - np.arange(n_out) / NTSC).max() < 1e-4
    assert abs(float(frame_times(n_out, NTSC)[-1]) - k * 1001 / 30000) < 1e-9


def test_no_drift_exact_in_float64_positions():
    # index-valued track: out[k] = k * src / dst exactly (to float32 rounding), at any k
    n_src = 30 * 900
    out = resample(np.arange(n_src, dtype=np.float64)[:, None], 30, NTSC)
    k = np.arange(len(out))
    expected = np.minimum(k * 30 * 1001 / 30000, n_src - 1)
    rel = np.abs(out[:, 0] - expected) / np.maximum(expected, 1)
    assert rel.max() < 1e-6
    last_t = (len(out) - 1) / NTSC
    assert abs(last_t - (len(out) - 1) * 1.001 / 30) < 1e-6


def test_60_to_24_and_sine_accuracy():
    f = 1.5  # Hz, well below both Nyquist limits
    t60 = np.arange(0, 601) / 60
    w = np.sin(2 * np.pi * f * t60)[:, None].astype(np.float32)
    out = resample(w, 60, 24)
    assert out.shape == (241, 1)
    t24 = np.arange(241) / 24
    # 60 -> 24: every 24 fps frame (k*2.5 source frames) lands on or halfway between samples
    err = np.abs(out[:, 0] - np.sin(2 * np.pi * f * t24))
    assert err.max() < 0.01          # linear-interpolation error ~ (2*pi*f/60)^2 / 8
    up = resample(w, 60, 100)
    err_up = np.abs(up[:, 0] - np.sin(2 * np.pi * f * np.arange(len(up)) / 100))
    assert err_up.max() < 0.01


def test_duration_and_held_ends():
    w = np.array([[0.0], [1.0], [0.5]], np.float32)       # 3 frames at 10 fps -> 0.2 s
    out = resample(w, 10, 20)
    assert np.allclose(out[:, 0], [0, 0.5, 1, 0.75, 0.5])
    longer = resample(w, 10, 20, duration=0.5)
    assert longer.shape == (11, 1) and np.allclose(longer[5:, 0], 0.5)  # held after the end
    shorter = resample(w, 10, 20, duration=0.05)
    assert shorter.shape == (2, 1)
    single = resample(np.array([[0.3, 0.7]]), 25, 60, duration=0.1)
    assert single.shape == (7, 2) and np.allclose(single, [[0.3, 0.7]])
    assert resample(w, 10, 20, duration=0).shape == (1, 1)


@pytest.mark.parametrize("args,match", [
    ((np.zeros((0, 3)), 30, 24), "empty"),
    ((np.zeros(5), 30, 24), "2-D"),
    ((np.zeros((5, 2)), 0, 24), "src_fps"),
    ((np.zeros((5, 2)), 30, -1), "dst_fps"),
    ((np.zeros((5, 2)), 30, 24, -1.0), "duration"),
])
def test_resample_errors(args, match):
    with pytest.raises(ValueError, match=match):
        resample(*args)


def test_retime_performance():
    p = Performance(audio=np.zeros(2205, np.float32), sample_rate=22050, fps=25,
                    channels=("jawOpen", "eyeBlinkLeft"), weights=ramp(26, 25), meta={"engine": "x"})
    q = retime_performance(p, NTSC)
    assert q.fps == pytest.approx(NTSC) and q.n_frames == math.floor(1.0 * NTSC + 1e-9) + 1
    assert q.channels == p.channels and q.meta["retimed_from_fps"] == 25 and q.meta["engine"] == "x"
    assert np.allclose(q.channel("jawOpen"), np.arange(q.n_frames) / NTSC, atol=1e-6)
    assert retime_performance(p, 25) is p


def test_align_face_reanchors_each_segment():
    """Pure timing: 80 segments of odd feature lengths (stride-2 frames straddle boundaries), audio
    at floor(1.72 T) x 256 samples per segment (0.15 % shorter than the features), 200 ms gaps."""
    SR, FPS = 22050, 25.0   # the UniTAF engine's audio and face rates; features at 50 Hz
    rng = np.random.default_rng(0)
    frames = rng.integers(31, 400, 80)
    samples = [int(np.floor(1.72 * t)) * 256 for t in frames]
    starts = np.cumsum([0] + [s + 4410 for s in samples])[:-1]
    total = int(starts[-1] + samples[-1])
    motion = rng.normal(size=(int(frames.sum()) // 2 + 1, 4)).astype(np.float32)
    face, owner = align_face(motion, frames, starts, samples, total, SR, FPS, 50.0)
    assert len(face) == int(np.floor(total * FPS / SR)) + 1
    feat_start = np.cumsum([0] + list(frames))
    placed = 0
    for i in range(len(frames)):
        js = np.flatnonzero(owner == i)
        k = np.arange(placed, placed + len(js))
        placed += len(js)
        want = starts[i] / SR + (2 * k - feat_start[i]) / 50.0
        assert np.abs(js / FPS - want).max() <= 1 / FPS
        np.testing.assert_array_equal(face[js], motion[k])
    assert placed >= len(motion) - len(frames)      # at most the overhang frame of a segment is dropped
