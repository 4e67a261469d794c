"""Pipeline behaviour on the tiny weights: face/audio sync over a long many-sentence script (the
reference drifts 0.2 s per sentence), progress by stage, cancel, per-segment emotion, caching."""
import threading

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from unitaf_blender.engines import Cancelled, EngineError
from unitaf_blender.engines.unitaf import face_layers as fl
from unitaf_blender.engines.unitaf import model_set as ms
from unitaf_blender.engines.unitaf import pipeline as pl
from unitaf_blender.engines.unitaf import voice as vc
from unitaf_blender.engines.unitaf.face import to_performance_channels
from unitaf_blender.engines.unitaf.generate import SamplingConfig
from unitaf_blender.engines.unitaf.options import SynthesisOptions
from unitaf_blender.engines.unitaf.semantic import SEMANTIC_LAYER
from unitaf_blender.engines.unitaf.store import ModelStore
from unitaf_tiny_models import SPEAKER, tiny_model_dir

SR, FPS = 22050, 25.0


@pytest.fixture(scope="module")
def models():
    torch.set_num_threads(1)
    return ms.load_models(ModelStore(model_dir=tiny_model_dir()))


def fixed_length(n_codes, steps=2):
    """Every segment exactly n_codes long (the tiny model would stop early), few CFM steps: the
    sync logic does not depend on either."""
    return SynthesisOptions(sampling=SamplingConfig(num_beams=1, min_new_tokens=n_codes, max_new_tokens=n_codes),
                               diffusion_steps=steps)


def check_sync(result):
    """Every placed face frame is within one frame of the audio it was computed from."""
    voiced = [o for o in result.segments if len(o.audio)]
    feat_start = np.cumsum([0] + [o.feature.shape[1] for o in voiced])
    ref_owner = np.searchsorted(feat_start, np.minimum(2 * np.arange(len(result.face_reference)), feat_start[-1] - 1),
                                side="right") - 1
    worst = 0.0
    for i, o in enumerate(voiced):
        ks = np.flatnonzero(ref_owner == i)                      # reference frames of this segment
        js = np.flatnonzero(result.face_owner == result.segments.index(o))   # where they were placed
        assert len(js) >= len(ks) - 1 and len(js) > 0
        np.testing.assert_array_equal(result.face[js], result.face_reference[ks[:len(js)]])
        # frame k shows feature time 2k/50 s; in the audio that moment is start + (2k - S_i)/50 s
        want = o.start / SR + (2 * ks[:len(js)] - feat_start[i]) / 50.0
        err = np.abs(js / FPS - want)
        worst = max(worst, float(err.max()))
        # the segment's frames reach its last sample: the last frame shows the final 40 ms of features
        end = (o.start + len(o.audio)) / SR
        assert end - 2 / FPS <= js[-1] / FPS <= end + 1 / FPS
    assert worst <= 1 / FPS, f"face is {worst * 1000:.0f} ms off the audio"
    return worst


@pytest.mark.filterwarnings("ignore:a text segment")
def test_long_script_stays_in_sync(models):
    """~60 s of audio from 25 sentences: with the fixed timing every frame stays within one frame of
    its audio; the reference's timing is seconds off by the end."""
    words = ("one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
             "sixteen seventeen eighteen nineteen twenty twentyone twentytwo twentythree twentyfour twentyfive")
    text = " ".join(f"Line {w}." for w in words.split())
    voice = vc.analyse_voice(models, SPEAKER)
    segments = models.text.script_segments(text, None, max_tokens=9)
    assert len(segments) >= 25
    r = pl.synthesize(models, segments, voice, fixed_length(115))
    seconds = len(r.audio) / SR
    assert seconds > 58
    assert len(r.face) == int(np.floor(len(r.audio) * FPS / SR)) + 1
    check_sync(r)
    # gaps: the inserted silence is silent and the face there relaxes towards rest
    gap_frames = np.flatnonzero(r.face_owner < 0)
    assert 4 * (len(segments) - 1) <= len(gap_frames) <= 6 * len(segments)   # 200 ms = 5 frames, +-1 re-anchoring
    for o_prev, o in zip(r.segments, r.segments[1:]):
        assert np.all(r.audio[o_prev.start + len(o_prev.audio):o.start] == 0)
    j = gap_frames[gap_frames > 0]
    assert np.all(np.abs(r.face[j]).sum(1) <= np.abs(r.face[j - 1]).sum(1) + 1e-6)
    # the reference's face track lacks every gap: its end is ~0.2 s x boundaries early
    drift = seconds - len(r.face_reference) / FPS
    assert drift > 0.2 * (len(segments) - 1) * 0.9


