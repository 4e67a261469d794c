"""Speed of S2Mel (per CFG Euler step) and BigVGAN at the FULL official size, random weights.

    .venv/bin/python bench/bench_s2mel_vocoder.py [--threads 2] [--seconds 5] [--prompt-seconds 5]
        [--dtype bfloat16|float16] [--device cpu|cuda] [--repeats 5] [--only s2mel|bigvgan]
        [--reference-src PATH/TO/UniTAF]   # optional: time the reference modules side by side

Times our float32 path (reference-exact) and our reduced-precision path (`--dtype`, default
bfloat16 on CPU / float16 on GPU: S2Mel under autocast, BigVGAN with half-precision dense convs),
plus the reference's own modules with the same weights when `--reference-src` points at a
GoldenFishes/UniTAF checkout (its Python dependencies must be importable). Prints seconds per call,
per second of generated audio, and each variant's output deviation from the first one.

The default case mirrors ../shared/research/reference-speed.md: 5 s prompt (430 mel frames) +
5 s of speech (430 frames); one estimator call = one CFG step at batch 2 over 860 frames; BigVGAN
on the 430 new frames. Timings are the minimum and median over `--repeats` interleaved runs after
one warm-up: on a shared machine the minimum is the least noisy figure. No timed assertions.
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
from types import SimpleNamespace

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from timing import interleaved  # noqa: E402  (bench/ is the script's folder)

from unitaf_blender.engines.unitaf.checkpoint import load_into  # noqa: E402
from unitaf_blender.engines.unitaf.s2mel import S2Mel, S2MelDims, fold_weight_norm, target_mel_frames  # noqa: E402
from unitaf_blender.engines.unitaf.vocoder import BigVGAN, BigVGANDims  # noqa: E402

HOP, SR = 256, 22050

# The official `s2mel:` config section (checkpoints/config.yaml) and BigVGAN config.json values.
OFFICIAL_S2MEL = {
    "style_encoder": {"dim": 192},
    "length_regulator": {"channels": 512, "is_discrete": False, "in_channels": 1024, "content_codebook_size": 2048,
                         "sampling_ratios": [1, 1, 1, 1], "vector_quantize": False, "n_codebooks": 1,
                         "quantizer_dropout": 0.0, "f0_condition": False, "n_f0_bins": 512},
    "DiT": {"hidden_dim": 512, "num_heads": 8, "depth": 13, "class_dropout_prob": 0.1, "block_size": 8192,
            "in_channels": 80, "style_condition": True, "final_layer_type": "wavenet", "target": "mel",
            "content_dim": 512, "content_codebook_size": 1024, "content_type": "discrete", "f0_condition": False,
            "n_f0_bins": 512, "content_codebooks": 1, "is_causal": False, "long_skip_connection": True,
            "zero_prompt_speech_token": False, "time_as_token": False, "style_as_token": False,
            "uvit_skip_connection": True, "add_resblock_in_transformer": False},
    "wavenet": {"hidden_dim": 512, "num_layers": 8, "kernel_size": 5, "dilation_rate": 1, "p_dropout": 0.2,
                "style_condition": True},
    "dit_type": "DiT", "reg_loss_type": "l1",
}
OFFICIAL_BIGVGAN = {
    "resblock": "1", "num_mels": 80, "upsample_rates": [4, 4, 2, 2, 2, 2], "upsample_kernel_sizes": [8, 8, 4, 4, 4, 4],
    "upsample_initial_channel": 1536, "resblock_kernel_sizes": [3, 7, 11],
    "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]], "use_tanh_at_final": False,
    "use_bias_at_final": False, "activation": "snakebeta", "snake_logscale": True, "sampling_rate": 22050,
    "n_fft": 1024, "hop_size": 256, "win_size": 1024, "fmin": 0, "fmax": None,
}


def report(label, secs, audio_s, unit):
    lo, med = min(secs), statistics.median(secs)
    print(f"  {label:<34} min {lo:7.3f} s  median {med:7.3f} s  -> {lo / audio_s:6.3f} s {unit} per second of audio")
    return lo


def ns(d):
    return SimpleNamespace(**{k: ns(v) if isinstance(v, dict) else v for k, v in d.items()})


def reference_modules(src: str, device):
    """Build the reference's own CFM estimator and BigVGAN (random init) from a UniTAF checkout."""
    sys.path.insert(0, os.path.abspath(src))
    from indextts.s2mel.modules.bigvgan.bigvgan import BigVGAN as RefBigVGAN
    from indextts.s2mel.modules.flow_matching import CFM
    cfm = CFM(ns(OFFICIAL_S2MEL)).to(device).eval()
    cfm.estimator.setup_caches(max_batch_size=1, max_seq_length=8192)   # as IndexTTS2.__init__
    h = dict(OFFICIAL_BIGVGAN)

    class AttrDict(dict):
        __getattr__ = dict.__getitem__
    voc = RefBigVGAN(AttrDict(h), use_cuda_kernel=False).to(device).eval()
    voc.remove_weight_norm()
    return cfm, voc


