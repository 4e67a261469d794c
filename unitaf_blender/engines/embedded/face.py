"""Procedural face from the speech timeline: phonemes -> visemes -> ARKit weights at 30 fps.

Mouth: a Cohen–Massaro dominance blend. Every viseme segment pulls each channel toward its
target with a weight (its dominance) that is flat over the middle of the segment and falls
off exponentially outside it, faster after the segment (carry-over) than before it
(anticipation), so the lips start moving toward a sound before it begins. The blend is
evaluated 4x per frame and averaged over the frame interval, so a 30 ms /p/ between two
frames still counts. Jaw opening is scaled by the audio's loudness envelope. Bilabial
closure is then enforced on the final track (an emotion may not hold the lips apart).

Upper face (emotion expression, blinks, gaze, head) comes from core/upper_face.py.
"""
import numpy as np

from ...core.channels import ARKIT_52, index_of
from ...core.emotion import emotion_frames
from ...core.performance import EMOTIONS
from ...core.signal import DEFAULT_FPS, emphasis_curve, loudness_envelope, n_frames_for
from ...core.upper_face import FACE_CHANNELS, FACE_INDEX, merge_layers, upper_face
from .visemes import CONSONANT_TIME_SCALE, VISEME_INDEX, VISEMES, VOWEL_VISEMES, viseme_segments, viseme_tables

FPS = DEFAULT_FPS
ANTICIPATION_S = 0.09      # dominance e-folding time before a segment's core
CARRYOVER_S = 0.06         # ... and after it (carry-over is shorter than anticipation)
CORE_FRACTION = 0.5        # middle share of a segment where its dominance is flat
OVERSAMPLE = 4             # sub-samples per frame averaged over the frame interval
STRESS_GAIN = 1.15         # primary-stressed vowels open wider
REST_DOMINANCE = 0.02      # a faint pull to neutral where no segment is near

# Loudness -> jaw: opening channels scale from JAW_QUIET (silence) to about 1.35 (loud),
# plus a small additive jaw term, so the jaw tracks the energy of the voice.
JAW_QUIET, JAW_LOUD = 0.45, 0.7
JAW_FROM_LOUDNESS = 0.06
# Emotion changes articulation: aroused speech opens wider, sad speech is mumbled.
JAW_EMOTION_GAIN = {"happy": 0.1, "angry": 0.15, "sad": -0.2, "afraid": 0.0, "disgusted": -0.05,
                    "melancholic": -0.15, "surprised": 0.15, "calm": -0.1}

# Bilabial closure: the jaw may stay this open at most (the lips seal over the rest),
# and lip press reaches at least this.
CLOSED_JAW_MAX = 0.08
CLOSED_PRESS_MIN = 0.4
_OPENING_AT_CLOSURE = ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                       "mouthUpperUpRight", "mouthFunnel", "mouthStretchLeft", "mouthStretchRight",
                       "tongueOut")

_TIME_SCALE = np.array([1.0 if v in VOWEL_VISEMES or v == "sil" else CONSONANT_TIME_SCALE
                        for v in VISEMES])
_STRESSED = np.array([STRESS_GAIN if v in VOWEL_VISEMES else 1.0 for v in VISEMES])


def _blend_tables():
    """(channels the visemes drive, dominance [30, C], dominance * target [30, C]).

    30 blend classes: the 15 visemes unstressed, then with primary stress. Rebuilt per call
    (cheap) so edits to core.visemes.VISEME_SHAPES / DOMINANCE take effect without a reload.
    """
    targets, dominance = viseme_tables()
    used = np.flatnonzero(targets.any(0))
    alpha = np.concatenate([dominance, dominance])[:, used].astype(np.float64)
    alpha_t = np.concatenate([dominance * targets,
                              dominance * targets * _STRESSED[:, None]])[:, used].astype(np.float64)
    return used, alpha, alpha_t


_JAW_GAIN = np.array([JAW_EMOTION_GAIN[e] for e in EMOTIONS])
_BILABIAL = VISEME_INDEX["PP"]


