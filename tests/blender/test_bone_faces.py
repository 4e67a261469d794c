"""Faces on bones from the shared assets (issue 23): the Rocketbox 3ds Max Biped face with its
shape keys removed, a Ready Player Me avatar with only its armature (then with a jaw bone the
user adds), the Godot duck whose only mouth key is jawOpen, and head/eye bones named by other
conventions. Takes run through the CLI (exit 0) and are measured on the deformed meshes."""
import math

import numpy as np
import pytest
from face_rig_testutil import (
    BLINK_LINE,
    LINE,
    assert_closes_on_bilabials,
    assert_pose_kept_outside,
    at_scene_rate,
    blink_peaks,
    bone_facing_x,
    correlation,
    deformed,
    over_frames,
    pose_snapshot,
    sealed_jaw,
    take_length,
)

from shared_paths import ASSETS, LJ, LJ_TEXT, need

bpy = pytest.importorskip("bpy")
from mathutils import Vector

from unitaf_blender import cli
from unitaf_blender.blender import face_rigs, rig
from unitaf_blender.core.performance_files import load_performance

ROCKETBOX = ASSETS / "models" / "Rocketbox_Female_Adult_01_facial.fbx"
RPM = ASSETS / "models" / "noncommercial" / "brunette-t.glb"
DUCK = ASSETS / "models" / "GodotLiveLinkFace_duck.glb"


def _import(path):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if str(path).endswith(".fbx"):
        bpy.ops.import_scene.fbx(filepath=str(need(path)))
    else:
        bpy.ops.import_scene.gltf(filepath=str(need(path)))
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_current = 30, 1, 1


def _key_offsets(mesh, key):
    """World-space offsets [V, 3] a shape key gives the mesh's vertices."""
    blocks = mesh.data.shape_keys.key_blocks
    n = len(mesh.data.vertices)
    co = {}
    for name in (key, blocks[key].relative_key.name):
        buf = np.empty(3 * n, np.float32)
        blocks[name].data.foreach_get("co", buf)
        co[name] = buf.reshape(-1, 3).astype(np.float64)
    return (co[key] - co[blocks[key].relative_key.name]) @ np.array(mesh.matrix_world)[:3, :3].T


def _dominated(mesh, group):
    """Vertices whose strongest weight is `group`."""
    names = {g.index: g.name for g in mesh.vertex_groups}
    return [v.index for v in mesh.data.vertices
            if v.groups and names[max(v.groups, key=lambda g: g.weight).group] == group]


def _run(*args):
    return cli.run([str(a) for a in args])


def _take_frames(perf, start=10):
    n = take_length(perf, 30)
    return range(start, start + n), n


# --- Rocketbox: the 3ds Max Biped face ------------------------------------------------------

def _biped_bones_only(tmp_path):
    """The Rocketbox avatar with its 175 shape keys removed (its face then moves with its Biped
    face bones only); returns (blend, upper lid offsets of the blink key it had)."""
    _import(ROCKETBOX)
    mesh = bpy.data.objects["f001_hipoly_81_bones_opacity"]
    blink = _key_offsets(mesh, "AK_09_EyeBlinkLeft")
    mesh.shape_key_clear()
    path = tmp_path / "biped.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path, blink


