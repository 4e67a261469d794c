"""Procedural face from the speech timeline: phonemes -> visemes -> ARKit weights at 30 fps.

Mouth: a Cohen–Massaro dominance blend. Every viseme segment pulls each channel toward its
target with a weight (its dominance) that is flat over the middle of the segment and falls
off exponentially outside it, faster after the segment (carry-over) than before it
(anticipation), so the lips start moving toward a sound before it begins. The blend is
evaluated 4x per frame and averaged over the frame interval, so a 30 ms /p/ between two
frames still counts. Jaw opening is scaled by the audio's loudness envelope; rounded lips
narrow with mouthClose; a pause inside speech ends with a breath. Bilabial closure is then
enforced on the final track (an emotion may not hold the lips apart): a seal by mouthClose over
a jaw still a little open, as a person's lips meet.

Upper face (emotion expression, prosody, blinks, gaze, head) comes from core/upper_face.py,
driven by the voice's own F0 and loudness (core/voice_prosody.py).
"""
import numpy as np

from ...core.channels import ARKIT_52, index_of
from ...core.emotion import emotion_frames
from ...core.performance import EMOTIONS
from ...core.signal import DEFAULT_FPS, loudness_envelope, n_frames_for
from ...core.upper_face import FACE_CHANNELS, FACE_INDEX, merge_layers, upper_face
from ...core.voice_prosody import VoiceProsody
from .visemes import (
    CONSONANT_TIME_SCALE,
    VISEMES,
    VOWEL_VISEMES,
    phoneme_visemes,
    split_stress,
    viseme_segments,
    viseme_tables,
)

ANTICIPATION_S = 0.09      # dominance e-folding time before a segment's core
CARRYOVER_S = 0.06         # ... and after it (carry-over is shorter than anticipation)
CORE_FRACTION = 0.5        # middle share of a segment where its dominance is flat
OVERSAMPLE = 4             # sub-samples per frame averaged over the frame interval
STRESS_GAIN = 1.15         # primary-stressed vowels open wider
REST_DOMINANCE = 0.02      # a faint pull to neutral where no segment is near
# Funnelled lips narrow their opening over the jaw: in a real iPhone capture mouthClose runs
# at about 0.6-0.9 of mouthFunnel on rounded vowels (never past the jaw). They stay ROUND_GAP
# apart: a rounded vowel is never a closure. (core/visemes.py's signatures carry the same.)
FUNNEL_CLOSE, ROUND_GAP = 0.85, 0.06
# Before speaking again the speaker breathes in: over a pause's last BREATH_S (a short pause
# all through) the jaw stays a little open and the lips just apart. Before the first sound,
# after the last, and in the rest of a long pause the mouth rests shut.
PAUSE_POSTURE = {"jawOpen": 0.1, "mouthLowerDownLeft": 0.05, "mouthLowerDownRight": 0.05}
BREATH_S = 0.2

# Loudness -> jaw: opening channels scale from JAW_QUIET (silence) to about 1.35 (loud),
# plus a small additive jaw term, so the jaw tracks the energy of the voice.
JAW_QUIET, JAW_LOUD = 0.45, 0.7
JAW_FROM_LOUDNESS = 0.06
# Emotion changes articulation: aroused speech opens wider, sad speech is mumbled.
JAW_EMOTION_GAIN = {"happy": 0.1, "angry": 0.15, "sad": -0.2, "afraid": 0.0, "disgusted": -0.05,
                    "melancholic": -0.15, "surprised": 0.15, "calm": -0.1}

# Bilabial closure: the lips meet by mouthClose over a jaw that stays SEAL_JAW open (a real
# iPhone capture: jaw ~0.2 when the lips meet), and press only while a plosive builds its
# pressure (up to PLOSIVE_PRESS at the release; /m/ lets the air out through the nose).
SEAL_JAW = (0.1, 0.25)
SEAL_SPREAD = 0.1       # the seal's other frames may keep this much more jaw than its centre
MIN_SEAL_S = 0.08         # the lips stay shut at least this long
APPROACH_S = 0.06         # the lips close over this long before the seal and part as slowly after
PLOSIVE_PRESS = 0.2
_OPENING_AT_CLOSURE = ("mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
                       "mouthUpperUpRight", "mouthFunnel", "mouthStretchLeft", "mouthStretchRight",
                       "tongueOut")
_PLOSIVES = frozenset(("p", "b"))

_TIME_SCALE = np.array([1.0 if v in VOWEL_VISEMES or v == "sil" else CONSONANT_TIME_SCALE
                        for v in VISEMES])
_STRESSED = np.array([STRESS_GAIN if v in VOWEL_VISEMES else 1.0 for v in VISEMES])


