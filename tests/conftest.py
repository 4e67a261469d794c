"""Shared test fixtures: paths to ../shared (never copied into the repo) and a clean bpy scene."""
import os
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("UNITAF_SHARED", ROOT.parent / "shared"))
ASSETS = SHARED / "assets"
PARITY = SHARED / "parity"

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def need(path: pathlib.Path) -> pathlib.Path:
    """Return `path`, or skip the test with a clear reason when ../shared is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"needs {path} (../shared is provided in CI; absent here)")
    return path


@pytest.fixture
def assets():
    return need(ASSETS)


@pytest.fixture
def parity():
    return need(PARITY)


@pytest.fixture
def clean_scene():
    """A factory-empty Blender scene (bpy module)."""
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    yield bpy


def _shared_listing():
    if not SHARED.exists():
        return set()
    return {str(p) for p in SHARED.rglob("*")}


@pytest.fixture(scope="session", autouse=True)
def shared_stays_untouched():
    """Tests read ../shared in place and must never write there (audio beside an opened
    asset .blend, caches...). Fails the session if anything appeared."""
    before = _shared_listing()
    yield
    added = sorted(_shared_listing() - before)
    assert not added, f"tests wrote into ../shared: {added[:5]}"
