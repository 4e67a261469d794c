"""One command line for both ways of running headless:

    blender -b scene.blend -c unitaf <command> ...        (extension registered as a CLI command)
    python -m unitaf_blender <command> --blend scene.blend ...   (bpy module)

Exit codes: 0 success, 2 bad input (the reason on stderr), 1 internal failure.
Guarantees of the scene commands (generate, import-performance, batch): every input and
every output is checked before any generation (target, text, engine options, output folders
writable, free space); every file is written under a temporary name and moved into place
only when the whole command succeeded, so a failure leaves no file behind; the input .blend
is never modified (naming it as --save needs --overwrite).
"""
import argparse
import contextlib
import os
import sys
import traceback

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

    def engine_args(sp, voice=True):
        sp.add_argument("--engine", default=None, help="engine id (see `engines`); default: embedded")
        if voice:
            sp.add_argument("--voice", default=None, help="engine voice id or a voice prompt .wav")
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

    d = sub.add_parser("demo", help="the embedded engine on the procedural demo head: .blend, .wav, preview")
    d.add_argument("--out", default="out", help="output folder (default: out)")
    d.add_argument("--text", default=None, help="script (inline emotion tags allowed)")
    d.add_argument("--emotion", default="happy:0.7")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--engine", default=None)
    d.add_argument("--no-render", action="store_true", help="skip the preview render")

    sub.add_parser("engines", help="list the installed engines")
    v = sub.add_parser("voices", help="list an engine's voices (embedded: espeak-ng voices and variants)")
    v.add_argument("--engine", default=None)

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
    return out


def audio_dir_for(save_path):
    """Takes' audio lives beside the OUTPUT .blend (<stem>_audio/), never beside the input."""
    stem = os.path.splitext(os.path.abspath(save_path))[0]
    return stem + "_audio"


def _take_options(args, **overrides):
    from .blender.takes import TakeOptions
    opts = dict(start_frame=args.frame, intensity=_parse_intensity(args.intensity),
                smoothing=args.smoothing, interpolation=args.interpolation,
                push_to_nla=args.nla, take_name=args.take, add_sound=not args.no_sound,
                audio_dir=audio_dir_for(args.save), word_markers=not args.no_markers)
    opts.update(overrides)
    if opts["smoothing"] < 0:
        raise BadInput("--smoothing must be >= 0")
    return TakeOptions(**opts)


# ----------------------------------------------------------------------------- outputs

# Upper bounds used for the free-space check before generating: 48 kHz 16-bit mono audio,
# and a speaking rate no slower than 8 characters a second.
_AUDIO_BYTES_PER_SECOND = 48000 * 2
_CHARS_PER_SECOND = 8.0


def _same_file(a, b):
    a, b = os.path.abspath(a), os.path.abspath(b)
    if os.path.exists(a) and os.path.exists(b):
        return os.path.samefile(a, b)
    return os.path.normcase(a) == os.path.normcase(b)


def _input_blend(args):
    """The .blend the command reads: --blend, or the file Blender opened before `-c`."""
    if getattr(args, "blend", None):
        return os.path.abspath(args.blend)
    import bpy
    return bpy.data.filepath or None


def _check_outputs(args, seconds_of_audio=0.0):
    """Every output of a scene command, checked before any work: --save names a .blend in a
    writable folder and is not the input (unless --overwrite), --export likewise, and the
    disk has room for the take audio. Raises BadInput."""
    from .core.staging import OutputError, check_free_space, check_writable_folder
    save = os.path.abspath(args.save)
    if not save.lower().endswith(".blend"):
        raise BadInput(f"--save must name a .blend file, got '{args.save}'")
    source = _input_blend(args)
    if source and _same_file(save, source) and not args.overwrite:
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
def _staged_outputs():
    """A StagedFiles stage that is discarded unless the block reached `_write_outputs`."""
    from .core.staging import StagedFiles
    stage = StagedFiles()
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


def _checked_request(engine_id, text, emotion, voice, seed, language, options):
    """The engine and its checked request (every check before any heavy work); the notes
    (e.g. a language picked from the text's writing system) are printed."""
    from .engines import GenerateRequest, get_engine
    from .engines.auto_emotion import resolve_auto
    engine = get_engine(engine_id)
    request, notes = resolve_auto(GenerateRequest(text=text, emotion=emotion, voice=voice, seed=seed,
                                                  language=language, options=options))
    checked = engine.check(request)
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
    others = [f"{name}: {len(what)} {kind if len(what) != 1 else kind[:-1]}"
              for name, _, what, kind in result.parts[1:]]
    print(f"{obj.name}: action '{result.action.name}' frames {result.frame_start}-{result.frame_end}, "
          f"{len(result.parts[0][2])} shape keys keyed" + (f" (with {', '.join(others)})" if others else "")
          + (f", sound strip '{result.strip.name}'" if result.strip else ""))
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)


