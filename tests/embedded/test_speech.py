"""Script -> speech + timelines: exact coverage, emotions that are audible, inline tags, bad input."""
import threading

import numpy as np
import pytest
from helpers import in_threads, rms

from unitaf_blender.core.emotion import parse_emotion
from unitaf_blender.core.performance import EMOTIONS
from unitaf_blender.engines import Cancelled, EngineError
from unitaf_blender.engines.embedded.prosody import EMOTION_PROSODY, NEUTRAL, prosody_for
from unitaf_blender.engines.embedded.speech import (
    EMOTION_RAMP_S,
    MAX_SCRIPT_CHARS,
    PAUSE,
    ScriptError,
    clean_text,
    synthesize_script,
)

LINE = "The weather was lovely, and we walked along the river for hours. Nobody wanted to go home."


def f0_median(audio, sr):
    """Median F0 (Hz) of clearly voiced 40 ms frames, by normalised autocorrelation."""
    n, hop = int(0.04 * sr), int(0.01 * sr)
    lo, hi = sr // 400, sr // 60
    frames = [audio[i:i + n] for i in range(0, len(audio) - n, hop)]
    rms = np.array([np.sqrt(np.mean(f ** 2)) for f in frames])
    out = []
    for f, r in zip(frames, rms):
        if r < 0.3 * rms.max():
            continue
        f = f - f.mean()
        ac = np.correlate(f, f, "full")[n - 1:]
        if ac[0] <= 0:
            continue
        lag = lo + int(np.argmax(ac[lo:hi]))
        if ac[lag] / ac[0] > 0.5:
            out.append(sr / lag)
    assert len(out) > 10, "too few voiced frames"
    return float(np.median(out))


def speak(text, emotion="neutral", **kw):
    return synthesize_script(text, emotion, **kw)


# --- timeline ----------------------------------------------------------------------------

def test_phoneme_timeline_covers_audio_exactly():
    s = speak(LINE + " " + LINE)
    ph = s.phonemes
    assert ph[0].start == 0.0
    assert ph[-1].end == len(s.audio) / s.sample_rate            # ends at the last sample
    for a, b in zip(ph, ph[1:]):
        assert a.end == b.start                                   # contiguous
        assert a.end > a.start                                    # no zero-length entries
        assert not (a.label == PAUSE and b.label == PAUSE)        # pauses merged
    starts = np.array([p.start for p in ph]) * s.sample_rate
    np.testing.assert_allclose(starts, np.round(starts), atol=1e-6)   # sample-exact
    assert sum(p.label == PAUSE for p in ph) >= 3                 # comma, sentence, end
    assert any(p.label.startswith("'") for p in ph)               # stress marks kept


def test_pauses_are_silent_and_speech_is_not():
    s = speak(LINE)
    sr = s.sample_rate
    for p in s.phonemes:
        seg = s.audio[int(round(p.start * sr)):int(round(p.end * sr))]
        if p.label == PAUSE:
            assert np.abs(seg).max() < 1e-3
    voiced = [p for p in s.phonemes if p.label.lstrip("',") in ("aU", "eI", "A:", "0", "V", "I")]
    assert voiced and all(rms(s.audio[int(p.start * sr):int(p.end * sr)]) > 0.01 for p in voiced)


def test_words_follow_the_text():
    s = speak("Hello wonderful world. See you tomorrow!")
    assert [w.label for w in s.words] == ["Hello", "wonderful", "world", "See", "you", "tomorrow"]
    for a, b in zip(s.words, s.words[1:]):
        assert a.start < a.end <= b.start
    assert s.words[-1].end <= s.duration


def test_same_input_gives_identical_output():
    text = "[happy] Hello there! [sad:0.6] I missed you."
    a = speak(text, voice="en-us+f3", seed=5)
    speak("Something completely different, at another pitch.", "angry", voice="en")
    b = speak(text, voice="en-us+f3", seed=5)
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.phonemes == b.phonemes and a.words == b.words
    np.testing.assert_array_equal(a.emotion_vectors, b.emotion_vectors)


# --- emotion -> voice --------------------------------------------------------------------

def test_prosody_presets_and_blending():
    assert prosody_for(np.zeros(8)) == NEUTRAL
    assert prosody_for(parse_emotion("sad")) == EMOTION_PROSODY["sad"]
    half = prosody_for(parse_emotion("sad:0.5"))
    assert half.rate == pytest.approx((NEUTRAL.rate + EMOTION_PROSODY["sad"].rate) / 2)
    mix = prosody_for(parse_emotion("happy:1, sad:1"))   # normalised: the average
    assert mix.pitch == pytest.approx((EMOTION_PROSODY["happy"].pitch + EMOTION_PROSODY["sad"].pitch) / 2)
    with pytest.raises(ValueError):
        prosody_for(np.zeros(5))