def _blend_tables():
    """(channels the visemes drive, dominance [30, C], dominance * target [30, C]).

    30 blend classes: the 15 visemes unstressed, then with primary stress. Rebuilt per call
    (cheap) so edits to core.visemes.VISEME_SHAPES / DOMINANCE take effect without a reload.
    """
    targets, dominance = viseme_tables()
    # PP's mouthClose is the seal's signature (for the solver); here the seal and the lips'
    # approach are drawn by enforce_lip_closure, so no half-seal bleeds into the vowels around
    targets[:, ARKIT_52.index("mouthClose")] = 0.0
    used = np.flatnonzero(targets.any(0))
    alpha = np.concatenate([dominance, dominance])[:, used].astype(np.float64)
    alpha_t = np.concatenate([dominance * targets,
                              dominance * targets * _STRESSED[:, None]])[:, used].astype(np.float64)
    return used, alpha, alpha_t


_JAW_GAIN = np.array([JAW_EMOTION_GAIN[e] for e in EMOTIONS])


def mouth_track(phonemes, n_frames, fps=DEFAULT_FPS, loudness=None, emotions=None):
    """Coarticulated mouth over ARKIT_52: (float64 [T, 52], closures).

    `closures` (bilabial_closures) are the frames of every bilabial, for `enforce_lip_closure`.
    """
    starts, ends, ids, stress = viseme_segments(phonemes)
    out = np.zeros((n_frames, len(ARKIT_52)))
    if len(ids) == 0 or n_frames == 0:
        return out, []
    starts, ends, ids, stress, posture = _pause_postures(starts, ends, ids, stress)
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
    scale = np.where(posture[seg], CONSONANT_TIME_SCALE, _TIME_SCALE[ids[seg]])   # a breath is quick
    dom = np.where(before > 0, np.exp(-before / (ANTICIPATION_S * scale)),
                   np.where(after > 0, np.exp(-after / (CARRYOVER_S * scale)), 1.0))
    n_cls = 2 * len(VISEMES)
    cls = np.where(posture[seg], n_cls, ids[seg] + len(VISEMES) * (stress[seg] == 1))
    g = np.bincount(u * (n_cls + 1) + cls, weights=dom,
                    minlength=n_sub * (n_cls + 1)).reshape(n_sub, n_cls + 1)
    g, pause = g[:, :n_cls], g[:, n_cls]
    used, alpha, alpha_t = _blend_tables()
    # an internal pause pulls like `sil` (dominance 1) toward PAUSE_POSTURE, added after the gain
    denominator = g @ alpha + pause[:, None] + REST_DOMINANCE
    out[:, used] = (g @ alpha_t / denominator).reshape(n_frames, OVERSAMPLE, -1).mean(1)
    pause_share = (pause / denominator[:, 0]).reshape(n_frames, OVERSAMPLE).mean(1)

    gain = np.ones(n_frames)
    if emotions is not None:
        gain *= np.clip(1.0 + emotions @ _JAW_GAIN, 0.5, 1.5)
    if loudness is not None:
        gain *= JAW_QUIET + JAW_LOUD * loudness
        out[:, FACE_INDEX["jawOpen"]] += JAW_FROM_LOUDNESS * loudness
    for name in ("jawOpen", "mouthLowerDownLeft", "mouthLowerDownRight"):
        out[:, FACE_INDEX[name]] *= gain
    for name, value in PAUSE_POSTURE.items():
        out[:, FACE_INDEX[name]] += value * pause_share
    jaw, close = FACE_INDEX["jawOpen"], FACE_INDEX["mouthClose"]
    rounded = np.minimum(out[:, jaw] - ROUND_GAP, FUNNEL_CLOSE * out[:, FACE_INDEX["mouthFunnel"]])
    out[:, close] = np.maximum(out[:, close], rounded)
    return out, bilabial_closures(phonemes, n_frames, fps)


def _pause_postures(starts, ends, ids, stress):
    """Segments with the internal pauses' last BREATH_S (a whole short pause) split off and
    marked: (starts, ends, ids, stress, posture [S] bool). Pauses before the first and after
    the last sound stay `sil`, as do the earlier parts of long pauses (the mouth rests shut)."""
    sil = VISEMES.index("sil")
    speech = np.flatnonzero(ids != sil)
    inside = np.zeros(len(ids), bool)
    if len(speech):
        inside[speech[0]:speech[-1] + 1] = True
    out = ([], [], [], [], [])
    for s, e, v, st, internal in zip(starts, ends, ids, stress, inside):
        if internal and v == sil and e - s > BREATH_S:
            for part in ((s, e - BREATH_S, v, st, False), (e - BREATH_S, e, v, st, True)):
                for lst, x in zip(out, part):
                    lst.append(x)
            continue
        for lst, x in zip(out, (s, e, v, st, internal and v == sil)):
            lst.append(x)
    return tuple(np.asarray(x) for x in out)


