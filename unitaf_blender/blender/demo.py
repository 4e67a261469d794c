"""The demo job: script + emotion -> out/demo.blend, out/demo.wav and a preview render.

Starts from an empty factory scene, builds our procedural head (demo_head.py), generates a
Performance with an engine (the embedded one by default), keys it as a take with its sound
strip (takes.py), saves, and renders a cheap headless preview (preview.py).
"""
import os
import time

import bpy
import numpy as np

from ..core.audio_io import write_wav
from ..core.channels import HEAD_EYE_ROTATIONS
from ..engines import EngineError
from ..engines.request_path import RawRequest, check, perform, prepare
from . import compat
from .demo_head import SCALE, build_demo_head
from .preview import render_preview, setup_preview_scene
from .takes import TakeOptions, apply_take, save_blend

DEFAULT_SCRIPT = ("[happy:0.8] Hi! I'm your new talking head. "
                  "[surprised:0.7] Wow, it all runs offline? "
                  "[calm:0.5] Let's make something together.")
DEMO_EMOTION = "happy:0.7"
DEMO_FPS = 30


def generate_performance(text=DEFAULT_SCRIPT, emotion=DEMO_EMOTION, seed=0, engine_id=None,
                         progress=print):
    """Run an engine on the script through the request path (no bpy involved)."""
    if not str(text or "").strip():
        raise ValueError("The demo script is empty: pass some text (e.g. --text \"Hello there!\").")
    say = progress or (lambda *a: None)

    def report(fraction, stage):
        say(f"  {100 * fraction:5.1f}%  {stage}")

    checked = check(RawRequest(engine_id=engine_id, text=str(text), emotion=str(emotion), seed=int(seed)))
    for note in checked.notes:
        say(f"  note: {note}")
    perf = perform(prepare(checked, report), report)
    if perf.n_frames == 0:
        raise EngineError("The engine returned an empty performance.")
    return perf


# Performance head rotations (radians; pitch > 0 looks down, yaw > 0 turns to the subject's
# left, roll > 0 tilts the top of the head to the subject's left) -> Euler axes of a head
# that faces -Y: rotating +X tips the face down, +Z turns it to +X, +Y tilts the top to +X.
HEAD_AXES = (("headPitch", 0), ("headRoll", 1), ("headYaw", 2))


def key_head_motion(obj, perf, start_frame, scene_fps):
    """Key the object's rotation from the performance's head channels. Returns the action,
    or None when the performance has no head rotation."""
    if not all(name in perf.channels for name, _ in HEAD_AXES):
        return None
    action, slot = compat.new_action(f"UniTAF_{obj.name}_head", obj)
    compat.assign_action(obj, action, slot)
    writer = compat.FCurveWriter(action, slot, "UniTAF head")
    frames = start_frame + np.arange(perf.n_frames) * (scene_fps / perf.fps)
    linear = compat.interpolation_index('LINEAR')
    for name, axis in HEAD_AXES:
        fc = writer.new("rotation_euler", axis)
        co = np.stack([frames, perf.channel(name)], axis=1).astype(np.float32)
        fc.keyframe_points.add(len(co))
        fc.keyframe_points.foreach_set("co", co.ravel())
        fc.keyframe_points.foreach_set("interpolation", np.full(len(co), linear, np.int32))
        fc.update()
    return action


def build_demo(perf, out_dir="out", render=True, progress=print, resolution=(320, 320),
               preview_mode="auto"):
    """Fresh scene + demo head + `perf` as a take; writes demo.blend, demo.wav and the preview.
    Replaces the open file (it is meant for the CLI / background mode).

    Returns {"blend", "wav", "preview": [paths], "frame_start", "frame_end", "warnings",
    "seconds": {...stage timings}}.
    """
    say = progress or (lambda *a: None)
    out_dir = os.path.abspath(os.fspath(out_dir))
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"Output folder {out_dir} is a file; pass another --out folder.")
    os.makedirs(out_dir, exist_ok=True)
    timings, t = {}, time.perf_counter()

    # An empty factory-startup scene, keeping the user's preferences and add-ons (unlike
    # read_factory_settings, which also resets the preferences in a real Blender).
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = DEMO_FPS, 1.0
    head = build_demo_head()
    # Frame the face: the head spans about +/-1.05 head units around its origin.
    setup_preview_scene(scene, head, center=(0.0, 0.0, 0.03 * SCALE), height=2.1 * SCALE)
    timings["scene"] = time.perf_counter() - t

    t = time.perf_counter()
    wav = os.path.join(out_dir, "demo.wav")
    if len(perf.audio):
        write_wav(wav, perf.audio, perf.sample_rate)
    else:
        wav = None
    # No audio_dir: the take's sound is packed into the .blend, so demo.blend is self-contained.
    take = apply_take(scene, head, perf, TakeOptions(start_frame=1))
    if key_head_motion(head, perf, take.frame_start, DEMO_FPS) is not None:
        say("  head rotation -> object rotation; eye rotation is shown by the eyeLook* keys")
    scene.frame_start, scene.frame_end = take.frame_start, max(take.frame_end, take.frame_start + 1)
    scene.frame_set(take.frame_start)
    scene.sync_mode = 'AUDIO_SYNC'
    blend = os.path.join(out_dir, "demo.blend")
    save_blend(blend)
    timings["keying+save"] = time.perf_counter() - t
    rotations_only = set(perf.channels) - take.target_plan.channels_read() <= set(HEAD_EYE_ROTATIONS)
    for w in take.warnings:
        if not (rotations_only and w.startswith(("dropped: head turns", "dropped: eye turns"))):   # handled above
            say(f"  note: {w}")
    say(f"wrote {blend} (frames {scene.frame_start}-{scene.frame_end} at {DEMO_FPS} fps)")
    if wav:
        say(f"wrote {wav} ({perf.audio_seconds:.1f} s)")

    previews = []
    if render:
        t = time.perf_counter()
        previews = render_preview(scene, os.path.join(out_dir, "demo_preview"),
                                  resolution=resolution, mode=preview_mode, progress=say)
        timings["preview"] = time.perf_counter() - t
    return {"blend": blend, "wav": wav, "preview": previews, "frame_start": scene.frame_start,
            "frame_end": scene.frame_end, "warnings": list(take.warnings), "seconds": timings}


def run_demo(out_dir="out", text=DEFAULT_SCRIPT, emotion=DEMO_EMOTION, seed=0, engine_id=None,
             render=True, progress=print):
    """The README's main command: generate, key, save and preview. Returns build_demo's dict."""
    say = progress or (lambda *a: None)
    t0 = time.perf_counter()
    say(f"demo: generating speech and face for: {text!r} (emotion {emotion})")
    perf = generate_performance(text, emotion, seed, engine_id, progress)
    gen = time.perf_counter() - t0
    say(f"demo: {perf.duration:.1f} s performance ({perf.meta.get('engine', 'engine')}) "
        f"in {gen:.1f} s")
    result = build_demo(perf, out_dir, render=render, progress=progress)
    result["seconds"]["generate"] = gen
    result["seconds"]["total"] = time.perf_counter() - t0
    say(f"demo: done in {result['seconds']['total']:.1f} s")
    return result
