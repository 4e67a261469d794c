"""The no-transcript lipsync mode (engines/embedded/signal_mouth.py): a plausible mouth
from the recording alone — open in speech, closed in silence, closed at energy dips."""
import numpy as np
import pytest
from helpers import sealed_frames

from unitaf_blender.core.performance import TimedLabel
from unitaf_blender.engines import LipsyncRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine
from unitaf_blender.engines.embedded.espeak import get_espeak
from unitaf_blender.engines.embedded.signal_mouth import signal_timeline

FPS = 30.0


@pytest.fixture(scope="module")
def padded_speech():
    """espeak speech with 1.5 s of quiet noise before and after: (audio, sr, speech start, end)."""
    utt = get_espeak().synthesize("Maybe the boat will pass by the bay before the weather turns.",
                                  voice="en+m3", rate=150)
    sr = utt.sample_rate
    pad = np.zeros(int(1.5 * sr), np.float32)
    audio = np.concatenate((pad, utt.audio, pad))
    audio += 1e-4 * np.random.default_rng(1).standard_normal(len(audio)).astype(np.float32)
    return audio.astype(np.float32), sr, 1.5, 1.5 + len(utt.audio) / sr


def test_mouth_opens_in_speech_and_closes_in_silence(padded_speech):
    audio, sr, t0, t1 = padded_speech
    perf = EmbeddedEngine().lipsync(LipsyncRequest(audio, sr, None, emotion="calm:0.3", source="x.wav"))
    assert perf.meta["mode"] == "signal" and perf.meta["transcript"] is None and perf.words == []
    assert np.array_equal(perf.audio, audio) and perf.sample_rate == sr
    jaw = perf.channel("jawOpen")
    frames = np.arange(perf.n_frames) / FPS
    silent = (frames < t0 - 0.35) | (frames > t1 + 0.35)   # beyond anticipation and carry-over
    speaking = (frames > t0 + 0.1) & (frames < t1 - 0.1)
    assert jaw[silent].max() < 0.03
    assert jaw[speaking].mean() > 0.15 and np.percentile(jaw[speaking], 90) > 0.3
    # the mouth moves with the syllables, it does not hang open
    assert np.std(jaw[speaking]) > 0.08
    # the upper face lives in both modes: blinks happen
    assert perf.channel("eyeBlinkLeft").max() > 0.8


def test_timeline_is_contiguous_with_closures_between_syllables(padded_speech):
    audio, sr, t0, t1 = padded_speech
    tl = signal_timeline(audio, sr)
    assert tl[0].start == 0.0 and tl[-1].end == pytest.approx(len(audio) / sr)
    assert all(a.end == pytest.approx(b.start) and a.end > a.start for a, b in zip(tl, tl[1:]))
    assert tl[0].label == "_" and tl[0].end == pytest.approx(t0, abs=0.05)
    assert tl[-1].label == "_" and tl[-1].start == pytest.approx(t1, abs=0.12)
    inside = [p for p in tl if t0 <= p.start < t1]
    closures = [p for p in inside if p.label == "p"]
    vowels = {p.label for p in inside} & {"u:", "O:", "A:", "i:"}
    assert len(closures) >= 4 and len(vowels) >= 3


def test_energy_dip_between_vowels_closes_the_lips():
    sr = 22050
    t = np.arange(int(0.3 * sr)) / sr
    vowel = (0.3 * np.sin(2 * np.pi * 130 * t) + 0.2 * np.sin(2 * np.pi * 700 * t)).astype(np.float32)
    dip = np.zeros(int(0.08 * sr), np.float32)          # an 80 ms closure
    audio = np.concatenate((np.zeros(sr // 2, np.float32), vowel, dip, vowel, np.zeros(sr // 2, np.float32)))
    tl = signal_timeline(audio, sr)
    centre = 0.5 + 0.3 + 0.04
    at = [p for p in tl if p.start <= centre < p.end]
    assert at and at[0].label == "p", tl
    perf = EmbeddedEngine().lipsync(LipsyncRequest(audio, sr))
    jaw = perf.channel("jawOpen")
    k = int(round(centre * FPS))
    assert sealed_frames(perf.weights, perf.channels, k, reach=2) and jaw[int(0.65 * FPS)] > 0.2
    assert isinstance(tl[0], TimedLabel)
