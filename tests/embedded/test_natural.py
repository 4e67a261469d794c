"""The natural voice (hibari-tts) in the embedded engine: the duration output, a timeline on the
audio's own clock, emotion in the predicted parameters, voice characters and voice ids."""
import json
import os

import numpy as np
import pytest
from helpers import f0_yin, rms, spectral_centroid

from shared_paths import ROOT
from unitaf_blender.engines import EngineError, GenerateRequest, LipsyncRequest
from unitaf_blender.engines.embedded import natural, onnx_outputs, voice_catalog
from unitaf_blender.engines.embedded.engine import EmbeddedEngine
from unitaf_blender.engines.embedded.misaki_phonemes import MISAKI_TO_ESPEAK, MODIFIERS
from unitaf_blender.engines.embedded.speech import synthesize_script
from unitaf_blender.engines.embedded.visemes import PHONEME_VISEMES, split_stress
from unitaf_blender.engines.embedded.voice_catalog import VoiceIdError, parse_voice
from unitaf_blender.engines.embedded.voice_edit import VoiceEdit, edit_f0, warp_envelope

pytest.importorskip("onnxruntime")
hibari = pytest.importorskip("hibari")

LINE = "The weather was lovely, and we walked along the river for hours. Nobody wanted to go home."
HARVARD = ("The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
           "It's easy to tell the depth of a well. These days a chicken leg is a rare dish. "
           "Rice is often served in round bowls. The juice of lemons makes fine punch. "
           "The box was thrown beside the parked truck. Four hours of steady work faced us.")


@pytest.fixture(scope="module")
def engine():
    return EmbeddedEngine()


def speak(text=LINE, emotion="neutral", voice="hibari:heart"):
    return synthesize_script(text, emotion, voice=voice)


# --- the duration output ---------------------------------------------------------------------

def test_duration_output_is_found_by_op_type_and_sums_to_the_frames():
    raw = open(natural.bundled_model_path(), "rb").read()
    assert len(onnx_outputs.node_inputs(raw, "CumSum")) == 1
    model, name = onnx_outputs.with_duration_output(raw)
    assert model.startswith(raw) and len(model) > len(raw)       # appended: the original bytes are kept
    m = natural.load_model(natural.bundled_model_path())
    assert m.duration_name == name and m.outputs[-1] == name
    for text in ("Hello there.", LINE):
        chars, _, _ = natural._chunks(m, text)[0]
        ids = [natural.PAD_ID, *(m.vocab[c] for c in chars), natural.PAD_ID]
        params, durations = m.run(ids, 1.0)
        assert durations.shape == (len(ids),) and durations.min() >= 1
        assert durations.sum() * natural.DURATION_UNIT == params["lh"].shape[1] * 300


def test_the_edit_refuses_what_is_not_the_expected_graph():
    from unitaf_blender.core.protobuf_wire import length_field
    node = length_field(1, b"x") + length_field(2, b"y") + length_field(4, b"Add")
    no_cumsum = length_field(7, length_field(1, node))
    assert onnx_outputs.node_inputs(no_cumsum, "Add") == [["x"]]
    with pytest.raises(onnx_outputs.OnnxEditError, match="one CumSum node"):
        onnx_outputs.with_duration_output(no_cumsum)
    with pytest.raises(onnx_outputs.OnnxEditError, match="not an ONNX model"):
        onnx_outputs.node_inputs(b"\x3a\xff\xff\xff\x0f", "CumSum")


# --- the timeline ----------------------------------------------------------------------------

def test_timeline_covers_the_audio_exactly_and_reads_as_visemes():
    s = speak(LINE + " " + LINE + " [sad] " + LINE)
    ph = s.phonemes
    assert s.sample_rate == natural.NATURAL_RATE
    assert ph[0].start == 0.0 and ph[-1].end == len(s.audio) / s.sample_rate   # the last sample
    for a, b in zip(ph, ph[1:]):
        assert a.end == b.start and b.end > b.start
    for p in ph:                 # every label is an espeak mnemonic the face knows
        assert split_stress(p.label)[0] in PHONEME_VISEMES, p.label
    assert any(p.label.startswith("'") for p in ph)                  # primary stress reaches the face
    words = [w.label for w in s.words]
    assert words[:6] == ["The", "weather", "was", "lovely", "and", "we"] and len(words) == 3 * 17
    for w in s.words:
        assert 0 <= w.start < w.end <= s.duration


def test_a_sentence_longer_than_the_model_reads_is_cut_after_a_clause():
    m = natural.load_model(natural.bundled_model_path())
    long = ", ".join(["the keeper climbed the narrow stairs every evening to light the lamp"] * 8) + "."
    chunks = natural._chunks(m, long)
    assert len(chunks) > 1 and all(len(chars) <= m.max_phonemes for chars, _, _ in chunks)
    assert all(chars[-1] == "," for chars, _, _ in chunks[:-1])
    assert len(natural._chunks(m, LINE)) == 1                       # a normal sentence stays whole
    s = speak(long)
    assert s.phonemes[-1].end == len(s.audio) / s.sample_rate and len(s.words) == 8 * 12


