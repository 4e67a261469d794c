"""The command line's arguments: every command, its options and help. The engines' own options
(`--option NAME=VALUE`) are listed from what each registered engine declares; `--model-dir`,
`--device` and `--precision` are aliases of the options every request takes (those of emotion
'auto', engines/auto_emotion.py)."""
import argparse

from ..core.channels import INTERPOLATIONS
from ..core.emotion import DEFAULT_EMOTION
from ..engines import auto_emotion
from ..engines.assets import find_assets
from ..engines.registry import engine_classes
from .errors import BadInput

# the options every request takes that have a flag of their own (the flags the CLI always had)
OPTION_FLAGS = tuple((f"--{o.name.replace('_', '-')}", o) for o in auto_emotion.TEXT_EMOTION_OPTIONS)


class _ArgParser(argparse.ArgumentParser):
    # argparse exits the process on errors; inside Blender that would kill the session.
    def error(self, message):
        raise BadInput(f"{self.prog}: {message}")


def build_parser(prog="unitaf"):
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
        option_args(sp)

    def option_args(sp):
        sp.add_argument("--option", action="append", default=[], metavar="NAME=VALUE", dest="options",
                        help="an engine option (repeatable; the engines' options are listed below)")
        for flag, option in OPTION_FLAGS:
            sp.add_argument(flag, default=None, dest=option.name, metavar=option.name.upper(),
                            help=f"--option {option.name}=...: {option.help}"
                                 + (f" ({', '.join(option.values)})" if option.values else ""))

    def scene_parser(name, **kw):
        return sub.add_parser(name, epilog=engine_options_help(), formatter_class=argparse.RawDescriptionHelpFormatter,
                              **kw)

    g = scene_parser("generate", help="speak a line and key the face of one object")
    scene_args(g)
    g.add_argument("--object", required=True, help="target mesh object name")
    src = g.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the line; may carry inline tags like '[happy] Hi! [sad:0.6] Bye.'")
    src.add_argument("--text-file", metavar="FILE", help="read the line from a UTF-8 text file")
    src.add_argument("--text-block", metavar="NAME", help="read the line from a Text datablock in the .blend")
    g.add_argument("--emotion", default=DEFAULT_EMOTION,
                   help="NAME[:INTENSITY], 8 comma-separated weights, or auto (each sentence's emotion from its words)")
    engine_args(g)
    keying_args(g)
    g.add_argument("--export", metavar="OUT.npz", help="also save the Performance (.npz + .wav)")

    ls = scene_parser("lipsync", help="key the face of one object from a recorded line (+ its transcript)")
    scene_args(ls)
    ls.add_argument("--object", required=True, help="target mesh object name")
    src = ls.add_mutually_exclusive_group(required=True)
    src.add_argument("--audio", metavar="FILE", help="the recording (.wav; .flac/.ogg/.mp3 where Blender decodes them)")
    src.add_argument("--strip", metavar="NAME", help="an existing sound strip: its start is the take's start, no new strip")
    said = ls.add_mutually_exclusive_group()
    said.add_argument("--transcript", metavar="TEXT", help="what is said (inline emotion tags allowed)")
    said.add_argument("--transcript-file", metavar="FILE", help="the transcript from a UTF-8 text file")
    said.add_argument("--text-block", metavar="NAME", help="the transcript from a Text datablock in the .blend")
    ls.add_argument("--emotion", default=DEFAULT_EMOTION, help="NAME[:INTENSITY] or 8 comma-separated weights")
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

    b = scene_parser("batch", help="many lines, several characters, placed one after another")
    b.add_argument("lines", metavar="LINES.json")
    scene_args(b)
    b.add_argument("--gap", type=float, default=None, help="seconds between lines (overrides the file)")
    b.add_argument("--frame", type=int, default=None, help="frame of the first line")
    option_args(b)
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
    voices = find_assets("voices")
    listed = ", ".join(voices.store.features) if voices else "none"
    vd = vsub.add_parser("download", help=f"download voices ({listed}; sizes and licences shown first)")
    vd.add_argument("names", nargs="+", metavar="NAME")
    vd.add_argument("--cache-dir", default=None, help="model cache folder (default: the Hugging Face cache)")
    vd.add_argument("--offline", action="store_true", help="never touch the network")

    runtime = find_assets("runtime")
    r = sub.add_parser("install-runtime", help=f"install the {runtime.label if runtime else 'runtime'} into a folder")
    r.add_argument("--target", required=True, metavar="DIR",
                   help="folder to install into (in Blender: the extension's user folder)")
    r.add_argument("--flavour", default="cpu", choices=runtime.installer.FLAVOURS if runtime else ("cpu",))
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


def engine_options_help() -> str:
    """The epilog of the scene commands: every engine's options, as each engine declares them."""
    lines = ["engine options (--option NAME=VALUE; a batch line's \"options\"):"]
    for engine_id, cls in engine_classes():
        lines.append(f"  {engine_id}:")
        lines += [f"    {option.describe()}" for option in cls.options]
    return "\n".join(lines)
