"""Pose libraries (issue 23): a mouth chart of the user's own poses on any armature. The poses
are made here as an animator makes them (pose the controls, key them, mark the action as a
pose asset), on the Rigify rig with its bound mesh; the take solves onto them and keys blended
bone transforms (and the shape keys a pose carries)."""
import json

import numpy as np
import pytest
from face_rig_testutil import (
    BLINK_LINE,
    LINE,
    FaceMeasures,
    assert_closes_on_bilabials,
    assert_pose_kept_outside,
    at_scene_rate,
    blink_peaks,
    correlation,
    open_rigify,
    over_frames,
    pose_snapshot,
    sealed_jaw,
    take_length,
)

bpy = pytest.importorskip("bpy")
from mathutils import Quaternion, Vector

from unitaf_blender import cli
from unitaf_blender.blender import compat, pose_library
from unitaf_blender.blender.takes import TakeError, TakeOptions, apply_take
from unitaf_blender.core.performance_files import load_performance
from unitaf_blender.core.pose_map import PoseMap, PoseRef, parse_pose_map
from unitaf_blender.core.visemes import VISEME_INDEX, viseme_signatures

MM = 0.001

# shape -> {control: ("turn", radians about the character's left axis) | ("move", world mm)}
CHART = {
    "rest": {},
    "MBP": {"lip.T": ("move", (0, 0, -2)), "lip.B": ("move", (0, 0, 2))},
    "AI": {"jaw_master": ("turn", 0.3)},
    "E": {"jaw_master": ("turn", 0.12), "lips.L": ("move", (4, 0, 0)), "lips.R": ("move", (-4, 0, 0))},
    "O": {"jaw_master": ("turn", 0.2), "lips.L": ("move", (-5, 0, 0)), "lips.R": ("move", (5, 0, 0))},
    "U": {"jaw_master": ("turn", 0.06), "lips.L": ("move", (-8, -3, 0)), "lips.R": ("move", (8, -3, 0))},
    "FV": {"jaw_master": ("turn", 0.05), "lip.B": ("move", (0, 3, 4))},
    "L": {"jaw_master": ("turn", 0.15)},
    "WQ": {"jaw_master": ("turn", 0.05), "lips.L": ("move", (-9, -4, 0)), "lips.R": ("move", (9, -4, 0))},
    "etc": {"jaw_master": ("turn", 0.1)},
    "blink": {f"lid.{t}.{s}.002": ("move", (0, 0, -15 if t == "T" else 4)) for t in "TB" for s in "LR"},
}


def _pose(armature, controls):
    """Put the controls in a pose (world-space amounts, converted into each bone's frame)."""
    for pb in armature.pose.bones:
        pb.location, pb.rotation_quaternion = (0, 0, 0), (1, 0, 0, 0)
    rest = armature.matrix_world.to_3x3().normalized()
    for name, (kind, amount) in controls.items():
        pb = armature.pose.bones[name]
        to_local = (rest @ pb.bone.matrix_local.to_3x3().normalized()).inverted()
        if kind == "turn":
            pb.rotation_quaternion = Quaternion(to_local @ Vector((1, 0, 0)), amount)
        else:
            pb.location = to_local @ (Vector(amount) * MM)


def _key(armature, controls, frame):
    for name in set(controls) | {"jaw_master", "lip.T", "lip.B", "lips.L", "lips.R"}:
        pb = armature.pose.bones[name]
        pb.keyframe_insert("location", frame=frame)
        pb.keyframe_insert("rotation_quaternion", frame=frame)


def make_pose_assets(armature, chart=CHART, prefix="mouth_"):
    """One action per pose, marked as a pose asset, named `<prefix><shape>`."""
    armature.animation_data_create()
    for shape, controls in chart.items():
        _pose(armature, controls)
        _key(armature, controls, 1)
        action = armature.animation_data.action
        action.name = prefix + shape
        action.asset_mark()
        action.use_fake_user = True
        armature.animation_data.action = None
    _pose(armature, {})