def rel_rms(a, b) -> float:
    a, b = a.float(), b.float()
    return float((a - b).pow(2).mean().sqrt() / b.pow(2).mean().sqrt())


def compare(fns, res, audio_s, unit):
    """Print every candidate, then each one's time and output deviation relative to the first."""
    base = next(iter(fns))
    lows = {k: report(k, res[k], audio_s, unit) for k in fns}
    want = fns[base]()
    for k in list(fns)[1:]:
        print(f"  {k} / {base} = {lows[k] / lows[base]:.2f}   (output rel. RMS deviation {rel_rms(fns[k](), want):.1e})")
    return lows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=110080 / SR, help="generated speech (default 4.992 s)")
    ap.add_argument("--prompt-seconds", type=float, default=5.0)
    ap.add_argument("--dtype", default=None, choices=["bfloat16", "float16"],
                    help="also time our reduced-precision compute path (default: bfloat16 on CPU, float16 on GPU)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=["s2mel", "bigvgan"], default=None)
    ap.add_argument("--reference-src", default=None, help="path of a GoldenFishes/UniTAF checkout (optional)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device(args.device)
    half = getattr(torch, args.dtype or ("float16" if device.type == "cuda" else "bfloat16"))
    n_codes = round(args.seconds * 50)
    new = int(target_mel_frames(n_codes))
    prompt = int(args.prompt_seconds * SR) // HOP
    T, audio_s = prompt + new, new * HOP / SR
    print(f"device {device} ({torch.get_num_threads()} threads), torch {torch.__version__}; "
          f"min / median of {args.repeats} interleaved runs")
    print(f"{n_codes} codes -> {new} new mel frames = {audio_s:.3f} s of audio; prompt {prompt} frames; "
          f"CFM over {T} frames")

    ref = reference_modules(args.reference_src, device) if args.reference_src else None
    with torch.inference_mode():
        if args.only in (None, "s2mel"):
            model = S2Mel(S2MelDims.from_config(OFFICIAL_S2MEL))
            if ref is not None:   # identical weights on both sides
                unused = ("input_pos", "x_embedder.", "cond_embedder.", "content_mask_embedder.")
                load_into(model.estimator, fold_weight_norm(ref[0].estimator.state_dict(), "reference"), "reference",
                          rename=lambda k: k.replace(".conv.conv.", "."), ignore=unused)
            model = model.to(device).eval()
            n_par = sum(p.numel() for p in model.parameters())
            print(f"\nS2Mel ({n_par / 1e6:.1f} M parameters): one CFG Euler step = estimator at batch 2 x {T} frames")
            x, px = torch.randn(2, 80, T, device=device), torch.randn(2, 80, T, device=device)
            mu, st = torch.randn(2, T, 512, device=device), torch.randn(2, 192, device=device)
            t, lens = torch.full((2,), 0.4, device=device), torch.tensor([T], device=device)

            def step(dtype):
                def run():
                    with model.set_compute_dtype(dtype).compute_context(device):
                        return model.estimator(x, px, lens, t, st, mu).float()
                return run
            fns = {}
            if ref is not None:
                fns["reference fp32"] = lambda: ref[0].estimator(x, px, lens, t, st, mu)
            fns["ours fp32"] = step(torch.float32)
            fns[f"ours {half}".replace("torch.", "")] = step(half)
            lows = compare(fns, interleaved(fns, args.repeats, device), audio_s, "per step")
            for k, lo in lows.items():
                print(f"  {k + ': 25-step CFM':<34} {25 * lo:7.2f} s  (RTF {25 * lo / audio_s:.2f})")
            model.set_compute_dtype(torch.float32)
            lat = torch.randn(1, n_codes, 1280, device=device)
            res = interleaved({"gpt_layer+regulator": lambda: model.regulate(model.gpt_layer(lat), new)},
                              args.repeats, device)
            report("ours gpt_layer + length regulator", res["gpt_layer+regulator"], audio_s, "")
            del model

        if args.only in (None, "bigvgan"):
            voc = BigVGAN(BigVGANDims.from_config(OFFICIAL_BIGVGAN))
            if ref is not None:   # identical weights on both sides
                voc.load_state(ref[1].state_dict(), "reference")
            else:                 # BigVGAN's own init (N(0, 0.01) convs): keeps activations in a realistic range
                for m in voc.modules():
                    if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)):
                        torch.nn.init.normal_(m.weight, 0.0, 0.01)
            voc = voc.to(device).eval()
            voc_half = copy.deepcopy(voc).set_compute_dtype(half)
            n_par = sum(p.numel() for p in voc.parameters())
            print(f"\nBigVGAN v2 ({n_par / 1e6:.1f} M parameters): {new} frames -> {new * HOP} samples")
            mel = torch.randn(1, 80, new, device=device)
            fns = {}
            if ref is not None:
                fns["reference fp32"] = lambda: ref[1](mel)
            fns["ours fp32"] = lambda: voc(mel)
            fns[f"ours {half} convs".replace("torch.", "")] = lambda: voc_half(mel)
            compare(fns, interleaved(fns, args.repeats, device), audio_s, "")


if __name__ == "__main__":
    main()
