"""EmbeddedEngine.check(): every check that needs no speech, and the language picked from the
text's writing system (issue 10, items 1 and 7)."""
import unittest.mock

import pytest

from unitaf_blender.core import emotion
from unitaf_blender.engines import CheckedRequest, EngineError, GenerateRequest
from unitaf_blender.engines.embedded import speech
from unitaf_blender.engines.embedded.engine import EmbeddedEngine

CHINESE = "你好，我很好。今天天气很好。"


@pytest.fixture(scope="module")
def engine():
    return EmbeddedEngine()


def check(engine, text="Hello there.", **kw):
    return engine.check(GenerateRequest(text=text, **kw))


def test_a_good_request_passes_unchanged(engine):
    c = check(engine, emotion="happy:0.5", voice="EN-US+f3", options={"fps": 24})
    assert isinstance(c, CheckedRequest) and c.notes == []
    assert c.request.voice == "en-us+f3" and c.request.options["fps"] == 24.0
    assert c.request.text == "Hello there." and c.request.emotion == "happy:0.5"
    assert check(engine).request.options["fps"] == 30.0


@pytest.mark.parametrize("kw, match", [
    (dict(text=""), "The script is empty"),
    (dict(text="   \n "), "The script is empty"),
    (dict(text="  ...!?  "), "no speakable text"),
    (dict(text="[happy] [sad:0.3]"), "no speakable text"),
    (dict(text="🎉🎉🎉"), "no speakable text"),
    (dict(text="x" * (emotion.MAX_SCRIPT_CHARS + 1)), "20,001 characters"),
    (dict(text="[hapy] Hello."), r"Bad emotion tag '\[hapy\]'.*valid names"),
    (dict(text="[sad:2] Hello."), "outside 0..1"),
    (dict(emotion="joyful"), "Bad emotion: unknown emotion 'joyful'"),
    (dict(language="xx-klingon"), "no voice or language 'xx-klingon'"),
    (dict(voice="en-us+nope"), "variant"),
    (dict(voice="/home/me/prompt.WAV"), "cannot imitate a recorded voice"),
    (dict(options={"fps": 0}), r"between 1 and 1000, got 0"),
    (dict(options={"fps": 1e9}), "between 1 and 1000"),
    (dict(options={"fps": float("nan")}), "between 1 and 1000"),
    (dict(options={"fps": "fast"}), "must be a number"),
])
def test_bad_requests_are_clear_sentences(engine, kw, match):
    kw.setdefault("text", "Hello.")
    with pytest.raises(EngineError, match=match) as e:
        engine.check(GenerateRequest(**kw))
    message = str(e.value)
    assert message[0].isupper() and message.endswith(".")


def test_check_needs_no_speech(engine):
    with unittest.mock.patch("unitaf_blender.engines.embedded.espeak.Espeak.synthesize",
                             side_effect=AssertionError("check must not speak")):
        assert check(engine, CHINESE).request.language == "cmn"
        with pytest.raises(EngineError):
            check(engine, "[hapy] hi")


def test_generate_runs_check_first(engine):
    with unittest.mock.patch("unitaf_blender.engines.embedded.speech.synthesize_script",
                             side_effect=AssertionError("generate spoke before checking")):
        with pytest.raises(EngineError, match="fps"):
            engine.generate(GenerateRequest(text="Hi.", options={"fps": -1}))


def test_speech_uses_the_core_script_limit():
    assert speech.MAX_SCRIPT_CHARS is emotion.MAX_SCRIPT_CHARS


@pytest.mark.parametrize("text, language, label", [
    (CHINESE, "cmn", "Chinese characters"),
    ("こんにちは、げんきですか。", "ja", "Japanese (kana)"),
    ("안녕하세요, 반갑습니다.", "ko", "Korean Hangul"),
    ("Привет, как дела?", "ru", "Cyrillic script"),
    ("Καλημέρα, τι κάνεις;", "el", "Greek script"),
    ("مرحبا، كيف حالك؟", "ar", "Arabic script"),
    ("שלום, מה שלומך?", "he", "Hebrew script"),
    ("नमस्ते, आप कैसे हैं?", "hi", "Devanagari script"),
    ("สวัสดีครับ วันนี้อากาศดี", "th", "Thai script"),
])
def test_default_language_follows_the_writing_system(engine, text, language, label):
    c = check(engine, text)                     # voice None, language the default "en-us"
    assert c.request.language == language and c.request.voice is None
    assert c.notes == [f"The text is written in {label}; speaking it with espeak-ng '{language}'."]
    assert check(engine, text, language=None).request.language == language


def test_chinese_with_the_default_voice_is_spoken_in_mandarin(engine):
    p = engine.generate(GenerateRequest(text=CHINESE))
    assert p.meta["language"] == "cmn" and p.meta["notes"]
    # espeak's Mandarin speaks it (no "(en)" switch to read "Chinese letter" aloud)
    assert not any(ph.label.startswith("(") for ph in p.phonemes)
    assert "".join(w.label for w in p.words) == "你好我很好今天天气很好"


@pytest.mark.parametrize("kw", [dict(voice="en-us"), dict(language="de"), dict(voice="en-us+f3"),
                                dict(language="ja"), dict(language="en-us")])   # en-us too (issue 19)
def test_an_explicit_voice_that_cannot_read_the_text_is_an_error(engine, kw):
    with pytest.raises(EngineError, match=r"Chinese characters.*Use the language 'cmn' \(--language cmn\)"):
        check(engine, CHINESE, **kw)


def test_an_explicit_voice_that_reads_the_text_is_kept(engine):
    assert check(engine, CHINESE, language="yue").request.language == "yue"
    assert check(engine, "Привет, как дела?", voice="uk").request.voice == "uk"
    assert check(engine, "Hello there.", language="ru").request.language == "ru"  # Latin: any voice


def test_mostly_latin_text_is_not_switched_but_noted(engine):
    c = check(engine, "My friend 王小明 says hello to everyone here.", voice="en-us")
    assert c.request.voice == "en-us"
    assert c.notes == ["The text has 3 Chinese letters that 'en-us' cannot read; "
                       "espeak-ng will spell them out."]
    c = check(engine, "My friend 王小明 says hello to everyone here.")     # the natural voice
    assert c.request.language == "en-us" and c.request.voice == "hibari:heart"
    assert c.notes == ["The text has 3 Chinese letters that 'hibari:heart' cannot read; "
                       "the natural voice skips or misreads them."]
    c = check(engine, "Das Café heißt „Zur Linde“.", language="de")   # accents are Latin
    assert c.notes == []


def test_japanese_kanji_are_refused(engine):
    with pytest.raises(EngineError, match="4 kanji.*hiragana"):
        check(engine, "今日はいい天気ですね。")


def test_a_script_espeak_cannot_read_at_all(engine):
    with pytest.raises(EngineError, match="Tibetan script, which no espeak-ng voice can read"):
        check(engine, "བཀྲ་ཤིས་བདེ་ལེགས།")
