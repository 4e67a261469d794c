"""Speed of the emotion-from-text model (our Qwen3, qwen3.py) at the FULL Qwen3-0.6B size with
random weights (no download): per sentence, prefill of the chat prompt + a fixed-length answer.

Random weights never emit <|im_end|>, so every sentence decodes exactly --answer-tokens tokens
(default 70: the real answer is one JSON object with up to 8 Chinese keys, ~60-70 tokens).
Prompt lengths are estimated: 19 template tokens + ~1 token per 3.5 UTF-8 bytes of the text
(the real Qwen tokenizer is not needed for timing). fp32 always; bf16 only where the CPU has
native bf16 (AVX512-BF16 or AMX), or with --bf16. Figures only, never a timed assertion.

    .venv/bin/python bench/bench_text_emotion.py [--threads 2] [--answer-tokens 70] [--bf16]
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from timing import once  # noqa: E402  (bench/ is the script's folder)

from unitaf_blender.engines.unitaf.qwen3 import (  # noqa: E402
    GenerationSettings,
    Qwen3,
    Qwen3Dims,
    generate_ids,
    generate_ids_batch,
)

SENTENCES = [
    "今天真是开心的一天！", "我真的很生气，你怎么可以这样对我？", "听到这个消息，我非常难过，一整晚都没睡着。",
    "I am so scared of what might happen tomorrow.", "Honestly, I'm feeling quite melancholy tonight.",
    "这道菜的味道让人恶心。", "哇，没想到你会来！真是太惊讶了。", "We'll follow the plan; everything is fine.",
    "Party time 🎉 我们赢了！", "最近心情很低落，什么都不想做，也不想见人。",
]
# Qwen3-0.6B config.json (Qwen/Qwen3-0.6B): the fine-tune keeps these dimensions
FULL = Qwen3Dims(vocab_size=151936, hidden_size=1024, intermediate_size=3072, layers=28, heads=16, kv_heads=8,
                 head_dim=128, rms_norm_eps=1e-6, rope_theta=1_000_000.0, tie_word_embeddings=True)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def native_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((ln for ln in f if ln.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def build(dtype) -> Qwen3:
    torch.manual_seed(0)
    with torch.device("meta"):
        model = Qwen3(FULL)
    model = model.to_empty(device="cpu").to(dtype)
    with torch.no_grad():   # cheap random init in place
        for p in model.parameters():
            p.fill_(1.0) if p.ndim == 1 else p.normal_(0.0, 0.02)
        d = FULL.head_dim
        model.inv_freq = 1.0 / (FULL.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))
    return model.eval()


def prompt_ids(text: str) -> list:
    n = 19 + math.ceil(len(text.encode("utf-8")) / 3.5)
    g = torch.Generator().manual_seed(len(text))
    return torch.randint(0, 151643, (n,), generator=g).tolist()


def run(dtype, answer_tokens: int):
    model = build(dtype)
    never = GenerationSettings(do_sample=False, eos_token_ids=())
    generate_ids(model, prompt_ids("warm up"), 4, never)
    per_sentence, prefill = [], []
    for text in SENTENCES:
        ids = prompt_ids(text)
        with torch.inference_mode():
            prefill.append(once(lambda: model(torch.tensor([ids]), model.new_cache(1, len(ids)), 0), "cpu"))
        per_sentence.append(once(lambda: generate_ids(model, ids, answer_tokens, never), "cpu"))
    decode_ms = [(s - p) / answer_tokens * 1000 for s, p in zip(per_sentence, prefill)]
    name = str(dtype).replace("torch.", "")
    print(f"{name}: per sentence median {statistics.median(per_sentence):.2f} s "
          f"(min {min(per_sentence):.2f}, max {max(per_sentence):.2f}); prefill median "
          f"{statistics.median(prefill) * 1000:.0f} ms; decode {statistics.median(decode_ms):.1f} ms/token")
    for text, s in zip(SENTENCES, per_sentence):
        print(f"   {s:6.2f} s  {len(prompt_ids(text)):3d} prompt tokens  {text}")
    # What `auto` does: every sentence of the script answered in one left-padded greedy batch.
    batch = once(lambda: generate_ids_batch(model, [prompt_ids(t) for t in SENTENCES], answer_tokens, ()), "cpu")
    print(f"{name}: the {len(SENTENCES)} sentences as one batch: {batch:.2f} s "
          f"({batch / sum(per_sentence):.2f}x one by one, {batch / len(SENTENCES):.2f} s per sentence)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--answer-tokens", type=int, default=70)
    ap.add_argument("--bf16", action="store_true", help="time bf16 even without native CPU support")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bf16 = native_bf16()
    print(f"CPU: {cpu_name()}, {args.threads} threads, torch {torch.__version__}, native bf16: {bf16}")
    d = FULL
    params = d.vocab_size * d.hidden_size + d.layers * (
        d.hidden_size * d.head_dim * (2 * d.heads + 2 * d.kv_heads) + 3 * d.hidden_size * d.intermediate_size)
    print(f"Qwen3-0.6B size ({params / 1e6:.0f} M parameters), "
          f"random weights, {len(SENTENCES)} sentences, {args.answer_tokens} answer tokens each")
    run(torch.float32, args.answer_tokens)
    if bf16 or args.bf16:
        run(torch.bfloat16, args.answer_tokens)
    else:
        print("bf16: skipped (no AVX512-BF16/AMX on this CPU; --bf16 times it anyway)")


if __name__ == "__main__":
    main()
