"""EmbeddedEngine.check_lipsync: cheap refusals of a recorded line, with clear messages."""
import numpy as np
import pytest

from unitaf_blender.engines import EngineError, LipsyncRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine

SR = 16000


def voice_like(seconds=2.0, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (0.2 * np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)


@pytest.mark.parametrize("audio,sr,transcript,emotion,pattern", [
    (np.zeros(0, np.float32), SR, "Hello there.", "calm", r"recording is empty"),
    (np.zeros(SR, np.float32), SR, "Hello there.", "calm", r"recording is silent"),
    (np.full(SR, 1e-5, np.float32), SR, None, "calm", r"recording is silent"),
    (voice_like(0.05), SR, None, "calm", r"at least 100 ms"),
    (voice_like(), SR, "!!! ???", "calm", r"transcript has no(thing)? speakable"),
    (voice_like(), SR, "[furious] Hello.", "calm", r"(?i)unknown emotion|emotion"),
    (voice_like(), SR, "Hello there.", "furious:2", r"Bad emotion"),
    (voice_like(), SR, None, "furious:2", r"Bad emotion"),
    (voice_like(), 1000, "Hello there.", "calm", r"sample rate must be"),
    (voice_like(), 44100.5, None, "calm", r"sample rate must be"),
    (np.stack([voice_like(), voice_like()]), SR, None, "calm", r"must be mono"),
    (np.array([0.1, np.nan] * SR, np.float32), SR, None, "calm", r"NaN"),
    (voice_like(2.0), SR, "word " * 400, "calm", r"far too long"),
])
def test_refusals(audio, sr, transcript, emotion, pattern):
    with pytest.raises(EngineError, match=pattern):
        EmbeddedEngine().check_lipsync(LipsyncRequest(audio, sr, transcript, emotion=emotion))


def test_too_long_recording_is_refused_before_any_work():
    audio = np.zeros(31 * 60 * 8000, np.float32)
    with pytest.raises(EngineError, match=r"31.0 minutes long.*at most 30 minutes"):
        EmbeddedEngine().check_lipsync(LipsyncRequest(audio, 8000, "Hello."))


def test_language_from_the_transcript_and_blank_transcript_notes():
    eng = EmbeddedEngine()
    checked = eng.check_lipsync(LipsyncRequest(voice_like(), SR, "Привет, как дела?"))
    assert checked.request.language == "ru" and any("Cyrillic" in n for n in checked.notes)
    checked = eng.check_lipsync(LipsyncRequest(voice_like().reshape(-1, 1), SR, "   "))
    assert checked.request.transcript is None and checked.request.audio.ndim == 1
    assert any("less accurate" in n for n in checked.notes)


def test_transcript_that_does_not_fit_the_recording_is_refused_by_lipsync():
    # two seconds of voice cannot hold a paragraph (passes the cheap character check)
    text = "This is a much longer sentence than the recording could ever hold in two seconds. " * 2
    with pytest.raises(EngineError, match=r"belongs to this recording"):
        EmbeddedEngine().lipsync(LipsyncRequest(voice_like(2.0), SR, text))
