"""`python -m unitaf_blender <command> ...` (see cli.py)."""
import os
import sys

from .cli import main

code = main()
# The bpy 4.2 module can crash while the interpreter tears down (exit status 139) after all
# work is done and saved; leave without teardown so the exit code is the command's own.
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
