"""The upper face: emotion expression, blinks, gaze and head motion over FACE_CHANNELS.

Engine-neutral, so it lives in core: it needs only the emotion timeline (times [K] +
vectors [K, 8] in core.performance.EMOTIONS order) and optionally a speech-emphasis curve.
The embedded engine lays it over its viseme mouth and the UniTAF engine over its neural
mouth (option `expression_layer`), both with `upper_face` + `merge_layers`.

Everything random comes from np.random.default_rng([seed, stream]) with one stream per
component, so the same seed gives the same face and adding a component never reshuffles
the others.

Rotation channels follow Live Link Face's convention (checked on the shared Live Link
CSV, where eyeLookDown goes with positive pitch): radians, pitch > 0 looks down,
yaw > 0 turns toward the subject's left.
"""
import numpy as np

from .channels import ARKIT_52, HEAD_EYE_ROTATIONS, expand, index_of, shape_vector
from .emotion import emotion_frames
from .performance import EMOTIONS
from .signal import smooth

FACE_CHANNELS = ARKIT_52 + HEAD_EYE_ROTATIONS
FACE_INDEX = index_of(FACE_CHANNELS)

# Full-intensity expression of each emotion (names without Left/Right apply to both sides).
EXPRESSION_SHAPES = {
    "happy": {"mouthSmile": 0.6, "cheekSquint": 0.45, "eyeSquint": 0.25, "mouthDimple": 0.15,
              "browOuterUp": 0.08},
    "angry": {"browDown": 0.7, "noseSneer": 0.35, "eyeSquint": 0.35, "mouthPress": 0.3,
              "mouthFrown": 0.15, "jawForward": 0.08},
    "sad": {"browInnerUp": 0.6, "mouthFrown": 0.45, "browDown": 0.2, "mouthShrugLower": 0.2,
            "eyeBlink": 0.12, "mouthPress": 0.08},
    "afraid": {"browInnerUp": 0.65, "browOuterUp": 0.4, "eyeWide": 0.55, "mouthStretch": 0.35,
               "mouthFrown": 0.1, "jawOpen": 0.04},
    "disgusted": {"noseSneer": 0.6, "mouthUpperUp": 0.35, "browDown": 0.4, "eyeSquint": 0.3,
                  "mouthFrown": 0.2, "cheekSquint": 0.2, "mouthShrugLower": 0.15},
    "melancholic": {"browInnerUp": 0.4, "mouthFrown": 0.25, "browDown": 0.1, "eyeBlink": 0.15,
                    "mouthShrugLower": 0.1},
    "surprised": {"browOuterUp": 0.65, "browInnerUp": 0.55, "eyeWide": 0.6, "jawOpen": 0.12},
    "calm": {"mouthSmile": 0.15, "eyeBlink": 0.08, "cheekSquint": 0.05},
}

# Blink-rate multiplier at full intensity (arousal speeds blinking; surprise and calm slow it).
BLINK_RATE = {"happy": 1.1, "angry": 1.35, "sad": 0.8, "afraid": 1.7, "disgusted": 1.1,
              "melancholic": 0.75, "surprised": 0.6, "calm": 0.7}
BLINKS_PER_MINUTE = 17.0

# Head pitch offset at full intensity, radians (> 0 = down): sad heads drop, surprise lifts.
HEAD_PITCH = {"happy": -0.02, "angry": 0.03, "sad": 0.08, "afraid": -0.01, "disgusted": 0.01,
              "melancholic": 0.06, "surprised": -0.04, "calm": 0.0}
GAZE_PITCH = {"sad": 0.08, "melancholic": 0.06, "disgusted": 0.02}
EYE_WEIGHT_PER_RADIAN = 1.6   # eyeLook* weight per radian of eye rotation (Live Link CSV)

_SHAPES = np.stack([shape_vector(EXPRESSION_SHAPES[e]) for e in EMOTIONS])        # [8, 52]
_BLINK_RATE = np.array([BLINK_RATE[e] for e in EMOTIONS], np.float64)
_HEAD_PITCH = np.array([HEAD_PITCH[e] for e in EMOTIONS], np.float64)
_GAZE_PITCH = np.array([GAZE_PITCH.get(e, 0.0) for e in EMOTIONS], np.float64)
_PAIRS = [(ARKIT_52.index(n + "Left"), ARKIT_52.index(n + "Right"))
          for n in sorted({n[:-4] for n in ARKIT_52 if n.endswith("Left")})
          if n + "Right" in ARKIT_52]


def _rng(seed, stream):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), stream])


def _slow_noise(rng, n_frames, fps, n_signals, f_lo=0.05, f_hi=0.45, partials=3):
    """Smooth seeded noise in about [-1, 1]: a few sinusoids of random low frequency."""
    t = np.arange(n_frames) / fps
    f = rng.uniform(f_lo, f_hi, (n_signals, partials))
    phase = rng.uniform(0, 2 * np.pi, (n_signals, partials))
    amp = rng.uniform(0.5, 1.0, (n_signals, partials))
    amp /= amp.sum(1, keepdims=True)
    return np.einsum("sp,tsp->ts", amp, np.sin(2 * np.pi * f[None] * t[:, None, None] + phase[None]))


