"""The scene commands: generate, lipsync, import-performance, batch and demo. Each checks every
input and output before any work (inputs.py, outputs.py), takes its request through the request
path (engines/request_path.py: check, prepare, perform) and writes every output together, or
none."""
import os
import sys

from ..engines.request_path import RawRequest, check, perform, prepare
from .errors import EXIT_OK, BadInput
from .inputs import (
    check_arguments,
    check_poses,
    check_span,
    find_object,
    open_blend,
    option_values,
    read_pose_maps,
    read_text,
    read_transcript,
    strip_file,
    take_options,
)
from .outputs import (
    audio_dir_for,
    check_outputs,
    export_performance,
    files_read,
    speech_seconds,
    staged_outputs,
    write_outputs,
)


def print_progress(fraction, stage):
    print(f"[{fraction * 100:5.1f}%] {stage}", file=sys.stderr, flush=True)


def print_notes(notes, where=""):
    for note in notes:
        print(f"note: {where}{note}", file=sys.stderr)


def print_summary(result, obj):
    def counted(what, kind):
        noun = "shape keys" if kind == "keys" else kind
        return f"{len(what)} {noun if len(what) != 1 else noun[:-1]}"
    others = [f"{name}: {counted(what, kind)}" for name, _, what, kind in result.parts[1:]]
    print(f"{obj.name}: action '{result.action.name}' frames {result.frame_start}-{result.frame_end}, "
          f"{counted(*result.parts[0][2:4])} keyed" + (f" (with {', '.join(others)})" if others else "")
          + (f", sound strip '{result.strip.name}'" if result.strip else ""))
    print_notes(result.notes)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)


def checked_request(raw):
    """The request path's cheap check (every check before any heavy work), its notes printed."""
    checked = check(raw)
    print_notes(checked.notes)
    return checked


def performance(checked):
    """Prepare (emotion 'auto' read from the words, a long recording split at its pauses) and run
    the engine, with progress; the notes of preparing printed."""
    prepared = prepare(checked, print_progress)
    print_notes(prepared.notes)
    return perform(prepared, print_progress)


def key_and_write(scene, obj, perf, opts, args, inputs):
    """Key the take, export it if asked, and write every output together (or none)."""
    from ..blender.takes import apply_take
    with staged_outputs(inputs) as staged:
        result = apply_take(scene, obj, perf, opts, staged=staged)
        if getattr(args, "export", None):   # import-performance has no --export
            export_performance(perf, args.export, staged)
        write_outputs(staged, [result], args.save)
    print_summary(result, obj)


def checked_inputs(args):
    """The arguments checked and the files the command reads (which no output may replace); with
    --blend the outputs are checked now, to fail fast before the file is even opened."""
    check_arguments(args)
    inputs = files_read(args)
    if args.blend:
        check_outputs(args, inputs=inputs)
    return inputs


def cmd_generate(args):
    inputs = checked_inputs(args)
    scene = open_blend(args)
    obj = find_object(args.object)
    text = read_text(args.text, args.text_file, args.text_block)
    check_outputs(args, speech_seconds(text), inputs)
    opts = take_options(args)
    check_poses(obj, opts.pose_maps)
    checked = checked_request(RawRequest(engine_id=args.engine, text=text, emotion=args.emotion, voice=args.voice,
                                         seed=args.seed, language=args.language, options=option_values(args)))
    key_and_write(scene, obj, performance(checked), opts, args, inputs)
    return EXIT_OK


def cmd_lipsync(args):
    from ..blender.recording import RecordingFile, find_sound_strip, strip_recording
    if args.strip and args.frame is not None:
        raise BadInput("--frame and --strip exclude each other: the strip's start is the take's start")
    inputs = checked_inputs(args)
    scene = open_blend(args)
    obj = find_object(args.object)
    if args.strip:
        strip = find_sound_strip(scene, args.strip)
        recording, first = strip_recording(strip)
        overrides = dict(start_frame=first, add_sound=False)
        inputs += strip_file(strip)
    else:
        recording = RecordingFile(args.audio)
        overrides = dict(recording=recording.source)
    seconds = recording.info().seconds      # from the header: the samples are read when prepared
    transcript = read_transcript(args)
    check_outputs(args, seconds if args.export else 0.0, inputs)
    opts = take_options(args, **overrides)
    check_span(scene, opts.start_frame, seconds)
    check_poses(obj, opts.pose_maps)
    checked = checked_request(RawRequest(engine_id=args.engine, text=transcript, recording=recording,
                                         emotion=args.emotion, language=args.language, seed=args.seed,
                                         options=option_values(args)))
    key_and_write(scene, obj, performance(checked), opts, args, inputs)
    return EXIT_OK


def cmd_import(args):
    from ..core.performance_files import load_performance
    inputs = checked_inputs(args)
    scene = open_blend(args)
    obj = find_object(args.object)
    perf = load_performance(args.csv or args.npz, args.timecode_fps)
    check_outputs(args, perf.audio_seconds, inputs)
    opts = take_options(args)
    check_poses(obj, opts.pose_maps)
    key_and_write(scene, obj, perf, opts, args, inputs)
    return EXIT_OK


def cmd_batch(args):
    from ..blender.batch import check_lines, prepare_lines, run_batch
    from ..core.batch import BatchFileError, load_batch
    check_arguments(args)
    problems = []
    try:
        plan = load_batch(args.lines)
    except BatchFileError as e:      # listed with the other lines' problems below
        plan, problems = e.plan, e.problems
    except (OSError, ValueError) as e:
        raise BadInput(str(e)) from None
    if args.gap is not None:
        plan.gap = args.gap
    inputs = files_read(args, [(f"line {line.number}'s {what}", path) for line in plan.lines
                               for what, path in (("recording", line.audio), ("voice clip", line.voice))
                               if path and os.path.isfile(path)])
    take_names = [f"line{line.number:03d}" for line in plan.lines if line.audio is None]   # recorded lines write none
    # every output, with the lines' files and take names, checked once before the .blend opens
    check_outputs(args, sum(speech_seconds(line.text or "") for line in plan.lines), inputs, take_names)
    scene = open_blend(args)
    lines = check_lines(plan, find_object, option_values(args), problems)
    pose_maps = read_pose_maps(args.poses)
    for obj in dict.fromkeys(line.object for line in lines):
        check_poses(obj, pose_maps)
    for line in lines:
        print_notes(line.checked.notes, f"line {line.number}: ")
    prepared = prepare_lines(lines, print_progress)
    for line in prepared:
        print_notes(line.prepared.notes, f"line {line.number}: ")
    with staged_outputs(inputs) as staged:
        results = run_batch(scene, plan, prepared, lambda request: perform(request, print_progress),
                            start_frame=args.frame, audio_dir=audio_dir_for(args.save), staged=staged,
                            progress=print_progress, pose_maps=pose_maps)
        write_outputs(staged, [result for _, result in results], args.save)
    for obj, result in results:
        print_summary(result, obj)
    return EXIT_OK


def cmd_demo(args):
    from ..blender.demo import DEFAULT_SCRIPT, run_demo
    paths = run_demo(out_dir=args.out, text=args.text or DEFAULT_SCRIPT, emotion=args.emotion,
                     seed=args.seed, engine_id=args.engine, render=not args.no_render,
                     progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    # Notes and timings were already reported through `progress`; stdout lists what was written.
    for path in [paths["blend"], paths["wav"], *paths["preview"]]:
        if path:
            print(path)
    return EXIT_OK