def test_rocketbox_biped_face_bones(tmp_path):
    blend, blink_key = _biped_bones_only(tmp_path)
    armature = bpy.data.objects["Bip01"]
    face = face_rigs.find_face_rig(armature)
    assert face.label == "3ds Max Biped face"
    assert face.regions["jaw"] == "Bip01 MJaw" and face.regions["lid_upper_turn.L"] == "Bip01 LEyeBlinkTop"
    assert rig.find_bones(armature) == {"head": "Bip01 Head", "neck": "Bip01 Neck", "eye_l": "Bip01 LEye",
                                         "eye_r": "Bip01 REye"}
    before = pose_snapshot(armature)
    out, npz = tmp_path / "out.blend", tmp_path / "take.npz"
    assert _run("generate", "--blend", blend, "--object", "Bip01", "--text", BLINK_LINE, "--emotion", "happy:0.5",
                "--frame", 10, "--save", out, "--export", npz) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    armature, mesh = bpy.data.objects["Bip01"], bpy.data.objects["f001_hipoly_81_bones_opacity"]
    perf = load_performance(npz)
    frames, n = _take_frames(perf)
    upper, lower = _dominated(mesh, "Bip01 MUpperLip"), _dominated(mesh, "Bip01 MBottomLip")
    lid = _dominated(mesh, "Bip01 LEyeBlinkTop")
    bpy.context.scene.frame_set(1)
    rest = deformed(bpy, mesh)

    def in_head(points):
        """Points in the head bone's rest frame, as they would be with the head unturned."""
        pb = armature.pose.bones["Bip01 Head"]
        posed = np.array(armature.matrix_world @ pb.matrix) @ np.linalg.inv(
            np.array(armature.matrix_world @ pb.bone.matrix_local))
        return (points - posed[:3, 3]) @ np.linalg.inv(posed[:3, :3]).T

    def measure():
        p = deformed(bpy, mesh)
        gap = np.linalg.norm(p[upper].mean(0) - p[lower].mean(0)) - np.linalg.norm(rest[upper].mean(0) - rest[lower].mean(0))
        return gap, (in_head(p[lid]) - rest[lid]).mean(0)[2], bone_facing_x(armature, "Bip01 Head")
    values = over_frames(bpy, frames, measure)
    lips, lid_drop, facing = values.T
    assert correlation(lips, sealed_jaw(perf, 30, n)) >= 0.8
    assert_closes_on_bilabials(lips, perf, 30, 0.1 * lips.max())
    # blinks: the upper lid comes down at least a third of the way the avatar's own blink key
    # takes it (its lid bone turns by the angle that best fits that key; the key is sculpted
    # further than the bone's skin weights follow)
    full = blink_key[lid].mean(0)[2]
    blink = at_scene_rate(perf, "eyeBlinkLeft", 30, n)
    peaks = blink_peaks(blink)
    assert peaks
    for k in peaks:
        assert lid_drop[k] <= 0.33 * blink[k] * full, (k, lid_drop[k], full)
    assert abs(lid_drop[blink < 0.05]).max() < 0.1 * abs(full)
    assert correlation(facing, at_scene_rate(perf, "headYaw", 30, n)) >= 0.8
    assert_pose_kept_outside(bpy, armature, before, "UniTAF_Bip01_take1", frames[0], n)
    assert _run("lipsync", "--blend", blend, "--object", "f001_hipoly_81_bones_opacity", "--audio", need(LJ),
                "--transcript", LJ_TEXT, "--save", tmp_path / "lipsync.blend") == 0


# --- Ready Player Me with only its armature ---------------------------------------------------

def _rpm_armature_only(tmp_path, with_jaw=False):
    """The avatar with every shape key removed; with_jaw: plus a `Jaw` bone the user adds under
    the head, at the back of the jaw, weighted (as a painter would) where the avatar's jawOpen
    key moved the head mesh. Returns (blend, lower-lip vertices, nose vertices)."""
    _import(RPM)
    armature, head = bpy.data.objects["Armature"], bpy.data.objects["Wolf3D_Head"]
    jaw_move = np.linalg.norm(_key_offsets(head, "jawOpen"), axis=1)
    rest = deformed(bpy, head)
    for obj in bpy.data.objects:
        if obj.type == 'MESH' and obj.data.shape_keys is not None:
            obj.shape_key_clear()
    lower = list(np.argsort(jaw_move)[-20:])                   # the lower lip and chin
    nose = list(np.argsort(rest[:, 1] + 10.0 * (jaw_move > 1e-5))[:20])   # front-most, still
    if with_jaw:
        moving = np.flatnonzero(jaw_move > 1e-5)
        hinge = (0.0, rest[moving, 1].max(), rest[moving, 2].max())
        bpy.context.view_layer.objects.active = armature
        bpy.ops.object.mode_set(mode='EDIT')
        bone = armature.data.edit_bones.new("Jaw")
        bone.head = armature.matrix_world.inverted() @ Vector(hinge)
        bone.tail = bone.head + Vector((0.0, -0.05, -0.03))
        bone.parent = armature.data.edit_bones["Head"]
        bpy.ops.object.mode_set(mode='OBJECT')
        weights = np.clip(jaw_move / jaw_move.max() * 1.5, 0.0, 1.0)
        jaw_group = head.vertex_groups.new(name="Jaw")
        head_group = head.vertex_groups["Head"]
        for i in moving:
            jaw_group.add([int(i)], float(weights[i]), 'REPLACE')
            head_group.add([int(i)], float(1.0 - weights[i]), 'REPLACE')
    path = tmp_path / ("rpm_jaw.blend" if with_jaw else "rpm_bones.blend")
    bpy.ops.wm.save_as_mainfile(filepath=str(path))
    return path, lower, nose


