"""The upper face: emotion expression, prosodic expression, blinks, gaze and head over FACE_CHANNELS.

Engine-neutral, so it lives in core: it needs the emotion timeline (times [K] + vectors [K, 8]
in core.performance.EMOTIONS order) and, for a speaking face, the voice's prosody
(core.voice_prosody.VoiceProsody: per-frame F0 and loudness, measured from the audio or given
by a voice that predicts them). The embedded engine lays it over its viseme mouth and the
UniTAF engine over its neural mouth (its option `expression_layer`), both with `upper_face` +
`merge_layers`.

What the prosody drives (all eased in over a take's first and out over its last EASE_S):
* the expression breathes with the phrases: an emotion's shapes are held at 80 % in pauses,
  110 % in a phrase and swell on its pitch accents;
* brows rise on pitch accents and more on a question's final rise; in a negative emotion an
  accent lowers them a little instead (Ekman 1979; Krahmer & Swerts 2007);
* eyes squint a little on stressed syllables and as the lids close and open in a blink;
  a small smile (or, in a negative emotion, a frown) marks accents;
* blinks (core/blinks.py), gaze and head (core/gaze_head.py) follow phrases and accents.

Everything random comes from np.random.default_rng([seed, line, stream]) with one stream per
component: `line` is the prosody's fingerprint (0 without prosody), so the same seed gives the
same face for the same line, two lines of one seed do not blink on the same frames, and adding
a component never reshuffles the others.

Rotation channels follow Live Link Face's convention (core/gaze_head.py).
"""
import numpy as np

from .blinks import blink_track
from .channels import ARKIT_52, HEAD_EYE_ROTATIONS, expand, index_of, shape_vector
from .emotion import emotion_frames
from .gaze_head import gaze_head_track
from .performance import EMOTIONS
from .signal import DEFAULT_FPS, slow_noise

FACE_CHANNELS = ARKIT_52 + HEAD_EYE_ROTATIONS
FACE_INDEX = index_of(FACE_CHANNELS)

# Full-intensity expression of each emotion (names without Left/Right apply to both sides).
# Cheek and eye squint of a smile come mostly from merge_layers (a Duchenne smile raises the
# cheeks as far as the mouth smiles), so happy holds only a little of its own.
EMOTION_SHAPES = {
    "happy": {"mouthSmile": 0.6, "cheekSquint": 0.15, "eyeSquint": 0.1, "mouthDimple": 0.15,
              "browOuterUp": 0.08},
    "angry": {"browDown": 0.7, "noseSneer": 0.35, "eyeSquint": 0.35, "mouthPress": 0.12,
              "mouthFrown": 0.15, "jawForward": 0.08},
    "sad": {"browInnerUp": 0.6, "mouthFrown": 0.45, "browDown": 0.2, "mouthShrugLower": 0.2,
            "eyeBlink": 0.12, "mouthPress": 0.05},
    "afraid": {"browInnerUp": 0.65, "browOuterUp": 0.4, "eyeWide": 0.55, "mouthStretch": 0.35,
               "mouthFrown": 0.1, "jawOpen": 0.04},
    "disgusted": {"noseSneer": 0.6, "mouthUpperUp": 0.35, "browDown": 0.4, "eyeSquint": 0.3,
                  "mouthFrown": 0.2, "cheekSquint": 0.2, "mouthShrugLower": 0.15},
    "melancholic": {"browInnerUp": 0.4, "mouthFrown": 0.25, "browDown": 0.1, "eyeBlink": 0.15,
                    "mouthShrugLower": 0.1},
    "surprised": {"browOuterUp": 0.65, "browInnerUp": 0.55, "eyeWide": 0.6, "jawOpen": 0.12},
    "calm": {"mouthSmile": 0.15, "eyeBlink": 0.08, "cheekSquint": 0.05},
}
# How negative each emotion reads: accents lower the brows and pull the corners down instead
# of lifting them.
NEGATIVE = {"angry": 1.0, "disgusted": 1.0, "sad": 0.6, "melancholic": 0.5, "afraid": 0.3}

# Blink-rate multiplier at full intensity (arousal speeds blinking; surprise and calm slow it).
BLINK_RATE = {"happy": 1.1, "angry": 1.35, "sad": 0.8, "afraid": 1.7, "disgusted": 1.1,
              "melancholic": 0.75, "surprised": 0.6, "calm": 0.7}