def mouth_track(phonemes, n_frames, fps=FPS, loudness=None, emotions=None):
    """Coarticulated mouth over ARKIT_52: (float64 [T, 52], closures).

    `closures` lists (first, last, centre) frame indices of every bilabial, merged where
    they touch, for `enforce_lip_closure`.
    """
    starts, ends, ids, stress = viseme_segments(phonemes)
    out = np.zeros((n_frames, len(ARKIT_52)))
    if len(ids) == 0 or n_frames == 0:
        return out, []
    sub_rate = fps * OVERSAMPLE
    n_sub = n_frames * OVERSAMPLE
    # sub-sample u lies at (u + 0.5) / sub_rate - 0.5 / fps: OVERSAMPLE points per frame interval
    def to_sub(t):
        return (t + 0.5 / fps) * sub_rate - 0.5

    span = ends - starts
    core_lo = starts + 0.5 * (1 - CORE_FRACTION) * span
    core_hi = ends - 0.5 * (1 - CORE_FRACTION) * span
    lo = np.clip(np.ceil(to_sub(core_lo - 6 * ANTICIPATION_S)), 0, n_sub).astype(np.int64)
    hi = np.clip(np.floor(to_sub(core_hi + 6 * CARRYOVER_S)) + 1, 0, n_sub).astype(np.int64)
    counts = np.maximum(hi - lo, 0)
    seg = np.repeat(np.arange(len(ids)), counts)
    offsets = np.cumsum(counts) - counts
    u = np.arange(counts.sum()) - np.repeat(offsets, counts) + np.repeat(lo, counts)
    t = (u + 0.5) / sub_rate - 0.5 / fps
    before, after = core_lo[seg] - t, t - core_hi[seg]
    scale = _TIME_SCALE[ids[seg]]
    dom = np.where(before > 0, np.exp(-before / (ANTICIPATION_S * scale)),
                   np.where(after > 0, np.exp(-after / (CARRYOVER_S * scale)), 1.0))
    cls = ids[seg] + len(VISEMES) * (stress[seg] == 1)
    n_cls = 2 * len(VISEMES)
    g = np.bincount(u * n_cls + cls, weights=dom, minlength=n_sub * n_cls).reshape(n_sub, n_cls)
    used, alpha, alpha_t = _blend_tables()
    blend = (g @ alpha_t) / (g @ alpha + REST_DOMINANCE)
    out[:, used] = blend.reshape(n_frames, OVERSAMPLE, -1).mean(1)

    gain = np.ones(n_frames)
    if emotions is not None:
        gain *= np.clip(1.0 + emotions @ _JAW_GAIN, 0.5, 1.5)
    if loudness is not None:
        gain *= JAW_QUIET + JAW_LOUD * loudness
        out[:, FACE_INDEX["jawOpen"]] += JAW_FROM_LOUDNESS * loudness
    for name in ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight"):
        out[:, FACE_INDEX[name]] *= gain

    closures = []
    for s, e in zip(starts[ids == _BILABIAL], ends[ids == _BILABIAL]):
        centre = int(round(0.5 * (s + e) * fps))
        first = min(int(np.ceil((s + 0.2 * (e - s)) * fps)), centre)
        last = max(int(np.floor((e - 0.2 * (e - s)) * fps)), centre)
        first, last, centre = (min(max(k, 0), n_frames - 1) for k in (first, last, centre))
        if closures and first <= closures[-1][1] + 1:
            closures[-1] = (closures[-1][0], max(last, closures[-1][1]), closures[-1][2])
        else:
            closures.append((first, last, centre))
    return out, closures


def enforce_lip_closure(weights, closures, channels=FACE_CHANNELS):
    """Guarantee a visible closure at every bilabial, in place on [T, C] weights.

    Over each closure's frames the jaw drops to a local minimum (at most CLOSED_JAW_MAX),
    mouthClose seals the lips over whatever jaw opening is left, mouthPress reaches a
    local maximum and lip-opening shapes relax; the frames on either side are blended
    halfway, so the closure reads as a motion rather than a one-frame snap.
    """
    idx = index_of(channels)
    jaw, close = idx["jawOpen"], idx["mouthClose"]
    press = [idx["mouthPressLeft"], idx["mouthPressRight"]]
    opening = [idx[n] for n in _OPENING_AT_CLOSURE if n in idx]
    n_frames = len(weights)
    for first, last, _ in closures:
        a, b = max(first - 1, 0), min(last + 2, n_frames)
        jaw_c = min(CLOSED_JAW_MAX, float(weights[a:b, jaw].min()))
        press_c = np.maximum(CLOSED_PRESS_MIN, weights[a:b][:, press].max(0))
        core = slice(first, last + 1)
        weights[core, jaw] = jaw_c
        weights[core, close] = jaw_c
        weights[core, press[0]], weights[core, press[1]] = press_c
        weights[core, opening] *= 0.15
        for k in (first - 1, last + 1):
            if 0 <= k < n_frames:
                weights[k, jaw] = 0.5 * (weights[k, jaw] + jaw_c)
                weights[k, close] = max(weights[k, close], jaw_c)     # lips half way there
                weights[k, press] = 0.5 * (weights[k, press] + press_c)
                weights[k, opening] *= 0.6
    return weights


def face_from_timeline(phonemes, audio, sample_rate, emotion_times, emotion_vectors, seed=0,
                       fps=FPS):
    """The embedded engine's face: (channels, float32 weights [T, C]).

    channels = ARKIT_52 + HEAD_EYE_ROTATIONS; T = floor(len(audio) / sample_rate * fps) + 1
    with frame k at k / fps. ARKit weights lie in [0, 1]; head/eye rotations are small
    signed radians. `phonemes` are TimedLabel(start, end, espeak mnemonic incl. stress
    marks) in seconds. Deterministic for a given seed.
    """
    audio = np.asarray(audio, np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be mono [N], got shape {audio.shape}")
    if not sample_rate or sample_rate <= 0 or not fps or fps <= 0:
        raise ValueError(f"sample_rate and fps must be positive (got {sample_rate}, {fps})")
    n_frames = n_frames_for(len(audio), sample_rate, fps)
    loudness = loudness_envelope(audio, sample_rate, n_frames, fps)
    emotions = emotion_frames(emotion_times, emotion_vectors, n_frames, fps)
    mouth52, closures = mouth_track(phonemes, n_frames, fps, loudness, emotions)
    mouth = np.zeros((n_frames, len(FACE_CHANNELS)), np.float32)
    mouth[:, :len(ARKIT_52)] = mouth52
    upper = upper_face(emotion_times, emotion_vectors, n_frames, fps, seed,
                       emphasis=emphasis_curve(loudness, fps))
    weights = enforce_lip_closure(merge_layers(mouth, upper), closures)
    weights[:, :len(ARKIT_52)] = np.clip(weights[:, :len(ARKIT_52)], 0.0, 1.0)
    return FACE_CHANNELS, np.ascontiguousarray(weights, np.float32)
