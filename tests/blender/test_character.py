"""A character is several meshes and a rig (issue 12): the Ready Player Me avatar's teeth and eye
meshes are keyed with its head, its Head/Neck bones turn (not its objects), a mesh can be
switched off, keys that move nothing count as missing, and bone turns follow Live Link's signs."""
import math

import numpy as np
import pytest
from helpers import make_face, make_perf

from shared_paths import ASSETS, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import character, mapping_store, rig
from unitaf_blender.blender.takes import TakeOptions, apply_take
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS

RPM = ASSETS / "models" / "noncommercial" / "brunette-t.glb"


@pytest.fixture
def rpm(clean_scene):
    bpy.ops.import_scene.gltf(filepath=str(need(RPM)))
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_current = 30, 1, 1
    return bpy.data.objects["Wolf3D_Head"]


def _turning_perf(seconds=2.0, fps=30.0):
    """jawOpen and head yaw/pitch that move; everything else at rest."""
    channels = ARKIT_52 + HEAD_EYE_ROTATIONS

    def fn(t, i):
        name = channels[i]
        if name == "jawOpen":
            return 0.5 + 0.4 * np.sin(2 * np.pi * t)
        if name == "headYaw":
            return 0.3 * np.sin(np.pi * t / seconds)
        if name == "headPitch":
            return 0.1 * np.sin(np.pi * t / seconds)
        return np.zeros_like(t)
    return make_perf(seconds=seconds, fps=fps, channels=channels, fn=fn)


def _pose_rotation(armature, bone):
    pb = armature.pose.bones[bone]
    return np.array(pb.matrix_basis.to_quaternion())


def test_ready_player_me_head_teeth_eyes_and_bones_in_one_take(rpm):
    head = rpm
    armature = character.armature_of(head)
    assert armature is not None and rig.find_bones(armature) == {
        "head": "Head", "neck": "Neck", "eye_l": "LeftEye", "eye_r": "RightEye"}
    assert [o.name for o in character.candidates(head)] == ["EyeLeft", "EyeRight", "Wolf3D_Teeth"]
    # most of the 67 keys on the teeth and eyes move nothing: they count as missing
    teeth = bpy.data.objects["Wolf3D_Teeth"]
    silent = mapping_store.silent_keys(teeth)
    assert "viseme_PP" in silent and "mouthSmileLeft" in silent and "jawOpen" not in silent
    assert not set(mapping_store.object_mapping(teeth).pairs.values()) & silent

    scene = bpy.context.scene
    rest_head = _pose_rotation(armature, "Head")
    rotations = {o.name: np.array(o.matrix_world.to_euler()) for o in bpy.data.objects}
    result = apply_take(scene, head, _turning_perf(), TakeOptions(start_frame=20, push_to_nla=True, add_sound=False))
    parts = {name: (what, kind) for name, _, what, kind in result.parts}
    assert set(parts) == {"Wolf3D_Head", "Wolf3D_Teeth", "EyeLeft", "EyeRight", "Armature"}
    assert "jawOpen" in parts["Wolf3D_Teeth"][0]
    assert parts["Armature"] == (["Neck", "Head"], "bones")   # gaze goes to the eyeLook keys

    mid = 20 + 30
    scene.frame_set(mid)
    head_jaw = head.data.shape_keys.key_blocks["jawOpen"].value
    teeth_jaw = teeth.data.shape_keys.key_blocks["jawOpen"].value
    assert head_jaw > 0.1 and teeth_jaw == pytest.approx(head_jaw, abs=1e-5)   # teeth move with the jaw
    turned = _pose_rotation(armature, "Head")
    assert abs(np.dot(turned, rest_head)) < 0.9999                             # the head bone turns
    for obj in bpy.data.objects:   # no object turns: the head turns through its bones
        assert np.allclose(rotations[obj.name], np.array(obj.matrix_world.to_euler()), atol=1e-6), obj.name
    # outside the take the bones are back at rest
    scene.frame_set(10)
    assert np.allclose(np.abs(np.dot(_pose_rotation(armature, "Head"), rest_head)), 1.0, atol=1e-6)


def test_a_switched_off_mesh_is_left_alone(rpm):
    bpy.data.objects["EyeLeft"].unitaf_skip = True
    result = apply_take(bpy.context.scene, rpm, _turning_perf(), TakeOptions(start_frame=1, add_sound=False))
    names = [name for name, _, _, _ in result.parts]
    assert "EyeLeft" not in names and "EyeRight" in names
    assert bpy.data.objects["EyeLeft"].data.shape_keys.animation_data is None


