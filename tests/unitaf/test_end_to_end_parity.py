"""The `end_to_end` parity fixture through our whole pipeline: greedy codes identical, waveform and
face frames within the README tolerances; with our face timing the same frames, moved by the
inserted silences."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import need
from unitaf_blender.engines.unitaf import model_set as ms
from unitaf_blender.engines.unitaf import pipeline as pl
from unitaf_blender.engines.unitaf import voice as vc
from unitaf_blender.engines.unitaf.generate import SamplingConfig
from unitaf_blender.engines.unitaf.options import SynthesisOptions
from unitaf_blender.engines.unitaf.store import ModelStore
from unitaf_tiny_models import E2E, EXPRESSION, SPEAKER, tiny_model_dir


@pytest.fixture(scope="module")
def run():
    need(E2E / "expected.npz")
    torch.set_num_threads(1)
    models = ms.load_models(ModelStore(model_dir=tiny_model_dir()), expression_checkpoint=EXPRESSION)
    E, I = dict(np.load(E2E / "expected.npz")), dict(np.load(E2E / "inputs.npz"))
    cfg = json.loads((E2E / "inputs.json").read_text())
    voice = vc.analyse_voice(models, SPEAKER)
    segments = models.text.script_segments(cfg["text"], cfg["emo_vector"], cfg["max_text_tokens_per_segment"])
    # the fixture ran top_k=1 sampling = greedy on the repetition-penalised logits
    sampling = SamplingConfig(do_sample=False, num_beams=1, repetition_penalty=10.0,
                              max_new_tokens=cfg["generation_kwargs"]["max_mel_tokens"])
    noise = [torch.from_numpy(I[f"cfm_noise_seg{i}"]) for i in range(len(segments))]
    out = {}
    for timing in ("reference", "fixed"):
        opts = SynthesisOptions(sampling=sampling, emo_alpha=cfg["emo_alpha"], face_timing=timing,
                                   interval_silence_ms=cfg["interval_silence"],
                                   diffusion_steps=int(I["diffusion_steps"]), cfg_rate=float(I["inference_cfg_rate"]))
        out[timing] = pl.synthesize(models, segments, voice, opts, noise=noise)
    return models, voice, segments, out, E


def close(got, want, atol=1e-3, rtol=1e-3):
    got = got.detach().float().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, atol=atol, rtol=rtol)


def test_voice_analysis(run):
    _, voice, _, _, E = run
    close(voice.spk_cond_emb, E["spk_cond_emb"])
    close(voice.emo_cond_emb, E["emo_cond_emb"])
    close(voice.ref_mel, E["ref_mel"])
    close(voice.style, E["style"])
    close(voice.prompt_condition, E["prompt_condition"])


def test_segments_codes_and_features(run):
    _, _, segments, out, E = run
    r = out["reference"]
    assert len(segments) == 3
    for i, (seg, o) in enumerate(zip(segments, r.segments)):
        assert seg.ids == E[f"seg{i}_text_tokens"][0].tolist()
        assert o.codes.tolist() == E[f"seg{i}_codes_raw"][:, :-1].tolist()     # stop token trimmed
        close(o.feature, E[f"seg{i}_gpt_layer_out"])
    close(r.emovecs[0], E["emovec_contrl"])
    close(torch.cat([o.feature for o in r.segments], 1), E["audio_feature"])


def test_waveform(run):
    _, _, _, out, E = run
    r = out["reference"]
    assert r.sample_rate == int(E["sr"])
    # the reference's wav is 32767 * clamp(bigvgan, -1, 1), silence 4410 samples between segments
    close(r.audio[None] * 32767.0, E["wav"], atol=0.5, rtol=0)
    assert r.segments[1].start == len(r.segments[0].audio) + int(E["silence_samples"])
    assert np.all(out["fixed"].audio == r.audio)      # face timing never touches the audio


def test_face_reference_timing_equals_fixture(run):
    _, _, _, out, E = run
    close(out["reference"].face, E["final_motion"][0])
    close(out["reference"].face_reference, E["final_motion"][0])


def test_fixed_face_is_fixture_frames_with_gap_frames_inserted(run):
    _, _, _, out, E = run
    r = out["fixed"]
    want = E["final_motion"][0]
    placed = r.face[r.face_owner >= 0]
    # every reference frame, in order, except the trailing pad frame that lies past the audio end
    close(placed, want[:len(placed)])
    assert len(placed) >= len(want) - 1
    # two boundaries x 200 ms = 5 face frames each, inserted where the silences are
    owner = r.face_owner
    gaps = [j for j in range(1, len(owner)) if owner[j] < 0 <= owner[j - 1]]
    assert len(gaps) == 2 and int(np.sum(owner < 0)) == 10
    assert len(r.face) == int(np.floor(len(r.audio) * 25 / 22050)) + 1
    # the reference track is 2.08 s long for 2.42 s of audio; ours covers the audio
    assert abs(len(r.face) / 25 - len(r.audio) / 22050) < 1 / 25
    assert len(E["final_motion"][0]) / 25 < len(r.audio) / 22050 - 0.3
