"""Precision by hardware (auto: bf16 only on CPUs with native bf16) and the int8 GPT weights.

The int8 figures below were measured on the tiny parity GPT (2 layers, width 96, random weights):
teacher-forced latents 1.2 % RMS relative error vs fp32, greedy codes 47 of 50 equal (the first
difference at step 38). Random weights have no trained margin between the top logits, so the
asserted bounds are looser than those figures; full-size figures are in bench/README.md.
"""
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines import EngineError
from unitaf_blender.engines.unitaf import devices, gpt
from unitaf_blender.engines.unitaf.generate import SamplingConfig, generate
from unitaf_blender.engines.unitaf.gpt import Conv1D, int8_linear, load_gpt, quantize_int8

AVX2_EPYC = "fpu sse sse2 avx f16c fma avx2 bmi2 sha_ni vaes".split()
SAPPHIRE_RAPIDS = AVX2_EPYC + "avx512f avx512bw avx512_vnni avx512_bf16 amx_tile amx_bf16 amx_int8".split()
ZEN4 = AVX2_EPYC + "avx512f avx512bw avx512_bf16".split()
COOPER_LAKE = AVX2_EPYC + "avx512f avx512_bf16".split()
SKYLAKE_X = AVX2_EPYC + "avx512f avx512bw avx512dq".split()      # AVX-512 but no bf16 arithmetic
CPU = torch.device("cpu")


@pytest.mark.parametrize("flags, native", [(AVX2_EPYC, False), (SKYLAKE_X, False), ([], False),
                                           (SAPPHIRE_RAPIDS, True), (ZEN4, True), (COOPER_LAKE, True),
                                           (["AMX_BF16"], True)])
def test_native_bf16_detection_from_flags(flags, native):
    assert devices.native_bf16(flags) is native
    prec = devices.pick_precision(CPU, "auto", flags)
    assert (prec.dtype, prec.name, prec.int8) == ((torch.bfloat16, "bf16", False) if native
                                                  else (torch.float32, "fp32", False))
    assert prec.why == ("native bf16 on this CPU" if native else "no native bf16 on this CPU")
    # int8: int8 GPT weights, auto's float type for everything else
    q = devices.pick_precision(CPU, "int8", flags)
    assert q.int8 and q.name == "int8" and q.dtype == prec.dtype and prec.why in q.why


def test_explicit_precisions_and_gpu_choices():
    assert devices.pick_precision(CPU, "fp32", SAPPHIRE_RAPIDS).dtype == torch.float32   # explicit wins
    assert devices.pick_precision(CPU, "bf16", AVX2_EPYC).dtype == torch.bfloat16
    assert devices.pick_precision(torch.device("cuda"), "auto", AVX2_EPYC).dtype == torch.float16
    with pytest.raises(EngineError, match="int8 is a CPU precision"):
        devices.pick_precision(torch.device("cuda"), "int8")
    with pytest.raises(EngineError, match="fp16 is not supported on the CPU"):
        devices.pick_precision(CPU, "fp16")
    assert devices.describe(CPU, torch.float32, int8=True) == "cpu, float32 (int8 GPT weights)"


def test_this_machines_flags_are_read(host_cpu_flags):
    flags = host_cpu_flags()
    assert isinstance(flags, frozenset)
    if sys.platform.startswith("linux"):     # every Linux CPU lists its flags (x86) or features (Arm)
        assert flags and all(f == f.strip() and f for f in flags)


def _rms_rel(got, want):
    return float((got.float() - want).pow(2).mean().sqrt() / want.pow(2).mean().sqrt())


@pytest.fixture(params=["int8-gemv-probed", "int8-gemv-unavailable"])
def int8_gemv(request, monkeypatch):
    """Both outcomes of the int8 GEMV probe: torch's kernel where it works here, the dequantised
    GEMM where it does not (older torch, or a CPU where the probe fails)."""
    monkeypatch.setattr(gpt, "_INT8PACK", None if request.param == "int8-gemv-probed" else False)
    return request.param