def test_happy_and_sad_are_measurably_different():
    happy, sad, neutral = (speak(LINE, e) for e in ("happy", "sad", "neutral"))
    sr = happy.sample_rate
    assert sad.duration > 1.3 * happy.duration                   # sad is much slower
    assert f0_median(happy.audio, sr) > 1.3 * f0_median(sad.audio, sr)
    assert rms(happy.audio) > 1.4 * rms(sad.audio)
    assert happy.duration < neutral.duration < sad.duration
    assert f0_median(sad.audio, sr) < f0_median(neutral.audio, sr) < f0_median(happy.audio, sr)


def test_every_emotion_changes_the_voice():
    neutral = speak(LINE)
    sr = neutral.sample_rate
    f0_n = f0_median(neutral.audio, sr)
    seen = set()
    for name in EMOTIONS:
        s = speak(LINE, name)
        stats = (round(s.duration, 2), round(f0_median(s.audio, sr)), round(rms(s.audio), 3))
        assert stats not in seen
        seen.add(stats)
        assert not np.array_equal(s.audio[:len(neutral.audio)], neutral.audio[:len(s.audio)])
    assert rms(speak(LINE, "angry").audio) > 1.3 * rms(neutral.audio)      # anger is loud
    assert f0_median(speak(LINE, "surprised").audio, sr) > 1.2 * f0_n      # surprise is high
    assert speak(LINE, "afraid").duration < 0.9 * neutral.duration         # fear is fast


def test_intensity_scales_the_effect():
    d = [speak(LINE, f"sad:{x}").duration for x in (0.0, 0.5, 1.0)]
    assert d[0] < d[1] < d[2]


def test_sentence_pause_grows_with_sadness():
    text = "It was late. We went home."

    def longest_pause(s):
        inner = [p for p in s.phonemes[1:-1] if p.label == PAUSE]
        return max(p.end - p.start for p in inner)

    assert longest_pause(speak(text, "sad")) > longest_pause(speak(text)) + 0.25


def test_loud_emotion_never_clips():
    s = speak("Get out of here! Now! I said NOW!", "angry")
    assert np.abs(s.audio).max() <= 0.98 + 1e-6


# --- inline tags -------------------------------------------------------------------------

def test_inline_tags_change_the_voice_at_the_tag():
    first, second = "Hello there! It is so good to see you again.", "I missed you. It was a long winter."
    s = speak(f"[happy] {first} [sad:0.9] {second}")
    assert len(s.spans) == 2
    a, b = s.spans
    sr = s.sample_rate
    seg_a = s.audio[round(a.start * sr):round(a.end * sr)]
    seg_b = s.audio[round(b.start * sr):round(b.end * sr)]
    # the part after [sad] is exactly what "[sad:0.9] second" alone sounds like
    alone = speak(second, "sad:0.9")
    np.testing.assert_array_equal(seg_b, alone.audio)
    np.testing.assert_array_equal(seg_a, speak(first, "happy").audio)
    # ... so it is lower, quieter and slower per word than the happy part
    assert f0_median(seg_b, sr) < 0.8 * f0_median(seg_a, sr)
    assert rms(seg_b) < 0.8 * rms(seg_a)
    assert [w.label for w in s.words if w.end <= a.end] == [w.label for w in speak(first).words]
    assert [w.label for w in s.words if w.start >= b.start][:3] == ["I", "missed", "you"]
    n_a, n_b = len(first.split()), len(second.split())
    assert (b.end - b.start) / n_b > 1.2 * (a.end - a.start) / n_a    # seconds per word
    # phonemes of the second span sit after the tag in time
    assert s.phonemes[-1].end == s.duration


def test_emotion_timeline_switches_within_the_ramp():
    s = speak("[happy] Hello there, friend! [sad] I missed you.")
    a, b = s.spans
    times, vecs = s.emotion_times, s.emotion_vectors
    assert times[0] == 0 and times[-1] == pytest.approx(s.duration)
    assert np.all(np.diff(times) > 0)
    happy, sad = EMOTIONS.index("happy"), EMOTIONS.index("sad")

    def at(t, k):
        return float(np.interp(t, times, vecs[:, k]))

    assert at(a.start, happy) == 1 and at(a.end, happy) == 1 and at(a.end, sad) == 0
    assert at(b.start, sad) == 1 and at(b.start, happy) == 0 and at(s.duration, sad) == 1
    ramp = times[1:-1]
    assert len(ramp) == 2
    assert ramp[1] - ramp[0] == pytest.approx(EMOTION_RAMP_S, abs=1e-5)
    assert a.end <= ramp[0] and ramp[1] <= b.start                  # inside the pause
    np.testing.assert_allclose(vecs.sum(axis=1), 1.0)


