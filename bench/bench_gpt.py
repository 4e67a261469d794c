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
import functools
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from machine import cpu_name  # noqa: E402  (bench/ is the script's folder)
from timing import once, repeated  # noqa: E402

from unitaf_blender.engines.unitaf.devices import native_bf16, pick_precision  # noqa: E402
from unitaf_blender.engines.unitaf.generate import generate, iter_codes  # noqa: E402
from unitaf_blender.engines.unitaf.gpt import GPTDims, UnifiedVoice  # noqa: E402
from unitaf_blender.engines.unitaf.options import SamplingConfig  # noqa: E402

# Reference figures measured on this project's 2-vCPU CPU (research/reference-speed.md): fp32,
# reference code, HF generate, 60 text tokens, context ~100.
REFERENCE_CPU = {"decode_ms_beams1": 83.8, "decode_ms_beams3": 164.0, "prefill_s": 0.37, "cond_s": 0.29}


def build(device, dtype, seed=0, int8=False) -> UnifiedVoice:
    """Full-size GPT with random weights (same seed: same weights); int8: int8 block weights
    with `dtype` for everything else (what precision=int8 loads)."""
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
    return model.to(dtype=dtype).eval().optimize_for_inference(int8=int8)


def _err(got, want):
    got, want = got.float(), want.float()
    return float((got - want).abs().max()), float((got - want).pow(2).mean().sqrt() / want.pow(2).mean().sqrt())


def deviation(base, model, device, steps):
    """Per stage vs the fp32 model on the same weights: teacher-forced latents and mel logits
    (max abs, RMS relative error) and greedy codes agreement over `steps` decoded codes."""
    spk, text, codes = _inputs(base, device)
    out = {}
    for name, m in (("fp32", base), ("other", model)):
        with torch.inference_mode():
            conds = m.conditioning(m.speaker_latents(spk), m.emotion_vector(spk))
            lat = m.latents(conds, text, codes)
            logits = m.logits(conds, text, codes)[1]
            greedy = SamplingConfig(do_sample=False, num_beams=1, max_new_tokens=steps, min_new_tokens=steps)
            out[name] = lat, logits, generate(m, conds, text, greedy).codes[0]
    (la, ga, ca), (lb, gb, cb) = out["fp32"], out["other"]
    n = min(len(ca), len(cb))
    diff = (ca[:n] != cb[:n]).nonzero()
    return dict(latents=_err(lb, la), logits=_err(gb, ga), agree=float((ca[:n] == cb[:n]).float().mean()), n=n,
                first_diff=int(diff[0]) if len(diff) else None)


def timed(fn, device, repeats):
    return statistics.median(repeated(fn, repeats, device, warmup=False))


def _inputs(model, device):
    d = model.dims
    gen = torch.Generator(device="cpu").manual_seed(0)
    spk = torch.randn(1, ARGS.cond_frames, d.semantic_dim, generator=gen).to(device)
    text = torch.randint(2, d.number_text_tokens, (1, ARGS.text_tokens), generator=gen).to(device)
    codes = torch.randint(0, 8192, (1, ARGS.latent_codes), generator=gen).to(device)
    return spk, text, codes


def ours_runner(model, device, beams):
    """run(n): generate exactly n codes (stop suppressed) with the reference sampling settings."""
    spk, text, _ = _inputs(model, device)
    with torch.inference_mode():
        conds = model.conditioning(model.speaker_latents(spk), model.emotion_vector(spk))

    def run(n):
        cfg = SamplingConfig(num_beams=beams, max_new_tokens=n, min_new_tokens=n)
        generate(model, conds, text, cfg, generator=torch.Generator(device=device).manual_seed(1))
    return run


def make_hf(model, device, GPT2Config, GPT2Model):
    """transformers GPT2Model sharing our GPT-2 block tensors (no copy), wte/wpe zero."""
    d = model.dims
    cfg = GPT2Config(vocab_size=1, n_positions=d.max_mel_tokens + d.max_text_tokens + 64, n_embd=d.model_dim,
                     n_layer=d.layers, n_head=d.heads, use_cache=True, attn_implementation="eager")
    with torch.device("meta"):
        hf = GPT2Model(cfg)
    state = {k[len("gpt."):]: v for k, v in model.state_dict().items() if k.startswith("gpt.")}
    state["wte.weight"] = torch.zeros(1, d.model_dim, dtype=model.dtype, device=device)
    state["wpe.weight"] = torch.zeros(cfg.n_positions, d.model_dim, dtype=model.dtype, device=device)
    hf.load_state_dict(state, strict=False, assign=True)  # shares our tensors: no extra memory
    for mod in hf.modules():  # non-persistent buffers (HF's causal-mask table) are still on meta
        for name, buf in list(mod.named_buffers(recurse=False)):
            if buf.is_meta:
                n = buf.shape[-1] if buf.ndim else 0
                value = (torch.tril(torch.ones(n, n, dtype=torch.bool)).view(buf.shape) if buf.ndim == 4
                         else torch.tensor(-1e4))
                mod.register_buffer(name, value.to(device), persistent=False)
    hf = hf.eval()
    return hf


