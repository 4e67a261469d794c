"""Run a batch plan (core.batch) in a scene, each line through the request path
(engines/request_path.py): check every line, prepare every line, generate every line, then key
them in order.

Every line is checked first (target object, pinned frame, engine, its options, emotion, inline
tags and markup, voice, language, text, a recording's length from its header, model files) with
the cheap check: no model loads and no recording is decoded, so a bad line 30 is reported before
line 1 spends minutes in the neural engine; all bad lines are reported at once, malformed ones
of the file included, each as `line N: ...`. Then every line is prepared (recordings read,
emotion 'auto' read from the words, long recordings split), its problems listed the same way,
and every line is generated before the scene is touched.
"""
from dataclasses import dataclass

from ..core.batch import BatchPlan
from ..engines import EngineError
from ..engines.request_path import Checked, Prepared, RawRequest, check, prepare
from .recording import RecordingFile
from .takes import MAX_FRAME, MIN_FRAME, TakeOptions, apply_take


class BatchError(ValueError):
    """One or more lines of a batch are bad; the message names each line."""


@dataclass
class CheckedLine:
    number: int                  # 1-based, as in messages
    object: object               # the target mesh or armature
    checked: Checked


@dataclass
class PreparedLine:
    number: int
    object: object
    prepared: Prepared


def check_lines(plan: BatchPlan, find_object, options=None, problems=()) -> list:
    """[CheckedLine] for every line of `plan`, or BatchError listing every bad line.

    `find_object(name)` returns the target object or raises ValueError; `options` are the
    option values every line shares (the CLI's), under each line's own; `problems` are
    [(N, message)] already found in the file (core.batch.BatchFileError), listed with the rest."""
    problems = list(problems)
    checked = []
    for index, line in enumerate(plan.lines, 1):
        number = line.number or index
        try:
            if line.frame is not None and not MIN_FRAME <= line.frame <= MAX_FRAME:
                raise ValueError(f"frame {line.frame} is outside Blender's frame range {MIN_FRAME}..{MAX_FRAME}")
            obj = find_object(line.object)
            checked.append(CheckedLine(number, obj, check(_raw_request(line, options))))
        except (ValueError, EngineError) as e:
            problems.append((number, str(e)))
    _raise_if(problems)
    return checked


def prepare_lines(lines, progress=None, cancel=None) -> list:
    """[PreparedLine] for every checked line, or BatchError listing every line that failed."""
    prepared, problems = [], []
    for k, line in enumerate(lines):
        def report(fraction, stage, k=k, number=line.number):
            if progress:
                progress((k + fraction) / len(lines), f"line {number}/{len(lines)}: {stage}")
        try:
            prepared.append(PreparedLine(line.number, line.object, prepare(line.checked, report, cancel)))
        except (ValueError, EngineError) as e:
            problems.append((line.number, str(e)))
    _raise_if(problems)
    return prepared


def _raw_request(line, options):
    """The request of a batch line: its recording (if any) and its options over the shared ones."""
    return RawRequest(engine_id=line.engine, text=line.text, emotion=line.emotion, voice=line.voice,
                      language=line.language, seed=line.seed, options={**(options or {}), **line.options},
                      recording=RecordingFile(line.audio) if line.audio is not None else None)


def _raise_if(problems):
    if not problems:
        return
    problems = sorted(problems, key=lambda p: p[0])
    head = "1 line of the batch is bad" if len(problems) == 1 else f"{len(problems)} lines of the batch are bad"
    raise BatchError(f"{head} (nothing was generated):\n" + "\n".join(f"line {n}: {m}" for n, m in problems))


def run_batch(scene, plan: BatchPlan, lines, perform, start_frame=None, audio_dir=None,
              staged=None, progress=None, pose_maps=()):
    """Key every prepared line (from `prepare_lines`); returns [(object, TakeResult)] in order.

    `perform(prepared)` returns a Performance (for recorded lines the recording's: their strip
    plays the recording in place). Each take is named after its line (`line001`, ...), so
    running the same batch on its own output re-generates those lines in place instead of
    stacking copies. `pose_maps` (core.pose_map.PoseMap) apply to the armatures they name (one
    naming none applies to every character without a map of its own)."""
    performances = []
    for line in lines:
        if progress:
            progress((line.number - 1) / len(lines), f"line {line.number}/{len(lines)}: {line.object.name}")
        performances.append(perform(line.prepared))

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
        result = apply_take(scene, line.object, perf, opts, staged=staged)
        results.append((line.object, result))
        cursor = result.frame_end
    scene.frame_end = max(scene.frame_end, cursor)
    return results