def test_progress_stages_and_cancel(models):
    voice = vc.analyse_voice(models, SPEAKER)
    segments = models.text.script_segments("Hello there. How are you today?", None)
    stages = []
    pl.synthesize(models, segments, voice, fixed_length(20), progress=lambda f, s: stages.append((f, s)))
    names = " ".join(s for _, s in stages)
    for stage in ("GPT tokens", "s2mel steps", "vocoder", "face"):
        assert stage in names
    fractions = [f for f, _ in stages]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] <= 1

    cancel = threading.Event()

    def stop_in_s2mel(f, s):
        if s.startswith("s2mel steps 1/"):
            cancel.set()
    with pytest.raises(Cancelled):
        pl.synthesize(models, segments, voice, fixed_length(20), progress=stop_in_s2mel, cancel=cancel)
    cancel.clear()

    def stop_in_gpt(f, s):
        if s.startswith("GPT tokens 10"):
            cancel.set()
    with pytest.raises(Cancelled):
        pl.synthesize(models, segments, voice, fixed_length(20), progress=stop_in_gpt, cancel=cancel)


def test_inline_emotions_per_segment_and_caches(models):
    voice = vc.analyse_voice(models, SPEAKER)
    assert vc.analyse_voice(models, SPEAKER) is voice              # analysed once per session
    segments = models.text.script_segments("[angry] Stop that now. [happy:0.5] Thank you.", "calm:0.2")
    r = pl.synthesize(models, segments, voice, fixed_length(15, steps=1))
    assert len(r.segments) == 2
    assert r.segments[0].emotion[1] == 1.0 and r.segments[1].emotion[0] == 0.5
    assert not torch.allclose(r.emovecs[0], r.emovecs[1])        # the emotion reaches the GPT
    times, vectors = pl.emotion_timeline(r)
    assert times[0] == 0 and abs(times[1] - r.segments[1].start / SR) < 1e-6
    np.testing.assert_array_equal(vectors[1], r.segments[1].emotion)
    # same seed -> same result; another seed -> other noise and codes
    again = pl.synthesize(models, segments, voice, fixed_length(15, steps=1))
    np.testing.assert_array_equal(again.audio, r.audio)