def bilabial_closures(phonemes, n_frames, fps=DEFAULT_FPS):
    """(first, last, centre, plosive) frame indices of every /p b m/, merged where they touch.

    The closure covers the middle 60 % of the phoneme, at least MIN_SEAL_S (espeak's stops can
    be 25 ms; a person's lips stay shut 50-100 ms) and at least its centre frame; `plosive`
    is True when a /p/ or /b/ is in it (the lips then press while the pressure builds).
    """
    closures = []
    for p in phonemes:
        start, end, label = (p.start, p.end, p.label) if hasattr(p, "label") else p
        start, end = float(start), float(end)
        visemes = phoneme_visemes(str(label))
        if end <= start or visemes != ("PP",):
            continue
        plosive = split_stress(str(label))[0] in _PLOSIVES
        mid, half = 0.5 * (start + end), max(0.3 * (end - start), 0.5 * MIN_SEAL_S)
        centre = int(round(mid * fps))
        first = min(int(np.ceil((mid - half) * fps)), centre)
        last = max(int(np.floor((mid + half) * fps)), centre)
        first, last, centre = (min(max(k, 0), n_frames - 1) for k in (first, last, centre))
        if closures and first <= closures[-1][1] + 1:
            prev_first, prev_last, prev_centre, prev_plosive = closures[-1]
            closures[-1] = (prev_first, max(last, prev_last), prev_centre, prev_plosive or plosive)
        else:
            closures.append((first, last, centre, plosive))
    return closures


def enforce_lip_closure(weights, closures, channels=FACE_CHANNELS, fps=DEFAULT_FPS):
    """Guarantee a visible closure at every bilabial, in place on [T, C] weights.

    Over each closure's frames the jaw comes up to a local minimum (clipped to SEAL_JAW, so the
    jaw neither snaps shut nor hangs wide) and mouthClose seals the lips over exactly that jaw
    opening; lip-opening shapes relax. A plosive's lips press more and more until the release
    (PLOSIVE_PRESS), a nasal's do not. The jaw of the frames on either side is blended halfway,
    and mouthClose narrows the lips over APPROACH_S before and after, so the closure reads as
    a motion rather than a one-frame snap.
    """
    idx = index_of(channels)
    jaw, close = idx["jawOpen"], idx["mouthClose"]
    press = [idx["mouthPressLeft"], idx["mouthPressRight"]]
    opening = [idx[n] for n in _OPENING_AT_CLOSURE if n in idx]
    n_frames = len(weights)
    for first, last, centre, plosive in closures:
        a, b = max(first - 1, 0), min(last + 2, n_frames)
        floor = float(np.clip(weights[a:b, jaw].min(), *SEAL_JAW))
        core = np.arange(first, last + 1)
        seal = np.clip(weights[core, jaw], floor, floor + SEAL_SPREAD)
        seal[core == centre] = floor
        weights[core, jaw] = seal
        weights[core, close] = seal
        weights[np.ix_(core, opening)] *= 0.15
        if plosive:
            build = PLOSIVE_PRESS * np.linspace(0.6, 1.0, len(core))
            for j in press:
                weights[core, j] = np.maximum(weights[core, j], build)
        for k, edge in ((first - 1, seal[0]), (last + 1, seal[-1])):
            if 0 <= k < n_frames:
                weights[k, jaw] = 0.5 * (weights[k, jaw] + edge)
                weights[k, opening] *= 0.6
        # the lips travel faster than the jaw: they narrow toward the seal and part after it
        reach = int(np.ceil(APPROACH_S * fps))
        for k in (*range(first - reach, first), *range(last + 1, last + reach + 1)):
            if 0 <= k < n_frames:
                d = (first - k if k < first else k - last) / (APPROACH_S * fps)
                contact = 0.5 + 0.5 * np.cos(np.pi * min(d, 1.0))
                weights[k, close] = max(weights[k, close], contact * weights[k, jaw])
    return weights


def face_from_timeline(phonemes, audio, sample_rate, emotion_times, emotion_vectors, seed=0,
                       fps=DEFAULT_FPS, prosody=None):
    """The embedded engine's face: (channels, float32 weights [T, C]).

    channels = ARKIT_52 + HEAD_EYE_ROTATIONS; T = floor(len(audio) / sample_rate * fps) + 1
    with frame k at k / fps. ARKit weights lie in [0, 1]; head/eye rotations are small
    signed radians. `phonemes` are TimedLabel(start, end, espeak mnemonic incl. stress
    marks) in seconds. `prosody` (core.voice_prosody.VoiceProsody on the same frames) is the
    voice's F0 and loudness for the upper face; by default it is measured from `audio` (a voice
    that predicts its own F0/energy passes them with VoiceProsody.from_frames). Deterministic
    for a given seed.
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
    if prosody is None:
        prosody = VoiceProsody.from_audio(audio, sample_rate, n_frames, fps, energy=loudness)
    upper = upper_face(emotion_times, emotion_vectors, n_frames, fps, seed, prosody=prosody)
    weights = enforce_lip_closure(merge_layers(mouth, upper), closures, fps=fps)
    weights[:, :len(ARKIT_52)] = np.clip(weights[:, :len(ARKIT_52)], 0.0, 1.0)
    jaw, close = FACE_INDEX["jawOpen"], FACE_INDEX["mouthClose"]
    weights[:, close] = np.minimum(weights[:, close], weights[:, jaw])   # lips never pass each other
    return FACE_CHANNELS, np.ascontiguousarray(weights, np.float32)
