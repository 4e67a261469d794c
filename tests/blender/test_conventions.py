"""Characters whose keys are not ARKit (issue 12), built from the shared real assets by deleting
key families, the way a user's rig has only one of them: VRoid `Fcl_*`, Ready Player Me
`viseme_*`, Rocketbox FACS `AU_*`. A real embedded-engine take is keyed through the normal path."""
import numpy as np
import pytest

from shared_paths import ASSETS, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying
from unitaf_blender.blender.takes import TakeOptions, apply_take
from unitaf_blender.engines import GenerateRequest
from unitaf_blender.engines.embedded.engine import EmbeddedEngine

MODELS = ASSETS / "models"
SCRIPT = "Bob may paint a map of Paris. [happy] I am so happy to be home!"


@pytest.fixture(scope="module")
def take():
    return EmbeddedEngine().generate(GenerateRequest(text=SCRIPT, emotion="calm:0.3"))


def _load(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if str(path).endswith(".fbx"):
        bpy.ops.import_scene.fbx(filepath=str(path))
    else:
        bpy.ops.import_scene.gltf(filepath=str(path))
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_current = 30, 1, 1


def _keep(obj, keep):
    for kb in [kb for kb in obj.data.shape_keys.key_blocks[1:] if not keep(kb.name)]:
        obj.shape_key_remove(kb)


def _curves(obj, action):
    return {keying.key_name_from_path(fc.data_path): fc for fc in compat.action_fcurves(action)}


def _peak(fc):
    return max(k.co[1] for k in fc.keyframe_points)


def _bilabial_frames(perf, start, fps):
    labels = [(p.start, p.end, p.label.lstrip("'%,=")) for p in perf.phonemes]
    return [start + round(0.5 * (a + b) * fps) for a, b, lab in labels if lab[:1] in ("p", "b", "m")]


def test_vroid_face_with_only_fcl_keys_speaks_and_blinks(clean_scene, take):
    _load(need(MODELS / "noncommercial" / "vroid_meshopt-decoded.glb"))
    face = bpy.data.objects["Face"]
    _keep(face, lambda n: n.startswith("Fcl_"))
    result = apply_take(bpy.context.scene, face, take, TakeOptions(start_frame=1, add_sound=False))
    curves = _curves(face, result.action)
    for vowel in ("Fcl_MTH_A", "Fcl_MTH_I", "Fcl_MTH_U", "Fcl_MTH_O"):
        assert _peak(curves[vowel]) > 0.3, vowel
    assert _peak(curves["Fcl_EYE_Close_L"]) > 0.8 and _peak(curves["Fcl_EYE_Close_R"]) > 0.8
    untouched = [n for n in curves if n.startswith(("Fcl_HA_", "Fcl_ALL_")) or "Hide" in n]
    assert untouched == []


def test_ready_player_me_visemes_close_on_every_bilabial_and_teeth_follow(clean_scene, take):
    _load(need(MODELS / "noncommercial" / "brunette-t.glb"))
    for name in ("Wolf3D_Head", "Wolf3D_Teeth"):
        _keep(bpy.data.objects[name], lambda n: n.startswith("viseme_") or n.startswith("eye"))
    head, teeth = bpy.data.objects["Wolf3D_Head"], bpy.data.objects["Wolf3D_Teeth"]
    result = apply_take(bpy.context.scene, head, take, TakeOptions(start_frame=1, add_sound=False))
    parts = {name: what for name, _, what, _ in result.parts}
    assert "viseme_aa" in parts["Wolf3D_Teeth"]                          # the teeth move with the head
    curves = _curves(head, result.action)
    visemes = sorted(n for n in curves if n.startswith("viseme_"))
    frames = _bilabial_frames(take, 1, 30.0)
    assert len(frames) >= 5
    for frame in frames:
        window = range(frame - 2, frame + 3)
        pp = max(curves["viseme_PP"].evaluate(f) for f in window)
        others = max(curves[v].evaluate(f) for v in visemes if v != "viseme_PP" for f in (frame,))
        assert pp >= 0.5, frame
        assert pp >= others - 1e-6 or pp > 0.8, frame
    assert _peak(curves["viseme_aa"]) > 0.5
    # never two visemes at full weight together
    for f in range(1, result.frame_end + 1):
        assert sum(curves[v].evaluate(f) > 0.8 for v in visemes) <= 1
    teeth_curves = _curves(teeth, [a for n, a, _, _ in result.parts if n == "Wolf3D_Teeth"][0])
    assert _peak(teeth_curves["viseme_aa"]) == pytest.approx(_peak(curves["viseme_aa"]), abs=1e-5)


def test_rocketbox_head_with_only_facs_keys_opens_smiles_and_blinks(clean_scene, take):
    _load(need(MODELS / "Rocketbox_Female_Adult_01_facial.fbx"))
    head = [o for o in bpy.data.objects if o.type == 'MESH' and o.data.shape_keys][0]
    _keep(head, lambda n: n.startswith("AU_"))
    result = apply_take(bpy.context.scene, head, take, TakeOptions(start_frame=1, add_sound=False))
    curves = _curves(head, result.action)
    assert _peak(curves["AU_26_JawDrop"]) > 0.4
    assert _peak(curves["AU_12_L_LipCornerPuller"]) > 0.3      # the happy span smiles
    assert _peak(curves["AU_43_L_EyeClosed"]) > 0.8
    values = np.array([curves["AU_26_JawDrop"].evaluate(f) for f in range(1, result.frame_end)])
    assert values.std() > 0.05                                   # the jaw really moves with speech
