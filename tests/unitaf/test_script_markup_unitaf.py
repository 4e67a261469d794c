"""The UniTAF engine reads the same parsed script as the embedded one (issue 19, item 6): a
<break> is that much silence between segments (also at the start and the end), and what the
model cannot do (<prosody>, <emphasis>) or must not read is refused before anything loads."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from unitaf_blender.engines import EngineError, GenerateRequest
from unitaf_blender.engines.unitaf import model_set as ms
from unitaf_blender.engines.unitaf import pipeline as pl
from unitaf_blender.engines.unitaf import voice as vc
from unitaf_blender.engines.unitaf.engine import UniTAFEngine
from unitaf_blender.engines.unitaf.generate import SamplingConfig
from unitaf_blender.engines.unitaf.options import SynthesisOptions
from unitaf_blender.engines.unitaf.store import ModelStore
from unitaf_tiny_models import SPEAKER, tiny_model_dir

SR = 22050


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return ms.load_models(ModelStore(model_dir=tiny_model_dir()))


def test_breaks_are_the_silences_between_segments(models):
    script = '<speak><break time="500ms"/>Hello there. <break time="1s"/> Goodbye now.<break time="250ms"/></speak>'
    segments = models.text.script_segments(script, None)
    assert [s.pause_before for s in segments] == [0.5, 1.0] and segments[-1].pause_after == 0.25
    options = SynthesisOptions(sampling=SamplingConfig(num_beams=1, min_new_tokens=20, max_new_tokens=20),
                                  diffusion_steps=1)
    r = pl.synthesize(models, segments, vc.analyse_voice(models, SPEAKER), options)
    first, second = r.segments
    assert first.start == int(0.5 * SR)                                  # the leading break
    assert second.start - (first.start + len(first.audio)) == SR          # exactly the break, not the 200 ms gap
    assert len(r.audio) == second.start + len(second.audio) + int(0.25 * SR)
    assert np.all(r.audio[:first.start] == 0) and np.all(r.audio[first.start + len(first.audio):second.start] == 0)
    assert r.face_owner[0] == -1 and r.face_owner[-1] == -1             # the face rests in the pauses


@pytest.mark.parametrize("text, needle", [
    ('I am <emphasis>really</emphasis> sure.', "cannot change the speaking rate, pitch or emphasis"),
    ('<prosody rate="slow">Slowly.</prosody>', "at character 21 is inside <prosody> or <emphasis>"),
    ("[happy Hello", "'[' at character 0 is never closed"),
    ("\x1b[31mRed", "U+001B"),
    ('<speak>Hi <say-as interpret-as="date">1/2</say-as></speak>', "unsupported SSML element <say-as>"),
])
def test_refused_before_anything_loads(tmp_path, text, needle):
    request = GenerateRequest(text=text, options={"cache_dir": str(tmp_path / "empty")})
    with pytest.raises(EngineError) as caught:   # not ModelsMissing: the script comes first
        UniTAFEngine().check(request)
    assert needle in str(caught.value) and "model file" not in str(caught.value)


def test_an_explicit_language_is_obeyed_or_refused(tmp_path):
    """Issue 19, item 7: the model reads Chinese or English; another language is refused, not ignored."""
    options = {"cache_dir": str(tmp_path / "empty")}
    for text, language in (("Hello there.", "de"), ("Hello there.", "zh"), ("你好，今天天气很好。", "en-us")):
        with pytest.raises(EngineError, match=f"cannot speak this text in the language '{language}'"):
            UniTAFEngine().check(GenerateRequest(text=text, language=language, options=options))
    for text, language in (("Hello there.", "en-us"), ("你好，今天天气很好。", "cmn")):
        with pytest.raises(EngineError, match="model file"):   # accepted: only the missing weights stop it
            UniTAFEngine().check(GenerateRequest(text=text, language=language, options=options))