# ----------------------------------------------------------------------------- commands


def _key_and_write(scene, obj, perf, opts, args):
    """Key the take, export it if asked, and write every output together (or none)."""
    from .blender.takes import apply_take
    with _staged_outputs() as stage:
        result = apply_take(scene, obj, perf, opts, stage=stage)
        if getattr(args, "export", None):   # import-performance has no --export
            _export_performance(perf, args.export, stage)
        _write_outputs(stage, [result], args.save)
    _summary(result, obj)


def cmd_generate(args):
    if args.blend:
        _check_outputs(args)               # fail fast, before the file is even opened
    scene = _open_blend(args)
    obj = _find_object(args.object)
    text = _read_text(args.text, args.text_file, args.text_block)
    _check_outputs(args, _speech_seconds(text))
    opts = _take_options(args)
    engine, checked = _checked_request(args.engine, text, args.emotion, args.voice, args.seed,
                                       args.language, _engine_options(args.model_dir, args.device, args.precision))
    _key_and_write(scene, obj, _generate(engine, checked.request), opts, args)
    return EXIT_OK


def cmd_lipsync(args):
    from .blender.recording import find_sound_strip, read_recording, read_strip
    from .engines import LipsyncRequest, get_engine
    from .engines.auto_emotion import resolve_auto
    from .engines.segments import with_segments
    if args.strip and args.frame is not None:
        raise BadInput("--frame and --strip exclude each other: the strip's start is the take's start")
    if args.blend:
        _check_outputs(args)
    scene = _open_blend(args)
    obj = _find_object(args.object)
    overrides = {}
    if args.strip:
        audio, rate, first = read_strip(find_sound_strip(scene, args.strip))
        overrides = dict(start_frame=first, add_sound=False)
        source = args.strip
    else:
        audio, rate = read_recording(args.audio)
        source = os.path.abspath(args.audio)
        overrides = dict(recording=source)
    transcript = _read_transcript(args)
    _check_outputs(args, len(audio) / rate if args.export else 0.0)
    opts = _take_options(args, **overrides)
    engine = get_engine(args.engine)
    request, notes = resolve_auto(LipsyncRequest(
        audio=audio, sample_rate=rate, transcript=transcript, emotion=args.emotion, language=args.language,
        seed=args.seed, source=source, options=_engine_options(args.model_dir, args.device, args.precision)))
    checked = engine.check_lipsync(with_segments(engine, request))
    for note in notes + checked.notes:
        print(f"note: {note}", file=sys.stderr)
    _key_and_write(scene, obj, _generate(engine, checked.request), opts, args)
    return EXIT_OK


def cmd_import(args):
    from .core.recordings import load_recording
    if args.blend:
        _check_outputs(args)
    scene = _open_blend(args)
    obj = _find_object(args.object)
    perf = load_recording(args.csv or args.npz, args.timecode_fps)
    _check_outputs(args, perf.audio_seconds)
    _key_and_write(scene, obj, perf, _take_options(args), args)
    return EXIT_OK


def cmd_batch(args):
    from .blender.batch import check_lines, run_batch
    from .core.batch import load_batch
    try:
        plan = load_batch(args.lines)
    except (OSError, ValueError) as e:
        raise BadInput(str(e)) from None
    if args.gap is not None:
        plan.gap = args.gap
    if args.blend:
        _check_outputs(args)
    scene = _open_blend(args)
    _check_outputs(args, sum(_speech_seconds(line.text) for line in plan.lines))
    lines = check_lines(plan, _find_object, _engine_options(args.model_dir, args.device, args.precision))
    for line in lines:
        for note in line.checked.notes:
            print(f"note: line {line.number}: {note}", file=sys.stderr)
    with _staged_outputs() as stage:
        results = run_batch(scene, plan, lines, _generate, start_frame=args.frame,
                            audio_dir=audio_dir_for(args.save), stage=stage, progress=_progress)
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
    """Parse and run one command; returns the exit code and never raises or exits."""
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
        return COMMANDS[args.command](args)
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
    from .engines.unitaf.catalog import DEFAULT_FEATURES, FEATURES, LICENCES, human_size
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
        from .engines.unitaf.model_lock import lock_path
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
    from .engines.unitaf.catalog import LICENCES, human_size
    from .engines.unitaf.download import DownloadError, DownloadProgress
    from .engines.unitaf.store import ModelsMissing
    store = _store_from_args(args)
    features = getattr(args, "features", None) or None
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
    for repo in dict.fromkeys(s.repo_id for s in specs):
        print(f"  {repo}: {LICENCES.get(repo, 'unknown')}", file=sys.stderr)
    try:
        store.download(features, progress=report, offline=True if getattr(args, "offline", False) else None)
    except (ModelsMissing, DownloadError) as exc:
        print(f"\n{exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"\nAll files present in {store.model_dir or store.cache_dir}.", file=sys.stderr)
    return EXIT_OK
