"""Run a batch plan (core.batch) in a scene: check every line, generate every line, then key
them in order.

Every line is checked in full first (target object, pinned frame, engine, emotion, inline
tags and markup, voice, language, text, model files) with the engine's cheap `check`, so a bad
line 30 is reported before line 1 spends minutes in the neural engine; all bad lines are
reported at once, malformed ones of the file included, each as `line N: ...`. Every line is
generated before the scene is touched.
"""
from dataclasses import dataclass

from ..core.batch import BatchPlan
from ..engines import CheckedRequest, EngineError, GenerateRequest, LipsyncRequest, get_engine
from ..engines.auto_emotion import check_request, resolve_auto
from ..engines.segments import with_segments
from .recording import read_recording
from .takes import MAX_FRAME, MIN_FRAME, TakeOptions, apply_take


class BatchError(ValueError):
    """One or more lines of a batch are bad; the message names each line."""


@dataclass
class CheckedLine:
    number: int                  # 1-based, as in messages
    object: object               # the target mesh
    engine: object
    checked: CheckedRequest


def check_lines(plan: BatchPlan, find_object, options=None, problems=()) -> list:
    """[CheckedLine] for every line of `plan`, or BatchError listing every bad line.

    `find_object(name)` returns the target object or raises ValueError; `options` are the
    engine options every line shares (model_dir, device); `problems` are [(N, message)] already
    found in the file (core.batch.BatchFileError), listed with the rest. Every line is checked
    cheaply first (no synthesis, no model run); only when all are good is emotion 'auto' read
    from the words, line by line."""
    problems = list(problems)
    prepared = []
    for index, line in enumerate(plan.lines, 1):
        number = line.number or index
        try:
            if line.frame is not None and not MIN_FRAME <= line.frame <= MAX_FRAME:
                raise ValueError(f"frame {line.frame} is outside Blender's frame range {MIN_FRAME}..{MAX_FRAME}")
            obj = find_object(line.object)
            engine = get_engine(line.engine)
            request = _request(line, options)
            check_request(engine, request)
            prepared.append((number, obj, engine, request))
        except (ValueError, EngineError) as e:
            problems.append((number, str(e)))
    _raise_if(problems)
    checked = []
    for number, obj, engine, request in prepared:
        try:
            resolved, notes = resolve_auto(request)
            if isinstance(resolved, LipsyncRequest):
                resolved = with_segments(engine, resolved)
            result = check_request(engine, resolved)
        except (ValueError, EngineError) as e:
            problems.append((number, str(e)))
            continue
        result.notes[:0] = notes
        checked.append(CheckedLine(number, obj, engine, result))
    _raise_if(problems)
    return checked


def _request(line, options):
    """The engine request of a batch line: a LipsyncRequest for a recorded line."""
    if line.audio is not None:
        audio, rate = read_recording(line.audio)
        return LipsyncRequest(audio=audio, sample_rate=rate, transcript=line.text, emotion=line.emotion,
                              language=line.language, seed=line.seed, source=line.audio,
                              options=dict(options or {}))
    return GenerateRequest(text=line.text, emotion=line.emotion, voice=line.voice, seed=line.seed,
                           language=line.language, options=dict(options or {}))


def _raise_if(problems):
    if not problems:
        return
    problems = sorted(problems, key=lambda p: p[0])
    head = "1 line of the batch is bad" if len(problems) == 1 else f"{len(problems)} lines of the batch are bad"
    raise BatchError(f"{head} (nothing was generated):\n" + "\n".join(f"line {n}: {m}" for n, m in problems))


def run_batch(scene, plan: BatchPlan, lines, generate, start_frame=None, audio_dir=None,
              stage=None, progress=None, pose_maps=()):
    """Key every checked line (from `check_lines`); returns [(object, TakeResult)] in order.

    `generate(engine, request)` returns a Performance (a LipsyncRequest for recorded lines:
    their strip plays the recording in place). Each take is named after its line
    (`line001`, ...), so running the same batch on its own output re-generates those lines in
    place instead of stacking copies. `pose_maps` (core.pose_map.PoseMap) apply to the
    armatures they name (one naming none applies to every character without a map of its own)."""
    performances = []
    for line in lines:
        if progress:
            progress((line.number - 1) / len(lines), f"line {line.number}/{len(lines)}: {line.object.name}")
        performances.append(generate(line.engine, line.checked.request))

    fps = scene.render.fps / scene.render.fps_base
    cursor = scene.frame_start if start_frame is None else int(start_frame)
    results = []
    for line, spec, perf in zip(lines, plan.lines, performances):
        gap = plan.gap if spec.gap is None else spec.gap
        if spec.frame is not None:
            frame = spec.frame
        else:
            frame = cursor + (round(gap * fps) if line.number > 1 else 0)
        # Every line goes to the NLA so that several lines of one character all play.
        opts = TakeOptions(start_frame=frame, push_to_nla=True, take_name=f"line{line.number:03d}",
                           audio_dir=audio_dir, recording=spec.audio, pose_maps=tuple(pose_maps))
        result = apply_take(scene, line.object, perf, opts, stage=stage)
        results.append((line.object, result))
        cursor = result.frame_end
    scene.frame_end = max(scene.frame_end, cursor)
    return results
