"""Emotion (8-dim, UniTAF/IndexTTS2 order) -> prosody parameters of the embedded voices.

Each emotion has a preset; a vector blends the presets' offsets from neutral weighted by
intensity (the weights are normalised only when they sum past 1, so "sad:0.5" is half-way
between neutral and full sadness). All zeros is neutral speech.

Numbers follow the direction of the classic acoustic findings on emotional speech (Murray &
Arnott 1993: joy/fear/surprise fast, high and wide; sadness slow, low, narrow and soft; anger
loud) and were sized with the espeak-ng measurements in research/lite-engine.md: rate 130 ->
1.36x longer than 175 wpm, pitch 35 -> F0 ~81 Hz vs 103 Hz at 50, range 15 -> near monotone.
Volume stays at espeak's 100 (>=150 clips) and loudness is a float gain applied afterwards.
The natural voice (natural.py) reads the same table in its own terms: rate -> model speed,
pitch -> an F0 factor (same ratio per unit as espeak), range -> a log-F0 range factor, gain, and
`declination`, which only it uses (espeak has no such parameter): a sentence's extra F0 fall,
larger for low-arousal emotions, negative (rising) for surprise and fear.
"""
from dataclasses import dataclass, fields, replace

import numpy as np

from ...core.performance import EMOTIONS
from .espeak import RATE_MAX, RATE_MIN


@dataclass(frozen=True)
class ProsodyParams:
    rate: float = 175.0           # words per minute (espeak 80..449)
    pitch: float = 50.0           # espeak base pitch 0..100 (50 ~ 103 Hz for en-us)
    pitch_range: float = 50.0     # espeak intonation range 0..100 (0 = monotone)
    gain: float = 1.0             # linear gain applied to the float audio
    word_gap: float = 0.0         # extra pause between words, units of 10 ms
    sentence_pause: float = 0.0   # extra silence after each sentence, seconds
    declination: float = 0.0      # semitones of extra F0 fall over a sentence (natural voice only)


NEUTRAL = ProsodyParams()

EMOTION_PROSODY = {
    "happy":       ProsodyParams(rate=200, pitch=66, pitch_range=85, gain=1.15, word_gap=0, sentence_pause=0.00,
                                  declination=0.0),
    "angry":       ProsodyParams(rate=190, pitch=44, pitch_range=72, gain=1.45, word_gap=0, sentence_pause=0.00,
                                  declination=1.0),
    "sad":         ProsodyParams(rate=130, pitch=34, pitch_range=15, gain=0.65, word_gap=2, sentence_pause=0.35,
                                  declination=3.0),
    "afraid":      ProsodyParams(rate=215, pitch=72, pitch_range=70, gain=0.90, word_gap=0, sentence_pause=0.05,
                                  declination=-1.0),
    "disgusted":   ProsodyParams(rate=150, pitch=38, pitch_range=60, gain=1.00, word_gap=1, sentence_pause=0.15,
                                  declination=1.5),
    "melancholic": ProsodyParams(rate=140, pitch=40, pitch_range=25, gain=0.75, word_gap=1, sentence_pause=0.30,
                                  declination=2.5),
    "surprised":   ProsodyParams(rate=190, pitch=74, pitch_range=95, gain=1.20, word_gap=0, sentence_pause=0.05,
                                  declination=-2.0),
    "calm":        ProsodyParams(rate=160, pitch=46, pitch_range=38, gain=0.90, word_gap=0, sentence_pause=0.20,
                                  declination=1.0),
}
assert tuple(EMOTION_PROSODY) == EMOTIONS

_FIELDS = [f.name for f in fields(ProsodyParams)]
_NEUTRAL = np.array([getattr(NEUTRAL, f) for f in _FIELDS], np.float64)
_DELTAS = np.array([[getattr(EMOTION_PROSODY[e], f) for f in _FIELDS] for e in EMOTIONS]) - _NEUTRAL


def prosody_for(emotion) -> ProsodyParams:
    """Blend the presets for an 8-dim emotion vector (values 0..1, EMOTIONS order)."""
    v = np.clip(np.asarray(emotion, np.float64).reshape(-1), 0.0, 1.0)
    if v.shape != (len(EMOTIONS),):
        raise ValueError(f"emotion vector must have {len(EMOTIONS)} values, got {v.shape[0]}")
    total = v.sum()
    if total > 1.0:          # mixtures stay inside the presets' convex hull
        v = v / total
    return ProsodyParams(**dict(zip(_FIELDS, (_NEUTRAL + v @ _DELTAS).tolist())))


# espeak's pitch parameter -> median F0 of the en-us voice (research/lite-engine.md, 1.5); the
# lowest point extends the measured slope down to 0.
_PITCH_STEPS = np.array([0.0, 25.0, 50.0, 75.0, 100.0])
_PITCH_HZ = np.array([77.0, 90.0, 103.0, 131.0, 170.0])


def with_voicing(params: ProsodyParams, voicing) -> ProsodyParams:
    """`params` scaled by a script's <prosody>/<emphasis> (core.markup.Voicing): the rate and
    the loudness multiply, the pitch factor applies to the voice's F0 (espeak's pitch
    parameter is not proportional to it), all within espeak's ranges."""
    if voicing.rate == voicing.pitch == voicing.loudness == 1.0:
        return params
    hz = np.interp(params.pitch, _PITCH_STEPS, _PITCH_HZ) * voicing.pitch
    pitch = float(np.interp(hz, _PITCH_HZ, _PITCH_STEPS))   # clamps to 0..100 at the ends
    rate = float(np.clip(params.rate * voicing.rate, RATE_MIN, RATE_MAX))
    return replace(params, rate=rate, pitch=pitch, gain=params.gain * voicing.loudness)
