"""`python -m unitaf_blender <command> ...` (see cli.py)."""
import sys

from .cli import main

sys.exit(main())