# Prosodic expression at full cue strength.
ACCENT_BROW = {"browInnerUp": 0.22, "browOuterUp": 0.2}
QUESTION_BROW = {"browInnerUp": 0.25, "browOuterUp": 0.35}
NEGATIVE_ACCENT = {"browDown": 0.2, "mouthFrown": 0.12}
ACCENT_SMILE = 0.15
STRESS_SQUINT = 0.15           # eyeSquint per unit of accent/emphasis
BLINK_EDGE_SQUINT = 0.3        # eyeSquint at a blink's half-closed moments
EMPHASIS_BROW = 0.06
BREATH_PAUSE, BREATH_PHRASE, BREATH_ACCENT = 0.8, 1.1, 0.2
EASE_S = 0.25

# Duchenne smile (merge_layers): cheeks and lower lids rise with the smiling mouth; the lip
# spreading of a vowel (the mouth layer's smile) raises them half as much.
DUCHENNE_CHEEK, DUCHENNE_EYE = 0.6, 0.3
SPEECH_SPREAD_CHEEK = 0.5

_SHAPES = np.stack([shape_vector(EMOTION_SHAPES[e]) for e in EMOTIONS])        # [8, 52]
_BLINK_RATE = np.array([BLINK_RATE[e] for e in EMOTIONS], np.float64)
_NEGATIVE = np.array([NEGATIVE.get(e, 0.0) for e in EMOTIONS], np.float64)
_PAIRS = [(ARKIT_52.index(n + "Left"), ARKIT_52.index(n + "Right"))
          for n in sorted({n[:-4] for n in ARKIT_52 if n.endswith("Left")})
          if n + "Right" in ARKIT_52]


def _rng(seed, stream, line=0):
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng([int(seed), int(line), stream])


def _soft_clip(x, knee=0.8):
    """Identity below `knee`, then saturating smoothly toward 1 (stacked emotions never clip hard)."""
    top = 1.0 - knee
    return np.where(x < knee, x, knee + top * np.tanh((x - knee) / top))


def emotion_expression(emotion_times, emotion_vectors, n_frames, fps=DEFAULT_FPS, seed=0, emotions=None,
                       intensity=None, line=0):
    """Emotion expression over ARKIT_52: float32 [T, 52], values in [0, 1].

    Each emotion's shape (EMOTION_SHAPES) is scaled by its intensity at that frame, with
    a slow seeded wobble of intensity (±18 %) and a fixed small left/right asymmetry so the
    face never looks frozen or mirrored. `emotions` ([T, 8], optional) skips interpolation;
    `intensity` ([T, 1] or [T, 8], optional) scales it further (the phrase breathing).
    """
    rng = _rng(seed, 1, line)
    if emotions is None:
        emotions = emotion_frames(emotion_times, emotion_vectors, n_frames, fps)
    n_frames = len(emotions)
    wobble = 1.0 + 0.18 * slow_noise(rng, n_frames, fps, len(EMOTIONS))
    if intensity is not None:
        wobble = wobble * intensity
    out = (emotions * wobble) @ _SHAPES
    asym = rng.uniform(-0.08, 0.08, len(_PAIRS))
    for (left, right), a in zip(_PAIRS, asym):
        out[:, left] *= 1.0 + a
        out[:, right] *= 1.0 - a
    return _soft_clip(np.clip(out, 0.0, None)).astype(np.float32)


def _edge_fade(n_frames, fps):
    """[T]: 0 on a take's first and last frame, 1 from EASE_S inside (a raised cosine)."""
    k = np.arange(n_frames)
    dist = np.minimum(k, n_frames - 1 - k) / max(EASE_S * fps, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * np.clip(dist, 0.0, 1.0))


def _add(out, name, values):
    for full in expand(name):
        out[:, FACE_INDEX[full]] += values


def prosodic_layer(cues, emotions, fade):
    """What the voice's prosody adds to the face's expression: float64 [T, 52] (signed), eased
    in and out by `fade` ([T], _edge_fade)."""
    out = np.zeros((len(emotions), len(ARKIT_52)))
    neg = np.clip(emotions @ _NEGATIVE, 0.0, 1.0)
    stress = np.maximum(cues.accents, cues.emphasis)
    lift = cues.accents * (1.0 - 0.8 * neg)
    for name, gain in ACCENT_BROW.items():
        _add(out, name, gain * lift + EMPHASIS_BROW * cues.emphasis * (1.0 - neg))
    for name, gain in QUESTION_BROW.items():
        _add(out, name, gain * cues.questions)
    for name, gain in NEGATIVE_ACCENT.items():
        _add(out, name, gain * stress * neg)
    _add(out, "mouthSmile", ACCENT_SMILE * cues.accents * (1.0 - neg))
    _add(out, "eyeSquint", STRESS_SQUINT * stress)
    return out * fade[:, None]


