"""One command line for both ways of running headless:

    blender -b scene.blend -c unitaf <command> ...        (extension registered as a CLI command)
    python -m unitaf_blender <command> --blend scene.blend ...   (bpy module)

Exit codes: 0 success, 2 bad input (the reason on stderr), 1 internal failure, 130 / 143
stopped by Ctrl-C / SIGTERM (nothing written: interrupts.py).
Guarantees of the scene commands (generate, lipsync, import-performance, batch): every input
and every output is checked before any generation (options, target, text, engine options,
every batch line, output folders writable, free space); every file is written under a
temporary name and moved into place only when the whole command succeeded, so a failure leaves
no file behind; the input .blend is never modified (naming it as --save needs --overwrite) and
no output is ever one of the files the command reads (links and relative paths resolved).
"""
import argparse
import contextlib
import math
import os
import sys
import traceback

from . import interrupts, temp_files
from .core.channels import GROUPS, INTERPOLATIONS
from .core.errors import first_line, full_message

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(ValueError):
    """The user's input is wrong; the message is printed as one line and the exit code is 2."""


class _ArgParser(argparse.ArgumentParser):
    # argparse exits the process on errors; inside Blender that would kill the session.
    def error(self, message):
        raise BadInput(f"{self.prog}: {message}")


def build_parser(prog="unitaf"):
    from .engines.unitaf import torch_install  # no torch import: the installer's constants only
    p = _ArgParser(prog=prog, description="UniTAF for Blender: text + emotion -> speech and facial animation.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgParser)

    def scene_args(sp, save_required=True):
        sp.add_argument("--blend", metavar="FILE", help="open this .blend first (bpy module; in Blender pass it before -c)")
        sp.add_argument("--save", metavar="OUT.blend", required=save_required,
                        help="write the result here (only on success)")
        sp.add_argument("--overwrite", action="store_true",
                        help="allow --save to name the input .blend (it is replaced)")

    def keying_args(sp):
        sp.add_argument("--frame", type=int, default=None, help="start frame (default: the scene's current frame)")
        sp.add_argument("--take", default=None, help="take name (default: derived from the text)")
        sp.add_argument("--nla", action="store_true", help="push the take to the NLA instead of replacing the active action")
        sp.add_argument("--no-sound", action="store_true", help="do not add a sound strip")
        sp.add_argument("--interpolation", choices=INTERPOLATIONS, default="LINEAR")
        sp.add_argument("--smoothing", type=int, default=0, metavar="FRAMES", help="moving-average window (0 = off)")
        sp.add_argument("--intensity", action="append", default=[], metavar="GROUP=VALUE",
                        help="per-group intensity, GROUP in mouth/brows/eyes/other (repeatable)")
        sp.add_argument("--no-markers", action="store_true",
                        help="do not put the words as pose markers on the take's action")
        poses_arg(sp)

    def poses_arg(sp):
        sp.add_argument("--poses", action="append", default=[], metavar="MAP.json",
                        help="pose map: the pose (action) each mouth shape and expression uses on the "
                             "character's armature (repeatable: one per armature; README: pose maps)")

    def engine_args(sp, voice=True):
        sp.add_argument("--engine", default=None, help="engine id (see `engines`); default: embedded")
        if voice:
            sp.add_argument("--voice", default=None,
                            help="engine voice id (see `voices`: hibari:heart, hibari:heart+deep, espeak:en-us+f3, ...) "
                                 "or a voice prompt .wav")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--language", default=None,
                        help="espeak-ng language/voice id (default: en-us, or picked from the text's writing system)")
        sp.add_argument("--model-dir", default=None, help="UniTAF weights laid out like the download cache")
        sp.add_argument("--device", default=None, help="neural engine device: auto, cpu, cuda, mps")
        sp.add_argument("--precision", default=None,
                        help="neural engine precision: auto (bf16 on CPUs with native bf16, else fp32; fp16 on "
                             "CUDA), fp32, fp16, bf16, int8 (CPU: int8 GPT weights)")

    g = sub.add_parser("generate", help="speak a line and key the face of one object")
    scene_args(g)
    g.add_argument("--object", required=True, help="target mesh object name")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the line; may carry inline tags like '[happy] Hi! [sad:0.6] Bye.'")
    src.add_argument("--text-file", metavar="FILE", help="read the line from a UTF-8 text file")
    src.add_argument("--text-block", metavar="NAME", help="read the line from a Text datablock in the .blend")
    g.add_argument("--emotion", default="calm:0.5",
                   help="NAME[:INTENSITY], 8 comma-separated weights, or auto (each sentence's emotion from its words)")
    engine_args(g)
    keying_args(g)
    g.add_argument("--export", metavar="OUT.npz", help="also save the Performance (.npz + .wav)")

    ls = sub.add_parser("lipsync", help="key the face of one object from a recorded line (+ its transcript)")
    scene_args(ls)
    ls.add_argument("--object", required=True, help="target mesh object name")
    src = ls.add_mutually_exclusive_group(required=True)
    src.add_argument("--audio", metavar="FILE", help="the recording (.wav; .flac/.ogg/.mp3 where Blender decodes them)")
    src.add_argument("--strip", metavar="NAME", help="an existing sound strip: its start is the take's start, no new strip")
    said = ls.add_mutually_exclusive_group()
    said.add_argument("--transcript", metavar="TEXT", help="what is said (inline emotion tags allowed)")
    said.add_argument("--transcript-file", metavar="FILE", help="the transcript from a UTF-8 text file")
    said.add_argument("--text-block", metavar="NAME", help="the transcript from a Text datablock in the .blend")
    ls.add_argument("--emotion", default="calm:0.5", help="NAME[:INTENSITY] or 8 comma-separated weights")
    engine_args(ls, voice=False)
    keying_args(ls)
    ls.add_argument("--export", metavar="OUT.npz", help="also save the Performance (.npz + .wav)")

    i = sub.add_parser("import-performance", help="key a recorded performance (Live Link Face CSV or .npz)")
    scene_args(i)
    i.add_argument("--object", required=True)
    src = i.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="Live Link Face CSV")
    src.add_argument("--npz", metavar="FILE", help="a UniTAF performance (.npz with its .wav beside it)")
    i.add_argument("--timecode-fps", type=float, default=None, metavar="FPS",
                   help="Live Link CSV timecode rate (default: inferred from the frame numbers)")
    keying_args(i)

    b = sub.add_parser("batch", help="many lines, several characters, placed one after another")
    b.add_argument("lines", metavar="LINES.json")
    scene_args(b)
    b.add_argument("--gap", type=float, default=None, help="seconds between lines (overrides the file)")
    b.add_argument("--frame", type=int, default=None, help="frame of the first line")
    b.add_argument("--model-dir", default=None)
    b.add_argument("--device", default=None)
    b.add_argument("--precision", default=None)
    poses_arg(b)

    d = sub.add_parser("demo", help="the embedded engine on the procedural demo head: .blend, .wav, preview")
    d.add_argument("--out", default="out", help="output folder (default: out)")
    d.add_argument("--text", default=None, help="script (inline emotion tags allowed)")
    d.add_argument("--emotion", default="happy:0.7")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--engine", default=None)
    d.add_argument("--no-render", action="store_true", help="skip the preview render")

    sub.add_parser("engines", help="list the installed engines")
    v = sub.add_parser("voices", help="list an engine's voices (embedded: natural voices first, then espeak-ng); "
                                      "`voices download NAME` fetches a natural voice")
    v.add_argument("--engine", default=None)
    vsub = v.add_subparsers(dest="voices_command", metavar="ACTION", parser_class=_ArgParser)
    vd = vsub.add_parser("download", help="download natural voices (fenrir, kore, emma, fable: 7.9 MB each)")
    vd.add_argument("names", nargs="+", metavar="NAME")
    vd.add_argument("--cache-dir", default=None, help="model cache folder (default: the Hugging Face cache)")
    vd.add_argument("--offline", action="store_true", help="never touch the network")

    r = sub.add_parser("install-runtime", help="install PyTorch for the UniTAF engine into a folder")
    r.add_argument("--target", required=True, metavar="DIR",
                   help="folder to install into (in Blender: the extension's user folder)")
    r.add_argument("--flavour", default="cpu", choices=torch_install.FLAVOURS)
    r.add_argument("--dry-run", action="store_true", help="print the pip command only")

    m = sub.add_parser("models", help="UniTAF model weights: status and download")
    msub = m.add_subparsers(dest="models_command", metavar="ACTION", parser_class=_ArgParser)
    for name, helptext in (("status", "what is present, sizes, revisions, licences"),
                           ("download", "download missing weights"),
                           ("licence", "print the licence texts downloaded with the weights")):
        sp = msub.add_parser(name, help=helptext)
        sp.add_argument("--cache-dir", default=None, help="model cache folder (default: HF cache / UNITAF_CACHE)")
        sp.add_argument("--model-dir", default=None, help="weights laid out like the download cache")
        sp.add_argument("--feature", action="append", default=None, dest="features",
                        help="only the files a feature needs (repeatable): speech, emotion-vector, face, emotion-text")
        sp.add_argument("--offline", action="store_true", help="never touch the network")
        if name == "status":
            sp.add_argument("--check", action="store_true", help="exit 1 when a needed file is missing (for scripts)")
    return p


