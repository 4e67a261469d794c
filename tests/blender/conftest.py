"""Fixtures for the Blender-layer tests."""
import pytest
from face_rig_testutil import build_rigify
from helpers import make_face


@pytest.fixture
def face(clean_scene):
    return make_face(clean_scene)


@pytest.fixture
def needs_audio(clean_scene):
    from unitaf_blender.blender import compat
    if not compat.has_audio():
        pytest.skip("this bpy build has no Audaspace (bpy 4.2 wheel): no sound strips")



@pytest.fixture(scope="session")
def rigify_blend(tmp_path_factory):
    """Rigify's Human meta-rig generated once per session, a point mesh bound to its face."""
    bpy = pytest.importorskip("bpy")
    path = tmp_path_factory.mktemp("rigify") / "rigify_face.blend"
    build_rigify(bpy, path)
    return path