def test_emotion_clip_blends_with_alpha(models):
    """An emotion reference clip: emovec = base + alpha * (emovec(clip) - base), base = the voice's."""
    from unitaf_blender.engines.unitaf.engine import resolve_voice
    voice = vc.analyse_voice(models, SPEAKER)
    clip = resolve_voice(None)              # a different recording than the voice prompt
    base = vc.emotion_vector(models, voice, None, 0.0, emotion_clip=clip)
    full = vc.emotion_vector(models, voice, None, 1.0, emotion_clip=clip)
    half = vc.emotion_vector(models, voice, None, 0.5, emotion_clip=clip)
    torch.testing.assert_close(base, models.gpt.emotion_vector(voice.spk_cond_emb))
    torch.testing.assert_close(half, (base + full) / 2, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(base, full, atol=1e-3)


def test_expression_layer_makes_angry_look_angry(models):
    """Our upper-face layer, driven by the emotion timeline, over the neural mouth."""
    voice = vc.analyse_voice(models, SPEAKER)
    segments = models.text.script_segments("Stop that now.", None)
    r = pl.synthesize(models, segments, voice, fixed_length(60, steps=1))
    faces = {}
    for name, vec in (("angry", [0, 1, 0, 0, 0, 0, 0, 0]), ("calm", [0, 0, 0, 0, 0, 0, 0, 1])):
        names, w = fl.with_upper_face(r.face, r.audio, [0.0], [vec], seed=1)
        faces[name] = w
    idx = names.index("browDownLeft")
    assert faces["angry"][:, idx].mean() > faces["calm"][:, idx].mean() + 0.3
    assert "jawOpen" in names and "headPitch" in names and faces["angry"].shape[0] == len(r.face)
    # the mouth still comes from the neural head: with a calm layer (no jaw shape) jawOpen is the
    # head's own value, clipped to 0..1
    n_names, n_w = to_performance_channels(r.face)
    np.testing.assert_allclose(faces["calm"][:, names.index("jawOpen")], np.clip(n_w[:, n_names.index("jawOpen")], 0, 1),
                               atol=1e-6)


def test_bad_inputs(models):
    voice = vc.analyse_voice(models, SPEAKER)
    segments = models.text.script_segments("Hi there.", None)
    with pytest.raises(ValueError, match="face_timing"):
        pl.synthesize(models, segments, voice, SynthesisOptions(face_timing="late"))
    with pytest.raises(EngineError, match="not found"):
        vc.analyse_voice(models, "/nonexistent/voice.wav")
    with pytest.raises(EngineError, match="Nothing to say"):
        pl.synthesize(models, [], voice, SynthesisOptions())


def test_w2v_config_from_catalogue_else_beside_else_official(tmp_path):
    """w2v-BERT dims: the catalogue's config.json when given, else one beside the weights, else the
    official dims (which the tiny weights do not fit: proves that fallback is what ran)."""
    import json
    import shutil

    from shared_paths import PARITY, need
    from unitaf_blender.engines.unitaf.checkpoint import CheckpointError
    src = need(PARITY / "semantic" / "w2v-bert-2.0")
    hidden = json.loads((src / "config.json").read_text())["hidden_size"]
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copyfile(src / "model.safetensors", alone / "model.safetensors")
    with pytest.raises(CheckpointError, match="shape"):
        ms._load_w2v(str(alone / "model.safetensors"))                      # no config: official dims
    w2v = ms._load_w2v(str(alone / "model.safetensors"), str(src / "config.json"))
    assert w2v.dims.hidden == hidden != 1024 and len(w2v.encoder.layers) == SEMANTIC_LAYER
    shutil.copyfile(src / "config.json", alone / "config.json")
    assert ms._load_w2v(str(alone / "model.safetensors")).dims.hidden == hidden   # beside the weights


def test_checkpoint_error_in_a_model_folder_names_files_of_the_wrong_size(tmp_path):
    """A model-folder file that fails to load: the error keeps the loader's reason and adds the
    store's size report, so a partial copy shows up as 'expected 3.48 GB, found 1.0 MB'."""
    from unitaf_blender.engines.unitaf.checkpoint import CheckpointError
    from unitaf_blender.engines.unitaf.store import build_model_dir
    from unitaf_tiny_models import sources
    partial = tmp_path / "gpt.pth"
    partial.write_bytes(b"\0" * 1_000_000)
    store = ModelStore(model_dir=build_model_dir(tmp_path / "md", {**sources(), "indextts2.gpt": partial}))
    with pytest.raises(CheckpointError) as exc:
        ms.load_models(store)
    first, *rest = str(exc.value).splitlines()
    assert "gpt.pth" in first and first == str(exc.value.__cause__).splitlines()[0]
    assert "  - IndexTeam/IndexTTS-2/gpt.pth: expected 3.48 GB, found 1.0 MB" in rest