# ----------------------------------------------------------------------------- helpers


def _parse_intensity(items):
    out = {g: 1.0 for g in GROUPS}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or name not in out:
            raise BadInput(f"--intensity expects GROUP=VALUE with GROUP in {', '.join(GROUPS)}, got '{item}'")
        try:
            out[name] = float(value)
        except ValueError:
            raise BadInput(f"--intensity {name}: '{value}' is not a number") from None
        if not math.isfinite(out[name]) or out[name] < 0:
            raise BadInput(f"--intensity {name}: must be a finite number >= 0, got '{value}'")
    return out


def audio_dir_for(save_path):
    """Takes' audio lives beside the OUTPUT .blend (<stem>_audio/), never beside the input."""
    stem = os.path.splitext(os.path.abspath(save_path))[0]
    return stem + "_audio"


_MAX_SEED = 2 ** 31 - 1    # the panel's Seed (a Blender int property) reaches this too


def _check_arguments(args):
    """Every option that needs no file and no scene, checked before anything is opened or
    generated: the start frame, smoothing, intensities, take name, emotion, gap."""
    from .blender.takes import MAX_FRAME, MAX_SMOOTHING, MIN_FRAME
    frame = getattr(args, "frame", None)
    if frame is not None and not MIN_FRAME <= frame <= MAX_FRAME:
        raise BadInput(f"--frame {frame} is outside Blender's frame range {MIN_FRAME}..{MAX_FRAME}")
    smoothing = getattr(args, "smoothing", 0)
    if not 0 <= smoothing <= MAX_SMOOTHING:
        raise BadInput(f"--smoothing must be 0..{MAX_SMOOTHING} frames, got {smoothing}")
    _parse_intensity(getattr(args, "intensity", []))
    take = getattr(args, "take", None)
    if take is not None and not take.strip():
        raise BadInput("--take is empty: give the take a name, or leave the option out (take1, take2, ...)")
    emotion = getattr(args, "emotion", None)
    if emotion is not None and not emotion.strip():
        raise BadInput("--emotion is empty: give NAME[:INTENSITY] (e.g. calm:0.5), 8 weights, neutral or auto, "
                       "or leave the option out")
    gap = getattr(args, "gap", None)
    if gap is not None and not (math.isfinite(gap) and gap >= 0):
        raise BadInput(f"--gap must be a number of seconds >= 0, got {gap}")
    seed = getattr(args, "seed", 0)
    if not 0 <= seed <= _MAX_SEED:
        raise BadInput(f"--seed must be 0..{_MAX_SEED}, got {seed}")


