"""Paths to ../shared (never copied into the repo) for tests: import from here, not from
conftest (several test folders have their own conftest.py)."""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("UNITAF_SHARED", ROOT.parent / "shared"))
ASSETS = SHARED / "assets"
PARITY = SHARED / "parity"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def need(path: pathlib.Path) -> pathlib.Path:
    """Return `path`, or skip the test with a clear reason when ../shared is not beside the checkout."""
    if not path.exists():
        import pytest
        pytest.skip(f"needs {path} (../shared is provided in CI; absent here)")
    return path
