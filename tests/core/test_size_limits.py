"""Sizes read from files are bounded before anything is allocated (issue 10, item 3)."""
import time

import numpy as np
import pytest
from helpers import make_perf

from unitaf_blender.core.performance import MAX_CHANNELS, MAX_FPS, MAX_FRAMES, Performance
from unitaf_blender.core.retime import resample, retime_performance


def _perf(fps=30.0, frames=4, channels=("jawOpen", "eyeBlinkLeft")):
    return make_perf((frames - 1) / fps, fps, channels, frames=frames, audio=False, sample_rate=22050)


def _write_npz(path, **members):
    perf = _perf()
    payload = {"weights": perf.weights, "channels": np.array(perf.channels), "fps": np.float64(30)}
    payload.update(members)
    np.savez_compressed(path, **payload)
    return str(path)


@pytest.mark.parametrize("fps", [1e-6, 0.5, 1e9, float("nan"), float("inf")])
def test_load_refuses_an_absurd_frame_rate_quickly(tmp_path, fps):
    # a track stored at 1e-6 fps used to be resampled to scene fps: ~3e9 frames
    path = _write_npz(tmp_path / "a.npz", fps=np.float64(fps))
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"frame rate .* is outside 1..1000 fps"):
        Performance.load(path)
    assert time.perf_counter() - start < 1.0


def test_load_checks_shapes_from_the_header_before_reading(tmp_path):
    many = np.array([f"c{i}" for i in range(MAX_CHANNELS + 1)])
    cases = {
        "channels": ({"channels": many, "weights": np.zeros((2, MAX_CHANNELS + 1), np.float32)},
                     f"{MAX_CHANNELS + 1},. channels; a performance has at most 256"),
        "mismatch": ({"weights": np.zeros((4, 3), np.float32)}, r"shape \(4, 3\).*2 channels"),
        "one_d": ({"weights": np.zeros(8, np.float32)}, r"shape \(8,\)"),
        "text_weights": ({"weights": np.array([["a", "b"]])}, "expected numbers"),
        "fps_array": ({"fps": np.full(5, 30.0)}, "'fps' must be a single value"),
        "labels": ({"phonemes": np.zeros((3, 2)), "phoneme_labels": np.array(["a", "b"])},
                   "'phonemes' .* do not match"),
        "emotions": ({"emotion_times": np.zeros(3), "emotion_vectors": np.zeros((3, 7))},
                     "'emotion_times' .* do not match"),
    }
    for name, (members, match) in cases.items():
        with pytest.raises(ValueError, match=match):
            Performance.load(_write_npz(tmp_path / f"{name}.npz", **members))


def test_load_refuses_too_many_frames_without_reading_them(tmp_path):
    # a header claiming 20M frames (the data would be 160 MB): refused from the header alone
    path = tmp_path / "long.npz"
    frames = MAX_FRAMES + 1
    np.savez_compressed(path, weights=np.zeros((frames, 2), np.float32),
                        channels=np.array(["jawOpen", "eyeBlinkLeft"]), fps=np.float64(30))
    with pytest.raises(ValueError, match=f"{frames:,} frames, more than the limit"):
        Performance.load(str(path))


def test_a_good_file_still_loads(tmp_path):
    perf = _perf(fps=MAX_FPS, frames=7)
    npz, _ = perf.save(str(tmp_path / "ok.npz"))
    back = Performance.load(npz)
    assert back.fps == MAX_FPS and back.weights.shape == (7, 2)


def test_resample_refuses_more_than_max_frames_quickly():
    start = time.perf_counter()
    with pytest.raises(ValueError, match="more than the limit of 10,368,000"):
        resample(np.zeros((3, 2)), 1e-6, 30.0)
    with pytest.raises(ValueError, match="more than the limit"):
        retime_performance(_perf(fps=1e-6, frames=3), 24.0)
    with pytest.raises(ValueError, match="more than the limit"):
        resample(np.zeros((3, 2)), 30.0, 1e300, duration=1e300)
    assert time.perf_counter() - start < 1.0
    assert resample(np.zeros((3, 2)), 30.0, 60.0).shape == (5, 2)
