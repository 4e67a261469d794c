"""Peak memory of loading the full-size GPT checkpoint (random weights written to a scratch file,
no download): VmHWM of a fresh process per load, every weight paged in after loading (tracemalloc
does not see torch's allocations). Linux only (/proc/self/status).

    .venv/bin/python bench/bench_load.py [--dir /tmp/unitaf-load] [--dtypes float32 bfloat16]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
CONFIG = {"gpt": {"emo_condition_module": dict(output_size=512, linear_units=1024, attention_heads=4, num_blocks=4)}}

CHILD = """
import sys, torch
sys.path.insert(0, {root!r})
from unitaf_blender.engines.unitaf.gpt import load_gpt
def vm(key):
    return next(int(l.split()[1]) / 2**20 for l in open('/proc/self/status') if l.startswith(key))
m = load_gpt({path!r}, {config!r}, dtype=torch.{dtype})
sum(float(p.float().sum()) for p in m.state_dict().values())   # page every weight in
kept = sum(p.numel() * p.element_size() for p in m.state_dict().values()) / 2**30
print(f"{dtype}: kept weights {{kept:.2f}} GiB, peak RSS (VmHWM) {{vm('VmHWM'):.2f}} GiB, "
      f"RSS after {{vm('VmRSS'):.2f}} GiB (anonymous {{vm('RssAnon'):.2f}}, file-backed {{vm('RssFile'):.2f}})")
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default="/tmp/unitaf-load")
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    path = os.path.join(args.dir, "gpt_full.pth")
    if not os.path.exists(path):
        import torch
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from bench_gpt import build
        torch.save(build(torch.device("cpu"), torch.float32).state_dict(), path)
    print(f"checkpoint {path}: {os.path.getsize(path) / 2**30:.2f} GiB")
    for dtype in args.dtypes:
        code = CHILD.format(root=ROOT, path=path, config=CONFIG, dtype=dtype)
        subprocess.run([sys.executable, "-c", code], check=True)


if __name__ == "__main__":
    main()
