"""The paper's ground-truth-token path for a RECORDED line (engines/unitaf/lipsync.py) with the tiny
parity weights: a real recording (LJ001-0001), its own codec codes teacher-forced through the GPT,
the face on the recording's clock; segments placed at their absolute start; the checks."""
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import LJ, LJ_TEXT, need
from unitaf_blender.core.audio_io import read_wav
from unitaf_blender.core.signal import n_frames_for
from unitaf_blender.engines import Cancelled, EngineError, LipsyncRequest, get_engine
from unitaf_blender.engines.unitaf import lipsync as ls
from unitaf_blender.engines.unitaf import model_set as ms
from unitaf_blender.engines.unitaf import segment_plan as rec
from unitaf_blender.engines.unitaf.audio import resample, resample_hq
from unitaf_blender.engines.unitaf.face import to_performance_channels
from unitaf_blender.engines.unitaf.semantic import semantic_embedding
from unitaf_blender.engines.unitaf.store import ModelStore
from unitaf_tiny_models import SPEAKER, run_fresh_python, tiny_model_dir


@pytest.fixture(scope="module")
def lj():
    audio, sr = read_wav(need(LJ))
    return np.ascontiguousarray(audio, np.float32).reshape(-1), sr


@pytest.fixture(scope="module")
def engine():
    torch.set_num_threads(2)
    return get_engine("unitaf")


@pytest.fixture(scope="module")
def models():
    return ms.load_models(ModelStore(model_dir=tiny_model_dir()))


def request(audio, sr, transcript=LJ_TEXT, **options):
    """fp32 like the `models` fixture: precision=auto is bf16 on CPUs with native bf16, and the
    tests compare the engine's frames with the fixture's."""
    return LipsyncRequest(audio=audio, sample_rate=sr, transcript=transcript, source="LJ001-0001.wav",
                          options={"model_dir": tiny_model_dir(), "device": "cpu", "precision": "fp32", **options})


def test_recorded_line_end_to_end(engine, lj):
    audio, sr = lj
    stages = []
    perf = engine.lipsync(request(audio.copy(), sr), progress=lambda f, s: stages.append(s))
    # the Performance's audio IS the recording: same samples, same rate, same clock
    assert perf.sample_rate == sr and perf.audio.dtype == np.float32
    np.testing.assert_array_equal(perf.audio, audio)
    assert perf.fps == 25.0 and perf.n_frames == n_frames_for(len(audio), sr, 25)
    assert "jawOpen" in perf.channels and "browDownLeft" in perf.channels     # the expression layer
    jaw = perf.weights[:, perf.channels.index("jawOpen")]
    assert np.all(np.isfinite(perf.weights)) and jaw.std() > 1e-4
    meta = perf.meta
    assert meta["engine"] == "unitaf" and meta["mode"] == "ground-truth tokens"
    assert meta["transcript"] == LJ_TEXT and meta["source"] == "LJ001-0001.wav"
    assert perf.phonemes == [] and perf.words == []
    # 9.66 s with a tiny GPT of 250 code positions: cut into segments within the cap, text split to match
    segs = meta["segments"]
    assert len(segs) >= 2 and " ".join(s["text"] for s in segs) == LJ_TEXT
    assert all(s["codes"] <= 248 and s["end"] - s["start"] <= 4.96 + 1e-6 for s in segs)
    assert all(abs(s["codes"] - 50 * (s["end"] - s["start"])) <= 1.5 for s in segs)     # 50 Hz codes
    for stage in ("recording analysis", "GPT latents (segment 1/", "face"):
        assert any(stage in s for s in stages), stage
    assert not any("s2mel" in s or "vocoder" in s for s in stages)      # no synthesis on this path
    neural = engine.lipsync(request(audio, sr, expression_layer=False))
    assert len(neural.channels) == 51 and neural.n_frames == perf.n_frames


def test_codes_fed_to_the_gpt_are_the_recordings_own(models, lj, monkeypatch):
    audio, sr = lj
    fed = []
    latents = models.gpt.latents

    def spy(conds, ids, codes):
        fed.append((ids.clone(), codes.clone()))
        return latents(conds, ids, codes)
    monkeypatch.setattr(models.gpt, "latents", spy)
    t = rec.parse_transcript(LJ_TEXT, None)
    result = ls.lipsync(models, audio, sr, t)
    assert len(fed) == len(result.plan) >= 2
    # independently: the speaker-prompt resampling chain, w2v-BERT L17, the codec, on each segment's span
    x16 = resample(resample_hq(torch.from_numpy(audio)[None], sr, 22050), 22050, 16000)
    for (ids, codes), seg, out in zip(fed, result.plan, result.segments):
        a, b = round(seg.start * 16000 / sr), round(seg.end * 16000 / sr)
        feats = semantic_embedding(models.w2v, models.w2v_stats, x16[:, a:b], models.w2v_features)
        want, _ = models.codec.quantize(feats)
        assert torch.equal(codes.cpu(), want.cpu()) and torch.equal(out.codes, want.cpu())
        assert len(torch.unique(want)) > 1                        # tokens that vary with the speech
        assert ids[0].tolist() == models.text.encode(seg.text)
        assert out.feature.shape == (1, want.shape[1], models.feature_dim)
    # and they are this recording's codes: another recording gives others
    _, other = ls.recording_codes(models, x16[:, :16000].flip(-1))
    assert not torch.equal(other, fed[0][1][:, :other.shape[1]])


