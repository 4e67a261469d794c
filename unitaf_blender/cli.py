"""One command line for both ways of running headless:

    blender -b scene.blend -c unitaf <command> ...        (extension registered as a CLI command)
    python -m unitaf_blender <command> --blend scene.blend ...   (bpy module)

Exit codes: 0 success, 2 bad input (one line on stderr), 1 internal failure. An output
.blend is written only when the whole command succeeded.
"""
import argparse
import os
import sys
import traceback

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """The user's input is wrong; the message is printed as one line and the exit code is 2."""


class _ArgParser(argparse.ArgumentParser):
    # argparse exits the process on errors; inside Blender that would kill the session.
    def error(self, message):
        raise BadInput(f"{self.prog}: {message}")


def build_parser(prog="unitaf"):
    from .engines.unitaf import torch_install   # no torch import: the installer's constants only
    p = _ArgParser(prog=prog, description="UniTAF for Blender: text + emotion -> speech and facial animation.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgParser)

    def scene_args(sp, save_required=True):
        sp.add_argument("--blend", metavar="FILE", help="open this .blend first (bpy module; in Blender pass it before -c)")
        sp.add_argument("--save", metavar="OUT.blend", required=save_required,
                        help="write the result here (only on success)")

    def keying_args(sp):
        sp.add_argument("--frame", type=int, default=None, help="start frame (default: the scene's current frame)")
        sp.add_argument("--take", default=None, help="take name (default: derived from the text)")
        sp.add_argument("--nla", action="store_true", help="push the take to the NLA instead of replacing the active action")
        sp.add_argument("--no-sound", action="store_true", help="do not add a sound strip")
        sp.add_argument("--interpolation", choices=("LINEAR", "BEZIER", "CONSTANT"), default="LINEAR")
        sp.add_argument("--smoothing", type=int, default=0, metavar="FRAMES", help="moving-average window (0 = off)")
        sp.add_argument("--intensity", action="append", default=[], metavar="GROUP=VALUE",
                        help="per-group intensity, GROUP in mouth/brows/eyes/other (repeatable)")

    def engine_args(sp):
        sp.add_argument("--engine", default=None, help="engine id (see `engines`); default: embedded")
        sp.add_argument("--voice", default=None, help="engine voice id or a voice prompt .wav")
        sp.add_argument("--seed", type=int, default=0)
        sp.add_argument("--language", default="en-us")
        sp.add_argument("--model-dir", default=None, help="UniTAF weights laid out like the download cache")
        sp.add_argument("--device", default=None, help="neural engine device: auto, cpu, cuda, mps")

    g = sub.add_parser("generate", help="speak a line and key the face of one object")
    scene_args(g)
    g.add_argument("--object", required=True, help="target mesh object name")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the line; may carry inline tags like '[happy] Hi! [sad:0.6] Bye.'")
    src.add_argument("--text-file", metavar="FILE", help="read the line from a UTF-8 text file")
    src.add_argument("--text-block", metavar="NAME", help="read the line from a Text datablock in the .blend")
    g.add_argument("--emotion", default="calm:0.5", help="NAME[:INTENSITY] or 8 comma-separated weights")
    engine_args(g)
    keying_args(g)
    g.add_argument("--export", metavar="OUT.npz", help="also save the Performance (.npz + .wav)")

    i = sub.add_parser("import-performance", help="key a recorded performance (Live Link Face CSV or .npz)")
    scene_args(i)
    i.add_argument("--object", required=True)
    src = i.add_mutually_exclusive_group(required=True)
    src.add_argument("--csv", metavar="FILE", help="Live Link Face CSV")
    src.add_argument("--npz", metavar="FILE", help="a UniTAF performance (.npz with its .wav beside it)")
    keying_args(i)

    b = sub.add_parser("batch", help="many lines, several characters, placed one after another")
    b.add_argument("lines", metavar="LINES.json")
    scene_args(b)
    b.add_argument("--gap", type=float, default=None, help="seconds between lines (overrides the file)")
    b.add_argument("--frame", type=int, default=None, help="frame of the first line")
    b.add_argument("--model-dir", default=None)
    b.add_argument("--device", default=None)

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
    for name, helptext in (("status", "what is present, sizes, licences"), ("download", "download missing weights")):
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
    from .core.channels import GROUPS
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
                audio_dir=audio_dir_for(args.save))
    opts.update(overrides)
    if opts["smoothing"] < 0:
        raise BadInput("--smoothing must be >= 0")
    return TakeOptions(**opts)


def _check_save_path(path):
    if not path.lower().endswith(".blend"):
        raise BadInput(f"--save must name a .blend file, got '{path}'")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise BadInput(f"--save: folder '{folder}' does not exist")


def _open_blend(args):
    import bpy
    if getattr(args, "blend", None):
        if not os.path.isfile(args.blend):
            raise BadInput(f"--blend: file not found: {args.blend}")
        bpy.ops.wm.open_mainfile(filepath=os.path.abspath(args.blend), load_ui=False)
    return bpy.context.scene


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


def _read_text(args):
    if args.text is not None:
        text = args.text
    elif args.text_file is not None:
        if not os.path.isfile(args.text_file):
            raise BadInput(f"--text-file: file not found: {args.text_file}")
        try:
            with open(args.text_file, encoding="utf-8") as f:
                text = f.read()
        except (OSError, UnicodeDecodeError) as e:
            raise BadInput(f"--text-file: cannot read {args.text_file}: {e}") from None
    else:
        import bpy
        block = bpy.data.texts.get(args.text_block)
        if block is None:
            raise BadInput(f"--text-block: no Text datablock named '{args.text_block}'")
        text = block.as_string()
    if not text.strip():
        raise BadInput("the text is empty")
    return text


