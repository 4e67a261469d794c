"""Shared test fixtures: a clean bpy scene, ../shared paths, and a guard that tests never write
into ../shared."""
import pytest

from shared_paths import ASSETS, PARITY, ROOT, SHARED, need  # noqa: F401


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
