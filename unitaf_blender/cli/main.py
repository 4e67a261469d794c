"""Parse and run one command: the exit codes (errors.py), Ctrl-C and SIGTERM (interrupts.py), the
run's temp folder (temp_files.py)."""
import sys
import traceback

from .. import interrupts, temp_files
from ..core.errors import first_line, full_message
from .errors import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, BadInput
from .parser import build_parser
from .scene_commands import cmd_batch, cmd_demo, cmd_generate, cmd_import, cmd_lipsync
from .setup_commands import cmd_engines, cmd_install_runtime, cmd_models, cmd_voices

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
    from ..engines import EngineError
    return isinstance(e, (EngineError, FileNotFoundError, ValueError))


def blender_command(argv):
    """Entry point registered with bpy.utils.register_cli_command('unitaf', ...)."""
    return run(list(argv), prog="blender -c unitaf")


def main(argv=None):
    return run(sys.argv[1:] if argv is None else list(argv), prog="python -m unitaf_blender")