def _pose_maps(paths):
    from .core.pose_map import PoseMapError, load_pose_map
    try:
        return tuple(load_pose_map(path) for path in paths)
    except PoseMapError as e:
        raise BadInput(f"--poses: {e}") from None


def _check_poses(obj, pose_maps):
    """The pose maps given fit `obj`'s character (their actions exist and key its bones)."""
    from .blender.takes import validate_target
    if pose_maps:
        validate_target(obj, pose_maps)


def _take_options(args, **overrides):
    from .blender.takes import TakeOptions, check_take_options
    opts = dict(start_frame=args.frame, intensity=_parse_intensity(args.intensity),
                smoothing=args.smoothing, interpolation=args.interpolation,
                push_to_nla=args.nla, take_name=args.take, add_sound=not args.no_sound,
                audio_dir=audio_dir_for(args.save), word_markers=not args.no_markers,
                pose_maps=_pose_maps(args.poses))
    opts.update(overrides)
    options = TakeOptions(**opts)
    check_take_options(options)
    return options


# ----------------------------------------------------------------------------- outputs

# Upper bounds used for the free-space check before generating: 48 kHz 16-bit mono audio,
# and a speaking rate no slower than 8 characters a second.
_AUDIO_BYTES_PER_SECOND = 48000 * 2
_CHARS_PER_SECOND = 8.0


def _inputs(args, extra=()):
    """[(what, path)] of every file the command reads besides the input .blend: the text,
    transcript, recording, CSV, .npz and its .wav, voice clip, batch file (+ `extra`, e.g.
    the recordings and voice clips of batch lines). None of them is ever written."""
    found = [(f"--{name.replace('_', '-')}", getattr(args, name, None))
             for name in ("text_file", "transcript_file", "audio", "csv", "npz", "voice")]
    if getattr(args, "npz", None):
        found.append(("the .wav of --npz", os.path.splitext(args.npz)[0] + ".wav"))
    if getattr(args, "lines", None):
        found.append(("the batch file", args.lines))
    found += list(extra)
    return [(what, os.path.abspath(path)) for what, path in found if path and os.path.exists(path)]


def _outputs(args, take_names=()):
    """[(what, path)] of the files the command will write, as far as known before generating:
    --save, --export and its .wav, and the take audio of named takes."""
    save = os.path.abspath(args.save)
    found = [("--save", save)]
    export = getattr(args, "export", None)
    if export:
        npz = os.path.abspath(export)
        found += [("--export", npz), ("the .wav of --export", os.path.splitext(npz)[0] + ".wav")]
    names = list(take_names) + ([args.take] if getattr(args, "take", None) else [])
    folder = audio_dir_for(save)
    for name in names:
        path = os.path.join(folder, _clean_name(name) + ".wav")
        found.append((f"the audio of take '{name}'", path))
    return found


def _clean_name(name):
    import bpy
    return bpy.path.clean_name(name)


def _check_not_inputs(args, inputs, take_names=()):
    """BadInput when an output would replace an input: links and relative paths resolved."""
    from .core.staging import same_file
    for what_out, out in _outputs(args, take_names):
        for what_in, path in inputs:
            if same_file(out, path):
                raise BadInput(f"{what_out} '{out}' is the input {what_in} ({path}): an input is never "
                               "overwritten. Choose another output name.")


def _input_blend(args):
    """The .blend the command reads: --blend, or the file Blender opened before `-c`."""
    if getattr(args, "blend", None):
        return os.path.abspath(args.blend)
    import bpy
    return bpy.data.filepath or None


