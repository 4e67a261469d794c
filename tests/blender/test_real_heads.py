"""Key a synthetic performance onto real third-party heads (../shared/assets/models)."""
import numpy as np
import pytest
from helpers import make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying
from unitaf_blender.blender.mapping_store import object_mapping
from unitaf_blender.blender.takes import TakeOptions, apply_take
from unitaf_blender.core.channels import ARKIT_52


def _key_and_check(obj, expected_pairs, min_mapped, sealed=False):
    """sealed: the head has no key that closes the lips, so its jawOpen key carries
    jawOpen - mouthClose (core.face_bones.sealed_jaw)."""
    mapping = object_mapping(obj)
    for ch, key in expected_pairs.items():
        assert mapping.pairs.get(ch) == key
    assert len(mapping.pairs) >= min_mapped
    scene = bpy.context.scene
    perf = make_perf(seconds=2.0, fps=25.0, channels=ARKIT_52, audio=False)
    resting = {kb.name: kb.value for kb in obj.data.shape_keys.key_blocks}
    result = apply_take(scene, obj, perf, TakeOptions(start_frame=scene.frame_start, add_sound=False))
    fcs = compat.action_fcurves(result.action)
    arkit_pairs = {c: k for c, k in mapping.pairs.items() if c in ARKIT_52}
    assert sorted(fc.data_path for fc in fcs) == sorted(keying.data_path(k) for k in arkit_pairs.values())
    # the mapped keys really animate: values at two frames differ and follow the performance,
    # added to the head's own resting values
    fps = scene.render.fps / scene.render.fps_base
    key_blocks = obj.data.shape_keys.key_blocks
    for ch, key in list(arkit_pairs.items())[:5]:
        kb = key_blocks[key]
        values = perf.channel(ch)
        if sealed and ch == "jawOpen":
            values = np.maximum(values - perf.channel("mouthClose"), 0.0)
        src = np.interp(np.arange(result.frame_end - result.frame_start + 1) / fps,
                        np.arange(perf.n_frames) / perf.fps, values)
        got = []
        for k in (3, 17):
            scene.frame_set(result.frame_start + k)
            got.append(kb.value)
            expected = np.clip(resting[key] + src[k], kb.slider_min, kb.slider_max)
            assert kb.value == pytest.approx(expected, abs=1e-5)
        assert got[0] != got[1]
    return mapping


def _need(assets, name):
    path = assets / "models" / name
    if not path.exists():
        pytest.skip(f"needs {path}")
    return path


def test_live_link_face_blend(clean_scene, assets):
    path = _need(assets, "Live_Link_Face.blend")
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    obj = bpy.data.objects["FBHead"]
    m = _key_and_check(obj, {"jawOpen": "JawOpen", "eyeBlinkLeft": "EyeBlinkLeft"}, min_mapped=51)
    assert "tongueOut" in m.unmapped_channels


def test_rocketbox_fbx(clean_scene, assets):
    path = _need(assets, "Rocketbox_Female_Adult_01_facial.fbx")
    bpy.ops.import_scene.fbx(filepath=str(path))
    obj = bpy.data.objects["f001_hipoly_81_bones_opacity"]
    _key_and_check(obj, {"jawOpen": "AK_25_JawOpen", "tongueOut": "AK_52_TongueOut"}, min_mapped=52)


def test_duck_glb(clean_scene, assets):
    path = _need(assets, "GodotLiveLinkFace_duck.glb")
    bpy.ops.import_scene.gltf(filepath=str(path))
    obj = bpy.data.objects["Chicken"]
    m = _key_and_check(obj, {"jawOpen": "jawOpen", "eyeSquintLeft": "eyeSquintLeft",
                             "eyeSquintRight": "eyeSquintRight"}, min_mapped=3, sealed=True)
    assert len(m.pairs) == 3
