import numpy as np
import pytest

from unitaf_blender.core.emotion import ScriptSpan, emotion_label, parse_emotion, parse_script, strip_tags
from unitaf_blender.core.performance import EMOTIONS


def one_hot(name, value=1.0):
    v = np.zeros(8, np.float32)
    v[EMOTIONS.index(name)] = value
    return v


@pytest.mark.parametrize("spec,expected", [
    ("happy", one_hot("happy")),
    ("happy:0.8", one_hot("happy", 0.8)),
    ("HAPPY: 0.8", one_hot("happy", 0.8)),
    ("  calm  ", one_hot("calm")),
    ("melancholic:0", np.zeros(8)),
    ("fear:0.5", one_hot("afraid", 0.5)),
    ("surprise", one_hot("surprised")),
    ("happy:0.6, surprised:0.3", one_hot("happy", 0.6) + one_hot("surprised", 0.3)),
    ("0,0,0.5,0,0,0,0,0.25", one_hot("sad", 0.5) + one_hot("calm", 0.25)),
    ([0, 1, 0, 0, 0, 0, 0, 0], one_hot("angry")),
    ((0.1,) * 8, np.full(8, 0.1)),
    (np.full(8, 0.2), np.full(8, 0.2)),
    ("neutral", np.zeros(8)),
    ("", np.zeros(8)),
    (None, np.zeros(8)),
    ([1.0000001] + [0] * 7, one_hot("happy")),   # float noise is clipped
])
def test_parse_emotion(spec, expected):
    v = parse_emotion(spec)
    assert v.dtype == np.float32 and v.shape == (8,)
    assert np.allclose(v, expected)


@pytest.mark.parametrize("spec,match", [
    ("joy", r"unknown emotion 'joy'.*valid names: happy, angry, sad, afraid, disgusted, "
            r"melancholic, surprised, calm"),
    ("happy:1.5", r"'happy:1.5'.*outside 0..1"),
    ("sad:-0.1", "outside 0..1"),
    ("happy:abc", r"'abc' is not a number"),
    ("happy:", "not a number"),
    ("happy:nan", "outside 0..1"),
    ("happy, happy:0.2", "given twice"),
    ("happy,,sad", "empty part"),
    ("1,2,3", "needs 8"),
    ("0,0,0,0,0,0,0,2", "outside 0..1"),
    ([0.1] * 7, "needs 8"),
    (np.zeros((2, 8)), "needs 8"),
    ("neutral:0.5", "neutral"),
])
def test_parse_emotion_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_emotion(spec)


def test_emotion_label():
    assert emotion_label(one_hot("happy", 0.8)) == "happy:0.80"
    assert emotion_label(one_hot("sad", 0.3) + one_hot("calm", 0.5)) == "calm:0.50"
    assert emotion_label(np.zeros(8)) == "neutral"
    assert emotion_label([0.4, 0.4, 0, 0, 0, 0, 0, 0]) == "happy:0.40"  # ties: first in order
    assert np.allclose(parse_emotion(emotion_label(one_hot("afraid", 0.25))), one_hot("afraid", 0.25))
    with pytest.raises(ValueError, match="8"):
        emotion_label([1, 0])


def test_parse_script_tags():
    text = "[happy] Hello there! [sad:0.6] I missed you."
    spans = parse_script(text, "calm")
    assert [s.text for s in spans] == ["Hello there!", "I missed you."]
    assert np.allclose(spans[0].emotion, one_hot("happy"))
    assert np.allclose(spans[1].emotion, one_hot("sad", 0.6))
    for s in spans:
        assert isinstance(s, ScriptSpan) and text[s.char_start:s.char_end] == s.text
        assert s.emotion.dtype == np.float32


def test_parse_script_default_and_no_tags():
    spans = parse_script("Before the tag. [ANGRY : 1] After.", "calm:0.5")
    assert [s.text for s in spans] == ["Before the tag.", "After."]
    assert np.allclose(spans[0].emotion, one_hot("calm", 0.5))
    assert np.allclose(spans[1].emotion, one_hot("angry"))
    plain = parse_script("  Just words.  ", "happy:0.3")
    assert len(plain) == 1 and plain[0].text == "Just words." and plain[0].char_start == 2
    assert np.allclose(plain[0].emotion, one_hot("happy", 0.3))
    assert np.allclose(parse_script("Hi.", None)[0].emotion, 0)
    # spans do not share one array: editing one leaves the others alone
    a, b = parse_script("One. [calm] Two. [calm] Three.", "calm")[1:]
    a.emotion[0] = 1
    assert b.emotion[0] == 0


def test_parse_script_drops_empty_spans_and_keeps_literal_brackets():
    spans = parse_script("[happy] [sad] ... [calm] See note [1] and [see this]. [angry] !?", None)
    assert [s.text for s in spans] == ["See note [1] and [see this]."]
    assert np.allclose(spans[0].emotion, one_hot("calm"))
    spans = parse_script("[neutral] Plain. [happy] Glad.", "sad")
    assert np.allclose(spans[0].emotion, 0) and np.allclose(spans[1].emotion, one_hot("happy"))


@pytest.mark.parametrize("text,match", [
    ("[hapy] Hello", r"bad emotion tag '\[hapy\]' at character 0.*valid names"),
    ("Hi [laughs] there", r"'\[laughs\]' at character 3"),
    ("[happy:2] Hello", "outside 0..1"),
    ("[happy:x] Hello", "not a number"),
    ("[happy] [sad:0.5]", "no speakable text"),
    ("   ", "no speakable text"),
    ("[calm] ... !!", "no speakable text"),
])
def test_parse_script_errors(text, match):
    with pytest.raises(ValueError, match=match):
        parse_script(text, None)


def test_parse_script_bad_default():
    with pytest.raises(ValueError, match="unknown emotion"):
        parse_script("Hello", "grumpy")
    with pytest.raises(ValueError, match="text"):
        parse_script(None, "calm")


def test_strip_tags():
    assert strip_tags("[happy] Hello there! [sad:0.6] I missed you.") == "Hello there! I missed you."
    assert strip_tags("No[calm]space") == "No space"
    assert strip_tags("Keep [1] brackets\n\nand  lines") == "Keep [1] brackets and lines"
    with pytest.raises(ValueError, match="hapy"):
        strip_tags("[hapy] x")