def _check_outputs(args, seconds_of_audio=0.0, inputs=(), take_names=()):
    """Every output of a scene command, checked before any work: --save names a .blend in a
    writable folder and is not the input (unless --overwrite), --export likewise, no output is
    one of the `inputs` ([(what, path)]), and the disk has room for the take audio. Raises
    BadInput."""
    from .core.staging import OutputError, check_free_space, check_writable_folder, same_file
    save = os.path.abspath(args.save)
    if not save.lower().endswith(".blend"):
        raise BadInput(f"--save must name a .blend file, got '{args.save}'")
    _check_not_inputs(args, inputs, take_names)
    source = _input_blend(args)
    if source and same_file(save, source) and not args.overwrite:
        raise BadInput(f"--save is the input file {source}: the input is never modified. Save to "
                       "another file, or pass --overwrite to replace the input.")
    if os.path.isdir(save):
        raise BadInput(f"--save: '{save}' is a folder")
    audio_dir = audio_dir_for(save)
    if os.path.exists(audio_dir) and not os.path.isdir(audio_dir):
        raise BadInput(f"the take audio folder '{audio_dir}' exists as a file: move it away or save elsewhere")
    try:
        check_writable_folder(os.path.dirname(save), "--save")
        if os.path.isdir(audio_dir):
            check_writable_folder(audio_dir, "take audio folder")
        export = getattr(args, "export", None)
        if export:
            if not export.lower().endswith(".npz"):
                raise BadInput(f"--export must name a .npz file, got '{export}'")
            check_writable_folder(os.path.dirname(os.path.abspath(export)), "--export")
        needed = int(seconds_of_audio * _AUDIO_BYTES_PER_SECOND) * (2 if export else 1)
        if source and os.path.isfile(source):
            needed += os.path.getsize(source)
        check_free_space(os.path.dirname(save), needed, "--save")
    except OutputError as e:
        raise BadInput(str(e)) from None


def _speech_seconds(text):
    return len(text) / _CHARS_PER_SECOND


@contextlib.contextmanager
def _staged_outputs(inputs=()):
    """A StagedFiles stage that is discarded unless the block reached `_write_outputs`; it never
    moves an output onto one of the `inputs` ([(what, path)])."""
    from .core.staging import StagedFiles
    stage = StagedFiles(protect=[path for _, path in inputs])
    try:
        yield stage
    except BaseException:
        stage.discard()
        raise


def _write_outputs(stage, results, save_path):
    """The command succeeded: move the staged files into place, point the take sounds at
    them and save the .blend; if saving fails, every moved file is taken back."""
    from .blender.sound import point_sound_at
    from .blender.takes import save_blend
    interrupts.commit_point()
    stage.commit()
    try:
        for result in results:
            if result.strip is not None and result.audio_path:
                point_sound_at(result.strip.sound, result.audio_path)
        save_blend(os.path.abspath(save_path))
    except BaseException:
        stage.restore()
        raise
    stage.finish()


def _export_performance(perf, path, stage):
    """Write `perf` as <path> (.npz) + the .wav beside it, both through the stage."""
    final_npz = os.path.abspath(path)
    final_wav = os.path.splitext(final_npz)[0] + ".wav"
    tmp_npz = stage.path_for(final_npz)
    tmp_wav = os.path.splitext(tmp_npz)[0] + ".wav"
    stage.add(tmp_wav, final_wav)
    perf.save(tmp_npz)


# ----------------------------------------------------------------------------- scene input


def _open_blend(args):
    import bpy
    if getattr(args, "blend", None):
        if not os.path.isfile(args.blend):
            raise BadInput(f"--blend: file not found: {args.blend}")
        try:
            bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend), load_ui=False)
        except RuntimeError as e:
            raise BadInput(f"--blend: cannot open {args.blend}: {first_line(e)}") from None
    _refuse_newer_file(bpy)
    return bpy.context.scene


def _refuse_newer_file(bpy):
    """A file saved by a newer Blender opens with "expect loss of data": refuse it rather
    than save a damaged copy."""
    saved, running = tuple(bpy.data.version[:2]), tuple(bpy.app.version[:2])
    if bpy.data.filepath and saved > running:
        raise BadInput(
            f"{bpy.data.filepath} was saved by Blender {saved[0]}.{saved[1]}, newer than this Blender "
            f"{bpy.app.version_string}: opening it here could lose data, so nothing was done. "
            f"Use Blender {saved[0]}.{saved[1]} or newer.")


def _find_object(name):
    import bpy

    from .blender.takes import validate_target
    obj = bpy.data.objects.get(name)
    if obj is None:
        meshes = sorted(o.name for o in bpy.data.objects
                        if o.type == "MESH" and getattr(o.data, "shape_keys", None))
        hint = f" Meshes with shape keys: {', '.join(meshes)}." if meshes else " The scene has no mesh with shape keys."
        raise BadInput(f"no object named '{name}'.{hint}")
    validate_target(obj)
    return obj


def _read_text(text=None, text_file=None, text_block=None, what="the text"):
    """The text from the option that was given: inline, a UTF-8 file or a Text datablock."""
    if text is None and text_file is not None:
        if not os.path.isfile(text_file):
            raise BadInput(f"{what}: file not found: {text_file}")
        try:
            with open(text_file, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"{what}: cannot read {text_file}: {e}") from None
    elif text is None:
        import bpy
        block = bpy.data.texts.get(text_block)
        if block is None:
            raise BadInput(f"{what}: no Text datablock named '{text_block}'")
        text = block.as_string()
    if not text.strip():
        raise BadInput(f"{what} is empty")
    return text


