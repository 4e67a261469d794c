"""Timing helpers shared by the benchmarks: one call timed with the device synchronised (CUDA
runs asynchronously, so an unsynchronised clock times the launch, not the work), and repeated or
interleaved rounds (interleaving lets load from other jobs on a shared machine hit every
candidate alike)."""
from __future__ import annotations

import time

import torch


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def once(fn, device) -> float:
    """Seconds one call of `fn()` takes, with the device idle before and after."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def repeated(fn, repeats: int, device, warmup: bool = True) -> list:
    """[seconds] of `repeats` calls, after one untimed warm-up call unless warmup=False."""
    if warmup:
        once(fn, device)
    return [once(fn, device) for _ in range(repeats)]


def interleaved(fns: dict, repeats: int, device) -> dict:
    """{name: [seconds]}: one warm-up call each, then `repeats` rounds calling A, B, ... in turn."""
    for fn in fns.values():
        once(fn, device)
    out = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            out[name].append(once(fn, device))
    return out
