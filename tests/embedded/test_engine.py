"""EmbeddedEngine end to end: text -> Performance (speech + face from one timeline)."""
import threading

import numpy as np
import pytest

from unitaf_blender.core.performance import EMOTIONS, Performance
from unitaf_blender.engines import Cancelled, EngineError, GenerateRequest, get_engine
from unitaf_blender.engines.embedded.engine import EmbeddedEngine

TEXT = "Hello there! It is so good to see you again after all this time."


@pytest.fixture(scope="module")
def engine():
    return EmbeddedEngine()


def gen(engine, text=TEXT, **kw):
    return engine.generate(GenerateRequest(text=text, **kw))


def test_registered_as_default_and_available():
    eng = get_engine("embedded")
    assert isinstance(eng, EmbeddedEngine) and eng.id == "embedded"
    ok, why = eng.available()
    assert ok and "espeak-ng 1.52" in why


def test_voices_put_natural_english_first(engine):
    voices = engine.voices()
    ids = [v for v, _ in voices]
    assert ids[0] == "hibari:heart" and "hibari:heart+deep" in ids and "hibari:emma" in ids
    first_espeak = next(i for i, v in enumerate(ids) if v.startswith("espeak:"))
    assert all(v.startswith("hibari:") for v in ids[:first_espeak])
    assert ids[first_espeak] == "espeak:en-us" and "espeak:en-us+f3" in ids and "espeak:en" in ids
    assert "espeak:de" in ids
    assert len(ids) == len(set(ids))
    assert all(label for _, label in voices)


@pytest.mark.parametrize("voice, meta_voice, rate, version", [
    (None, "hibari:heart", 24000, "hibari-tts 0.2.1"),          # English default: the natural voice
    ("en-us", "espeak:en-us", 22050, "espeak-ng 1.52"),         # today's espeak ids still work
    ("espeak:en-us", "espeak:en-us", 22050, "espeak-ng 1.52"),
])
def test_generate_returns_a_complete_performance(engine, voice, meta_voice, rate, version):
    p = gen(engine, emotion="happy:0.8", seed=3, voice=voice)
    assert isinstance(p, Performance)
    assert p.fps == 30.0 and p.sample_rate == rate
    assert p.audio_seconds > 2.0
    assert abs(p.n_frames / p.fps - p.audio_seconds) <= 1.0 / p.fps      # covers the audio ±1 frame
    assert p.weights.shape == (p.n_frames, len(p.channels))
    assert np.isfinite(p.weights).all()
    assert p.phonemes[0].start == 0 and p.phonemes[-1].end == p.audio_seconds
    assert [w.label for w in p.words][:2] == ["Hello", "there"]
    assert p.emotion_vectors.shape == (2, 8)
    assert p.emotion_vectors[0, EMOTIONS.index("happy")] == pytest.approx(0.8)
    assert p.meta["engine"] == "embedded" and p.meta["text"] == TEXT
    assert p.meta["emotion"] == "happy:0.80" and p.meta["seed"] == 3
    assert p.meta["voice"] == meta_voice and p.meta["language"] == "en-us"
    assert version in p.meta["engine_version"]
    jaw = p.channel("jawOpen")
    assert jaw.max() > 0.2 and jaw.std() > 0.03                            # the mouth moves


def test_custom_fps(engine):
    p = engine.generate(GenerateRequest(text=TEXT, options={"fps": 24}))
    assert p.fps == 24 and abs(p.n_frames / 24 - p.audio_seconds) <= 1 / 24


def test_mouth_closes_on_bilabials_and_opens_on_vowels(engine):
    p = gen(engine, "Bob may pay Papa. Ah, ah, ah.")
    t = np.arange(p.n_frames) / p.fps
    jaw = p.channel("jawOpen")

    def mean_jaw(labels):
        mids = [0.5 * (ph.start + ph.end) for ph in p.phonemes if ph.label.lstrip("',") in labels]
        return float(np.mean(np.interp(mids, t, jaw)))

    assert mean_jaw({"a", "A:", "aa"}) > 2 * mean_jaw({"b", "p", "m"})


