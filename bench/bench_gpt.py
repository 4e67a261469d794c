"""Speed of our IndexTTS2 GPT at FULL official size with random weights (no download).

Prints, per device/precision: speaker conditioning, prefill, decode time per token (lean KV-cached
loop, sampling with the reference's warpers and repetition penalty) and the teacher-forced latent
pass. If `transformers` is importable (e.g. run this script with a scratch venv's python), the
same weights are also run through HF GPT2Model with HF's past_key_values cache and eager
attention (the reference's backbone and generate-style loop) in the same process, and the ratio
ours/HF per decoded token is printed. Never a timed assertion: figures only.

    .venv/bin/python bench/bench_gpt.py                     # CPU fp32 (+ GPU fp32/bf16/fp16 if any)
    /tmp/venv-with-transformers/bin/python bench/bench_gpt.py --tokens 64 --beams 1 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from unitaf_blender.engines.unitaf.gpt import GPTDims, SamplingConfig, UnifiedVoice  # noqa: E402

# Reference figures measured on this project's 2-vCPU CPU (research/reference-speed.md): fp32,
# reference code, HF generate, 60 text tokens, context ~100.
REFERENCE_CPU = {"decode_ms_beams1": 83.8, "decode_ms_beams3": 164.0, "prefill_s": 0.37, "cond_s": 0.29}


def build(device, dtype, seed=0) -> UnifiedVoice:
    torch.manual_seed(seed)
    with torch.device("meta"):
        model = UnifiedVoice(GPTDims())
    model = model.to_empty(device=device)
    with torch.no_grad():  # cheap random init in place (default inits of 871 M params take long)
        for name, p in model.named_parameters():
            if p.ndim == 1:  # norm gains 1, biases 0
                p.fill_(1.0) if name.endswith(("weight", "gamma")) else p.zero_()
            else:
                p.normal_(0.0, 0.02)
        for name, b in model.named_buffers():
            if name.endswith("pe"):
                from unitaf_blender.engines.unitaf.conformer import sinusoid_table
                b.copy_(sinusoid_table(b.shape[1], b.shape[2]))
    return model.to(dtype=dtype).eval()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, device, repeats):
    times = []
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_ours(model, device, args, beams):
    d = model.dims
    gen = torch.Generator(device="cpu").manual_seed(0)
    spk = torch.randn(1, args.cond_frames, d.semantic_dim, generator=gen).to(device)
    text = torch.randint(2, d.number_text_tokens, (1, args.text_tokens), generator=gen).to(device)
    out = {}
    with torch.inference_mode():
        out["cond_s"] = timed(lambda: model.speaker_latents(spk), device, args.repeats)
        latents = model.speaker_latents(spk)
        emovec = model.emotion_vector(spk)
        conds = model.conditioning(latents, emovec)

        def run(n):
            cfg = SamplingConfig(num_beams=beams, max_new_tokens=n, min_new_tokens=n)
            return model.generate(conds, text, cfg, generator=torch.Generator(device=device).manual_seed(1))

        run(2)  # warm-up
        t1 = timed(lambda: run(1), device, args.repeats)
        tn = timed(lambda: run(args.tokens + 1), device, args.repeats)
        out["prefill_s"] = t1
        out["decode_ms"] = (tn - t1) / args.tokens * 1e3
        codes = torch.randint(0, 8192, (1, args.latent_codes), generator=gen).to(device)
        out["latent_s"] = timed(lambda: model.latents(conds, text, codes), device, args.repeats)
    return out


def bench_hf(model, device, args):
    """Same weights through transformers' GPT2Model + DynamicCache, one token per forward, with the
    reference's logits processing (repetition penalty, temperature, top-k, top-p, multinomial)."""
    try:
        from transformers import GPT2Config, GPT2Model
    except ImportError:
        return None
    d = model.dims
    cfg = GPT2Config(vocab_size=1, n_positions=d.max_mel_tokens + d.max_text_tokens + 64, n_embd=d.model_dim,
                     n_layer=d.layers, n_head=d.heads, use_cache=True, attn_implementation="eager")
    with torch.device("meta"):
        hf = GPT2Model(cfg)
    state = {k[len("gpt."):]: v for k, v in model.state_dict().items() if k.startswith("gpt.")}
    state["wte.weight"] = torch.zeros(1, d.model_dim, dtype=model.dtype, device=device)
    state["wpe.weight"] = torch.zeros(cfg.n_positions, d.model_dim, dtype=model.dtype, device=device)
    for i in range(d.layers):  # HF keeps a causal-mask buffer in older versions; tolerate both
        state.pop(f"h.{i}.attn.bias", None)
        state.pop(f"h.{i}.attn.masked_bias", None)
    hf.load_state_dict(state, strict=False, assign=True)  # shares our tensors: no extra memory
    hf = hf.to(device).eval()
    sampling = SamplingConfig(num_beams=1)
    gen = torch.Generator(device="cpu").manual_seed(0)
    spk = torch.randn(1, args.cond_frames, d.semantic_dim, generator=gen).to(device)
    text = torch.randint(2, d.number_text_tokens, (1, args.text_tokens), generator=gen).to(device)
    from unitaf_blender.engines.unitaf.gpt import _apply_repetition_penalty, _warp

    with torch.inference_mode():
        conds = model.conditioning(model.speaker_latents(spk), model.emotion_vector(spk))
        prefix = model.prefill_embeddings(conds, text)

        def run(n):
            start = model._embed_mel(torch.full((1, 1), d.start_mel_token, device=device),
                                     torch.zeros(1, 1, dtype=torch.long, device=device))
            x = torch.cat([prefix, start], 1)
            mask = torch.ones(1, x.shape[1], dtype=torch.long, device=device)
            seen = torch.zeros(1, d.number_mel_codes, dtype=torch.bool, device=device)
            past = None
            g = torch.Generator(device=device).manual_seed(1)
            for step in range(n):
                o = hf(inputs_embeds=x, past_key_values=past, attention_mask=mask, use_cache=True)
                past = o.past_key_values
                logits = model.mel_head(model.final_norm(o.last_hidden_state[:, -1])).float()
                logits = _apply_repetition_penalty(logits, seen, sampling.repetition_penalty)
                logits[:, d.stop_mel_token] = float("-inf")
                nxt = torch.multinomial(_warp(logits, sampling, 1).softmax(-1), 1, generator=g)
                seen.scatter_(1, nxt, True)
                mask = torch.cat([mask, mask.new_ones(1, 1)], 1)
                x = model._embed_mel(nxt, torch.full_like(nxt, step + 2))

        run(2)
        t1 = timed(lambda: run(1), device, args.repeats)
        tn = timed(lambda: run(args.tokens + 1), device, args.repeats)
    import transformers
    return {"prefill_s": t1, "decode_ms": (tn - t1) / args.tokens * 1e3, "version": transformers.__version__}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=32, help="decoded tokens timed (default 32)")
    ap.add_argument("--text-tokens", type=int, default=60)
    ap.add_argument("--cond-frames", type=int, default=249, help="speaker feature frames (249 = 5 s)")
    ap.add_argument("--latent-codes", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--beams", type=int, nargs="+", default=[1, 3])
    ap.add_argument("--devices", nargs="+", default=None, help="e.g. cpu cuda (default: cpu, + cuda if present)")
    ap.add_argument("--no-hf", action="store_true", help="skip the transformers baseline")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    print(f"torch {torch.__version__}, threads {args.threads}, GPT at official size "
          f"(1280 x 24 layers, 20 heads, 871 M params), random weights; {args.text_tokens} text tokens, "
          f"{args.cond_frames} speaker frames, {args.tokens} decoded tokens, median of {args.repeats}")
    for dev_name in devices:
        device = torch.device(dev_name)
        precisions = [torch.float32] if device.type == "cpu" else [torch.float32, torch.bfloat16, torch.float16]
        for dtype in precisions:
            model = build(device, dtype)
            tag = f"{dev_name} {str(dtype).replace('torch.', '')}"
            hf = None if args.no_hf else bench_hf(model, device, args)
            for beams in args.beams:
                r = bench_ours(model, device, args, beams)
                line = (f"[{tag}] ours beams={beams}: speaker cond {r['cond_s']:.3f} s | prefill+1 token "
                        f"{r['prefill_s']:.3f} s | decode {r['decode_ms']:.1f} ms/token "
                        f"({1e3 / r['decode_ms']:.1f} tok/s) | latent pass {args.latent_codes} codes "
                        f"{r['latent_s']:.3f} s")
                print(line, flush=True)
                if beams == 1 and hf is not None:
                    print(f"[{tag}] HF transformers {hf['version']} GPT2Model (eager, DynamicCache), beams=1: "
                          f"prefill+1 token {hf['prefill_s']:.3f} s | decode {hf['decode_ms']:.1f} ms/token "
                          f"-> ours/HF = {r['decode_ms'] / hf['decode_ms']:.2f}", flush=True)
                if device.type == "cpu" and dtype == torch.float32:
                    ref = REFERENCE_CPU[f"decode_ms_beams{beams}"] if beams in (1, 3) else None
                    if ref:
                        print(f"[{tag}] reference code on this CPU (reference-speed.md, beams={beams}): "
                              f"{ref:.1f} ms/token -> ours/reference = {r['decode_ms'] / ref:.2f}", flush=True)
            if hf is None and not args.no_hf:
                print(f"[{tag}] HF side-by-side skipped: transformers is not importable in this Python "
                      "(run the script with a scratch venv that has transformers)")
            del model
            if device.type == "cuda":
                torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