def test_default_emotion_applies_before_the_first_tag():
    s = speak("Plain start. [angry] Angry end.", "calm:0.5")
    assert [round(float(x), 2) for x in s.spans[0].emotion] == list(parse_emotion("calm:0.5"))
    assert s.spans[1].emotion[EMOTIONS.index("angry")] == 1


def test_untagged_script_is_one_span_with_constant_emotion():
    s = speak(LINE, "surprised:0.4")
    assert len(s.spans) == 1
    assert len(s.emotion_times) == 2
    np.testing.assert_allclose(s.emotion_vectors, [parse_emotion("surprised:0.4")] * 2)


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "   \n\t", "?!... ,;", "[happy] [sad:0.5]", "😀🎉👍🏽", "[happy] ❤️ !!"])
def test_nothing_speakable_is_a_clear_error(text):
    with pytest.raises(ValueError, match="(?i)empty|speakable"):
        speak(text)


def test_unknown_tag_is_a_clear_error():
    with pytest.raises(ValueError, match="hapy"):
        speak("[hapy] Hello there.")


def test_too_long_script_is_a_clear_error():
    with pytest.raises(ScriptError, match=f"{MAX_SCRIPT_CHARS:,}"):
        speak("All work and no play. " * 2300)        # ~50 000 characters


def test_long_script_below_the_limit_works():
    text = ("The committee met on Tuesday to discuss the budget, the schedule and the "
            "new building. ") * 25                    # ~2 200 characters, ~2.5 minutes
    s = speak(text)
    assert s.duration > 60
    assert s.phonemes[-1].end == len(s.audio) / s.sample_rate
    assert len(s.words) >= 25 * 14


def test_emoji_are_removed_not_read():
    assert clean_text("Hello 😀 world 👍🏽! ❤️") == "Hello world !"
    assert clean_text("20° © 5%") == "20° © 5%"
    with_emoji = speak("Hello 😀 world 👍🏽")
    plain = speak("Hello world")
    np.testing.assert_array_equal(with_emoji.audio, plain.audio)
    assert [w.label for w in with_emoji.words] == ["Hello", "world"]


def test_language_switch_markers_become_pauses():
    s = speak("Hello, Tokyo", voice="ja")           # espeak switches to English: "(en)"
    assert not any(p.label.startswith("(") for p in s.phonemes)
    assert s.phonemes[-1].end == s.duration


def test_unsupported_language_lists_how_to_find_voices():
    with pytest.raises(EngineError, match="voices()"):
        speak("Hello", voice="klingon")


def test_cancel_raises_cancelled():
    ev = threading.Event()
    ev.set()
    with pytest.raises(Cancelled):
        speak(LINE, cancel=ev)


def test_threads_match_sequential():
    jobs = [("[happy] Hi there! [sad] Bye now.", "en-us"), (LINE, "en")]
    ref = [speak(t, voice=v).audio for t, v in jobs]
    out = {}

    def work(i):
        out[i] = [speak(jobs[i][0], voice=jobs[i][1]).audio for _ in range(3)]

    in_threads(work)
    for i in range(2):
        for audio in out[i]:
            np.testing.assert_array_equal(audio, ref[i])


def test_words_cover_every_character_of_chinese():
    # espeak reports 你好 and 很好 as one word event of length 1: 好 was missing (issue 10, item 7)
    text = "你好，我很好。今天天气很好。"
    s = synthesize_script(text, voice="cmn")
    assert "".join(w.label for w in s.words) == "你好我很好今天天气很好"
    syllables = [p for p in s.phonemes if p.label[:1] in "'," or p.label in ("i", "@", "o")]
    assert len(syllables) >= 11
    # every syllable's vowel lies inside a word, and words are in order without overlap
    for a, b in zip(s.words, s.words[1:]):
        assert a.end <= b.start
    for v in syllables:
        mid = 0.5 * (v.start + v.end)
        assert any(w.start <= mid <= w.end for w in s.words), v


def test_words_keep_apostrophes_and_hyphens():
    s = synthesize_script("Don't stop-it now, it's 42.")
    assert [w.label for w in s.words] == ["Don't", "stop-it", "now", "it's", "4", "2"]


def test_words_espeak_speaks_as_one_keep_their_own_entries():
    """espeak reads "in the" as one dictionary word (one WORD event): both words must still be
    in the word timeline, in order, sharing that event's phonemes."""
    from unitaf_blender.engines.embedded.speech import synthesize_script
    speech = synthesize_script("Printing, in the only sense with which we are at present concerned.")
    labels = [w.label for w in speech.words]
    assert labels == ["Printing", "in", "the", "only", "sense", "with", "which", "we", "are", "at",
                      "present", "concerned"]
    spans = [(w.start, w.end) for w in speech.words]
    assert all(a[1] <= b[0] + 1e-9 and a[0] < a[1] for a, b in zip(spans, spans[1:]))
