"""`python -m unitaf_blender <command> ...` (see cli.py)."""
import os
import sys

from . import interrupts, temp_files
from .cli import main

code = main()
temp_files.remove_blender_session_folder()
# The bpy 4.2 module can crash while the interpreter tears down (exit status 139) after all
# work is done and saved; leave without teardown so the exit code is the command's own.
sys.stdout.flush()
sys.stderr.flush()
interrupts.end_like_the_signal(code)
os._exit(code)