def test_every_misaki_symbol_of_the_vocabulary_has_a_mouth():
    vocab = json.load(open(os.path.join(os.path.dirname(hibari.__file__), "assets", "vocab.json"), encoding="utf-8"))
    handled = set(MISAKI_TO_ESPEAK) | set(';:,.!?—…"()“” ˈˌ') | MODIFIERS
    assert {c for c in vocab if c.isalpha() or c in "ʔɾ"} - handled == set()
    for label in MISAKI_TO_ESPEAK.values():
        assert label in PHONEME_VISEMES, label


def test_the_forced_aligner_finds_every_word_near_the_models_own_timeline(engine):
    """Done-when of the natural voice: the embedded aligner (transcript = the text) finds every
    word of a hibari take, its onsets within a median 40 ms of the model's word timeline, and
    the error does not grow along the take (one clock)."""
    take = engine.generate(GenerateRequest(text=HARVARD))
    assert take.meta["voice"] == "hibari:heart"
    aligned = engine.lipsync(LipsyncRequest(audio=take.audio, sample_rate=take.sample_rate, transcript=HARVARD))
    assert [w.label for w in aligned.words] == [w.label for w in take.words]
    error = np.array([a.start - m.start for a, m in zip(aligned.words, take.words)])
    assert np.median(np.abs(error)) <= 0.040, np.round(error * 1000)
    half = len(error) // 2
    assert abs(np.median(error[half:]) - np.median(error[:half])) <= 0.025     # no drift


def test_same_text_same_samples_whatever_else_ran():
    a = speak("Hello there.", "happy")
    speak("Something else.", "angry", voice="hibari:heart+deep")
    b = speak("Hello there.", "happy")
    np.testing.assert_array_equal(a.audio, b.audio)
    assert a.phonemes == b.phonemes


# --- emotion in the voice --------------------------------------------------------------------

@pytest.fixture(scope="module")
def takes():
    return {e: speak(LINE, e) for e in ("neutral", "happy", "sad", "angry", "calm")}


def test_happy_is_higher_and_sad_lower_than_neutral(takes):
    f0 = {e: f0_yin(s.audio, s.sample_rate) for e, s in takes.items()}
    assert f0["happy"] >= 1.08 * f0["neutral"], f0
    assert f0["sad"] <= 0.95 * f0["neutral"], f0


def test_angry_is_louder_than_calm_and_sad_slower(takes):
    assert rms(takes["angry"].audio) > 1.2 * rms(takes["calm"].audio)
    assert takes["sad"].duration > 1.15 * takes["neutral"].duration
    for s in takes.values():
        assert np.abs(s.audio).max() <= 0.98 + 1e-6


def test_inline_tags_change_the_pitch_at_the_tag():
    s = speak("[happy] " + LINE + " [sad] " + LINE)
    a, b = s.spans
    sr = s.sample_rate
    happy = s.audio[int(a.start * sr):int(a.end * sr)]
    sad = s.audio[int(b.start * sr):int(b.end * sr)]
    assert f0_yin(happy, sr) > 1.2 * f0_yin(sad, sr)


def test_f0_edits_level_range_and_declination():
    f0 = np.array([0, 200, 220, 180, 0, 210, 190, 0], np.float32)
    voiced = f0 > 0
    up = edit_f0(f0, pitch=1.2)
    np.testing.assert_allclose(up[voiced], 1.2 * f0[voiced], rtol=1e-5)
    assert (up[~voiced] == 0).all()
    flat = edit_f0(f0, pitch_range=0.0)
    assert np.ptp(flat[voiced]) < 1e-3
    falling = edit_f0(np.where(voiced, 200, 0).astype(np.float32), declination=12.0)
    assert falling[1] == pytest.approx(2 * falling[6], rel=1e-4)          # one octave over the sentence


# --- a cast from one model -------------------------------------------------------------------

def test_the_two_dialogue_characters_sound_different():
    cast = json.load(open(ROOT / "examples" / "dialogue.json", encoding="utf-8"))["characters"]
    ada, bob = cast["Ada"]["voice"], cast["Bob"]["voice"]
    assert parse_voice(ada).backend == parse_voice(bob).backend == "hibari"   # both offline, one model
    a, b = speak(LINE, "calm:0.5", voice=ada), speak(LINE, "calm:0.5", voice=bob)
    fa, fb = f0_yin(a.audio, a.sample_rate), f0_yin(b.audio, b.sample_rate)
    assert max(fa, fb) >= 1.25 * min(fa, fb), (fa, fb)
    ca, cb = spectral_centroid(a.audio, a.sample_rate), spectral_centroid(b.audio, b.sample_rate)
    assert abs(ca - cb) >= 0.08 * max(ca, cb), (ca, cb)