def make_chart_action(armature, chart=CHART):
    """The whole chart in one action: one pose per frame (10, 20, ...), named by pose markers."""
    armature.animation_data_create()
    for i, (shape, controls) in enumerate(chart.items()):
        _pose(armature, controls)
        _key(armature, controls, 10 * (i + 1))
        marker = armature.animation_data.action.pose_markers.new(shape)
        marker.frame = 10 * (i + 1)
    action = armature.animation_data.action
    action.name, action.use_fake_user = "Mouth chart", True
    armature.animation_data.action = None
    _pose(armature, {})
    for fc in compat.action_fcurves(action):
        for kp in fc.keyframe_points:
            kp.interpolation = 'CONSTANT'
    return action


def _jaw_angle(armature):
    return armature.pose.bones["jaw_master"].rotation_quaternion.angle


def _viseme(name):
    """{ARKit channel: weight} of a viseme as the face model articulates it (an /m/ seals the
    lips with mouthClose over a jaw still a little open; "aa" opens the jaw and bares the teeth)."""
    from unitaf_blender.core.channels import ARKIT_52
    return dict(zip(ARKIT_52, (float(w) for w in viseme_signatures()[VISEME_INDEX[name]])))


def test_auto_fill_by_action_names_and_by_pose_markers(rigify_blend):
    armature, _ = open_rigify(bpy, rigify_blend)
    make_pose_assets(armature)
    assert pose_library.auto_fill_into(armature) == len(CHART)
    stored = pose_library.stored_map(armature)
    assert stored.poses["MBP"] == PoseRef("mouth_MBP") and stored.poses["blink"] == PoseRef("mouth_blink")
    assert [a.name for a in pose_library.pose_actions(armature)][:2] == ["mouth_AI", "mouth_E"]
    # the chart in one action: each shape is a frame of it, found through its pose marker
    armature, _ = open_rigify(bpy, rigify_blend)
    make_chart_action(armature)
    assert pose_library.auto_fill_into(armature) == len(CHART)
    stored = pose_library.stored_map(armature)
    assert stored.poses["AI"] == PoseRef("Mouth chart", 30.0)
    bone_values, _ = pose_library.read_pose(stored.poses["AI"], armature, [])
    angle = Quaternion([bone_values[('pose.bones["jaw_master"].rotation_quaternion', i)] for i in range(4)]).angle
    assert angle == pytest.approx(0.3, abs=1e-5)


def test_a_pose_library_character_lip_syncs(rigify_blend, tmp_path):
    """Generated through the CLI with --poses: the jaw and the lips follow the mouth opening the
    chart is solved from (jawOpen - mouthClose), the lips close on every /p b m/ (the MBP
    pose), the blink pose closes the lids, the head turns, and outside the take the rig is as
    it was."""
    armature, _ = open_rigify(bpy, rigify_blend)
    make_pose_assets(armature)
    bpy.context.scene.frame_set(1)
    before = pose_snapshot(armature)
    blend = tmp_path / "poses.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    pose_map = tmp_path / "map.json"
    pose_map.write_text(json.dumps({"armature": "rig", "poses": {s: f"mouth_{s}" for s in CHART}}))
    out, npz = tmp_path / "out.blend", tmp_path / "take.npz"
    assert cli.run(["generate", "--blend", str(blend), "--object", "rig", "--text", BLINK_LINE, "--frame", "10",
                    "--poses", str(pose_map), "--save", str(out), "--export", str(npz)]) == 0
    armature, face = open_rigify(bpy, out)
    perf = load_performance(npz)
    n = take_length(perf, 30)
    frames = range(10, 10 + n)
    bpy.context.scene.frame_set(1)
    measures = FaceMeasures(bpy, face)
    jaw, lips, lids = over_frames(bpy, frames, lambda: (_jaw_angle(armature), *measures.now())).T
    assert correlation(jaw, sealed_jaw(perf, 30, n)) >= 0.8
    assert correlation(lips, sealed_jaw(perf, 30, n)) >= 0.8
    assert_closes_on_bilabials(lips, perf, 30, 0.0)       # pressed together: closer than at rest
    blink = at_scene_rate(perf, "eyeBlinkLeft", 30, n)
    assert blink_peaks(blink)
    for k in blink_peaks(blink):
        assert lids[k] <= 1.0 - 0.6 * blink[k], (k, lids[k])
    assert any(b.startswith("neck") or b == "head" for b in
               [p.data_path.split('"')[1] for p in compat.action_fcurves(bpy.data.actions["UniTAF_rig_take1"],
                                                                         _rig_slot())])
    assert_pose_kept_outside(bpy, armature, before, "UniTAF_rig_take1", frames[0], n)


