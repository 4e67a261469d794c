"""Text the voice must not read aloud (issue 19, item 6): malformed tags, control characters and
markup are refused with their position; the documented SSML subset becomes pauses and voicing."""
import numpy as np
import pytest

from unitaf_blender.core.emotion import auto_tagged, parse_script, strip_tags
from unitaf_blender.core.markup import MAX_BREAK_S, PLAIN, Voicing, read_markup


@pytest.mark.parametrize("script, needle", [
    ("[happy Hello", "the '[' at character 0 is never closed"),
    ("Hi. [happy [sad] ]", "a '[' at character 11 inside the bracket opened at character 4: brackets do not nest"),
    ("Hello ] there", "a ']' at character 6 closes no '['"),
    ("Fine [sad", "the '[' at character 5 is never closed"),
    ("\x1b[31mRed alert\x1b[0m", "control character U+001B (ESC, as in an ANSI colour code) at character 0"),
    ("Bell\x07 here", "U+0007 (BEL) at character 4"),
    ("<speak>Hello <say-as interpret-as='date'>1/2</say-as></speak>", "unsupported SSML element <say-as>"
                                                                    " (read: <speak>, <break>, <emphasis>, "
                                                                    "<prosody rate pitch>) at character 13"),
    ("<speak>Hi <voice name='x'>there</voice></speak>", "<voice> (read:"),
    ("<prosody volume='loud'>Hi</prosody>", "unsupported attribute 'volume' of <prosody>"),
    ("<speak>Tom & Jerry</speak>", "malformed at character 12: not well-formed"),   # just after the &
    ("<speak>Hello", "malformed at the end of the script"),
    ("Hi <emphasis>there", "malformed at the end of the script"),
    ("<break time='20s'/>Hi", f"longer than {MAX_BREAK_S:g} s at character 0"),
    ("<break time='soon'/>Hi", "is not a time like"),
    ("<break strength='huge'/>Hi", "strength='huge'> is not one of"),
    ("<break>x</break>Hi", "<break> holds text"),
    ("<emphasis level='loud'>Hi</emphasis>", "<emphasis level='loud'> is not one of"),
    ("<prosody rate='400%'>Hi</prosody>", "factor of 4.00, outside 0.5..2"),
    ("<prosody rate='warp'>Hi</prosody>", "rate='warp'> is not a value"),
    ("<prosody rate='slow'><prosody rate='x-slow'>Hi</prosody></prosody>", "multiply to rate 0.48"),
    ("<speak>Hi <speak>there</speak></speak>", "<speak> must be the outermost element at character 10"),
    ("Hi <?pi stuff?> there", "processing instruction"),
])
def test_refused_with_the_position(script, needle):
    with pytest.raises(ValueError) as caught:
        parse_script(script)
    assert needle in str(caught.value), str(caught.value)


def test_the_ssml_example_of_the_issue_is_a_pause_not_words():
    script = '<speak>Hello <break time="2s"/> there</speak>'
    spans = parse_script(script, "calm:0.5")
    assert [s.text for s in spans] == ["Hello", "there"]
    assert spans[0].pause_before is None and spans[1].pause_before == 2.0
    assert script[spans[1].char_start:spans[1].char_end] == "there"
    assert strip_tags(script) == "Hello there"


def test_breaks_strengths_and_edges():
    spans = parse_script("<break time='500ms'/>One.<break strength='strong'/><break/>Two.<break time='1.5s'/>")
    assert [s.text for s in spans] == ["One.", "Two."]
    assert spans[0].pause_before == 0.5                  # a leading pause
    assert spans[1].pause_before == pytest.approx(0.75 + 0.5)   # strong + medium (the default)
    assert spans[1].pause_after == 1.5 and spans[0].pause_after == 0.0
    assert parse_script("A<break strength='none'/>B")[1].pause_before == 0.0


def test_emphasis_and_prosody_change_the_voicing_only_where_they_are():
    spans = parse_script("I am <emphasis level='strong'>really</emphasis> sure. "
                         "<prosody rate='slow' pitch='-2st'>[sad] Slowly <prosody rate='80%'>now</prosody>.</prosody>")
    assert [s.text for s in spans] == ["I am", "really", "sure.", "Slowly", "now"]   # the lone "." says nothing
    plain, strong, after, slow, slower = spans
    assert plain.voicing == PLAIN and after.voicing == PLAIN
    assert strong.voicing.rate < 1 and strong.voicing.pitch > 1 and strong.voicing.loudness > 1
    assert strong.joined and after.joined and not plain.joined   # mid-sentence: no sentence pause
    assert slow.voicing.rate == pytest.approx(0.8) and slow.voicing.pitch == pytest.approx(2 ** (-2 / 12))
    assert slower.voicing.rate == pytest.approx(0.8 * 0.8)     # nested prosody multiplies
    assert not slow.joined                                     # the emotion tag starts a new span
    assert np.argmax(slow.emotion) == 2 and np.argmax(slower.emotion) == 2   # [sad] holds inside


@pytest.mark.parametrize("value, factor", [("x-slow", 0.6), ("fast", 1.25), ("+10%", 1.1), ("-20%", 0.8),
                                           ("150%", 1.5), ("1.2", 1.2), ("medium", 1.0)])
def test_rate_values(value, factor):
    assert parse_script(f"<prosody rate='{value}'>Hi</prosody>")[0].voicing.rate == pytest.approx(factor)


def test_entities_declaration_and_plain_text_stay_words():
    script = '<?xml version="1.0"?><speak>Tom &amp; Jerry &lt;3</speak>'
    assert [s.text for s in parse_script(script)] == ["Tom & Jerry <3"]
    # no tag-like '<': the script is plain text, & and < stay as written
    assert [s.text for s in parse_script("Tom & Jerry: 3 < 4 and 5 > 2.")] == ["Tom & Jerry: 3 < 4 and 5 > 2."]
    assert read_markup("Plain [happy] words.")[0].voicing == Voicing()


def test_literal_brackets_and_tags_inside_markup():
    spans = parse_script("<speak>See note [1]. <emphasis>[happy] Great!</emphasis></speak>", None)
    assert [s.text for s in spans] == ["See note [1].", "Great!"]
    assert np.argmax(spans[1].emotion) == 0 and spans[1].voicing.rate < 1


def test_auto_emotion_reads_the_words_and_never_tags_inside_markup():
    script = "<speak>Hi there. I won &amp; lost. <break time='1.5s'/> Bye.</speak>"
    seen = []

    def infer(sentence):
        seen.append(sentence)
        return [0.9 if "won" in sentence else 0.0, 0, 0, 0, 0, 0, 0, 0.5]
    tagged, _ = auto_tagged(script, infer)
    assert seen == ["Hi there.", "I won & lost.", "Bye."]
    spans = parse_script(tagged)             # still valid markup, the break still a pause
    assert [s.text for s in spans] == ["Hi there.", "I won & lost.", "Bye."]
    assert spans[2].pause_before == 1.5 and spans[1].emotion[0] > 0


def test_auto_emotion_hands_every_sentence_to_prefetch_before_asking_any():
    script = "<speak>Hi there. I won &amp; lost.</speak> [sad] Not this one."
    calls = []
    auto_tagged(script, lambda s: calls.append(("infer", s)) or [0.0] * 8,
                prefetch=lambda batch: calls.append(("prefetch", batch)))
    assert calls == [("prefetch", ["Hi there.", "I won & lost."]), ("infer", "Hi there."), ("infer", "I won & lost.")]
