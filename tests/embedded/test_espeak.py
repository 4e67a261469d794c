"""The ctypes binding to espeak-ng (espeakng-loader wheel): events, parameters, voices, threads."""
import os
import signal
import sys
import tempfile
import threading

import numpy as np
import pytest
from helpers import in_threads

from unitaf_blender.engines import EngineError
from unitaf_blender.engines.embedded.espeak import RATE_MAX, Espeak, get_espeak

LINE = "The quick brown fox jumps over the lazy dog. Then it runs away!"


@pytest.fixture(scope="module")
def es():
    return get_espeak()


def _phonemes(utt):
    return [e for e in utt.events if e.type == "phoneme"]


def test_initialises_at_22050_with_version(es):
    assert es.sample_rate == 22050
    assert es.version.startswith("1.52")


def test_events_monotonic_and_last_phoneme_ends_audio(es):
    utt = es.synthesize(LINE)
    assert utt.audio.dtype == np.float32 and len(utt.audio) > es.sample_rate
    samples = [e.sample for e in utt.events]
    assert samples == sorted(samples)
    ph = _phonemes(utt)
    assert len(ph) > 30
    assert ph[-1].sample == len(utt.audio)       # sample-exact end
    assert {e.type for e in utt.events} >= {"phoneme", "word", "sentence", "end"}
    # two sentences: a second sentence event inside the audio
    assert sum(e.type == "sentence" for e in utt.events) == 2


def test_phoneme_names_are_mnemonics(es):
    names = {e.name for e in _phonemes(es.synthesize(LINE))}
    assert {"k", "w", "f", "d"} <= names           # consonants of quick/fox/dog
    assert any(n.startswith("'") for n in names)   # primary stress marks kept
    assert all(0 < len(n) <= 8 and "\0" not in n for n in names)


def test_word_events_point_into_text(es):
    text = "Hello wonderful world"
    words = [e for e in es.synthesize(text).events if e.type == "word"]
    got = [text[e.text_position - 1: e.text_position - 1 + e.length] for e in words]
    assert got == ["Hello", "wonderful", "world"]


def test_non_ascii_text_positions_are_characters(es):
    text = "Café résumé naïve"
    words = [e for e in es.synthesize(text).events if e.type == "word"]
    assert [text[e.text_position - 1: e.text_position - 1 + e.length] for e in words] == \
        ["Café", "résumé", "naïve"]


def test_rate_changes_duration(es):
    slow = es.synthesize(LINE, rate=120)
    fast = es.synthesize(LINE, rate=250)
    assert len(slow.audio) > 1.6 * len(fast.audio)


def test_rate_is_clamped_so_events_stay_exact(es):
    utt = es.synthesize(LINE, rate=900)
    ref = es.synthesize(LINE, rate=RATE_MAX)
    assert len(utt.audio) == len(ref.audio)
    assert _phonemes(utt)[-1].sample == len(utt.audio)


def test_parameters_do_not_leak_between_calls(es):
    """espeak keeps parameters across calls; the binding must reset all of them each time."""
    a = es.synthesize(LINE)
    es.synthesize(LINE, rate=300, pitch=90, pitch_range=0, volume=30, word_gap=20)
    b = es.synthesize(LINE)
    np.testing.assert_array_equal(a.audio, b.audio)


def test_volume_scales_rms(es):
    soft = es.synthesize(LINE, volume=50).audio
    loud = es.synthesize(LINE, volume=100).audio
    ratio = np.sqrt(np.mean(loud ** 2)) / np.sqrt(np.mean(soft ** 2))
    assert 1.6 < ratio < 2.5


def test_word_gap_lengthens(es):
    assert len(es.synthesize(LINE, word_gap=10).audio) > 1.2 * len(es.synthesize(LINE).audio)


def test_ssml_marks_carry_sample_positions(es):
    utt = es.synthesize('<speak>One two <mark name="cue"/> three four.</speak>', ssml=True)
    marks = [e for e in utt.events if e.type == "mark"]
    assert [m.name for m in marks] == ["cue"]
    assert 0 < marks[0].sample < len(utt.audio)


def test_voices_list_and_unknown_voice(es):
    ids = {v.id for v in es.list_voices()}
    assert {"en-us", "en", "de", "fr"} <= ids
    assert "fo" not in ids                    # its dictionary is missing from the wheel
    assert es.check_voice("EN-US+f3") == "en-us+f3"
    with pytest.raises(EngineError, match="no voice or language 'xx-yy'"):
        es.synthesize("hello", voice="xx-yy")
    with pytest.raises(EngineError, match="variant"):
        es.synthesize("hello", voice="en-us+nosuchvariant")