def hf_runner(model, device):
    """Same weights through transformers' GPT2Model + its KV cache, one token per forward, eager
    attention, with the reference's logits processing (repetition penalty, temperature, top-k,
    top-p, multinomial): the reference's beams=1 generate loop minus HF's bookkeeping."""
    try:
        import transformers
        from transformers import GPT2Config, GPT2Model
        from transformers.cache_utils import DynamicCache
    except ImportError:
        return None, None
    from unitaf_blender.engines.unitaf.generate import _apply_repetition_penalty, _warp

    d = model.dims
    hf = make_hf(model, device, GPT2Config, GPT2Model)
    sampling = SamplingConfig(num_beams=1)
    spk, text, _ = _inputs(model, device)
    with torch.inference_mode():
        conds = model.conditioning(model.speaker_latents(spk), model.emotion_vector(spk))
        prefix = model.prefill_embeddings(conds, text)

    @torch.inference_mode()
    def steps(n):
        """Yields after each decoded token (the first step includes the prefill)."""
        start = model.embed_mel(torch.full((1, 1), d.start_mel_token, device=device),
                                 torch.zeros(1, 1, dtype=torch.long, device=device))
        x = torch.cat([prefix, start], 1)
        mask = torch.ones(1, x.shape[1], dtype=torch.long, device=device)
        seen = torch.zeros(1, d.number_mel_codes, dtype=torch.bool, device=device)
        seen[:, 1] = seen[:, d.start_mel_token] = True
        past = DynamicCache()
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
            x = model.embed_mel(nxt, torch.full_like(nxt, step + 2))
            yield int(nxt)
    return steps, transformers.__version__


def ours_steps(model, device):
    spk, text, _ = _inputs(model, device)
    with torch.inference_mode():
        conds = model.conditioning(model.speaker_latents(spk), model.emotion_vector(spk))

    def steps(n):
        cfg = SamplingConfig(num_beams=1, max_new_tokens=n, min_new_tokens=n)
        for code, _ in iter_codes(model, conds, text, cfg, torch.Generator(device=device).manual_seed(1)):
            yield int(code)
    return steps


def alternate_steps(a, b, device, n):
    """Decode n tokens with both loops, alternating one step of each, so that load from other
    processes on a shared machine hits both alike. Returns per-step times (first = prefill)."""
    ia, ib = a(n), b(n)
    ta, tb = [], []
    for _ in range(n):
        for it, times in ((ia, ta), (ib, tb)):
            times.append(once(functools.partial(next, it), device))
    return ta, tb


def measure(runners, device):
    """Interleave the runners (A B A B ...) so load changes on a shared machine hit both alike.
    Returns {name: (prefill+1 token s, decode ms/token)} from medians over repeats."""
    first = {k: [] for k in runners}
    marginal = {k: [] for k in runners}
    for run in runners.values():
        run(2)  # warm-up
    for _ in range(ARGS.repeats):
        for name, run in runners.items():
            t1 = timed(lambda: run(1), device, 1)
            tn = timed(lambda: run(ARGS.tokens + 1), device, 1)
            first[name].append(t1)
            marginal[name].append((tn - t1) / ARGS.tokens * 1e3)
    return {k: (statistics.median(first[k]), statistics.median(marginal[k])) for k in runners}


