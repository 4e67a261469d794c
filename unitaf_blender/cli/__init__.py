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

The package: parser.py (arguments and help), inputs.py and outputs.py (what a command reads and
writes, checked first), scene_commands.py and setup_commands.py (the commands), main.py (run one).
"""
from .errors import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, BadInput  # noqa: F401 - the package's face
from .main import COMMANDS, blender_command, main, run  # noqa: F401
