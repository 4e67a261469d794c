"""The embedded engine speaks the SSML subset (issue 19, item 6): a <break> is silence on the
timeline, <prosody>/<emphasis> change rate, pitch and loudness of their words only, and no
markup, escape code or malformed tag is ever read aloud."""
import unittest.mock

import numpy as np
import pytest

from unitaf_blender.core.markup import Voicing
from unitaf_blender.engines import EngineError, GenerateRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine
from unitaf_blender.engines.embedded.espeak import Espeak
from unitaf_blender.engines.embedded.prosody import NEUTRAL, with_voicing
from unitaf_blender.engines.embedded.speech import PAUSE, synthesize_script


def _spoken_texts(script):
    """What espeak is asked to read for `script` (every call recorded)."""
    said = []
    real = Espeak.synthesize

    def record(self, text, *args, **kwargs):
        said.append(text)
        return real(self, text, *args, **kwargs)
    with unittest.mock.patch.object(Espeak, "synthesize", record):
        speech = synthesize_script(script)
    return said, speech


def test_a_break_is_silence_and_no_markup_is_read():
    said, speech = _spoken_texts('<speak>Hello <break time="2s"/> there</speak>')
    assert said == ["Hello", "there"]
    assert [w.label for w in speech.words] == ["Hello", "there"]
    hello, there = speech.words
    assert there.start - hello.end >= 2.0 - 0.02
    gap = speech.audio[int((hello.end + 0.05) * speech.sample_rate):int((there.start - 0.05) * speech.sample_rate)]
    assert np.abs(gap).max() == 0.0
    assert any(p.label == PAUSE and p.end - p.start >= 1.9 for p in speech.phonemes)


def test_leading_and_trailing_breaks_become_pauses_on_the_timeline():
    speech = synthesize_script('<break time="1s"/>Hi there.<break time="500ms"/>')
    plain = synthesize_script("Hi there.")
    assert speech.duration == pytest.approx(plain.duration + 1.5, abs=0.01)
    assert speech.words[0].start >= 1.0
    assert speech.phonemes[0].label == PAUSE and speech.phonemes[0].end >= 1.0
    assert speech.phonemes[-1].label == PAUSE and speech.phonemes[-1].end - speech.phonemes[-1].start >= 0.5


def test_prosody_and_emphasis_change_their_words_only():
    plain = synthesize_script("Slow and low words here.")
    slow = synthesize_script('<prosody rate="x-slow" pitch="low">Slow and low words here.</prosody>')
    assert slow.duration > 1.3 * plain.duration
    assert slow.spans[0].prosody.rate < plain.spans[0].prosody.rate
    assert slow.spans[0].prosody.pitch < plain.spans[0].prosody.pitch
    emphasised = synthesize_script('I am <emphasis level="strong">really</emphasis> sure.')
    before, strong, after = emphasised.spans
    assert strong.prosody.rate < before.prosody.rate and strong.prosody.gain > before.prosody.gain
    assert after.prosody == before.prosody
    assert [w.label for w in emphasised.words] == ["I", "am", "really", "sure"]
    assert strong.start - before.end < 0.1          # mid-sentence: a breath, not a sentence pause


def test_voicing_maps_onto_espeak_ranges():
    assert with_voicing(NEUTRAL, Voicing()) == NEUTRAL
    higher = with_voicing(NEUTRAL, Voicing(pitch=1.27))   # 103 Hz -> about 131 Hz: espeak pitch ~75
    assert higher.pitch == pytest.approx(75, abs=1.5)
    extreme = with_voicing(NEUTRAL, Voicing(rate=2.0, pitch=2.0, loudness=1.3))
    assert extreme.rate <= 449 and extreme.pitch == 100.0 and extreme.gain == pytest.approx(1.3)


@pytest.mark.parametrize("text, needle", [
    ("[happy Hello", "the '[' at character 0 is never closed"),
    ("[happy [sad] ]", "brackets do not nest"),
    ("\x1b[31mRed\x1b[0m alert", "U+001B"),
    ("<speak>Hello <audio src='x.wav'/></speak>", "unsupported SSML element <audio>"),
])
def test_check_refuses_what_must_not_be_read(text, needle):
    with unittest.mock.patch.object(Espeak, "synthesize", side_effect=AssertionError("check must not speak")):
        with pytest.raises(EngineError) as caught:
            EmbeddedEngine().check(GenerateRequest(text=text))
    message = str(caught.value)
    assert needle.lower() in message.lower() and message[0].isupper() and message.endswith(".")


def test_generate_keeps_the_words_of_a_marked_up_script():
    perf = EmbeddedEngine().generate(GenerateRequest(
        text='<speak>[happy] Hello <break time="1s"/> <prosody rate="slow">there</prosody>!</speak>'))
    assert [w.label for w in perf.words] == ["Hello", "there"]
    assert perf.words[1].start - perf.words[0].end >= 0.98