def _rigged_head(bone_name="mixamorig:Head", neck=None):
    """An armature with a head bone pointing up (+Z) and a mesh deformed by it."""
    arm_data = bpy.data.armatures.new("Rig")
    arm = bpy.data.objects.new("Rig", arm_data)
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    parent = None
    if neck:
        nb = arm_data.edit_bones.new(neck)
        nb.head, nb.tail = (0, 0, 1.4), (0, 0, 1.5)
        parent = nb
    hb = arm_data.edit_bones.new(bone_name)
    hb.head, hb.tail = (0, 0, 1.5), (0, 0, 1.8)
    hb.parent = parent
    bpy.ops.object.mode_set(mode='OBJECT')
    face = make_face(bpy)
    mod = face.modifiers.new("Armature", 'ARMATURE')
    mod.object = arm
    return arm, face


def test_head_yaw_turns_the_head_bone_toward_the_subjects_left(clean_scene):
    arm, face = _rigged_head()
    channels = ("jawOpen",) + HEAD_EYE_ROTATIONS
    yaw = 0.4

    def fn(t, i):
        return np.full_like(t, {"jawOpen": 0.5, "headYaw": yaw}.get(channels[i], 0.0))
    perf = make_perf(seconds=1.0, channels=channels, fn=fn)
    apply_take(bpy.context.scene, face, perf, TakeOptions(start_frame=1, add_sound=False))
    bpy.context.scene.frame_set(5)
    pb = arm.pose.bones["mixamorig:Head"]
    rest = arm.data.bones["mixamorig:Head"].matrix_local.to_3x3()
    turn = np.array(pb.matrix.to_3x3() @ rest.inverted())    # the bone's turn in armature space
    facing = turn @ np.array([0.0, -1.0, 0.0])                 # the character faces -Y
    assert facing[0] == pytest.approx(math.sin(yaw), abs=1e-4) and facing[0] > 0   # toward +X: its left
    assert np.array(face.matrix_world.to_euler()) == pytest.approx(0.0)           # the mesh never rotates


def test_head_turn_is_shared_with_the_neck(clean_scene):
    arm, face = _rigged_head("Head", neck="Neck")
    channels = ("jawOpen",) + HEAD_EYE_ROTATIONS

    def fn(t, i):
        return np.full_like(t, {"jawOpen": 0.5, "headPitch": 0.3}.get(channels[i], 0.0))
    apply_take(bpy.context.scene, face, make_perf(seconds=1.0, channels=channels, fn=fn),
               TakeOptions(start_frame=1, add_sound=False))
    bpy.context.scene.frame_set(5)
    angles = {b: 2 * math.acos(min(1.0, abs(arm.pose.bones[b].matrix_basis.to_quaternion().w))) for b in ("Neck", "Head")}
    assert angles["Neck"] == pytest.approx(0.3 * rig.NECK_SHARE, abs=1e-4)
    assert angles["Head"] == pytest.approx(0.3 * (1 - rig.NECK_SHARE), abs=1e-4)


def test_an_imported_live_link_take_moves_the_eye_bones_when_no_key_can(rpm):
    """Recorded takes go through the same path. With the eyeLook keys removed (a rig whose
    eyes are bones only), the Live Link CSV's eye rotations turn the LeftEye/RightEye bones."""
    from unitaf_blender.core.performance_files import load_performance
    for obj in bpy.data.objects:
        if obj.type == 'MESH' and obj.data.shape_keys:
            for kb in [kb for kb in obj.data.shape_keys.key_blocks if kb.name.startswith("eyeLook")]:
                obj.shape_key_remove(kb)
    perf = load_performance(need(ASSETS / "performances" / "alex_rom_3.csv"))
    result = apply_take(bpy.context.scene, rpm, perf, TakeOptions(start_frame=1, add_sound=False))
    parts = {name: what for name, _, what, _ in result.parts}
    assert parts["Armature"] == ["LeftEye", "RightEye"]    # the CSV has no head rotation
    yaw = perf.channel("leftEyeYaw")
    frame = int(np.argmax(np.abs(yaw)))
    scene = bpy.context.scene
    scene.frame_set(1 + round(frame * scene.render.fps / perf.fps))
    eye = bpy.data.objects["Armature"].pose.bones["LeftEye"]
    turned = 2 * math.acos(min(1.0, abs(eye.matrix_basis.to_quaternion().w)))
    assert turned > 0.8 * abs(yaw[frame])


def test_a_bone_chosen_in_the_panel_wins_over_naming(clean_scene):
    from unitaf_blender.blender import props
    props.register_properties()
    arm, face = _rigged_head("Head", neck="Neck")
    assert rig.find_bones(arm) == {"head": "Head", "neck": "Neck"}
    arm.unitaf_head_bone = "Neck"            # an unusual rig: the artist picks the bone
    assert rig.find_bones(arm)["head"] == "Neck"
    arm.unitaf_head_bone = "Missing"         # a stale choice falls back to the name rules
    assert rig.find_bones(arm)["head"] == "Head"
