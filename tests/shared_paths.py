"""Paths to ../shared (never copied into the repo) for tests: import from here, not from
conftest (several test folders have their own conftest.py)."""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("UNITAF_SHARED", ROOT.parent / "shared"))
ASSETS = SHARED / "assets"
PARITY = SHARED / "parity"
# LJ Speech's first clip (public domain) and its transcript (../shared/assets/README.md)
LJ = ASSETS / "audio" / "LJ001-0001.wav"
LJ_TEXT = ("Printing, in the only sense with which we are at present concerned, differs from most if not "
           "from all the arts and crafts represented in the Exhibition")

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def need(path: pathlib.Path) -> pathlib.Path:
    """Return `path`, or skip the test with a clear reason when ../shared is not beside the checkout."""
    if not path.exists():
        import pytest
        pytest.skip(f"needs {path} (../shared is provided in CI; absent here)")
    return path