def _progress(fraction, stage):
    print(f"[{fraction * 100:5.1f}%] {stage}", file=sys.stderr, flush=True)


def _generate(text, emotion, engine_id, voice, seed, language, model_dir=None, device=None):
    from .engines import GenerateRequest, get_engine
    options = {}
    if model_dir:
        options["model_dir"] = model_dir
    if device:
        options["device"] = device
    engine = get_engine(engine_id)
    request = GenerateRequest(text=text, emotion=emotion, voice=voice, seed=seed,
                              language=language, options=options)
    return engine.generate(request, _progress, None)


def _summary(result, obj):
    m = result.mapping
    print(f"{obj.name}: action '{result.action.name}' frames {result.frame_start}-{result.frame_end}, "
          f"{len(m.pairs)} channels keyed" + (f", sound strip '{result.strip.name}'" if result.strip else ""))
    for w in result.warnings:
        print(f"warning: {w}", file=sys.stderr)


# ----------------------------------------------------------------------------- commands


def cmd_generate(args):
    from .blender.takes import apply_take, save_blend
    _check_save_path(args.save)
    scene = _open_blend(args)
    obj = _find_object(args.object)
    text = _read_text(args)
    opts = _take_options(args)
    perf = _generate(text, args.emotion, args.engine, args.voice, args.seed, args.language,
                     args.model_dir, args.device)
    result = apply_take(scene, obj, perf, opts)
    if args.export:
        perf.save(args.export)
    save_blend(os.path.abspath(args.save))
    _summary(result, obj)
    return EXIT_OK


def load_performance_file(csv=None, npz=None):
    """A recorded performance from a Live Link Face CSV or our own .npz (+ .wav)."""
    from .core.livelink import read_livelink_csv
    from .core.performance import Performance
    path = csv or npz
    if not os.path.isfile(path):
        raise BadInput(f"file not found: {path}")
    try:
        return read_livelink_csv(path) if csv else Performance.load(path)
    except (ValueError, OSError, KeyError) as e:
        raise BadInput(f"cannot read {path}: {e}") from None


def cmd_import(args):
    from .blender.takes import apply_take, save_blend
    _check_save_path(args.save)
    scene = _open_blend(args)
    obj = _find_object(args.object)
    perf = load_performance_file(args.csv, args.npz)
    result = apply_take(scene, obj, perf, _take_options(args))
    save_blend(os.path.abspath(args.save))
    _summary(result, obj)
    return EXIT_OK


def cmd_batch(args):
    from .blender.batch import load_batch, run_batch
    from .blender.takes import save_blend
    _check_save_path(args.save)
    try:
        plan = load_batch(args.lines)
    except (OSError, ValueError) as e:
        raise BadInput(str(e)) from None
    if args.gap is not None:
        plan.gap = args.gap
    scene = _open_blend(args)
    results = run_batch(scene, plan, _generate, start_frame=args.frame,
                        model_dir=args.model_dir, device=args.device, validate=_find_object,
                        audio_dir=audio_dir_for(args.save))
    save_blend(os.path.abspath(args.save))
    for line, (obj, result) in zip(plan.lines, results):
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
    raise BadInput("models: choose an action: status or download")


def cmd_install_runtime(args):
    from .engines.unitaf.torch_install import cli_install_runtime
    return cli_install_runtime(args)


COMMANDS = {
    "generate": cmd_generate, "import-performance": cmd_import, "batch": cmd_batch,
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
            print(f"error: {_one_line(e)}", file=sys.stderr)
            return EXIT_BAD_INPUT
        traceback.print_exc()
        print(f"internal error: {_one_line(e)}", file=sys.stderr)
        return EXIT_FAIL


def _is_user_error(e):
    """Bad input the user can fix: engine errors, missing files, and ValueError, which is how
    the core, the engines and the Blender layer (TakeError, WavError, CheckpointError, Live Link
    errors are all ValueErrors) report bad input."""
    from .engines import EngineError
    return isinstance(e, (EngineError, FileNotFoundError, ValueError))


def _one_line(e):
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def blender_command(argv):
    """Entry point registered with bpy.utils.register_cli_command('unitaf', ...)."""
    return run(list(argv), prog="blender -c unitaf")


def main(argv=None):
    return run(sys.argv[1:] if argv is None else list(argv), prog="python -m unitaf_blender")


# ----------------------------------------------------------------------------- `models` printing
# (moved from engines/unitaf/store.py: the store looks files up, the CLI prints them)

def format_status(store, features=None) -> str:
    """The `models status` report: every file with its state and size, revisions, licences."""
    from .engines.unitaf.store import DEFAULT_FEATURES, FEATURES, LICENCES, human_size
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
        lines.append(f"  {state:<8} {size:>9}  {','.join(spec.features):<22} {spec.display}{flag}")
    lines.append("Revisions:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        spec = next(s.spec for s in rows if s.spec.repo_id == repo)
        pin = spec.revision if spec.revision_verified else f"{spec.revision} (UNVERIFIED revision" + (
            "; content pinned by sha256)" if any(s.spec.sha256 for s in rows if s.spec.repo_id == repo) else ")")
        lines.append(f"  {repo} @ {pin}")
    lines.append("Licences:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        lines.append(f"  {repo}: {LICENCES.get(repo, 'unknown')}")
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
    from .engines.unitaf.store import LICENCES, DownloadError, DownloadProgress, ModelsMissing, human_size
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