def _progress(fraction, stage):
    print(f"[{fraction * 100:5.1f}%] {stage}", file=sys.stderr, flush=True)


def _engine_options(model_dir=None, device=None, precision=None):
    options = {}
    if model_dir:
        options["model_dir"] = model_dir
    if device:
        options["device"] = device
    if precision:
        options["precision"] = precision
    return options


def _checked_request(engine_id, request):
    """The engine and its checked request. Every check runs before any heavy work: first the
    cheap one (emotion 'auto' checked, with its model's files, but not run), then the
    text-emotion model for 'auto' and the aligner's split of a long recording, then the check
    of what they gave. The notes (e.g. a language picked from the text's writing system) are
    printed."""
    from .engines import LipsyncRequest, get_engine
    from .engines.auto_emotion import check_request, resolve_auto
    from .engines.segments import with_segments
    engine = get_engine(engine_id)
    check_request(engine, request)
    request, notes = resolve_auto(request)
    if isinstance(request, LipsyncRequest):
        request = with_segments(engine, request)
    checked = check_request(engine, request)
    for note in notes + checked.notes:
        print(f"note: {note}", file=sys.stderr)
    return engine, checked


def _generate(engine, request):
    """A take's performance: spoken (GenerateRequest) or from a recording (LipsyncRequest)."""
    from .engines import LipsyncRequest
    if isinstance(request, LipsyncRequest):
        return engine.lipsync(request, _progress, None)
    return engine.generate(request, _progress, None)


def _read_transcript(args):
    """The lipsync transcript (None: the signal-only mode)."""
    if args.transcript is None and args.transcript_file is None and args.text_block is None:
        return None
    return _read_text(args.transcript, args.transcript_file, args.text_block, what="the transcript")


def _summary(result, obj):
    def counted(what, kind):
        noun = "shape keys" if kind == "keys" else kind
        return f"{len(what)} {noun if len(what) != 1 else noun[:-1]}"
    others = [f"{name}: {counted(what, kind)}" for name, _, what, kind in result.parts[1:]]
    print(f"{obj.name}: action '{result.action.name}' frames {result.frame_start}-{result.frame_end}, "
          f"{counted(*result.parts[0][2:4])} keyed" + (f" (with {', '.join(others)})" if others else "")
          + (f", sound strip '{result.strip.name}'" if result.strip else ""))
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)


# ----------------------------------------------------------------------------- commands


def _key_and_write(scene, obj, perf, opts, args, inputs):
    """Key the take, export it if asked, and write every output together (or none)."""
    from .blender.takes import apply_take
    with _staged_outputs(inputs) as stage:
        result = apply_take(scene, obj, perf, opts, stage=stage)
        if getattr(args, "export", None):   # import-performance has no --export
            _export_performance(perf, args.export, stage)
        _write_outputs(stage, [result], args.save)
    _summary(result, obj)


def cmd_generate(args):
    from .engines import GenerateRequest
    _check_arguments(args)
    inputs = _inputs(args)
    if args.blend:
        _check_outputs(args, inputs=inputs)   # fail fast, before the file is even opened
    scene = _open_blend(args)
    obj = _find_object(args.object)
    text = _read_text(args.text, args.text_file, args.text_block)
    _check_outputs(args, _speech_seconds(text), inputs)
    opts = _take_options(args)
    _check_poses(obj, opts.pose_maps)
    engine, checked = _checked_request(args.engine, GenerateRequest(
        text=text, emotion=args.emotion, voice=args.voice, seed=args.seed, language=args.language,
        options=_engine_options(args.model_dir, args.device, args.precision)))
    _key_and_write(scene, obj, _generate(engine, checked.request), opts, args, inputs)
    return EXIT_OK


def cmd_lipsync(args):
    from .blender.recording import find_sound_strip, read_recording, read_strip
    from .engines import LipsyncRequest
    if args.strip and args.frame is not None:
        raise BadInput("--frame and --strip exclude each other: the strip's start is the take's start")
    _check_arguments(args)
    inputs = _inputs(args)
    if args.blend:
        _check_outputs(args, inputs=inputs)
    scene = _open_blend(args)
    obj = _find_object(args.object)
    if args.strip:
        strip = find_sound_strip(scene, args.strip)
        audio, rate, first = read_strip(strip)
        overrides = dict(start_frame=first, add_sound=False)
        source = args.strip
        inputs += _strip_file(strip)
    else:
        audio, rate = read_recording(args.audio)
        source = os.path.abspath(args.audio)
        overrides = dict(recording=source)
    transcript = _read_transcript(args)
    _check_outputs(args, len(audio) / rate if args.export else 0.0, inputs)
    opts = _take_options(args, **overrides)
    _check_span(scene, opts.start_frame, len(audio) / rate)
    _check_poses(obj, opts.pose_maps)
    engine, checked = _checked_request(args.engine, LipsyncRequest(
        audio=audio, sample_rate=rate, transcript=transcript, emotion=args.emotion, language=args.language,
        seed=args.seed, source=source, options=_engine_options(args.model_dir, args.device, args.precision)))
    _key_and_write(scene, obj, _generate(engine, checked.request), opts, args, inputs)
    return EXIT_OK


