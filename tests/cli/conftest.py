"""Fixtures for the CLI tests: a copy of the Live Link Face head to open and write beside."""
import shutil

import pytest

from shared_paths import ASSETS, need


@pytest.fixture
def head_blend(tmp_path):
    """A copy of the shared Live Link Face head in tmp_path/in (an input the tests may not change)."""
    dst = tmp_path / "in" / "head.blend"
    dst.parent.mkdir()
    shutil.copy(need(ASSETS / "models" / "Live_Link_Face.blend"), dst)
    return dst