def _soft_clip(x, knee=0.8):
    """Identity below `knee`, then saturating smoothly toward 1 (stacked emotions never clip hard)."""
    top = 1.0 - knee
    return np.where(x < knee, x, knee + top * np.tanh((x - knee) / top))


def expression_layer(emotion_times, emotion_vectors, n_frames, fps=30.0, seed=0, emotions=None):
    """Emotion expression over ARKIT_52: float32 [T, 52], values in [0, 1].

    Each emotion's shape (EXPRESSION_SHAPES) is scaled by its intensity at that frame, with
    a slow seeded wobble of intensity (±18 %) and a fixed small left/right asymmetry so the
    face never looks frozen or mirrored. `emotions` ([T, 8], optional) skips interpolation.
    """
    rng = _rng(seed, 1)
    if emotions is None:
        emotions = emotion_frames(emotion_times, emotion_vectors, n_frames, fps)
    n_frames = len(emotions)
    wobble = 1.0 + 0.18 * _slow_noise(rng, n_frames, fps, len(EMOTIONS))
    out = (emotions * wobble) @ _SHAPES
    asym = rng.uniform(-0.08, 0.08, len(_PAIRS))
    for (left, right), a in zip(_PAIRS, asym):
        out[:, left] *= 1.0 + a
        out[:, right] *= 1.0 - a
    return _soft_clip(np.clip(out, 0.0, None)).astype(np.float32)


def blink_track(emotions, fps, rng):
    """Seeded natural blinks [T] in [0, 1] (1 = closed).

    Inter-blink intervals are gamma-distributed (shape 3, mean 60/17 s, at least 0.6 s
    apart), sped up or slowed by the emotion at that moment; 8 % are double blinks. Each
    blink closes fast (~70 ms) and opens slowly (~150 ms), peaking exactly on a frame so a
    30 fps track never misses the closure.
    """
    n_frames = len(emotions)
    out = np.zeros(n_frames, np.float64)
    if n_frames == 0:
        return out
    factor = np.clip(1.0 + emotions @ (_BLINK_RATE - 1.0), 0.3, 3.0)
    mean_s = 60.0 / BLINKS_PER_MINUTE
    duration = (n_frames - 1) / fps
    t = rng.uniform(0.2, 1.0) * mean_s
    peaks = []
    while t < duration + 0.2:
        peaks.append(t)
        if rng.random() < 0.08:
            peaks.append(t + rng.uniform(0.25, 0.4))
        f = factor[min(int(round(t * fps)), n_frames - 1)]
        t += max(0.6, rng.gamma(3.0, mean_s / 3.0) / f)
    for peak in peaks:
        k = int(round(peak * fps))
        close_s, open_s = rng.uniform(0.06, 0.08), rng.uniform(0.12, 0.18)
        depth = rng.uniform(0.92, 1.0)
        lo, hi = max(k - int(close_s * fps) - 1, 0), min(k + int(open_s * fps) + 2, n_frames)
        if lo >= hi:
            continue
        dt = np.arange(lo, hi) / fps - k / fps
        width = np.where(dt < 0, close_s, open_s)
        shape = np.where(np.abs(dt) < width, 0.5 * (1 + np.cos(np.pi * np.abs(dt) / width)), 0.0)
        out[lo:hi] = np.maximum(out[lo:hi], depth * shape)
    return out


def _fixations(rng, n_frames, fps, rate, spread):
    """Piecewise-constant gaze targets (yaw, pitch) [T, 2] with seeded saccade times."""
    out = np.zeros((n_frames, 2))
    t, duration = 0.0, n_frames / fps
    while t < duration:
        k0 = int(t * fps)
        s = spread[min(k0, n_frames - 1)]
        if rng.random() < 0.5:         # speakers keep coming back to the listener
            target = rng.normal(0.0, 0.008, 2)
        else:
            target = np.clip(rng.normal(0.0, [0.06 * s, 0.035 * s]), -0.18, 0.18)
        t += max(0.25, rng.gamma(2.0, 0.6) / rate[min(k0, n_frames - 1)])
        out[k0:int(t * fps) + 1] = target
    return out


