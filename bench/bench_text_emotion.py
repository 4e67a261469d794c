"""Speed of the emotion-from-text model (our Qwen3, qwen3.py) at the FULL Qwen3-0.6B size with
random weights (no download), for the 10 sentences of a script, beside the embedded engine's own
time for such a script.

Random weights never emit <|im_end|>, so every reply decodes exactly --answer-tokens tokens
(default 70: the real answer is one JSON object with 8 Chinese keys, ~65 tokens). Prompt lengths
are estimated: 19 template tokens + ~1 token per 3.5 UTF-8 bytes of the text, the first 10 (the
system part) shared by every prompt, as the real template's are.

Guessed decoding (qwen3_generate.generate_ids_batch with a drafter) gives greedy's exact tokens; its speed
depends on where guesses are wrong, which random weights cannot show (and in bf16 a batch's
rounding differs from one row's, so random weights' near-ties would not even repeat). So the
guessed runs use a scripted answer: the model computes every pass in full (all layers, the head,
the argmax), and its answer is then read from a script, `next = f(previous token)`. The guesser
knows the script and the answer's shape: 8 numbers of 2 digits each (the answer JSON's digit
positions, which LookupDrafter marks as uncertain) at the places of the real format, with the
digits it gets wrong set per row. "2 wrong" per reply stands for a real answer with two non-zero
scores (the template guesses `0.0` for every key); "all right" and "every digit wrong" bound it.
fp32 always; bf16 (with its deviation from fp32) only where the CPU has native bf16 (AVX512-BF16
or AMX), or with --bf16. On a GPU (`--device cuda`, bench/device_check.sh) fp32 and fp16, the
engine's default there. Figures only, never asserted.

    .venv/bin/python bench/bench_text_emotion.py [--threads 2] [--answer-tokens 70] [--bf16] [--device cuda]
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from bench_load import QWEN3_CONFIG  # noqa: E402  (bench/ is the script's folder)
from machine import cpu_name  # noqa: E402
from timing import once  # noqa: E402

from unitaf_blender.engines.unitaf.devices import native_bf16  # noqa: E402
from unitaf_blender.engines.unitaf.qwen3 import Qwen3, Qwen3Dims, pack_for_cpu  # noqa: E402
from unitaf_blender.engines.unitaf.qwen3_generate import (  # noqa: E402
    GenerationSettings,
    generate_ids,
    generate_ids_batch,
)

SENTENCES = [
    "今天真是开心的一天！", "我真的很生气，你怎么可以这样对我？", "听到这个消息，我非常难过，一整晚都没睡着。",
    "I am so scared of what might happen tomorrow.", "Honestly, I'm feeling quite melancholy tonight.",
    "这道菜的味道让人恶心。", "哇，没想到你会来！真是太惊讶了。", "We'll follow the plan; everything is fine.",
    "Party time 🎉 我们赢了！", "最近心情很低落，什么都不想做，也不想见人。",
]
ENGLISH = [
    "What a wonderful day this has been!", "I am really angry, how could you do this to me?",
    "Hearing that news, I was so sad that I could not sleep all night.",
    "I am so scared of what might happen tomorrow.", "Honestly, I'm feeling quite melancholy tonight.",
    "The taste of this dish is disgusting.", "Wow, I never expected you to come! What a surprise.",
    "We'll follow the plan; everything is fine.", "Party time, we won!",
    "Lately I feel low, I don't want to do anything or see anyone.",
]
# Qwen3-0.6B's config.json (the fine-tune keeps its dimensions), as bench_load.py writes it
FULL = Qwen3Dims.from_config(QWEN3_CONFIG)


def build(dtype, device="cpu", model_class=Qwen3, pack=True):
    """FULL (random weights, seed 0) as `model_class` (another tree's Qwen3: the same weights),
    packed for the CPU as load_qwen3 does unless pack=False."""
    torch.manual_seed(0)
    with torch.device("meta"):
        model = model_class(FULL)
    model = model.to_empty(device=device).to(dtype)
    with torch.no_grad():   # cheap random init in place
        for p in model.parameters():
            p.fill_(1.0) if p.ndim == 1 else p.normal_(0.0, 0.02)
        d = FULL.head_dim
        model.inv_freq = 1.0 / (FULL.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64, device=device).float() / d))
    model.eval()
    if pack:
        pack_for_cpu(model)         # as load_qwen3 does (bf16 on a CPU)
    return model


SHARED = torch.randint(0, 151643, (10,), generator=torch.Generator().manual_seed(7)).tolist()


def prompt_ids(text: str) -> list:
    n = 9 + math.ceil(len(text.encode("utf-8")) / 3.5)
    g = torch.Generator().manual_seed(len(text))
    return SHARED + torch.randint(0, 151643, (n,), generator=g).tolist()


# the answer's digit places (8 keys, `"key": d.d,` about 8 tokens each) and the 2 a guess gets wrong
DIGITS = tuple(p for key in range(8) for p in (4 + 8 * key, 6 + 8 * key))
TWO_WRONG = (14, 46)


def successor(token: int) -> int:
    """The scripted answer: each token fixes the next (a permutation of the vocabulary)."""
    return (token * 7919 + 13) % 151643


class ScriptedAnswers:
    """The model computing each pass in full, its greedy tokens then taken from the script."""

    def __init__(self, model):
        self.model = model
        self.device, self.dtype, self.new_cache = model.device, model.dtype, model.new_cache

    def __call__(self, ids, cache, pos=0, **kw):
        best = self.model(ids, cache, pos, **kw)
        script = successor(ids)
        return script[:, -1] if best.dim() == 1 else script.masked_fill(best < 0, -1)


class ScriptedGuesser:
    """Guesses the scripted answer of every row, wrong at the answer places in `wrong`; the
    tokens at the digit places are its `wildcards` (uncertain, as LookupDrafter's digits)."""

    def __init__(self, prompts, length, wrong=()):
        self.wrong = set(wrong)
        self.wildcards = set()
        for prompt in prompts:
            token = successor(prompt[-1])
            for place in range(length):
                if place in DIGITS:
                    self.wildcards.add(token)
                token = successor(token)

    def draft(self, ids, k):
        out, token = [], ids[-1]
        for place in range(len(ids), len(ids) + k):
            token = successor(token)
            out.append(token + 1 if place in self.wrong else token)
        return out


def embedded_seconds(repeats: int = 3) -> float:
    """The embedded engine's text -> Performance time for the English sentences as one script."""
    from unitaf_blender.engines import GenerateRequest
    from unitaf_blender.engines.embedded.engine import EmbeddedEngine

    script = " ".join(ENGLISH)
    engine = EmbeddedEngine()
    request = GenerateRequest(text=script, emotion="calm:0.5", seed=0)
    engine.generate(request)
    return statistics.median(once(lambda: engine.generate(request), "cpu") for _ in range(repeats))


def deviation(model, ref, prompts):
    """Relative RMS of the prompt logits vs `ref` (worst of 3 prompts)."""
    rel = []
    with torch.inference_mode():
        for p in prompts[:3]:
            ids = torch.tensor([p], device=model.device)
            a = ref(ids, ref.new_cache(1, len(p)), 0, all_logits=True)
            b = model(ids, model.new_cache(1, len(p)), 0, all_logits=True)
            rel.append(float((b - a).pow(2).mean().sqrt() / a.pow(2).mean().sqrt()))
    return max(rel)


def run(name, model, answer_tokens, reference=None):
    prompts = [prompt_ids(t) for t in SENTENCES]
    never = GenerationSettings(do_sample=False, eos_token_ids=())
    generate_ids(model, prompts[0][:12], 2, never)       # warm-up
    dev = model.device
    one = once(lambda: generate_ids(model, prompts[0], answer_tokens, never), dev)
    plain = once(lambda: generate_ids_batch(model, prompts, answer_tokens, ()), dev)
    print(f"{name}: one sentence, token by token: {one:.2f} s; 10 sentences as one batch, token by token: "
          f"{plain:.2f} s ({plain / (10 * one):.2f}x one by one)")
    scripted = ScriptedAnswers(model)
    rows = {"all right": (), "2 wrong": TWO_WRONG, "every digit wrong": DIGITS}
    guessed = {}
    for label, wrong in rows.items():
        guesser = ScriptedGuesser(prompts, answer_tokens, wrong)
        guessed[label] = once(lambda: generate_ids_batch(scripted, prompts, answer_tokens, (), guesser), dev)
        print(f"   10 sentences, guessed, {label:17}: {guessed[label]:6.2f} s ({guessed[label] / plain:.2f}x the batch)")
    single = once(lambda: generate_ids_batch(scripted, prompts[:1], answer_tokens, (),
                                             ScriptedGuesser(prompts[:1], answer_tokens, TWO_WRONG)), dev)
    print(f"   one sentence, guessed, 2 wrong: {single:.2f} s ({single / one:.2f}x token by token)")
    if reference is not None:
        print(f"   deviation from fp32: prompt logits relative RMS {deviation(model, reference, prompts):.4f}")
    return guessed["2 wrong"], single


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--answer-tokens", type=int, default=70)
    ap.add_argument("--bf16", action="store_true", help="time bf16 even without native CPU support")
    ap.add_argument("--device", default="cpu", help="cpu, or cuda[:N]: fp32 and fp16 on the GPU")
    ap.add_argument("--skip-fp32", action="store_true", help="time only the lower precision (no deviation line)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    d = FULL
    params = d.vocab_size * d.hidden_size + d.layers * (
        d.hidden_size * d.head_dim * (2 * d.heads + 2 * d.kv_heads) + 3 * d.hidden_size * d.intermediate_size)
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    else:
        print(f"CPU: {cpu_name()}, {args.threads} threads, torch {torch.__version__}, native bf16: {native_bf16()}")
    print(f"Qwen3-0.6B size ({params / 1e6:.0f} M parameters), "
          f"random weights, {len(SENTENCES)} sentences, {args.answer_tokens} answer tokens each")
    embedded = embedded_seconds()
    print(f"embedded engine (CPU), the same 10 sentences (English) as one script, text -> Performance: {embedded:.3f} s")
    fp32 = None if args.skip_fp32 else build(torch.float32, device)
    times = {} if fp32 is None else {"fp32": run("fp32", fp32, args.answer_tokens)}
    if device.type == "cuda":
        times["fp16"] = run("fp16", build(torch.float16, device), args.answer_tokens, reference=fp32)
    elif native_bf16() or args.bf16:
        times["bf16"] = run("bf16", build(torch.bfloat16, device), args.answer_tokens, reference=fp32)
    else:
        print("bf16: skipped (no AVX512-BF16/AMX on this CPU; --bf16 times it anyway)")
    for name, (ten, single) in times.items():
        print(f"auto emotion ({name}, 2 wrong guesses per reply): 10 sentences {ten:.2f} s = "
              f"{ten / embedded:.0f}x the embedded engine's {embedded:.3f} s; one sentence {single:.2f} s")


if __name__ == "__main__":
    main()
