"""Shared test fixtures: a clean bpy scene, ../shared paths, and a guard that tests never write
into ../shared."""
import os
import tempfile

import pytest

# Enabling the extension writes Blender user data (extensions, config): keep the test session
# away from ~/.config/blender. Must be set before bpy is first imported.
_OWN_USER_DIR = None
if "BLENDER_USER_RESOURCES" not in os.environ:
    _OWN_USER_DIR = os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="unitaf-blender-user-")

from shared_paths import ASSETS, PARITY, ROOT, SHARED, need  # noqa: F401


@pytest.fixture
def assets():
    return need(ASSETS)


@pytest.fixture
def parity():
    return need(PARITY)


@pytest.fixture
def temp_folder():
    """A new empty folder (helpers.fresh_temp_folder) to stand for the system temp folder of a
    run; removed afterwards."""
    import shutil

    from helpers import fresh_temp_folder
    folder = fresh_temp_folder()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


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


_exit_status = {}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)
    if _OWN_USER_DIR:
        import shutil
        shutil.rmtree(_OWN_USER_DIR, ignore_errors=True)


def pytest_unconfigure(config):
    # Older bpy modules misbehave in interpreter teardown after a clean run: 4.2 crashes
    # (SIGSEGV) and 4.5 can deadlock (its delayed-close thread waits on a condition variable a
    # static destructor is destroying). Once pytest has reported, leave without teardown so the
    # exit code is pytest's own.
    bpy = __import__("sys").modules.get("bpy")
    if bpy is not None and bpy.app.version < (5, 0, 0) and "code" in _exit_status:
        import os
        import sys
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"])
