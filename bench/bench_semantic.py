"""Speed of the prompt front end at the FULL official size, random weights: w2v-BERT 2.0 (layers
0..16, what IndexTTS2 uses), plus features, stats, RepCodec quantize and fbank + CAMPPlus.

    .venv/bin/python bench/bench_semantic.py [--threads 2] [--seconds 5] [--repeats 3]
        [--device cpu|cuda] [--dtype float32|bfloat16|float16] [--reference]

--reference times the reference model side by side, interleaved (HF transformers
`Wav2Vec2BertModel`, all 24 layers with output_hidden_states=True as IndexTTS2's `get_emb` runs it,
loaded with the same random weights; checks hidden_states[17] equals ours). It needs transformers
4.52 importable (e.g. PYTHONPATH=/path/to/scratch/site-packages); the product never imports it.

Prints seconds per call and per second of prompt audio, next to the reference figures measured on
this machine (../shared/research/reference-speed.md: 2 vCPU Xeon, torch 2.13 CPU, 5 s prompt =
249 frames). The reference runs all 24 w2v-BERT layers and keeps hidden_states[17]; we build 17.
Timings are min and median over `--repeats` runs after one warm-up. No timed assertions anywhere.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from timing import interleaved, repeated  # noqa: E402  (bench/ is the script's folder)

from unitaf_blender.engines.unitaf.audio import resample, resample_hq  # noqa: E402
from unitaf_blender.engines.unitaf.campplus import CAMPPlus, speaker_style  # noqa: E402
from unitaf_blender.engines.unitaf.fbank import w2v_bert_features  # noqa: E402
from unitaf_blender.engines.unitaf.semantic import SEMANTIC_LAYER, RepCodec, SemanticStats, W2vBertEncoder  # noqa: E402

# reference-speed.md, 5 s prompt on this 2-vCPU machine (median seconds)
REFERENCE_5S = {"w2v-BERT (reference runs 24 layers)": 1.17, "w2v-BERT 17 layers (reference model, cut)": 0.82,
                "features": 0.0055, "codec quantize": 0.047, "fbank + CAMPPlus": 0.060, "resample 22050->16000": 0.0015}


def random_init(module: torch.nn.Module, device, dtype) -> torch.nn.Module:
    """Materialise a meta-built module with small random weights (fast at 400 M parameters)."""
    module = module.to_empty(device=device)
    g = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() == 1 and ("norm" in name or name.endswith("gamma") or "batchnorm" in name):
                p.fill_(1.0)
            elif p.dim() == 1:
                p.normal_(0.0, 0.02, generator=g)
            else:
                p.normal_(0.0, 1.0 / math.sqrt(p[0].numel()), generator=g)
        for name, b in module.named_buffers():
            if b.is_floating_point():
                b.fill_(1.0) if name.endswith("running_var") else b.zero_()
    return module.to(dtype=dtype).eval()


def build_reference(ours: W2vBertEncoder, device, dtype):
    """HF Wav2Vec2BertModel with our weights (names are identical; layers 17..23 get random ones)."""
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel
    with torch.device("meta"):
        ref = Wav2Vec2BertModel(Wav2Vec2BertConfig())
    ref = random_init(ref, device, dtype)
    ref.load_state_dict(ours.state_dict(), strict=False)
    return ref.eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--reference", action="store_true", help="time HF Wav2Vec2BertModel side by side")
    ap.add_argument("--dtype", default=None, choices=["float32", "bfloat16", "float16"],
                    help="default: float32 on CPU, float16 on CUDA")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("float16" if device.type == "cuda" else "float32"))

    with torch.device("meta"):
        w2v_meta, codec_meta, cam_meta = W2vBertEncoder(used_layers=SEMANTIC_LAYER), RepCodec(), CAMPPlus()
    t0 = time.perf_counter()
    w2v = random_init(w2v_meta, device, dtype)
    codec = random_init(codec_meta, device, dtype)
    campplus = random_init(cam_meta, device, torch.float32)   # tiny; kept in fp32 like the reference
    stats = SemanticStats(torch.zeros(1024), torch.ones(1024)).to(device)
    n_w2v = sum(p.numel() for p in w2v.parameters())
    print(f"device {device} ({torch.cuda.get_device_name() if device.type == 'cuda' else f'{args.threads} threads'}), "
          f"dtype {dtype}, torch {torch.__version__}; built in {time.perf_counter() - t0:.1f} s; "
          f"w2v-BERT {SEMANTIC_LAYER} layers = {n_w2v / 1e6:.1f} M params")

    g = torch.Generator().manual_seed(1)
    audio_22k = 0.1 * torch.randn(1, int(args.seconds * 22050), generator=g)
    audio_16k = resample(audio_22k, 22050, 16000)
    feats, mask = w2v_bert_features(audio_16k)
    feats_d, mask_d = feats.to(device=device, dtype=dtype), mask.to(device)
    print(f"prompt {args.seconds:.1f} s -> {feats.shape[1]} w2v frames at 50 Hz")

    with torch.inference_mode():
        hidden = w2v(feats_d, mask_d)
        norm = stats(hidden)
        cases = {
            "resample 22050->16000": lambda: resample(audio_22k, 22050, 16000),
            "resample soxr-HQ 22050->16000": lambda: resample_hq(audio_22k, 22050, 16000),
            "features": lambda: w2v_bert_features(audio_16k),
            f"w2v-BERT {SEMANTIC_LAYER} layers (ours)": lambda: w2v(feats_d, mask_d),
            "codec quantize": lambda: codec.quantize(norm),
            "fbank + CAMPPlus": lambda: speaker_style(campplus, audio_16k),
        }
        results = {k: repeated(f, args.repeats, device) for k, f in cases.items()}
        if args.reference:
            ref = build_reference(w2v, device, dtype)
            diff = (ref(feats_d, mask_d, output_hidden_states=True).hidden_states[SEMANTIC_LAYER] - hidden).abs().max()
            print(f"reference hidden_states[{SEMANTIC_LAYER}] vs ours: max |diff| {float(diff):.2e}")
            results.update(interleaved({   # interleaved so machine load hits both alike
                "w2v-BERT ours (interleaved)": cases[f"w2v-BERT {SEMANTIC_LAYER} layers (ours)"],
                "w2v-BERT reference 24 layers (interleaved)": lambda: ref(feats_d, mask_d, output_hidden_states=True),
            }, args.repeats, device))

    print(f"\n{'stage':<44} {'min s':>8} {'median s':>9} {'s per s audio':>14}   reference (5 s, CPU fp32)")
    for k, secs in results.items():
        lo, med = min(secs), statistics.median(secs)
        ref_key = "w2v-BERT (reference runs 24 layers)" if k == f"w2v-BERT {SEMANTIC_LAYER} layers (ours)" else k
        ref = REFERENCE_5S.get(ref_key)
        extra = ""
        if ref is not None and device.type == "cpu" and abs(args.seconds - 5.0) < 1e-6:
            extra = f"   {ref:.4f} s -> ours/ref = {med / ref:.2f}x (median)"
        print(f"{k:<44} {lo:8.4f} {med:9.4f} {med / args.seconds:14.4f}{extra}")
    if args.reference:
        o = statistics.median(results["w2v-BERT ours (interleaved)"])
        r = statistics.median(results["w2v-BERT reference 24 layers (interleaved)"])
        print(f"\nside by side (same machine, same moment): ours / reference = {o / r:.2f}x (medians)")
    if device.type == "cpu" and abs(args.seconds - 5.0) < 1e-6:
        print(f"\nreference w2v-BERT cut to 17 layers: {REFERENCE_5S['w2v-BERT 17 layers (reference model, cut)']} s")


if __name__ == "__main__":
    main()