def test_female_variant_is_higher(es):
    male = es.synthesize(LINE, voice="en-us").audio
    female = es.synthesize(LINE, voice="en-us+f3").audio
    assert not np.array_equal(male, female)


def test_empty_text_is_rejected(es):
    with pytest.raises(ValueError):
        es.synthesize("   ")


def test_cancel_stops_synthesis_early(es):
    ev = threading.Event()
    ev.set()
    long_text = " ".join([LINE] * 20)
    before = es.synthesize(LINE)
    cut = es.synthesize(long_text, cancel=ev)
    full = es.synthesize(long_text)
    assert len(cut.audio) < len(full.audio) / 4
    after = es.synthesize(LINE)                 # an aborted call leaves no state behind
    np.testing.assert_array_equal(before.audio, after.audio)


def test_two_threads_match_sequential(es):
    texts = [LINE, "Another sentence, spoken at a different pitch."]
    kwargs = [dict(rate=150, pitch=30), dict(rate=220, pitch=80, voice="en")]
    ref = [es.synthesize(t, **k) for t, k in zip(texts, kwargs)]
    results = {}

    def work(i):
        results[i] = [es.synthesize(texts[i], **kwargs[i]) for _ in range(5)]

    in_threads(work)
    for i in range(2):
        for utt in results[i]:
            np.testing.assert_array_equal(utt.audio, ref[i].audio)
            assert [(e.type, e.sample, e.name) for e in utt.events] == \
                [(e.type, e.sample, e.name) for e in ref[i].events]


class _SignalOnCallback:
    """A `cancel` that sends this process `signum` from inside espeak's callback (when it is
    asked the n-th time) and never cancels by itself."""

    def __init__(self, signum, n=2):
        self.signum, self.n, self.asked = signum, n, 0

    def is_set(self):
        self.asked += 1
        if self.asked == self.n:
            os.kill(os.getpid(), self.signum)
        return False


class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop()


@pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="POSIX signals")
def test_a_signal_during_synthesis_stops_it(es, capfd):
    """Ctrl-C lands in the callback during a long utterance: raised once espeak has returned,
    never printed and dropped by ctypes (which went on speaking and returned the audio)."""
    long_text = " ".join([LINE] * 40)
    before = es.synthesize(LINE)
    previous = signal.signal(signal.SIGUSR1, _raise_stop)
    try:
        sender = _SignalOnCallback(signal.SIGUSR1)
        with pytest.raises(_Stop):
            es.synthesize(long_text, cancel=sender)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    assert sender.asked == 2                      # espeak stopped at the next callback
    assert "Exception ignored" not in capfd.readouterr().err
    np.testing.assert_array_equal(es.synthesize(LINE).audio, before.audio)   # no state left behind


def test_an_exception_before_the_callbacks_first_line_is_kept(es, capfd):
    """Python runs a pending signal handler on entering the callback, before any of its code:
    ctypes reports that through sys.unraisablehook, where synthesize keeps it."""
    entered = []

    def trace(frame, event, arg):
        if event == "call" and frame.f_code is Espeak._on_synth.__code__:
            entered.append(1)
            if len(entered) == 3:
                raise _Stop()

    hook = sys.unraisablehook
    sys.settrace(trace)
    try:
        with pytest.raises(_Stop):
            es.synthesize(" ".join([LINE] * 40))
    finally:
        sys.settrace(None)
    assert len(entered) <= 4 and sys.unraisablehook is hook
    assert "Exception ignored" not in capfd.readouterr().err


def test_voice_files_are_removed_once_loaded(es, monkeypatch, temp_folder):
    """The voice copies live in a folder of the temp folder only while espeak reads them:
    nothing is left there, however the process ends."""
    folder = temp_folder
    load = es._lib.espeak_SetVoiceByFile
    loaded = []

    def spy(path):
        loaded.append((os.fsdecode(path), os.path.isfile(path)))
        return load(path)

    monkeypatch.setattr(tempfile, "tempdir", folder)
    monkeypatch.setattr(es._lib, "espeak_SetVoiceByFile", spy)
    assert es.deterministic
    first = es.synthesize(LINE, voice="en-us+f3")
    again = es.synthesize(LINE, voice="en-us+f3")
    assert len(loaded) == 2 and all(p.startswith(folder + os.sep) and there for p, there in loaded)
    assert os.listdir(folder) == []
    np.testing.assert_array_equal(again.audio, first.audio)