def upper_face(emotion_times, emotion_vectors, n_frames, fps=DEFAULT_FPS, seed=0, prosody=None):
    """Expression + prosodic expression + blinks + gaze + head: float32 [T, len(FACE_CHANNELS)].

    `prosody` (core.voice_prosody.VoiceProsody over the same n_frames, optional) is the voice's
    F0 and loudness; without it the face idles (expression, blinks, gaze, head drift). Mouth
    channels carry only the expression's part; lay it over a mouth track with `merge_layers`.
    """
    emotions = emotion_frames(emotion_times, emotion_vectors, n_frames, fps)
    n_frames = len(emotions)
    cues, line = None, 0
    if prosody is not None:
        if prosody.n_frames != n_frames:
            raise ValueError(f"prosody has {prosody.n_frames} frames, expected {n_frames}")
        cues, line = prosody.cues(), prosody.fingerprint()
    out = np.zeros((n_frames, len(FACE_CHANNELS)), np.float32)
    breath = None
    if cues is not None:     # the expression breathes with the phrases and swells on accents
        level = BREATH_PAUSE + (BREATH_PHRASE - BREATH_PAUSE) * cues.activity + BREATH_ACCENT * cues.accents
        fade = _edge_fade(n_frames, fps)
        breath = (1.0 + (level - 1.0) * fade)[:, None]
    expression = emotion_expression(None, None, n_frames, fps, seed, emotions=emotions, intensity=breath, line=line)
    out[:, :len(ARKIT_52)] = expression
    if cues is not None:
        out[:, :len(ARKIT_52)] += prosodic_layer(cues, emotions, fade)
    tracks, shifts = gaze_head_track(n_frames, fps, _rng(seed, 3, line), emotions, cues)
    # Blink over the emotion's lid droop: a blink closes whatever is still open, and the lids
    # squint a little as they close and open.
    blink = blink_track(emotions, _BLINK_RATE, fps, _rng(seed, 2, line), cues, shifts)
    for side in ("Left", "Right"):
        j = FACE_INDEX["eyeBlink" + side]
        out[:, j] = out[:, j] + (1.0 - out[:, j]) * blink
        out[:, FACE_INDEX["eyeWide" + side]] *= 1.0 - blink
        out[:, FACE_INDEX["eyeSquint" + side]] += BLINK_EDGE_SQUINT * 4.0 * blink * (1.0 - blink)
    for name, track in tracks.items():
        out[:, FACE_INDEX[name]] += track
    arkit = slice(0, len(ARKIT_52))
    out[:, arkit] = np.clip(out[:, arkit], 0.0, 1.0)
    return out


def merge_layers(mouth, upper):
    """Lay the upper-face layer over a mouth track (both [T, len(FACE_CHANNELS)]).

    Weights add and clip to [0, 1]; the smile gives way to lip rounding (a smiling /u/
    still purses), and the cheeks and lower lids rise with the smile (Duchenne). Lip closure
    is enforced afterwards by the caller (embedded/face.py), so an expression never holds a
    bilabial open.
    """
    mouth, upper = np.asarray(mouth, np.float32), np.asarray(upper, np.float32)
    if mouth.shape != upper.shape or mouth.shape[-1] != len(FACE_CHANNELS):
        raise ValueError(f"layers must both be [T, {len(FACE_CHANNELS)}], "
                         f"got {mouth.shape} and {upper.shape}")
    out = mouth + upper
    keep = 1.0 - 0.6 * np.clip(out[:, FACE_INDEX["mouthPucker"]], 0, 1)
    for side in ("Left", "Right"):
        smile = FACE_INDEX["mouthSmile" + side]
        out[:, smile] *= keep
        # a smile raises the cheeks; lips spread for a vowel, only a little
        raised = np.clip(keep * (upper[:, smile] + SPEECH_SPREAD_CHEEK * mouth[:, smile]), 0, 1)
        out[:, FACE_INDEX["cheekSquint" + side]] += DUCHENNE_CHEEK * raised
        out[:, FACE_INDEX["eyeSquint" + side]] += DUCHENNE_EYE * raised
    arkit = slice(0, len(ARKIT_52))
    out[:, arkit] = np.clip(out[:, arkit], 0.0, 1.0)
    return out
