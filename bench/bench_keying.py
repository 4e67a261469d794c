"""Keying speed: milliseconds of bulk keying per minute of animation (goal <= 50 ms/min on 5.0.1).

    .venv/bin/python bench/bench_keying.py [--minutes 10] [--repeat 3]

Times `apply_take` end to end (resample + shaping + F-curve writing, no sound) for 52 and
61 channels at 25 fps into a 24 fps scene, and the raw F-curve write on its own.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import bmesh  # noqa: E402
import bpy  # noqa: E402

from unitaf_blender.blender import compat, keying  # noqa: E402
from unitaf_blender.blender.takes import TakeOptions, apply_take  # noqa: E402
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS  # noqa: E402
from unitaf_blender.core.performance import Performance  # noqa: E402


def face(channels):
    me = bpy.data.meshes.new("Face")
    bm = bmesh.new()
    bmesh.ops.create_cube(bm)
    bm.to_mesh(me)
    bm.free()
    obj = bpy.data.objects.new("Face", me)
    bpy.context.scene.collection.objects.link(obj)
    obj.shape_key_add(name="Basis")
    for ch in channels:
        obj.shape_key_add(name=ch, from_mix=False)
    return obj


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print(f"bpy {bpy.app.version_string}, slotted actions: {compat.has_slotted_actions()}, "
          f"{args.minutes:g} min at 25 fps -> 24 fps scene, median of {args.repeat}")
    for channels in (ARKIT_52, ARKIT_52 + HEAD_EYE_ROTATIONS):
        full, write = [], []
        for r in range(args.repeat):
            bpy.ops.wm.read_factory_settings(use_empty=True)
            bpy.context.scene.render.fps = 24
            obj = face(channels)
            n = int(args.minutes * 60 * 25) + 1
            w = np.random.default_rng(r).random((n, len(channels)), dtype=np.float32)
            perf = Performance(audio=np.zeros(0, np.float32), sample_rate=16000, fps=25.0,
                               channels=channels, weights=w)
            t0 = time.perf_counter()
            res = apply_take(bpy.context.scene, obj, perf, TakeOptions(start_frame=1, add_sound=False))
            full.append(time.perf_counter() - t0)
            # the F-curve write alone, same data
            _, tracks = keying.prepare_tracks(perf, res.target_plan.pairs, obj.data.shape_keys.key_blocks,
                                              24.0, {}, 0)
            action, slot = compat.new_action("raw", obj.data.shape_keys)
            t0 = time.perf_counter()
            keying.write_tracks(action, slot, 1, tracks)
            write.append(time.perf_counter() - t0)
        keys = len(tracks) * len(tracks[0][1])
        per_min = 1e3 / args.minutes
        print(f"{len(channels)} channels: apply_take {statistics.median(full) * per_min:6.1f} ms/min, "
              f"F-curve write {statistics.median(write) * per_min:6.1f} ms/min "
              f"({keys:,} keys, total {statistics.median(full) * 1e3:.0f} ms)")


if __name__ == "__main__":
    main()