def gaze_head_track(n_frames, fps, rng, emotions=None, emphasis=None):
    """Seeded gaze saccades and gentle head motion: dict channel -> [T].

    Eye rotations (radians) plus the matching eyeLook* weights; head yaw/pitch/roll from
    slow noise, an emotion-dependent pitch offset and small nods on speech emphasis.
    The eyes counter-rotate against most of the head motion (they keep looking at the
    listener), which is what makes small head motion read as natural.
    """
    n_frames = int(n_frames)
    if emotions is None:
        emotions = np.zeros((n_frames, len(EMOTIONS)))
    arousal = emotions[:, EMOTIONS.index("afraid")] + 0.5 * emotions[:, EMOTIONS.index("surprised")]
    rate = 1.0 + 0.8 * arousal - 0.3 * emotions[:, EMOTIONS.index("calm")]
    gaze = _fixations(rng, n_frames, fps, np.clip(rate, 0.3, 3.0), 1.0 + 0.5 * arousal)
    gaze = smooth(gaze, 0.6)                    # a saccade takes ~40 ms, not zero
    gaze += 0.004 * _slow_noise(rng, n_frames, fps, 2, 0.2, 1.0)  # fixational drift
    gaze[:, 1] += emotions @ _GAZE_PITCH

    noise = _slow_noise(rng, n_frames, fps, 3, 0.05, 0.35)
    head = noise * np.array([0.035, 0.02, 0.015])
    head[:, 1] += emotions @ _HEAD_PITCH
    head[:, 2] += 0.02 * emotions[:, EMOTIONS.index("happy")] * np.sign(rng.uniform(-1, 1))
    if emphasis is not None:
        head[:, 1] += 0.03 * np.asarray(emphasis, np.float64)      # nod into stressed syllables
    eye = gaze - 0.7 * head[:, :2]

    yaw, pitch = eye[:, 0], eye[:, 1]
    k = EYE_WEIGHT_PER_RADIAN
    right_of_subject, left_of_subject = k * np.maximum(-yaw, 0), k * np.maximum(yaw, 0)
    tracks = {
        "headYaw": head[:, 0], "headPitch": head[:, 1], "headRoll": head[:, 2],
        "leftEyeYaw": yaw, "leftEyePitch": pitch, "leftEyeRoll": np.zeros(n_frames),
        "rightEyeYaw": yaw, "rightEyePitch": pitch, "rightEyeRoll": np.zeros(n_frames),
        "eyeLookOutLeft": left_of_subject, "eyeLookInRight": left_of_subject,
        "eyeLookInLeft": right_of_subject, "eyeLookOutRight": right_of_subject,
        "eyeLookDownLeft": k * np.maximum(pitch, 0), "eyeLookDownRight": k * np.maximum(pitch, 0),
        "eyeLookUpLeft": k * np.maximum(-pitch, 0), "eyeLookUpRight": k * np.maximum(-pitch, 0),
    }
    return tracks


def upper_face(emotion_times, emotion_vectors, n_frames, fps=30.0, seed=0, emphasis=None):
    """Expression + blinks + gaze + head: float32 [T, len(FACE_CHANNELS)].

    `emphasis` ([T] in [0, 1], optional) marks stressed/loud moments of speech: brows lift
    a little and the head nods with it. Mouth channels carry only the emotion's part; lay
    it over a mouth track with `merge_layers`.
    """
    emotions = emotion_frames(emotion_times, emotion_vectors, n_frames, fps)
    n_frames = len(emotions)
    out = np.zeros((n_frames, len(FACE_CHANNELS)), np.float32)
    out[:, :len(ARKIT_52)] = expression_layer(None, None, n_frames, fps, seed, emotions=emotions)
    if emphasis is not None:
        emphasis = np.asarray(emphasis, np.float64).reshape(-1)
        if len(emphasis) != n_frames:
            raise ValueError(f"emphasis has {len(emphasis)} frames, expected {n_frames}")
        for name, gain in (("browInnerUp", 0.15), ("browOuterUp", 0.1)):
            for full in expand(name):
                out[:, FACE_INDEX[full]] += gain * emphasis
    # Blink over the emotion's lid droop: a blink closes whatever is still open.
    blink = blink_track(emotions, fps, _rng(seed, 2))
    for side in ("Left", "Right"):
        j = FACE_INDEX["eyeBlink" + side]
        out[:, j] = out[:, j] + (1.0 - out[:, j]) * blink
        out[:, FACE_INDEX["eyeWide" + side]] *= 1.0 - blink
    for name, track in gaze_head_track(n_frames, fps, _rng(seed, 3), emotions, emphasis).items():
        out[:, FACE_INDEX[name]] += track
    arkit = slice(0, len(ARKIT_52))
    out[:, arkit] = np.clip(out[:, arkit], 0.0, 1.0)
    return out


def merge_layers(mouth, upper):
    """Lay the upper-face layer over a mouth track (both [T, len(FACE_CHANNELS)]).

    Weights add and clip to [0, 1]; the smile gives way to lip rounding (a smiling /u/
    still purses). Lip closure is enforced afterwards by the caller (embedded/face.py), so an
    expression never holds a bilabial open.
    """
    mouth, upper = np.asarray(mouth, np.float32), np.asarray(upper, np.float32)
    if mouth.shape != upper.shape or mouth.shape[-1] != len(FACE_CHANNELS):
        raise ValueError(f"layers must both be [T, {len(FACE_CHANNELS)}], "
                         f"got {mouth.shape} and {upper.shape}")
    out = mouth + upper
    pucker = np.clip(out[:, FACE_INDEX["mouthPucker"]], 0, 1)
    for side in ("Left", "Right"):
        out[:, FACE_INDEX["mouthSmile" + side]] *= 1.0 - 0.6 * pucker
    arkit = slice(0, len(ARKIT_52))
    out[:, arkit] = np.clip(out[:, arkit], 0.0, 1.0)
    return out