def _strip_file(strip):
    """[(what, path)] of the file a sound strip plays (an input of `lipsync --strip`)."""
    import bpy
    sound = getattr(strip, "sound", None)
    if sound is None or not sound.filepath or sound.packed_file is not None:
        return []
    path = os.path.abspath(bpy.path.abspath(sound.filepath))
    return [(f"sound of the strip '{strip.name}'", path)] if os.path.exists(path) else []


def _check_span(scene, start, seconds):
    """A take of known length must fit Blender's frame range (checked before generating)."""
    from .blender.takes import MAX_FRAME
    from .core.retime import scene_fps
    first = scene.frame_current if start is None else int(start)
    last = first + int(math.ceil(seconds * scene_fps(scene.render.fps, scene.render.fps_base)))
    if last > MAX_FRAME:
        raise BadInput(f"the take would span frames {first}-{last} ({seconds:.1f} s), past Blender's last frame "
                       f"{MAX_FRAME}: start it earlier")


def cmd_import(args):
    from .core.recordings import load_recording
    _check_arguments(args)
    inputs = _inputs(args)
    if args.blend:
        _check_outputs(args, inputs=inputs)
    scene = _open_blend(args)
    obj = _find_object(args.object)
    perf = load_recording(args.csv or args.npz, args.timecode_fps)
    _check_outputs(args, perf.audio_seconds, inputs)
    opts = _take_options(args)
    _check_poses(obj, opts.pose_maps)
    _key_and_write(scene, obj, perf, opts, args, inputs)
    return EXIT_OK


def cmd_batch(args):
    from .blender.batch import check_lines, run_batch
    from .core.batch import BatchFileError, load_batch
    _check_arguments(args)
    inputs = _inputs(args)
    if args.blend:
        _check_outputs(args, inputs=inputs)
    problems = []
    try:
        plan = load_batch(args.lines)
    except BatchFileError as e:      # listed with the other lines' problems below
        plan, problems = e.plan, e.problems
    except (OSError, ValueError) as e:
        raise BadInput(str(e)) from None
    if args.gap is not None:
        plan.gap = args.gap
    inputs += [(f"line {line.number}'s {what}", os.path.abspath(path)) for line in plan.lines
               for what, path in (("recording", line.audio), ("voice clip", line.voice))
               if path and os.path.isfile(path)]
    take_names = [f"line{line.number:03d}" for line in plan.lines if line.audio is None]   # recorded lines write none
    if args.blend:
        _check_outputs(args, inputs=inputs, take_names=take_names)
    scene = _open_blend(args)
    _check_outputs(args, sum(_speech_seconds(line.text or "") for line in plan.lines), inputs, take_names)
    lines = check_lines(plan, _find_object, _engine_options(args.model_dir, args.device, args.precision), problems)
    pose_maps = _pose_maps(args.poses)
    for obj in dict.fromkeys(line.object for line in lines):
        _check_poses(obj, pose_maps)
    for line in lines:
        for note in line.checked.notes:
            print(f"note: line {line.number}: {note}", file=sys.stderr)
    with _staged_outputs(inputs) as stage:
        results = run_batch(scene, plan, lines, _generate, start_frame=args.frame,
                            audio_dir=audio_dir_for(args.save), stage=stage, progress=_progress,
                            pose_maps=pose_maps)
        _write_outputs(stage, [result for _, result in results], args.save)
    for obj, result in results:
        _summary(result, obj)
    return EXIT_OK