def test_the_envelope_warp_alone_moves_the_spectrum_not_the_pitch(monkeypatch):
    monkeypatch.setitem(voice_catalog.CHARACTERS, "longer", ("test", VoiceEdit(formant=0.85)))
    plain, longer = speak(LINE), speak(LINE, voice="hibari:heart+longer")
    f_plain, f_longer = f0_yin(plain.audio, plain.sample_rate), f0_yin(longer.audio, longer.sample_rate)
    assert abs(f_longer / f_plain - 1) < 0.04
    assert spectral_centroid(longer.audio, 24000) < 0.92 * spectral_centroid(plain.audio, 24000)
    part = np.arange(601, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    warped = warp_envelope(part, 0.5)          # bin k takes bin k / 0.5: a feature at bin 200 moves to 100
    assert warped[100, 0] == pytest.approx(200) and warped[-1, 0] == pytest.approx(600)


# --- voice ids --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, backend, name, character, canonical", [
    ("hibari:heart", "hibari", "heart", None, "hibari:heart"),
    ("HIBARI:Heart+Deep", "hibari", "heart", "deep", "hibari:heart+deep"),
    ("espeak:en-us+f3", "espeak", "en-us+f3", None, "espeak:en-us+f3"),
    ("en-us+f3", "espeak", "en-us+f3", None, "espeak:en-us+f3"),      # today's ids
    ("cmn", "espeak", "cmn", None, "espeak:cmn"),
])
def test_voice_ids(text, backend, name, character, canonical):
    v = parse_voice(text)
    assert (v.backend, v.name, v.character, str(v)) == (backend, name, character, canonical)


@pytest.mark.parametrize("text, match", [
    ("hibari:bob", "Unknown natural voice 'bob'.*heart"),
    ("hibari:heart+giant", "Unknown voice character 'giant'.*deep"),
    ("piper:joe", "Unknown voice kind 'piper'"),
])
def test_bad_voice_ids_are_clear(engine, text, match):
    with pytest.raises(VoiceIdError, match=match):
        parse_voice(text)
    with pytest.raises(EngineError, match=match):
        engine.check(GenerateRequest(text="Hello.", voice=text))


def test_explicit_espeak_and_natural_voices_reach_the_take(engine):
    for voice, meta in (("espeak:en-us", "espeak:en-us"), ("en-us+f3", "espeak:en-us+f3"),
                        ("hibari:heart+deep", "hibari:heart+deep")):
        p = engine.generate(GenerateRequest(text="Hello there.", voice=voice))
        assert p.meta["voice"] == meta and p.meta["language"] == "en-us"


def test_without_onnxruntime_english_falls_back_to_espeak(engine, monkeypatch):
    monkeypatch.setattr(natural, "available", lambda: (False, "ImportError: no onnxruntime"))
    c = engine.check(GenerateRequest(text="Hello there."))
    assert c.request.voice is None and c.request.language == "en-us"
    assert c.notes and "natural voice cannot run here" in c.notes[0] and "espeak-ng 'en-us'" in c.notes[0]
    with pytest.raises(EngineError, match="cannot run here.*espeak:en-us"):
        engine.check(GenerateRequest(text="Hello there.", voice="hibari:heart"))


def test_catalogue_matches_the_pinned_wheels_registry():
    from hibari.voices import VOICES
    for spec in voice_catalog.DOWNLOADABLE:
        (name,) = spec.features
        entry = VOICES[name]
        assert spec.filename == "voices/" + entry["file"] and spec.size == entry["bytes"]
        assert spec.sha256 == entry["sha256"] and not entry["bundled"]
        assert voice_catalog.NATURAL[name].british == entry["british"]
    assert VOICES["heart"]["bundled"] and voice_catalog.NATURAL["heart"].bundled
    assert set(VOICES) == set(voice_catalog.NATURAL)


def test_the_voice_runs_with_onnxruntimes_telemetry_off_and_leaves_no_file(tmp_path):
    """onnxruntime's POSIX builds upload usage telemetry and keep a device id in the temp folder
    (`.ses`) unless ORT_DISABLE_TELEMETRY is set before it loads: a take goes nowhere online
    and leaves nothing behind."""
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != natural.TELEMETRY_OFF[0]}
    env.update(TMPDIR=str(tmp_path), PYTHONPATH=str(ROOT))
    code = ("import os\n"
            "from unitaf_blender.engines import GenerateRequest\n"
            "from unitaf_blender.engines.embedded.engine import EmbeddedEngine\n"
            "perf = EmbeddedEngine().generate(GenerateRequest(text='Hello there.'))\n"
            "assert perf.meta['voice'] == 'hibari:heart', perf.meta['voice']\n"
            f"print(os.environ.get({natural.TELEMETRY_OFF[0]!r}))\n")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == natural.TELEMETRY_OFF[1]
    assert os.listdir(tmp_path) == []
