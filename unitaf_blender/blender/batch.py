"""Run a batch plan (core.batch) in a scene: generate every line, then key them in order.

All inputs are checked before any generation starts, and every line is generated before the
scene is touched, so a bad line or a failed generation leaves the scene as it was.
"""
from ..core.batch import BatchPlan, load_batch  # noqa: F401  (re-exported for the CLI)
from ..core.emotion import parse_emotion
from .takes import TakeOptions, apply_take


def run_batch(scene, plan: BatchPlan, generate, start_frame=None, model_dir=None, device=None,
              validate=None, progress=None, audio_dir=None):
    """Key every line of `plan`; returns [(object, TakeResult)] in line order.

    `generate(text, emotion, engine, voice, seed, language, model_dir, device)` returns a
    Performance; `validate(object_name)` returns the target object or raises.
    """
    import bpy
    targets = []
    for i, line in enumerate(plan.lines, 1):
        obj = validate(line.object) if validate else bpy.data.objects[line.object]
        try:
            parse_emotion(line.emotion)
        except ValueError as e:
            raise ValueError(f"batch line {i}: {e}") from None
        targets.append(obj)

    performances = []
    for i, line in enumerate(plan.lines, 1):
        if progress:
            progress((i - 1) / len(plan.lines), f"line {i}/{len(plan.lines)}: {line.object}")
        performances.append(generate(line.text, line.emotion, line.engine, line.voice, line.seed,
                                     line.language, model_dir, device))

    fps = scene.render.fps / scene.render.fps_base
    cursor = scene.frame_start if start_frame is None else int(start_frame)
    results = []
    for i, (line, obj, perf) in enumerate(zip(plan.lines, targets, performances), 1):
        gap = plan.gap if line.gap is None else line.gap
        if line.frame is not None:
            frame = line.frame
        else:
            frame = cursor + (round(gap * fps) if i > 1 else 0)
        # Every line goes to the NLA so that several lines of one character all play.
        opts = TakeOptions(start_frame=frame, push_to_nla=True, take_name=f"line{i:03d}",
                           audio_dir=audio_dir)
        result = apply_take(scene, obj, perf, opts)
        results.append((obj, result))
        cursor = result.frame_end
    scene.frame_end = max(scene.frame_end, cursor)
    return results