def cmd_demo(args):
    from .blender.demo import DEFAULT_SCRIPT, run_demo
    paths = run_demo(out_dir=args.out, text=args.text or DEFAULT_SCRIPT, emotion=args.emotion,
                     seed=args.seed, engine_id=args.engine, render=not args.no_render,
                     progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    # Notes and timings were already reported through `progress`; stdout lists what was written.
    for path in [paths["blend"], paths["wav"], *paths["preview"]]:
        if path:
            print(path)
    return EXIT_OK


def cmd_engines(args):
    from .engines import list_engines
    for engine_id, label, description in list_engines():
        print(f"{engine_id:10s} {label} - {description}")
    return EXIT_OK


def cmd_voices(args):
    from .engines import get_engine
    if getattr(args, "voices_command", None) == "download":
        return cli_voice_download(args)
    for voice_id, label in get_engine(args.engine).voices():
        print(f"{voice_id:24s} {label}")
    return EXIT_OK


def cmd_models(args):
    if args.models_command == "status":
        return cli_status(args)
    if args.models_command == "download":
        return cli_download(args)
    if args.models_command == "licence":
        return cli_licence(args)
    raise BadInput("models: choose an action: status, download or licence")


def cmd_install_runtime(args):
    """`install-runtime --target DIR [--flavour cpu|cuda|cu126|cu128|cu130] [--dry-run]`."""
    from .engines import Cancelled, EngineError
    from .engines.unitaf.torch_install import build_commands, install
    target = getattr(args, "target", None)
    flavour = getattr(args, "flavour", None) or "cpu"
    if not target:
        print("install-runtime: give --target DIR (the folder to install PyTorch into)", file=sys.stderr)
        return 2
    try:
        commands = build_commands(os.path.abspath(target) + ".partial", flavour)
        if getattr(args, "dry_run", False):
            for cmd, requirements in commands:     # one pip run per index, each reading its lock section
                print(" ".join(cmd) + " <section>\n" + "".join(f"    {line}\n" for line in requirements.splitlines()))
            return 0
        install(target, flavour, _progress)
    except EngineError as exc:
        print(f"install-runtime: {exc}", file=sys.stderr)
        return 1
    except Cancelled:
        print("install-runtime: cancelled", file=sys.stderr)
        return 1
    print(f"Neural runtime installed in {os.path.abspath(target)}")
    return 0


COMMANDS = {
    "generate": cmd_generate, "lipsync": cmd_lipsync, "import-performance": cmd_import, "batch": cmd_batch,
    "demo": cmd_demo, "engines": cmd_engines, "voices": cmd_voices, "models": cmd_models,
    "install-runtime": cmd_install_runtime,
}


def run(argv, prog="unitaf"):
    """Parse and run one command; returns the exit code and never raises or exits (Ctrl-C and
    SIGTERM stop it: 130 / 143)."""
    parser = build_parser(prog)
    try:
        if not argv or argv[0] in ("-h", "--help", "help"):
            parser.print_help()
            return EXIT_OK
        try:
            args = parser.parse_args(argv)
        except SystemExit as e:  # --help of a sub-command
            return EXIT_OK if not e.code else EXIT_BAD_INPUT
        if not args.command:
            parser.print_help()
            return EXIT_BAD_INPUT
        # the scratch folder outside the signal handlers: its removal is not cut short by the signal
        with temp_files.run_scratch(), interrupts.stop_on_signals():
            return COMMANDS[args.command](args)
    except KeyboardInterrupt as e:   # Ctrl-C or SIGTERM: every staged output was discarded
        print(f"interrupted: {interrupts.describe(e)}", file=sys.stderr)
        return interrupts.exit_code(e)
    except BadInput as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as e:  # noqa: BLE001 - map every failure to an exit code
        if _is_user_error(e):
            # The whole message: user errors may carry instructions on later lines
            # (e.g. how to download missing model files, or one line per bad batch line).
            print(f"error: {full_message(e)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        traceback.print_exc()
        print(f"internal error: {first_line(e)}", file=sys.stderr)
        return EXIT_FAIL


def _is_user_error(e):
    """Bad input the user can fix: engine errors, missing files, and ValueError, which is how
    the core, the engines and the Blender layer (TakeError, WavError, CheckpointError, Live Link
    errors are all ValueErrors) report bad input."""
    from .engines import EngineError
    return isinstance(e, (EngineError, FileNotFoundError, ValueError))


def blender_command(argv):
    """Entry point registered with bpy.utils.register_cli_command('unitaf', ...)."""
    return run(list(argv), prog="blender -c unitaf")


def main(argv=None):
    return run(sys.argv[1:] if argv is None else list(argv), prog="python -m unitaf_blender")


# ----------------------------------------------------------------------------- `models` printing
# (moved from engines/unitaf/store.py: the store looks files up, the CLI prints them)

def format_status(store, features=None) -> str:
    """The `models status` report: every file with its state and size, revisions, licences."""
    from .engines.model_files import human_size
    from .engines.unitaf.catalog import DEFAULT_FEATURES, FEATURES, LICENCES
    feats = tuple(FEATURES) if features is None else features
    rows = store.status(feats)
    where = f"model folder {store.model_dir}" if store.model_dir else f"cache {store.cache_dir}"
    lines = [f"UniTAF model files ({where})"]
    for st in rows:
        spec = st.spec
        if not st.present:
            state = "optional" if spec.optional else "MISSING"
        elif st.size_ok is False:
            state = f"BAD ({st.problem})"
        elif st.problem:   # model folder: trusted, but the size is far from the official file's
            state = f"SIZE? ({st.problem})"
        else:
            state = "present"
        size = human_size(st.size if st.present else spec.approx_size)
        flag = "  [UNVERIFIED path]" if "path inferred" in spec.note else ""
        feats = "all" if set(spec.features) == set(FEATURES) else ",".join(spec.features)
        lines.append(f"  {state:<8} {size:>9}  {feats:<22} {spec.display}{flag}")
        lines.append(f"{'':11}{_pin_text(store, spec)}")
    lines.append("Revisions:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        spec = next(s.spec for s in rows if s.spec.repo_id == repo)
        lines.append(f"  {repo} @ {_revision_text(store, spec)}")
    lines.append("Licences:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        lines.append(f"  {repo}: {LICENCES.get(repo, 'unknown')}")
    for st in rows:
        if st.spec.filename.rsplit("/", 1)[-1].upper().startswith("LICENSE"):
            where = st.path if st.present else "not downloaded yet (`models download` fetches it)"
            lines.append(f"  full text of {st.spec.repo_id}'s licence: {where}"
                         + (" (print it: `models licence`)" if st.present else ""))
    default = [st for st in rows if set(st.spec.features) & set(DEFAULT_FEATURES)]
    need = [st for st in default if st.needed]
    extra = [st for st in default if not st.ok and not st.needed]
    if need:
        total = sum(st.spec.approx_size for st in need)
        lines.append(f"Missing for the default features ({', '.join(DEFAULT_FEATURES)}): {len(need)} file(s), "
                     f"{human_size(total)} to download.")
    else:
        lines.append("All files for the default features are present.")
    if extra:
        lines.append(f"Optional, not present ({len(extra)}): " + ", ".join(st.spec.display for st in extra)
                     + " (fetched by `models download`; defaults are used without them).")
    return "\n".join(lines)


def _pin_text(store, spec) -> str:
    """What a file is checked against: its exact size and sha256, as far as they are known."""
    size = f"exactly {spec.size:,} B" if spec.size is not None else "size not pinned"
    if spec.sha256:
        digest = f"sha256 {spec.sha256}"
    elif store.locked_commit(spec):
        digest = "sha256 as recorded in the lock file"
    else:
        digest = "sha256 not pinned (checked against the Hub's content hash where it sends one)"
    probable = " (probable)" if "probable" in spec.note else ""
    return f"{size}, {digest}{probable}"


def _revision_text(store, spec) -> str:
    """The pinned commit, or the branch with the commit this cache's lock file recorded."""
    if spec.revision_verified:
        return spec.revision
    locked = store.locked_commit(spec)
    if locked:
        from .engines.model_lock import lock_path
        return (f"{spec.revision}, locked to {locked} (the commit downloaded; recorded in "
                f"{lock_path(store.cache_dir)})")
    return f"{spec.revision} (UNVERIFIED revision: no public commit to pin; a download records the commit it got)"


def cli_licence(args) -> int:
    """`models licence`: print the licence texts downloaded with the weights."""
    store = _store_from_args(args)
    texts = [st for st in store.status(getattr(args, "features", None) or None)
             if st.spec.filename.rsplit("/", 1)[-1].upper().startswith("LICENSE")]
    shown = 0
    for st in texts:
        if not st.present:
            print(f"{st.spec.display}: not downloaded yet (`models download` fetches it with the weights)",
                  file=sys.stderr)
            continue
        with open(st.path, encoding="utf-8", errors="replace") as f:
            print(f"===== {st.spec.display} ({st.path}) =====\n{f.read().rstrip()}\n")
        shown += 1
    return EXIT_OK if shown else EXIT_FAIL


def _store_from_args(args):
    from .engines.unitaf.store import ModelStore
    return ModelStore(cache_dir=getattr(args, "cache_dir", None), model_dir=getattr(args, "model_dir", None))


def cli_status(args) -> int:
    """`models status`: print files, sizes, revisions, licences. Exit 0 whenever it could report
    (missing files are information); with --check, exit 1 when a needed file is missing."""
    store = _store_from_args(args)
    features = getattr(args, "features", None) or None
    print(format_status(store, features))
    return EXIT_FAIL if getattr(args, "check", False) and store.missing(features) else EXIT_OK


def cli_download(args) -> int:
    """`models download [--feature F ...] [--offline]`: fetch what is missing, with a progress line."""
    return _download(_store_from_args(args), getattr(args, "features", None) or None, getattr(args, "offline", False))


def cli_voice_download(args) -> int:
    """`voices download NAME... [--offline]`: natural voices through the same model store."""
    from .engines.embedded.voice_catalog import VOICE_FEATURES, voice_store
    names = [n.strip().lower().removeprefix("hibari:") for n in args.names]
    unknown = [n for n in names if n not in VOICE_FEATURES]
    if unknown:
        raise BadInput(f"voices download: no downloadable voice named {', '.join(unknown)}; choose from "
                       f"{', '.join(VOICE_FEATURES)} (heart is built in)")
    return _download(voice_store(cache_dir=getattr(args, "cache_dir", None)), names, getattr(args, "offline", False))


def _download(store, features, offline) -> int:
    from .engines.model_download import DownloadError, DownloadProgress
    from .engines.model_files import human_size
    from .engines.model_store import ModelsMissing
    last = {"pct": -1, "file": None}

    def report(p: DownloadProgress):
        pct = int(100 * p.done / p.total) if p.total else 0
        if p.file != last["file"]:
            print(f"[{p.index}/{p.count}] {p.file}", file=sys.stderr)
            last["file"] = p.file
        if pct != last["pct"]:
            last["pct"] = pct
            print(f"\r  {human_size(p.done)} / {human_size(p.total)} ({pct}%)", end="", file=sys.stderr)

    specs = store.specs(features)
    print("Licences of what will be downloaded:", file=sys.stderr)
    for repo, licence in dict.fromkeys((s.repo_id, s.licence) for s in specs):
        print(f"  {repo}: {licence}", file=sys.stderr)
    try:
        store.download(features, progress=report, offline=True if offline else None)
    except (ModelsMissing, DownloadError) as exc:
        print(f"\n{exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"\nAll files present in {store.model_dir or store.cache_dir}.", file=sys.stderr)
    return EXIT_OK
