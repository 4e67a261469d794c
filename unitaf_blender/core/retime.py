"""Resample face tracks between frame rates without drift.

Every time is computed from an integer frame index (k / fps), never by adding a step
repeatedly, so a 10-minute take at 29.97 fps ends exactly where it should. `align_face`
moves face frames computed over joined speech segments onto the audio timeline, whose
segments are separated by inserted silences.
"""
import math

import numpy as np

from .performance import MAX_FRAMES, Performance
from .signal import n_frames_for


def _check_fps(fps, what="fps"):
    try:
        value = float(fps)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {fps!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{what} must be a positive finite number, got {fps!r}")
    return value


def scene_fps(fps, fps_base=1.0) -> float:
    """Blender's effective frame rate: scene.render.fps / fps_base (30 / 1.001 = 29.97)."""
    return _check_fps(fps, "fps") / _check_fps(fps_base, "fps_base")


def frame_times(n, fps, start_frame=0) -> np.ndarray:
    """Seconds of `n` consecutive frames starting at frame `start_frame`: (start_frame + k) / fps."""
    fps = _check_fps(fps)
    n = int(n)
    if n < 0:
        raise ValueError(f"frame count must be >= 0, got {n}")
    return (float(start_frame) + np.arange(n, dtype=np.float64)) / fps


def resample(weights, src_fps, dst_fps, duration=None) -> np.ndarray:
    """Resample weights [T, C] sampled at `src_fps` onto frames k / dst_fps.

    Output has floor(duration * dst_fps + 1e-9) + 1 frames, where `duration` (seconds of the
    last frame) defaults to that of the input, (T - 1) / src_fps. Values are interpolated
    linearly in time and held constant past either end. Returns float32 [N, C].
    Raises ValueError when N would exceed core.performance.MAX_FRAMES.
    """
    src_fps = _check_fps(src_fps, "src_fps")
    dst_fps = _check_fps(dst_fps, "dst_fps")
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"weights must be 2-D [frames, channels], got shape {w.shape}")
    t_in = w.shape[0]
    if t_in == 0:
        raise ValueError("cannot resample an empty face track (0 frames)")
    if duration is None:
        duration = (t_in - 1) / src_fps
    duration = float(duration)
    if not math.isfinite(duration) or duration < 0:
        raise ValueError(f"duration must be >= 0 seconds, got {duration!r}")
    frames = duration * dst_fps + 1
    if not frames <= MAX_FRAMES:   # e.g. a track stored at 1e-6 fps: billions of frames
        raise ValueError(f"resampling {duration:.6g} s at {dst_fps:g} fps would make {frames:,.0f} "
                         f"frames, more than the limit of {MAX_FRAMES:,} (24 hours at 120 fps)")
    n_out = n_frames_for(duration, 1.0, dst_fps)
    # source position of output frame k, from the index (no accumulated dt)
    pos = np.arange(n_out, dtype=np.float64) * src_fps / dst_fps
    pos = np.clip(pos, 0.0, t_in - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, t_in - 1)
    frac = (pos - i0)[:, None]
    out = w[i0] * (1.0 - frac) + w[i1] * frac
    return np.ascontiguousarray(out, dtype=np.float32)


def retime_performance(perf: Performance, dst_fps) -> Performance:
    """The same performance with its face track resampled to `dst_fps` (audio untouched)."""
    dst_fps = _check_fps(dst_fps, "dst_fps")
    if abs(dst_fps - perf.fps) < 1e-12:
        return perf
    weights = resample(perf.weights, perf.fps, dst_fps)
    meta = dict(perf.meta, retimed_from_fps=perf.fps)
    return Performance(
        audio=perf.audio, sample_rate=perf.sample_rate, fps=dst_fps, channels=perf.channels,
        weights=weights, phonemes=list(perf.phonemes), words=list(perf.words),
        emotion_times=perf.emotion_times, emotion_vectors=perf.emotion_vectors, meta=meta)


def align_face(motion, seg_frames, seg_starts, seg_samples, total_samples: int, sample_rate: int,
               fps: float, feature_rate: float, decay_frames: int = 3):
    """Move the reference face frames onto the audio timeline.

    motion [K, C]: face frames over the concatenated features (frame k starts at feature 2k, i.e.
    fps = feature_rate / 2), e.g. the UniTAF face head run once over every segment's features.
    Segment i's features start at feature S_i and its audio at sample A_i; its frames are shifted by
    round((A_i / sr - S_i / feature_rate) * fps), re-anchored at every segment, so neither the
    inserted silences nor the 1.72-mel-per-code drift accumulate. Frames left empty (the gaps, and
    the end of the audio) relax from the last placed frame to rest over `decay_frames`.
    Returns (face [T, C] with T = floor(total_samples * fps / sr) + 1, owner [T], -1 for gap frames).
    """
    motion = np.asarray(motion, np.float32)
    n_out = n_frames_for(total_samples, sample_rate, fps)
    feat_starts = np.cumsum([0] + list(seg_frames))
    shifts = [int(round((a / sample_rate - s / feature_rate) * fps)) for a, s in zip(seg_starts, feat_starts)]
    seg_end_frame = [int(np.ceil((a + n) * fps / sample_rate)) for a, n in zip(seg_starts, seg_samples)]
    out = np.zeros((n_out, motion.shape[1]), np.float32)
    owner = np.full(n_out, -1, np.int64)
    first_feature = np.minimum(2 * np.arange(len(motion)), feat_starts[-1] - 1)
    frame_seg = np.searchsorted(feat_starts, first_feature, side="right") - 1
    for k, i in enumerate(frame_seg):
        j = k + shifts[i]
        # a segment's frames stop where its audio stops (the reference's trailing pad frame and
        # the slight 1.72-ratio overhang must not spill into the following gap)
        if 0 <= j < n_out and j <= seg_end_frame[i]:
            out[j], owner[j] = motion[k], i
    last, run = None, 0
    for j in range(n_out):
        if owner[j] >= 0:
            last, run = out[j], 0
        elif last is not None:
            run += 1
            out[j] = last * max(0.0, 1.0 - run / decay_frames)
    return out, owner