def test_ready_player_me_armature_only(tmp_path, capsys):
    """No shape key anywhere: the take turns the head, neck and eyes; mouth and lids are
    reported as dropped, with why."""
    blend, _, _ = _rpm_armature_only(tmp_path)
    before = pose_snapshot(bpy.data.objects["Armature"])
    out, npz = tmp_path / "out.blend", tmp_path / "take.npz"
    capsys.readouterr()
    assert _run("generate", "--blend", blend, "--object", "Armature", "--text", LINE, "--frame", 10,
                "--save", out, "--export", npz) == 0
    captured = capsys.readouterr()
    assert "Armature: action 'UniTAF_Armature_take1'" in captured.out and "4 bones keyed" in captured.out
    assert "note: bones of 'Armature' (moved by neck, head, eye_l, eye_r): Neck, Head, LeftEye, RightEye" \
        in captured.err
    assert "dropped: mouth" in captured.err and "'Armature': no face bones" in captured.err
    assert "dropped: eyelids" in captured.err
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    armature = bpy.data.objects["Armature"]
    perf = load_performance(npz)
    frames, n = _take_frames(perf)
    facing = over_frames(bpy, frames, lambda: (bone_facing_x(armature, "Head"), bone_facing_x(armature, "LeftEye")))
    assert correlation(facing[:, 0], at_scene_rate(perf, "headYaw", 30, n)) >= 0.8
    # the eye turns with the head plus its own yaw
    eye_yaw = at_scene_rate(perf, "leftEyeYaw", 30, n) + at_scene_rate(perf, "headYaw", 30, n)
    assert correlation(facing[:, 1], eye_yaw) >= 0.8
    assert_pose_kept_outside(bpy, armature, before, "UniTAF_Armature_take1", frames[0], n)


def test_ready_player_me_with_a_jaw_bone_the_user_adds(tmp_path):
    """The jaw bone carries jawOpen - mouthClose (no jaw key) and closes the mouth on every
    /p b m/."""
    blend, lower, nose = _rpm_armature_only(tmp_path, with_jaw=True)
    assert face_rigs.find_face_rig(bpy.data.objects["Armature"]).regions == {"jaw": "Jaw"}
    out, npz = tmp_path / "out.blend", tmp_path / "take.npz"
    assert _run("generate", "--blend", blend, "--object", "Wolf3D_Head", "--text", LINE, "--frame", 10,
                "--save", out, "--export", npz) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    head = bpy.data.objects["Wolf3D_Head"]
    perf = load_performance(npz)
    frames, n = _take_frames(perf)

    def opening():
        p = deformed(bpy, head)
        return np.linalg.norm(p[lower].mean(0) - p[nose].mean(0))
    bpy.context.scene.frame_set(1)
    rest = opening()
    mouth = over_frames(bpy, frames, opening) - rest
    assert correlation(mouth, sealed_jaw(perf, 30, n)) >= 0.8
    assert_closes_on_bilabials(mouth, perf, 30, 0.1 * mouth.max())


# --- the duck: a jaw key and nothing to seal the lips ------------------------------------------

def test_a_jaw_only_face_closes_on_every_bilabial(tmp_path):
    """The Godot duck's only mouth key is jawOpen: it carries jawOpen - mouthClose, so on
    /p b m/ it now shuts (it stayed at the engine's 0.065-0.08 jaw before)."""
    _import(DUCK)
    blend = tmp_path / "duck.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    out, npz = tmp_path / "out.blend", tmp_path / "take.npz"
    assert _run("generate", "--blend", blend, "--object", "Chicken", "--text", LINE, "--frame", 1,
                "--save", out, "--export", npz) == 0
    bpy.ops.wm.open_mainfile(filepath=str(out), load_ui=False)
    key = bpy.data.objects["Chicken"].data.shape_keys.key_blocks["jawOpen"]
    perf = load_performance(npz)
    frames, n = _take_frames(perf, start=1)
    jaw = over_frames(bpy, frames, lambda: key.value)
    assert correlation(jaw, sealed_jaw(perf, 30, n)) >= 0.8
    assert len(assert_closes_on_bilabials(jaw, perf, 30, 0.005)) == 7


# --- head and eye bones by convention -----------------------------------------------------------