@pytest.mark.parametrize("rows", [1, 3, 40])   # 1 and 3: the int8 GEMV (decode, beams); 40: dequantise + GEMM
def test_int8_linear_matches_fp32(rows, int8_gemv):
    g = torch.Generator().manual_seed(0)
    w = torch.randn(288, 96, generator=g) * 0.02
    b = torch.randn(288, generator=g) * 0.01
    x = torch.randn(rows, 96, generator=g)
    q, scale = quantize_int8(w)
    assert q.dtype == torch.int8 and int(q.abs().max()) == 127            # each row uses the full range
    assert float((q.float() * scale[:, None] - w).abs().max()) <= float(scale.max()) / 2 + 1e-7
    want = torch.nn.functional.linear(x, w, b)
    got = int8_linear(x, q, scale, b)
    assert got.shape == want.shape and got.dtype == torch.float32
    # int8 weight rounding (~0.8 % of the weights' RMS) plus bf16 activations on the GEMV path
    assert _rms_rel(got, want) < 0.02
    # exactly the dequantised layer, up to the bf16 rounding of x on the GEMV path
    exact = torch.nn.functional.linear(x, q.float() * scale[:, None], b)
    assert _rms_rel(got, exact) < (0.01 if rows <= 16 else 1e-6)


def test_conv1d_int8_keeps_float_bias_and_drops_float_weight(int8_gemv):
    layer = Conv1D(96, 288).requires_grad_(False)
    x = torch.randn(2, 5, 96)
    want = layer(x)
    layer.use_int8()
    assert "weight" not in dict(layer.named_parameters())
    assert layer.qweight.dtype == torch.int8 and layer.qweight.shape == (288, 96)
    assert layer.bias.dtype == torch.float32
    assert _rms_rel(layer(x), want) < 0.02


@pytest.fixture(scope="module")
def tiny_gpts():
    d = need(PARITY / "gpt")
    fp32 = load_gpt(d / "gpt.pth", d / "config.yaml")
    int8 = load_gpt(d / "gpt.pth", d / "config.yaml").optimize_for_inference(int8=True)
    return fp32, int8, dict(np.load(d / "inputs.npz"))


def test_tiny_gpt_int8_end_to_end(tiny_gpts, int8_gemv):
    fp32, int8, inputs = tiny_gpts
    for block in int8.gpt.h:        # every block projection is int8; heads and embeddings stay float
        for m in (block.attn.c_attn, block.attn.c_proj, block.mlp.c_fc, block.mlp.c_proj):
            assert m.int8 and m.qweight.dtype == torch.int8
    assert int8.mel_head.weight.dtype == torch.float32 and int8.mel_embedding.weight.dtype == torch.float32
    spk, text = torch.from_numpy(inputs["spk_cond_emb"]), torch.from_numpy(inputs["text_tokens"])
    codes = torch.from_numpy(inputs["mel_codes"])
    out = {}
    for name, m in (("fp32", fp32), ("int8", int8)):
        conds = m.conditioning(m.speaker_latents(spk), m.emotion_vector(spk))
        greedy = SamplingConfig(do_sample=False, num_beams=1, max_new_tokens=50, min_new_tokens=50)
        out[name] = m.latents(conds, text, codes), generate(m, conds, text, greedy).codes[0]
    assert _rms_rel(out["int8"][0], out["fp32"][0]) < 0.03          # measured 1.2 %
    a, b = out["fp32"][1], out["int8"][1]
    assert len(a) == len(b) == 50
    assert float((a == b).float().mean()) >= 0.8                     # measured 47 of 50


def test_int8_is_refused_off_the_cpu():
    from unitaf_blender.engines.unitaf.gpt import GPTDims, UnifiedVoice
    with torch.device("meta"):     # any non-CPU device: the model's weights live on "meta"
        model = UnifiedVoice(GPTDims(model_dim=64, layers=1, heads=4))
    with pytest.raises(ValueError, match="CPU only"):
        model.optimize_for_inference(int8=True)