def _rig_slot():
    action = bpy.data.actions["UniTAF_rig_take1"]
    return action.slots[0] if compat.has_slotted_actions() else None


def test_a_pose_that_carries_a_shape_key(rigify_blend):
    """The MBP pose also keys a shape key of the bound mesh (a slotted pose action holds both
    the bones and the mesh's keys): the take keys that key on the mesh, in the same take."""
    if not compat.has_slotted_actions():
        pytest.skip("a legacy (4.2/4.3) action animates one ID type: a pose cannot hold bones and keys")
    armature, face = open_rigify(bpy, rigify_blend)
    face.shape_key_add(name="Basis")
    pressed = face.shape_key_add(name="lips_pressed", from_mix=False)
    pressed.data[0].co.z += 0.01
    pressed.value = 0.0
    make_pose_assets(armature, {"rest": {}, "MBP": CHART["MBP"], "AI": CHART["AI"]})
    action = bpy.data.actions["mouth_MBP"]
    key = face.data.shape_keys
    slot = action.slots.new(id_type='KEY', name=key.name)
    fc = compat.FCurveWriter(action, slot, "pose").new('key_blocks["lips_pressed"].value')
    fc.keyframe_points.insert(1, 1.0)
    # and a custom property of the rig: Rigify's mouth lock
    bones_slot = next(s for s in action.slots if s.target_id_type == 'OBJECT')
    fc = compat.FCurveWriter(action, bones_slot, "pose").new('pose.bones["jaw_master"]["mouth_lock"]')
    fc.keyframe_points.insert(1, 1.0)
    from helpers import make_perf

    from unitaf_blender.core.channels import ARKIT_52
    closed, opened = _viseme("PP"), _viseme("aa")
    perf = make_perf(seconds=1.0, fps=30.0, channels=ARKIT_52, audio=False,
                     fn=lambda t, i: np.where((t > 0.1) & (t < 0.3), closed.get(ARKIT_52[i], 0.0),
                                              np.where(t > 0.5, opened.get(ARKIT_52[i], 0.0), 0.0)))
    pose_map = PoseMap({s: PoseRef(f"mouth_{s}") for s in ("rest", "MBP", "AI")})
    result = apply_take(bpy.context.scene, armature, perf, TakeOptions(start_frame=1, add_sound=False,
                                                                        pose_maps=(pose_map,)))
    parts = {name: (labels, kind) for name, _, labels, kind in result.parts}
    assert parts["Face"] == (["lips_pressed"], "keys") and parts["rig"][1] == "bones"
    assert 'pose.bones["jaw_master"]["mouth_lock"]' in parts["rig"][0]
    scene = bpy.context.scene
    scene.frame_set(7)       # a /m/: lips pressed
    assert key.key_blocks["lips_pressed"].value > 0.8 and _jaw_angle(armature) < 0.02
    assert armature.pose.bones["jaw_master"]["mouth_lock"] > 0.8
    scene.frame_set(25)
    assert key.key_blocks["lips_pressed"].value < 0.2 and _jaw_angle(armature) > 0.2
    assert armature.pose.bones["jaw_master"]["mouth_lock"] < 0.2