def _armature_with(names):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    for i, name in enumerate(names):
        bone = arm.data.edit_bones.new(name)
        bone.head, bone.tail = (0, 0, i), (0, 0, i + 0.5)
    bpy.ops.object.mode_set(mode='OBJECT')
    return arm


@pytest.mark.parametrize("names,expected", [
    (("Bip01 Neck", "Bip01 Head", "Bip01 LEye", "Bip01 REye"),
     {"neck": "Bip01 Neck", "head": "Bip01 Head", "eye_l": "Bip01 LEye", "eye_r": "Bip01 REye"}),
    (("Bip001 Head", "Bip001 HeadNub"), {"head": "Bip001 Head"}),
    (("mixamorig:Neck", "mixamorig:Head", "mixamorig:LeftEye"),
     {"neck": "mixamorig:Neck", "head": "mixamorig:Head", "eye_l": "mixamorig:LeftEye"}),
    (("mixamorig5:Head",), {"head": "mixamorig5:Head"}),
    (("neck_01", "head", "FACIAL_L_Eye", "FACIAL_R_Eye", "FACIAL_C_Jaw"),
     {"neck": "neck_01", "head": "head", "eye_l": "FACIAL_L_Eye", "eye_r": "FACIAL_R_Eye", "jaw": "FACIAL_C_Jaw"}),
    (("CC_Base_NeckTwist01", "CC_Base_Head", "CC_Base_L_Eye", "CC_Base_R_Eye", "CC_Base_JawRoot"),
     {"neck": "CC_Base_NeckTwist01", "head": "CC_Base_Head", "eye_l": "CC_Base_L_Eye", "eye_r": "CC_Base_R_Eye",
      "jaw": "CC_Base_JawRoot"}),
])
def test_head_eye_and_jaw_bones_by_convention(names, expected):
    assert rig.find_bones(_armature_with(names)) == expected


def test_a_chosen_jaw_bone_wins(clean_scene):
    from unitaf_blender.blender import props
    props.register_properties()
    arm = _armature_with(("Head", "Chin", "jaw"))
    assert face_rigs.find_face_rig(arm).regions == {"jaw": "jaw"}
    arm.unitaf_jaw_bone = "Chin"
    assert face_rigs.find_face_rig(arm).regions == {"jaw": "Chin"}


def test_bone_roles_are_read_once_and_only_when_needed(clean_scene, monkeypatch):
    from unitaf_blender.blender import bone_targets
    arm = _armature_with(("Head", "jaw"))
    bones = rig.find_bones(arm)
    scans, find_bones = [], rig.find_bones
    monkeypatch.setattr(rig, "find_bones", lambda a: scans.append(a.name) or find_bones(a))
    assert face_rigs.find_face_rig(arm, bones).regions == {"jaw": "jaw"} and scans == []   # the caller's roles
    assert face_rigs.find_face_rig(arm).regions == {"jaw": "jaw"} and len(scans) == 1
    assert bone_targets.has_targets(arm, pose_map=object()) and len(scans) == 1          # a pose map is enough
    assert bone_targets.has_targets(arm) and len(scans) == 2
    assert not bone_targets.has_targets(_armature_with(("UpperArm",))) and len(scans) == 3


def test_head_turns_in_world_space_on_a_turned_armature(clean_scene):
    """FBX armatures are often turned (Rocketbox: 90 degrees about Z): the head still turns
    toward the character's left for yaw > 0."""
    from helpers import make_face, make_perf

    from unitaf_blender.blender.takes import TakeOptions, apply_take
    from unitaf_blender.core.channels import HEAD_EYE_ROTATIONS
    arm = _armature_with(("Head",))
    arm.rotation_euler = (0.0, 0.0, math.pi / 2)
    face = make_face(bpy)
    face.modifiers.new("Armature", 'ARMATURE').object = arm
    channels = ("jawOpen",) + HEAD_EYE_ROTATIONS
    perf = make_perf(seconds=0.5, channels=channels, audio=False,
                     fn=lambda t, i: np.full_like(t, {"jawOpen": 0.3, "headYaw": 0.4}.get(channels[i], 0.0)))
    apply_take(bpy.context.scene, face, perf, TakeOptions(start_frame=1, add_sound=False))
    bpy.context.scene.frame_set(3)
    assert bone_facing_x(arm, "Head") == pytest.approx(math.sin(0.4), abs=1e-4)