def test_inline_tags_change_voice_and_face_at_the_tag(engine):
    p = gen(engine, "[happy] What a wonderful surprise, I am so glad you came! "
                    "[sad] But now you have to leave again, and I will be alone.")
    spans = p.meta["spans"]
    assert [s["emotion"] for s in spans] == ["happy:1.00", "sad:1.00"]
    a, b = spans
    assert b["start"] > a["end"]
    t = np.arange(p.n_frames) / p.fps
    in_a = (t > a["start"] + 0.3) & (t < a["end"])
    in_b = (t > b["start"] + 0.3) & (t < b["end"])
    smile = p.channel("mouthSmileLeft") + p.channel("mouthSmileRight")
    sad_face = p.channel("browInnerUp") + p.channel("mouthFrownLeft") + p.channel("mouthFrownRight")
    assert smile[in_a].mean() > smile[in_b].mean() + 0.1
    assert sad_face[in_b].mean() > sad_face[in_a].mean() + 0.1
    # the emotion timeline stored in the Performance switches between the spans
    happy, sad = EMOTIONS.index("happy"), EMOTIONS.index("sad")
    assert np.interp(a["end"], p.emotion_times, p.emotion_vectors[:, happy]) == 1
    assert np.interp(b["start"], p.emotion_times, p.emotion_vectors[:, sad]) == 1


def test_same_seed_same_result_other_seed_other_face(engine):
    a = gen(engine, seed=7)
    gen(engine, "Something else in between.", emotion="angry", voice="en-us+f3")
    b = gen(engine, seed=7)
    c = gen(engine, seed=8)
    np.testing.assert_array_equal(a.audio, b.audio)
    np.testing.assert_array_equal(a.weights, b.weights)
    assert a.phonemes == b.phonemes
    np.testing.assert_array_equal(a.audio, c.audio)        # speech does not depend on the seed
    assert not np.array_equal(a.weights, c.weights)        # idle motion (blinks, gaze) does


def test_progress_stages_and_cancel(engine):
    stages = []
    gen_req = GenerateRequest(text=TEXT)
    engine.generate(gen_req, progress=lambda f, s: stages.append((f, s)))
    assert [s for _, s in stages][:2] == ["speech", "face"]
    assert [f for f, _ in stages] == sorted(f for f, _ in stages)

    ev = threading.Event()

    def cancel_at_face(fraction, stage):
        if stage == "face":
            ev.set()

    with pytest.raises(Cancelled):
        engine.generate(gen_req, progress=cancel_at_face, cancel=ev)
    ev2 = threading.Event()
    ev2.set()
    with pytest.raises(Cancelled):
        engine.generate(gen_req, cancel=ev2)


@pytest.mark.parametrize("kw, match", [
    (dict(text=""), "empty"),
    (dict(text="  ...!?  "), "speakable"),
    (dict(text="[happy] [sad:0.3]"), "speakable"),
    (dict(text="🎉🎉🎉"), "speakable"),
    (dict(text="Hello. " * 7200), "20,000"),
    (dict(text="[joyful] Hello."), "joyful"),
    (dict(text="Hello.", emotion="joyful"), "joyful"),
    (dict(text="Hello.", language="xx-klingon"), "voices()"),
    (dict(text="Hello.", voice="en-us+nope"), "variant"),
    (dict(text="Hello.", voice="/home/me/prompt.wav"), "recorded voice"),
])
def test_bad_input_is_a_clear_engine_error(engine, kw, match):
    with pytest.raises(EngineError, match=match):
        engine.generate(GenerateRequest(**kw))


def test_emoji_are_ignored(engine):
    p = gen(engine, "Great news 🎉 we won 🏆!")
    assert [w.label for w in p.words] == ["Great", "news", "we", "won"]


def test_other_language(engine):
    p = gen(engine, "Guten Morgen, wie geht es dir?", language="de")
    assert p.meta["language"] == "de" and p.audio_seconds > 1
    assert abs(p.n_frames / p.fps - p.audio_seconds) <= 1 / p.fps


def test_save_and_load_round_trip(engine, tmp_path):
    p = gen(engine, "[calm] Take a breath. [surprised:0.7] Oh! Look at that!")
    npz, wav = p.save(str(tmp_path / "take1.npz"))
    q = Performance.load(npz)
    np.testing.assert_allclose(q.weights, p.weights)
    assert [x.label for x in q.phonemes] == [x.label for x in p.phonemes]
    np.testing.assert_allclose(q.emotion_vectors, p.emotion_vectors)
    assert q.meta["spans"][1]["emotion"] == "surprised:0.70"