def test_second_segment_face_at_its_absolute_start(models, engine, lj):
    audio, sr = lj
    given = [(0.0, 4.2, "Printing, in the only sense with which we are at present concerned,"),
             (5.2, 9.6, "differs from most if not from all the arts and crafts represented in the Exhibition")]
    t = rec.parse_transcript(LJ_TEXT, None)
    result = ls.lipsync(models, audio, sr, t, rec.check_segments(given, len(audio) / sr))
    assert [o.start for o in result.segments] == [0, round(5.2 * sr)]
    owner, face = result.owner, result.face
    assert len(face) == n_frames_for(len(audio), sr, 25)
    first = int(np.flatnonzero(owner == 1)[0])
    assert first == round(5.2 * 25)                                   # frame 130 = 5.20 s
    assert np.all(owner[int(np.ceil(4.2 * 25)) + 1:first] == -1)      # the gap between the segments
    assert np.all(face[first - 5:first] == 0)                         # ... relaxed to rest
    # its frames are the face head's frames of segment 2 (run on its feature alone), only moved
    head = models.face(result.segments[1].feature, pad="always")[0].numpy()
    np.testing.assert_allclose(face[first:first + 20], head[:20], atol=1e-6)
    last = int(np.flatnonzero(owner == 1)[-1])
    assert last >= n_frames_for(len(audio), sr, 25) - 3                  # it runs to the end of its span
    # through the engine (at the fixture's precision, as request() asks): the aligner's segments in
    # options, the same placement in the meta
    perf = engine.lipsync(request(audio, sr, segments=given, expression_layer=False))
    assert [s["start"] for s in perf.meta["segments"]] == [0.0, 5.2]
    channels, weights = to_performance_channels(result.face)
    assert perf.channels == channels
    np.testing.assert_allclose(perf.weights, weights, atol=1e-5)


def test_emotion_conditions_the_gpt_and_the_expression_layer(engine, lj):
    audio, sr = lj
    short = audio[:int(3.5 * sr)]
    text = "Printing, in the only sense with which we are at present concerned"
    calm = engine.lipsync(request(short, sr, text, expression_layer=False))
    angry = engine.lipsync(LipsyncRequest(short, sr, text, emotion="angry", options=request(short, sr).options
                                          | {"expression_layer": False}))
    assert not np.allclose(calm.weights, angry.weights, atol=1e-5)        # emovec reached the GPT
    clip = engine.lipsync(request(short, sr, text, emotion_clip=str(SPEAKER), expression_layer=False))
    assert not np.allclose(calm.weights, clip.weights, atol=1e-5)
    tagged = engine.lipsync(request(short, sr, "[angry] " + text))
    plain = engine.lipsync(request(short, sr, text))
    brow = tagged.channels.index("browDownLeft")
    assert tagged.weights[:, brow].mean() > plain.weights[:, brow].mean() + 0.2
    assert tagged.meta["segments"][0]["emotion"].startswith("angry")


def test_transcript_is_required(engine, lj):
    audio, sr = lj
    for transcript in (None, "   "):
        with pytest.raises(EngineError, match=r"--engine embedded without a transcript"):
            engine.check_lipsync(request(audio, sr, transcript))
        with pytest.raises(EngineError, match="signal-only mode"):
            engine.lipsync(request(audio, sr, transcript))


def test_cancel_stops_before_the_face(engine, lj):
    audio, sr = lj
    ev = threading.Event()
    seen = []

    def progress(fraction, stage):   # cancel as the second segment starts
        seen.append(stage)
        if "segment 2/" in stage:
            ev.set()
    with pytest.raises(Cancelled):
        engine.lipsync(request(audio, sr), progress=progress, cancel=ev)
    assert not any(s == "face" for s in seen)


@pytest.mark.parametrize("change, match", [
    (dict(audio=np.zeros(22050, np.float32)), "silent"),
    (dict(audio=np.zeros(0, np.float32)), "empty"),
    (dict(sample_rate=100), "sample rate"),
    (dict(transcript="[furious] hi"), "furious"),
    (dict(transcript="!!!"), "no speakable text"),
    (dict(emotion="furious"), "Bad emotion"),
    (dict(options={"emo_alpha": 3}), "emo_alpha"),
    (dict(options={"segments": [(0, 1, "a"), (0.5, 2, "b")]}), "overlap"),
    (dict(options={"max_segment_s": 1}), "max_segment_s"),
    (dict(options={"words": [(0, 1)]}), "words"),
])
def test_check_lipsync_errors(engine, lj, change, match):
    audio, sr = lj
    base = request(audio, sr)
    change = dict(change)          # the parameter is shared by every run of this test: leave it whole
    options = {**base.options, **change.pop("options", {})}
    req = LipsyncRequest(**{**dict(audio=audio, sample_rate=sr, transcript=LJ_TEXT, options=options), **change})
    with pytest.raises(EngineError, match=match):
        engine.check_lipsync(req)


def test_check_lipsync_never_imports_torch():
    code = ("import sys\nimport numpy as np\n"
            "from unitaf_blender.engines import LipsyncRequest, get_engine\n"
            "e = get_engine('unitaf')\n"
            "audio = (0.3 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 220)).astype(np.float32)\n"
            "for t in ('Hi there.', None):\n"
            "    try:\n        e.check_lipsync(LipsyncRequest(audio, 16000, t, options={'model_dir': '/nonexistent'}))\n"
            "    except Exception as exc:\n        print(type(exc).__name__)\n"
            "print('torch' in sys.modules)")
    assert run_fresh_python(code).split() == ["ModelsMissing", "EngineError", "False"]