def test_any_armature_with_poses(clean_scene):
    """Bones with names nothing recognises move through poses alone; a custom property a pose
    sets (default 1, not 0: the take adds its change from the resting value) follows too."""
    from helpers import make_face, make_perf

    from unitaf_blender.core.channels import ARKIT_52
    arm = bpy.data.objects.new("Puppet", bpy.data.armatures.new("Puppet"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    bone = arm.data.edit_bones.new("Flap")
    bone.head, bone.tail = (0, 0, 0), (0, -0.1, 0)
    bpy.ops.object.mode_set(mode='OBJECT')
    face = make_face(bpy, keys=())
    face.modifiers.new("Armature", 'ARMATURE').object = arm
    with pytest.raises(TakeError, match="no armature with face bones"):
        apply_take(bpy.context.scene, face, make_perf(), TakeOptions(add_sound=False))
    arm.animation_data_create()
    flap = arm.pose.bones["Flap"]
    flap["spread"] = 1.0
    flap.id_properties_ui("spread").update(default=1.0, min=0.0, max=1.0)
    for shape, angle, spread in (("rest", 0.0, 1.0), ("AI", 0.5, 0.2)):
        flap.rotation_quaternion, flap["spread"] = Quaternion((1, 0, 0), angle), spread
        flap.keyframe_insert("rotation_quaternion", frame=1)
        flap.keyframe_insert('["spread"]', frame=1)
        arm.animation_data.action.name, arm.animation_data.action.use_fake_user = shape, True
        arm.animation_data.action = None
    flap.rotation_quaternion, flap["spread"] = (1, 0, 0, 0), 1.0
    assert pose_library.auto_fill_into(arm) == 2
    opened = _viseme("aa")
    perf = make_perf(seconds=1.0, fps=30.0, channels=ARKIT_52, audio=False,
                     fn=lambda t, i: np.where(t > 0.5, opened.get(ARKIT_52[i], 0.0), 0.0))
    result = apply_take(bpy.context.scene, face, perf, TakeOptions(start_frame=1, add_sound=False))
    assert [(name, labels) for name, _, labels, _ in result.parts] == [("Puppet", ["Flap", 'pose.bones["Flap"]["spread"]'])]
    scene = bpy.context.scene
    scene.frame_set(5)
    assert flap.rotation_quaternion.angle < 0.05 and flap["spread"] > 0.95
    scene.frame_set(25)
    assert flap.rotation_quaternion.angle > 0.3 and flap["spread"] < 0.5
    scene.frame_set(result.frame_end + result.ease_frames + 1)
    assert flap.rotation_quaternion.angle < 1e-6 and flap["spread"] == pytest.approx(1.0)


@pytest.mark.parametrize("content,message", [
    ({"poses": {"MBP": "no_such_action"}}, "no action named 'no_such_action'"),
    ({"poses": {"Smirk": "mouth_MBP"}}, "unknown shape 'Smirk'"),
    ({"poses": {"rest": "mouth_rest"}}, "a rest pose alone"),
    ("not json", "not valid JSON"),
])
def test_a_bad_pose_map_is_refused_before_anything_is_written(rigify_blend, tmp_path, capsys, content, message):
    armature, _ = open_rigify(bpy, rigify_blend)
    make_pose_assets(armature, {"rest": {}, "MBP": CHART["MBP"]})
    blend = tmp_path / "in.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    pose_map = tmp_path / "map.json"
    pose_map.write_text(content if isinstance(content, str) else json.dumps(content))
    out = tmp_path / "out" / "out.blend"
    out.parent.mkdir()
    capsys.readouterr()
    assert cli.run(["generate", "--blend", str(blend), "--object", "rig", "--text", LINE,
                    "--poses", str(pose_map), "--save", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert list(out.parent.iterdir()) == []


def test_pose_map_files_parse():
    m = parse_pose_map({"MBP": "m", "mouth_AI": {"action": "chart", "frame": 12}, "blink.L": "b"})
    assert m.poses == {"MBP": PoseRef("m"), "AI": PoseRef("chart", 12.0), "blink_L": PoseRef("b")}
    assert m.armature is None


def test_batch_lines_use_the_pose_map(rigify_blend, tmp_path):
    armature, _ = open_rigify(bpy, rigify_blend)
    make_pose_assets(armature, {"rest": {}, "MBP": CHART["MBP"], "AI": CHART["AI"]})
    blend = tmp_path / "poses.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    lines = tmp_path / "lines.json"
    lines.write_text(json.dumps({"lines": [{"object": "rig", "text": "Bob may."}, {"object": "rig", "text": "Paris."}]}))
    pose_map = tmp_path / "map.json"
    pose_map.write_text(json.dumps({"rest": "mouth_rest", "MBP": "mouth_MBP", "AI": "mouth_AI"}))
    out = tmp_path / "out.blend"
    assert cli.run(["batch", str(lines), "--blend", str(blend), "--poses", str(pose_map), "--save", str(out)]) == 0
    armature, _ = open_rigify(bpy, out)
    for take in ("line001", "line002"):
        action = bpy.data.actions[f"UniTAF_rig_{take}"]
        paths = {fc.data_path for fc in compat.action_fcurves(action, action.slots[0] if compat.has_slotted_actions()
                                                               else None)}
        assert 'pose.bones["jaw_master"].rotation_quaternion' in paths and 'pose.bones["lip.T"].location' in paths
