"""Parity of our IndexTTS2 GPT (UnifiedVoice v2) with the reference fixtures (tiny random weights).

Fixture `gpt`: conditioning latents, emotion vectors, teacher-forced latents/logits, greedy and
beam codes. Fixture `end_to_end` (GPT part only): the 8-weight emotion mix through feat1/feat2
and the per-segment greedy codes + latents the full pipeline produced.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf import emotion_matrix
from unitaf_blender.engines.unitaf.generate import SamplingConfig, generate, iter_codes
from unitaf_blender.engines.unitaf.gpt import load_gpt

ATOL = RTOL = 1e-4
GREEDY = dict(do_sample=False, num_beams=1)


@pytest.fixture(scope="module")
def gpt_fx():
    d = need(PARITY / "gpt")
    torch.set_num_threads(1)
    model = load_gpt(d / "gpt.pth", d / "config.yaml")
    return model, dict(np.load(d / "inputs.npz")), dict(np.load(d / "expected.npz"))


def close(got, want, atol=ATOL, rtol=RTOL):
    got = got.detach().float().cpu().numpy() if isinstance(got, torch.Tensor) else np.asarray(got)
    assert got.shape == want.shape, f"shape {got.shape} != {want.shape}"
    np.testing.assert_allclose(got, want, atol=atol, rtol=rtol)


def t(a):
    return torch.from_numpy(np.asarray(a))


def _conds(m, E):
    return m.conditioning(t(E["a_spk_cond_latent"]), t(E["b_emovec_merged"]))


def check_conditioning(m, I, E):
    h, mask = m.conditioning_encoder(t(I["spk_cond_emb"]))
    close(h, E["a_conformer_out"])
    assert np.array_equal(mask.numpy(), E["a_conformer_mask"])
    close(m.speaker_latents(t(I["spk_cond_emb"])), E["a_spk_cond_latent"])
    # real length 30 < T exercises the key-padding mask in conformer and perceiver
    close(m.speaker_latents(t(I["spk_cond_emb"]), torch.tensor([30])), E["a_spk_cond_latent_len30"])


def check_emotion(m, I, E):
    close(m.emotion_latent(t(I["emo_cond_emb"])), E["b_emo_perceiver_out"])
    close(m.emotion_vector(t(I["emo_cond_emb"])), E["b_emovec_emo"])
    close(m.emotion_vector(t(I["spk_cond_emb"])), E["b_emovec_spk"])
    close(m.merge_emotion(t(I["spk_cond_emb"]), t(I["emo_cond_emb"]), float(I["emo_alpha"])), E["b_emovec_merged"])


def check_teacher_forced(m, I, E):
    conds = _conds(m, E)
    close(conds, E["c_conds"])
    close(m.latents(conds, t(I["text_tokens"]), t(I["mel_codes"])), E["c_latent"])
    text_logits, mel_logits = m.logits(conds, t(I["text_tokens"]), t(I["mel_codes"]))
    close(text_logits, E["c_text_logits"])
    close(mel_logits, E["c_mel_logits"])


def check_prefill(m, I, E):
    close(m.prefill_embeddings(_conds(m, E), t(I["text_tokens"])), E["d_prepared_inputs_embeds"])


def _greedy(m, I, E, penalty):
    cfg = SamplingConfig(**GREEDY, repetition_penalty=penalty, max_new_tokens=int(I["max_generate_length"]))
    return generate(m, _conds(m, E), t(I["text_tokens"]), cfg, return_scores=True)


def check_greedy(m, I, E):
    r = _greedy(m, I, E, 1.0)
    assert r.codes.tolist() == E["d_codes_greedy"].tolist()
    close(r.scores[0], E["d_step0_logits"])
    close(torch.stack(r.scores, 1), E["d_scores_greedy"])


def check_greedy_rep10(m, I, E):
    r = _greedy(m, I, E, 10.0)
    assert r.codes.tolist() == E["d_codes_greedy_rep10"].tolist()
    assert not r.stopped
    close(torch.stack(r.scores, 1), E["d_scores_greedy_rep10"])


def check_beam3_rep10(m, I, E):
    cfg = SamplingConfig(do_sample=False, num_beams=3, repetition_penalty=10.0, length_penalty=0.0,
                         max_new_tokens=int(I["max_generate_length"]))
    r = generate(m, _conds(m, E), t(I["text_tokens"]), cfg)
    assert r.codes.tolist() == E["d_codes_beam3_rep10"].tolist()
    assert r.stopped and int(r.codes[0, -1]) == m.dims.stop_mel_token


CHECKS = {
    "gpt-conditioning": check_conditioning,
    "gpt-emotion": check_emotion,
    "gpt-teacher_forced": check_teacher_forced,
    "gpt-prefill": check_prefill,
    "gpt-greedy": check_greedy,
    "gpt-greedy_rep10": check_greedy_rep10,
    "gpt-beam3_rep10": check_beam3_rep10,
}


@pytest.mark.parametrize("case", list(CHECKS), ids=list(CHECKS))
def test_parity(case, gpt_fx):
    CHECKS[case](*gpt_fx)


# --- end_to_end fixture: the GPT's share of the full pipeline -----------------------------------
@pytest.fixture(scope="module")
def e2e():
    d = need(PARITY / "end_to_end")
    torch.set_num_threads(1)
    model = load_gpt(need(PARITY / "gpt" / "gpt.pth"), d / "config.yaml")
    return model, d, dict(np.load(d / "expected.npz"))


def test_parity_end_to_end_emotion_vector(e2e):
    model, d, E = e2e
    import json
    cfg = json.loads((d / "inputs.json").read_text())
    weights = emotion_matrix.scale_emotion_weights(cfg["emo_vector"], cfg["emo_alpha"])
    close(np.float32(weights), E["emo_vector_scaled"], atol=0, rtol=0)
    spk_matrix, emo_matrix = emotion_matrix.load_emotion_matrices(d / "feat1.pt", d / "feat2.pt")
    mix, rows = emotion_matrix.emotion_matrix_vector(weights, t(E["style"]), spk_matrix, emo_matrix)
    assert rows == E["emo_match_indices"].tolist()
    close(mix, E["emovec_mat"])
    # an emo_vector discards the emotion audio: base = emovec of the speaker re-read at 16 kHz, alpha 1
    base = model.merge_emotion(t(E["spk_cond_emb"]), t(E["emo_cond_emb"]), 1.0)
    close(base, E["emovec_merged_alpha1"])
    close(emotion_matrix.mix_emotion(mix, weights, base), E["emovec_contrl"])
    # the same through the one entry point the engine uses
    got = emotion_matrix.resolve_emotion(model, t(E["spk_cond_emb"]), t(E["emo_cond_emb"]), weights=cfg["emo_vector"],
                                  alpha=cfg["emo_alpha"], style=t(E["style"]), matrices=(spk_matrix, emo_matrix))
    close(got, E["emovec_contrl"])
    with pytest.raises(ValueError, match="style"):
        emotion_matrix.resolve_emotion(model, t(E["spk_cond_emb"]), t(E["emo_cond_emb"]), weights=cfg["emo_vector"])


def test_parity_emotion_audio_modes(gpt_fx):
    m, I, E = gpt_fx
    spk, emo = t(I["spk_cond_emb"]), t(I["emo_cond_emb"])
    # external emotion audio blends with alpha; without one alpha is forced to 1 (pure emotion audio)
    close(emotion_matrix.resolve_emotion(m, spk, emo, alpha=float(I["emo_alpha"]), external_emotion_audio=True),
          E["b_emovec_merged"])
    close(emotion_matrix.resolve_emotion(m, spk, emo, alpha=0.3), E["b_emovec_emo"])


@pytest.mark.parametrize("seg", [0, 1, 2])
def test_parity_end_to_end_segment(e2e, seg):
    model, _, E = e2e
    latents = model.speaker_latents(t(E["spk_cond_emb"]))
    conds = model.conditioning(latents, t(E["emovec_contrl"]))
    tokens = t(E[f"seg{seg}_text_tokens"])
    # the fixture ran top_k=1 sampling with the default repetition penalty 10 = greedy on penalised logits
    r = generate(model, conds, tokens, SamplingConfig(**GREEDY, repetition_penalty=10.0, max_new_tokens=40))
    assert r.codes.tolist() == E[f"seg{seg}_codes_raw"].tolist()
    codes = r.codes[:, :-1] if r.stopped else r.codes
    close(model.latents(conds, tokens, codes), E[f"seg{seg}_latent"])


# --- behaviour ---------------------------------------------------------------------------------
def test_bad_inputs_raise_clear_errors(gpt_fx):
    m, I, E = gpt_fx
    conds = _conds(m, E)
    with pytest.raises(ValueError, match="no text tokens"):
        generate(m, conds, torch.zeros(1, 0, dtype=torch.long), SamplingConfig(**GREEDY))
    with pytest.raises(ValueError, match="no text tokens"):  # only start/stop ids
        generate(m, conds, torch.tensor([[0, 1]]), SamplingConfig(**GREEDY))
    with pytest.raises(ValueError, match="exceed the model limit"):
        generate(m, conds, torch.full((1, m.dims.max_text_tokens + 1), 5), SamplingConfig(**GREEDY))
    with pytest.raises(ValueError, match="conditioning features"):
        m.speaker_latents(torch.zeros(1, 20, 7))
    with pytest.raises(ValueError, match="too short"):
        m.speaker_latents(torch.zeros(1, 2, m.dims.semantic_dim))
    with pytest.raises(ValueError, match="temperature"):
        generate(m, conds, t(I["text_tokens"]), SamplingConfig(temperature=0.0, num_beams=1))


def test_sampling_is_seeded_and_respects_limits(gpt_fx):
    m, I, E = gpt_fx
    conds = _conds(m, E)
    cfg = SamplingConfig(num_beams=1, max_new_tokens=10)
    a = generate(m, conds, t(I["text_tokens"]), cfg, generator=torch.Generator().manual_seed(3)).codes
    b = generate(m, conds, t(I["text_tokens"]), cfg, generator=torch.Generator().manual_seed(3)).codes
    assert a.tolist() == b.tolist() and 1 <= a.shape[1] <= 10
    assert int(a.max()) < m.dims.number_mel_codes
    beam = generate(m, conds, t(I["text_tokens"]), SamplingConfig(max_new_tokens=8),
                      generator=torch.Generator().manual_seed(0)).codes  # reference default: beam sampling
    assert 1 <= beam.shape[1] <= 9


def test_checkpoint_mismatch_names_the_key(tmp_path):
    d = need(PARITY / "gpt")
    from unitaf_blender.engines.unitaf.checkpoint import CheckpointError
    sd = torch.load(d / "gpt.pth", weights_only=True)
    sd["mel_head.weight"] = sd["mel_head.weight"][:10]
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match="mel_head.weight"):
        load_gpt(tmp_path / "bad.pth", d / "config.yaml")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_reduced_precision_runs_and_stays_close(gpt_fx, dtype):
    """Half-precision weights (CPU fast path, GPU path): same API, dtype handled end to end."""
    m32, I, E = gpt_fx
    d = PARITY / "gpt"
    dtype = getattr(torch, dtype)
    m16 = load_gpt(d / "gpt.pth", d / "config.yaml", dtype=dtype)
    assert m16.gpt.h[0].attn.c_attn.linear_layout  # CPU half precision uses the (out, in) layout
    spk = t(I["spk_cond_emb"])
    emovec = m16.merge_emotion(spk, t(I["emo_cond_emb"]), float(I["emo_alpha"]))
    conds = m16.conditioning(m16.speaker_latents(spk), emovec)
    assert conds.dtype == dtype
    r = generate(m16, conds, t(I["text_tokens"]), SamplingConfig(**GREEDY, max_new_tokens=6))
    assert r.codes.dtype == torch.int64 and 1 <= r.codes.shape[1] <= 6
    lat16 = m16.latents(conds, t(I["text_tokens"]), t(I["mel_codes"])).float()
    lat32 = m32.latents(_conds(m32, E), t(I["text_tokens"]), t(I["mel_codes"]))
    assert lat16.shape == lat32.shape
    assert float((lat16 - lat32).abs().mean()) < 0.03  # bf16 keeps ~3 significant digits (0.008 seen)


def test_start_mel_is_never_emitted(gpt_fx):
    """The reference can pick start_mel (not a semantic code: the codec cannot embed it). Bias the
    head so start_mel is the argmax of every step, then check no decoding mode ever emits it."""
    _, I, E = gpt_fx
    d = PARITY / "gpt"
    m = load_gpt(d / "gpt.pth", d / "config.yaml")
    start, stop = m.dims.start_mel_token, m.dims.stop_mel_token
    with torch.no_grad():
        m.mel_head.bias[start] += 1000.0   # stays on top even after the repetition penalty of 10
    conds, text = _conds(m, E), t(I["text_tokens"])
    raw = generate(m, conds, text, SamplingConfig(**GREEDY, repetition_penalty=10.0, max_new_tokens=12),
                     return_scores=True)
    # the reported (reference) scores still rank start_mel first: without the mask it would be chosen
    assert all(int(s.argmax()) == start for s in raw.scores)
    runs = [raw.codes]
    for cfg in (SamplingConfig(**GREEDY, repetition_penalty=1.0, max_new_tokens=12),
                SamplingConfig(num_beams=1, max_new_tokens=12),
                SamplingConfig(num_beams=1, top_k=0, top_p=1.0, temperature=1.0, max_new_tokens=12),
                SamplingConfig(do_sample=False, num_beams=3, max_new_tokens=12),
                SamplingConfig(max_new_tokens=12)):          # reference default: beam sampling
        runs.append(generate(m, conds, text, cfg, generator=torch.Generator().manual_seed(0)).codes)
    runs.append(torch.cat([c for c, _ in iter_codes(m, conds, text, SamplingConfig(num_beams=1, max_new_tokens=12),
                                                      torch.Generator().manual_seed(1))], dim=1))
    for codes in runs:
        assert codes.numel() >= 1
        body = codes[0, :-1] if int(codes[0, -1]) == stop else codes[0]
        assert int(body.max()) < start, codes.tolist()   # only semantic codes (+ a final stop)
    # the stop token itself is not masked
    with torch.no_grad():
        m.mel_head.bias[stop] += 2000.0
    assert generate(m, conds, text, SamplingConfig(**GREEDY, max_new_tokens=12)).codes.tolist() == [[stop]]
