"""Turn a Performance into shape-key F-curves, fast.

The numbers are prepared with numpy (resample to the scene rate, per-group intensity,
smoothing, clamping) and written with the bulk path: `keyframe_points.add(N)` +
`foreach_set` + `fc.update()`, about 300x faster than `keyframe_insert` per key.
"""
import re

import bpy
import numpy as np

from ..core.channels import ARKIT_52, GROUPS, HEAD_EYE_ROTATIONS, INTERPOLATIONS, channel_group
from ..core.retime import resample
from . import compat

GROUP_NAME = "UniTAF"
_ARKIT = frozenset(ARKIT_52)
_ROTATION_CHANNELS = frozenset(HEAD_EYE_ROTATIONS)


def smooth(values: np.ndarray, window: int) -> np.ndarray:
    """Centred moving average over time (axis 0), edges padded with the edge value.

    Keeps constants and straight lines unchanged; window <= 1 is a no-op. An even window
    is widened by one frame so the average stays centred (no half-frame lag).
    """
    window = int(window)
    if window <= 1 or len(values) == 0:
        return values
    window += 1 - window % 2
    left = right = window // 2
    padded = np.concatenate([np.repeat(values[:1], left, 0), values, np.repeat(values[-1:], right, 0)])
    csum = np.cumsum(np.concatenate([np.zeros_like(padded[:1], dtype=np.float64),
                                     padded.astype(np.float64)]), axis=0)
    return ((csum[window:] - csum[:-window]) / window).astype(values.dtype)


def prepare_tracks(perf, pairs: dict, key_blocks, dst_fps: float, intensity: dict, smoothing: int):
    """Resampled, shaped and clamped values per shape key.

    pairs: channel -> shape-key name (only channels present in the performance are used).
    Returns (n_frames, [(shape_key_name, float32 values[N])]) in performance channel order.
    """
    used = [(i, ch, pairs[ch]) for i, ch in enumerate(perf.channels)
            if ch in pairs and pairs[ch] in key_blocks]
    if not used:
        return 0, []
    cols = np.array([i for i, _, _ in used])
    values = resample(perf.weights[:, cols], perf.fps, dst_fps)
    values = np.asarray(values, dtype=np.float32)
    gains = np.array([float(intensity.get(channel_group(ch), 1.0)) for _, ch, _ in used], np.float32)
    values = smooth(values * gains, smoothing)
    tracks = []
    for j, (_, ch, key_name) in enumerate(used):
        v = values[:, j]
        if ch in _ARKIT:   # rotation channels are signed; ARKit weights live in the slider range
            kb = key_blocks[key_name]
            v = np.clip(v, kb.slider_min, kb.slider_max)
        tracks.append((key_name, np.ascontiguousarray(v, dtype=np.float32)))
    return len(values), tracks


def plan_tracks(perf, plan, key_blocks, dst_fps: float, intensity: dict, smoothing: int, offsets=None):
    """Like prepare_tracks for a core.targets.TargetPlan: every key the plan drives (direct,
    combination or viseme keys), evaluated on the performance, resampled to the scene rate,
    shaped by the group of the channel behind it, smoothed, moved by its resting value in
    `offsets` ({shape-key name: value}; the performance is motion away from a neutral face)
    and clamped to its slider range (keys driven by a signed rotation channel are not clamped).
    Returns (n_frames, [(shape_key_name, float32 values[N])]) in the plan's key order."""
    values = plan.evaluate(perf.channels, perf.weights, fps=perf.fps)
    keys = [k for k in plan.keys() if k in values and k in key_blocks]
    if not keys:
        return 0, []
    by_key = {k: ch for ch, k in plan.direct.items()}
    matrix = resample(np.stack([values[k] for k in keys], axis=1), perf.fps, dst_fps)
    gains = np.array([float(intensity.get(_key_group(k, plan, by_key), 1.0)) for k in keys], np.float32)
    matrix = smooth(np.asarray(matrix, np.float32) * gains, smoothing)
    tracks = []
    offsets = offsets or {}
    for j, name in enumerate(keys):
        v = matrix[:, j] + np.float32(offsets.get(name, 0.0))
        if by_key.get(name) not in _ROTATION_CHANNELS:
            kb = key_blocks[name]
            v = np.clip(v, kb.slider_min, kb.slider_max)
        tracks.append((name, np.ascontiguousarray(v, dtype=np.float32)))
    return len(matrix), tracks


def _key_group(key, plan, by_key):
    """Intensity group of a planned key: its channel's group; a combination key takes the
    group of its strongest channel; viseme keys are mouth."""
    if key in by_key:
        return channel_group(by_key[key])
    if key in plan.derived and plan.derived[key]:
        return channel_group(max(plan.derived[key].items(), key=lambda item: item[1])[0])
    return "mouth"


def data_path(key_name: str) -> str:
    return f'key_blocks["{bpy.utils.escape_identifier(key_name)}"].value'


_KEY_PATH = re.compile(r'^key_blocks\["((?:[^"\\]|\\.)*)"\]\.value$')


def unescape_identifier(name: str) -> str:
    """A name as quoted in a data path (bpy.utils.escape_identifier) back to the name itself."""
    return re.sub(r'\\(.)', r'\1', name)


def key_name_from_path(path: str):
    """The shape-key name in a `data_path(...)` string, or None for any other path."""
    m = _KEY_PATH.match(path)
    return None if m is None else unescape_identifier(m.group(1))


def write_tracks(action, slot, start_frame: int, tracks, interpolation: str = "LINEAR"):
    """Write one F-curve per (shape key, values) with keys at start_frame + k."""
    write_curves(action, slot, start_frame, shape_key_curves(tracks), interpolation)


def shape_key_curves(tracks):
    """[(shape key, values)] -> [(data path, array index, values)]."""
    return [(data_path(key_name), 0, values) for key_name, values in tracks]


def write_curves(action, slot, start_frame: int, curves, interpolation: str = "LINEAR"):
    """Write one F-curve per (data path, array index, values) with keys at start_frame + k."""
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, got {interpolation!r}")
    writer = compat.FCurveWriter(action, slot, GROUP_NAME)
    interp_id = compat.interpolation_index(interpolation)
    co = None
    interp = None
    for path, index, values in curves:
        n = len(values)
        if co is None or len(co) != 2 * n:
            co = np.empty(2 * n, np.float32)
            co[0::2] = np.arange(n, dtype=np.float64) + start_frame
            interp = np.full(n, interp_id, np.int32)
        co[1::2] = values
        fc = writer.new(path, index)
        kp = fc.keyframe_points
        kp.add(n)
        kp.foreach_set("co", co)
        kp.foreach_set("interpolation", interp)
        fc.update()   # sorts and computes handles (they sit at 0,0 after add())


def validate_intensity(intensity: dict) -> dict:
    out = {g: 1.0 for g in GROUPS}
    for group, gain in (intensity or {}).items():
        if group not in GROUPS:
            raise ValueError(f"unknown intensity group {group!r}; use one of {', '.join(GROUPS)}")
        gain = float(gain)
        if not np.isfinite(gain) or gain < 0:
            raise ValueError(f"intensity for {group!r} must be a finite number >= 0, got {gain}")
        out[group] = gain
    return out
