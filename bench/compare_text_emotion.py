"""Text emotion, this tree's decoding beside another tree's (e.g. an older commit), side by side
in one process and interleaved: full-size Qwen3-0.6B with random weights in bf16, the scripted
answers of bench_text_emotion.py (70 tokens, 2 wrong digits per answer), 10 sentences and 1.

    git -C . archive <commit> | tar -x -C /tmp/older          # the other tree, outside the repo
    .venv/bin/python bench/compare_text_emotion.py --other /tmp/older [--threads 2] [--runs 3] [--tiny]

--tiny: a 2-layer model of the same vocabulary instead of the full size, to check that the
script runs (tests/unitaf/test_bench_scripts.py); its times mean nothing.

The other tree's model gets the same random weights and no packing (its own code); its greedy
tokens are taken from the same script through large logits. Figures only, never asserted.
"""
from __future__ import annotations

import argparse
import importlib
import os
import statistics
import sys
import time
from dataclasses import replace

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import bench_text_emotion as bench  # noqa: E402
from machine import cpu_name  # noqa: E402

from unitaf_blender.engines.unitaf import qwen3_generate as ours  # noqa: E402


def other_qwen3(src: str):
    """The other tree's (model module, decoding module), imported under the same package name once
    ours is moved aside; older trees decode in qwen3 itself, newer ones in qwen3_generate."""
    for name in [k for k in sys.modules if k.startswith("unitaf_blender")]:
        sys.modules["this_tree_" + name] = sys.modules.pop(name)
    sys.path.insert(0, os.path.abspath(src))
    model = importlib.import_module("unitaf_blender.engines.unitaf.qwen3")
    if not model.__file__.startswith(os.path.abspath(src)):
        raise SystemExit(f"--other: {src} has no unitaf_blender package")
    try:
        return model, importlib.import_module("unitaf_blender.engines.unitaf.qwen3_generate")
    except ModuleNotFoundError:
        return model, model


class ScriptedLogits:
    """The other tree's model (logits interface), its greedy token forced to the script."""

    def __init__(self, model):
        self.model, self.device, self.dtype, self.new_cache = model, model.device, model.dtype, model.new_cache

    def __call__(self, ids, cache, pos=0, all_logits=False, **kw):
        out = self.model(ids, cache, pos, all_logits=all_logits, **kw)
        script = bench.successor(ids)
        if kw.get("argmax"):      # newer decoding asks the model for its greedy ids (-1: not computed)
            return script[:, -1] if out.dim() == 1 else script.masked_fill(out < 0, -1)
        return out.scatter(-1, (script if all_logits else script[:, -1]).unsqueeze(-1), 1e9)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--other", required=True, help="another source tree (a checkout of an older commit)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tiny", action="store_true", help="a 2-layer model: checks the script runs, times mean nothing")
    args = ap.parse_args()
    if args.tiny:          # bench.build reads bench.FULL when it builds
        bench.FULL = replace(bench.FULL, hidden_size=64, intermediate_size=128, layers=2, heads=2, kv_heads=1,
                             head_dim=32)
    torch.set_num_threads(args.threads)
    print(f"CPU: {cpu_name()}, {args.threads} threads, torch {torch.__version__}, "
          f"native bf16: {bench.native_bf16()}; bf16, {len(bench.SENTENCES)} sentences, 70 answer tokens")
    mine = bench.ScriptedAnswers(bench.build(torch.bfloat16))
    other_model, other_module = other_qwen3(args.other)
    other = ScriptedLogits(bench.build(torch.bfloat16, model_class=other_model.Qwen3, pack=False))
    prompts, n = [bench.prompt_ids(t) for t in bench.SENTENCES], 70

    def case(module, model, rows):
        return lambda: module.generate_ids_batch(model, rows, n, (), bench.ScriptedGuesser(rows, n, bench.TWO_WRONG))
    cases = {"this tree, 10 sentences": case(ours, mine, prompts),
             "other tree, 10 sentences": case(other_module, other, prompts),
             "this tree, 1 sentence": case(ours, mine, prompts[:1]),
             "other tree, 1 sentence": case(other_module, other, prompts[:1])}
    answers = {name: run() for name, run in cases.items()}           # warm-up: every shape once
    print("same answers:", answers["this tree, 10 sentences"] == answers["other tree, 10 sentences"])
    times = {name: [] for name in cases}
    for r in range(args.runs):
        for name, run in cases.items():
            t0 = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - t0)
        print(f"run {r + 1}: " + "; ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items())
              + f" | load average {os.getloadavg()[0]:.1f}", flush=True)
    for name, t in times.items():
        print(f"{name}: median {statistics.median(t):.2f} s, min {min(t):.2f} s")


if __name__ == "__main__":
    main()