ARGS = None


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
    ap.add_argument("--dtypes", nargs="+", default=None,
                    help="precisions of our model: float32 float16 bfloat16 int8 (default: float32 bfloat16 int8 on "
                         "CPU, + float16 on CUDA; the HF baseline always runs float32, as the reference)")
    ap.add_argument("--deviation-steps", type=int, default=50,
                    help="greedy codes compared with fp32 per precision (0: skip the deviation check)")
    args = ap.parse_args()
    global ARGS
    ARGS = args
    torch.set_num_threads(args.threads)
    devices = args.devices or (["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    print(f"CPU: {cpu_name()}, {os.cpu_count()} logical cores; native bf16: {native_bf16()}")
    print(f"torch {torch.__version__}, threads {args.threads}, GPT at official size "
          f"(1280 x 24 layers, 20 heads, 871 M params), random weights; {args.text_tokens} text tokens, "
          f"{args.cond_frames} speaker frames, {args.tokens} decoded tokens, median of {args.repeats}")
    ratios = {}   # (device, precision name) -> ours/HF per decoded token
    for dev_name in devices:
        device = torch.device(dev_name)
        base = build(device, torch.float32)  # fp32 weights, shared with the HF baseline
        hf_steps, hf_version = (None, None) if args.no_hf else hf_runner(base, device)
        names = args.dtypes or ["float32", "bfloat16"] + (["int8"] if device.type == "cpu" else ["float16"])
        for dtype_name in names:
            int8 = dtype_name == "int8"
            # int8 computes in what precision=int8 picks on this CPU (auto's float type)
            dtype = pick_precision(device, "int8").dtype if int8 else getattr(torch, dtype_name)
            model = base if dtype == torch.float32 and not int8 else build(device, dtype, int8=int8)  # same weights
            tag = f"{dev_name} {dtype_name}" + (f" (compute {str(dtype).replace('torch.', '')})" if int8 else "")
            if args.deviation_steps and model is not base:
                dev = deviation(base, model, device, args.deviation_steps)
                print(f"[{tag}] vs fp32, same weights: latents max abs {dev['latents'][0]:.4f}, RMS rel "
                      f"{dev['latents'][1] * 100:.2f} % | mel logits max abs {dev['logits'][0]:.4f}, RMS rel "
                      f"{dev['logits'][1] * 100:.2f} % | greedy codes agree {dev['agree'] * 100:.0f} % of {dev['n']} "
                      f"(first difference at step {dev['first_diff']})", flush=True)
            spk, text, codes = _inputs(model, device)
            with torch.inference_mode():
                cond_s = timed(lambda: model.speaker_latents(spk), device, args.repeats)
                emo_s = timed(lambda: model.emotion_vector(spk), device, args.repeats)
                conds = model.conditioning(model.speaker_latents(spk), model.emotion_vector(spk))
                latent_s = timed(lambda: model.latents(conds, text, codes), device, args.repeats)
            print(f"[{tag}] speaker cond {cond_s:.3f} s | emotion vector {emo_s:.3f} s | teacher-forced latent "
                  f"pass ({args.latent_codes} codes) {latent_s:.3f} s", flush=True)
            if hf_steps is not None:
                ta, tb = [], []
                for _ in range(args.repeats):
                    a, b = alternate_steps(ours_steps(model, device), hf_steps, device, args.tokens + 1)
                    ta.append(a)
                    tb.append(b)
                pre_o, pre_h = statistics.median(x[0] for x in ta), statistics.median(x[0] for x in tb)
                dec_o = statistics.median(v for x in ta for v in x[1:]) * 1e3
                dec_h = statistics.median(v for x in tb for v in x[1:]) * 1e3
                print(f"[{tag}] side by side, alternating steps (transformers {hf_version} GPT2Model fp32, eager "
                      f"attention, same weights, beams=1 sampling): prefill+first token ours {pre_o:.3f} s / "
                      f"HF {pre_h:.3f} s | decode ours {dec_o:.1f} ms/token / HF {dec_h:.1f} ms/token -> "
                      f"ours/HF = {dec_o / dec_h:.2f}", flush=True)
                ratios[(dev_name, "int8" if int8 else {torch.float32: "fp32", torch.bfloat16: "bf16",
                                                       torch.float16: "fp16"}[dtype])] = dec_o / dec_h
            elif not args.no_hf:
                print(f"[{tag}] HF side-by-side skipped: transformers is not importable in this Python "
                      "(run the script with a scratch venv that has transformers)")
            runners = {f"ours beams={b}": ours_runner(model, device, b) for b in args.beams}
            res = measure(runners, device)
            for name, (first_s, ms) in res.items():
                print(f"[{tag}] {name} (whole generate calls): prefill+1 token {first_s:.3f} s | decode "
                      f"{ms:.1f} ms/token ({1e3 / ms:.1f} tok/s)", flush=True)
            if device.type == "cpu":
                for b in args.beams:
                    ref = REFERENCE_CPU.get(f"decode_ms_beams{b}")
                    if ref and f"ours beams={b}" in res:
                        print(f"[{tag}] vs reference code measured earlier on this CPU type (reference-speed.md, "
                              f"beams={b}, fp32, {ref:.1f} ms/token): ours/reference = {res[f'ours beams={b}'][1] / ref:.2f}")
            model = runners = None  # free a half-precision copy before the next one
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if ("cpu", "fp32") in ratios or ("cpu", "int8") in ratios:
        default = pick_precision(torch.device("cpu"))
        got = ratios.get(("cpu", default.name))
        print(f"default precision on this CPU: {default.name} ({default.why}), ours/HF = "
              + (f"{got:.2f}" if got is not None else "not measured (add it to --dtypes)"))
        if ("cpu", "int8") in ratios:
            print(f"int8: ours/HF = {ratios[('cpu', 'int8')]:.2f}")


if __name__ == "__main__":
    main()
