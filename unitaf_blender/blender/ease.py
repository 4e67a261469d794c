"""Takes ease in and out of what the face showed before them.

A take's keys start `frames(fps)` frames before its first frame and end as many after its
last, holding its first and last values there. Over those frames the take blends linearly
from whatever plays under it (the rest layer, the artist's animation, an earlier take) to
itself, and back: an NLA take live, with its strip's Blend In / Blend Out; an active-action
take (which has no blend) with the blend keyed from what was under it when it was made.
The span is 0.25 s and at least 7 frames, so a key crossing its whole range (1.0) at a
take's edge moves at most 1/7 (0.143) per frame. Datablock-agnostic: any (data path,
index) channel of a shape-key Key or an armature object eases the same way.
"""
import math

import numpy as np

from .rest_pose import current_value

EASE_SECONDS = 0.25
MIN_EASE_FRAMES = 7


def frames(fps: float) -> int:
    """Frames a take eases in (and out) over at `fps`."""
    return max(MIN_EASE_FRAMES, int(math.ceil(EASE_SECONDS * float(fps) - 1e-9)))


def padded(values: np.ndarray, pad: int) -> np.ndarray:
    """`values` with its first value held `pad` frames before and its last `pad` after."""
    return np.concatenate([np.repeat(values[:1], pad), values, np.repeat(values[-1:], pad)])


def influence(pad: int) -> np.ndarray:
    """The take's weight on the `pad` frames before its first frame (0 at the first of
    them), as Blender's NLA Blend In gives it; reversed, after its last frame."""
    return np.arange(pad, dtype=np.float64) / pad


def blend_keyed(values: np.ndarray, under_in: np.ndarray, under_out: np.ndarray, pad: int) -> np.ndarray:
    """A padded curve with its blend keyed: from `under_in` (what plays under it on the `pad`
    frames before the take) to the take, and from the take to `under_out` after it."""
    out = np.asarray(values, np.float64).copy()
    w = influence(pad)
    out[:pad] = under_in + w * (out[:pad] - under_in)
    out[-pad:] = under_out + w[::-1] * (out[-pad:] - under_out)
    return out.astype(np.float32)


def values_under(scene, targets, frame_list) -> list:
    """What `targets` ([(datablock, [(data path, index)])]) evaluate to at each of
    `frame_list`: [{(path, index): float64 array over the frames}] per target. Changes the
    scene's frame and puts it back."""
    frame, subframe = scene.frame_current, scene.frame_subframe
    out = [{channel: np.empty(len(frame_list)) for channel in channels} for _, channels in targets]
    try:
        for i, f in enumerate(frame_list):
            scene.frame_set(int(f))
            for (block, channels), values in zip(targets, out):
                for path, index in channels:
                    values[(path, index)][i] = current_value(block, path, index)
    finally:
        scene.frame_set(frame, subframe=subframe)
    return out
