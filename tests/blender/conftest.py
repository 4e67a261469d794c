"""Fixtures for the Blender-layer tests."""
import pytest

from blender_testutil import make_face


@pytest.fixture
def face(clean_scene):
    return make_face(clean_scene)


@pytest.fixture
def needs_audio(clean_scene):
    from unitaf_blender.blender import compat
    if not compat.has_audio():
        pytest.skip("this bpy build has no Audaspace (bpy 4.2 wheel): no sound strips")

