"""Takes on bones behave like takes on keys (issue 23): one action per armature per take, the
rest layer (outside a take the rig shows what it showed before, the artist's clip keeps
playing), re-generating replaces, a cancelled or failed take changes nothing, linked rigs are
refused and library overrides work, and a take that does not play is caught by evaluating it."""
import numpy as np
import pytest
from face_rig_testutil import pose_snapshot, same_pose

from blender_testutil import make_face, make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import jobs, takes  # noqa: E402
from unitaf_blender.blender.takes import TakeError, TakeOptions, apply_take  # noqa: E402
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS  # noqa: E402
from unitaf_blender.engines import GenerateRequest  # noqa: E402

CHANNELS = ARKIT_52 + HEAD_EYE_ROTATIONS


def _rig(name="Rig"):
    """An armature with Head and Jaw bones, deforming a mesh without shape keys (30 fps scene)."""
    bpy.context.scene.render.fps = 30
    arm = bpy.data.objects.new(name, bpy.data.armatures.new(name))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    head = arm.data.edit_bones.new("Head")
    head.head, head.tail = (0, 0, 1.5), (0, 0, 1.8)
    jaw = arm.data.edit_bones.new("Jaw")
    jaw.head, jaw.tail, jaw.parent = (0, 0.02, 1.6), (0, -0.08, 1.52), head
    arm_bone = arm.data.edit_bones.new("UpperArm")
    arm_bone.head, arm_bone.tail = (0.2, 0, 1.4), (0.5, 0, 1.4)
    bpy.ops.object.mode_set(mode='OBJECT')
    face = make_face(bpy, name=f"{name}Face", keys=())
    face.modifiers.new("Armature", 'ARMATURE').object = arm
    return arm, face


def _talking(seconds=1.0, seed=0):
    def fn(t, i):
        name = CHANNELS[i]
        if name == "jawOpen":
            return 0.3 + 0.25 * np.sin(2 * np.pi * (t + seed))
        if name == "headYaw":
            return 0.2 * np.sin(np.pi * t)
        return np.zeros_like(t)
    return make_perf(seconds=seconds, fps=30.0, channels=CHANNELS, fn=fn, audio=False)


def _take_actions():
    return sorted(a.name for a in bpy.data.actions if a.get("unitaf_take"))


def test_one_action_per_armature_and_the_rest_layer(clean_scene):
    arm, face = _rig()
    scene = bpy.context.scene
    arm.pose.bones["Jaw"].rotation_quaternion = (0.99, 0.1, 0, 0)    # the artist's held pose
    scene.frame_set(1)
    before = pose_snapshot(arm)
    result = apply_take(scene, face, _talking(), TakeOptions(start_frame=20, add_sound=False))
    assert [(n, labels, kind) for n, _, labels, kind in result.parts] == [("Rig", ["Jaw", "Head"], "bones")]
    assert _take_actions() == ["UniTAF_Rig_take1"]
    scene.frame_set(35)
    assert same_pose(before, pose_snapshot(arm)) != []                 # the take plays
    for frame in (1, 19, result.frame_end + 1, 500):
        scene.frame_set(frame)
        assert same_pose(before, pose_snapshot(arm)) == [], frame    # outside: as before
    # a second take on other frames: a second action, both play, the rest between them
    apply_take(scene, face, _talking(seed=0.3), TakeOptions(start_frame=100, add_sound=False))
    assert _take_actions() == ["UniTAF_Rig_take1", "UniTAF_Rig_take2"]
    scene.frame_set(70)
    assert same_pose(before, pose_snapshot(arm)) == []


def test_the_artists_body_clip_keeps_playing(clean_scene):
    arm, face = _rig()
    scene = bpy.context.scene
    arm.animation_data_create()
    upper = arm.pose.bones["UpperArm"]
    for frame, angle in ((1, 0.0), (100, 1.0)):
        upper.rotation_quaternion = (np.cos(angle / 2), 0, 0, np.sin(angle / 2))
        upper.keyframe_insert("rotation_quaternion", frame=frame)
    clip = arm.animation_data.action
    scene.frame_set(40)
    expected = {f: None for f in (10, 40, 90)}
    for frame in expected:
        scene.frame_set(frame)
        expected[frame] = np.array(upper.matrix)
    apply_take(scene, face, _talking(), TakeOptions(start_frame=30, add_sound=False))
    assert clip.users > 0 and clip.use_fake_user
    for frame, matrix in expected.items():
        scene.frame_set(frame)
        assert np.allclose(np.array(upper.matrix), matrix, atol=1e-5), frame


def test_regenerating_a_take_on_bones_replaces_it(clean_scene):
    arm, face = _rig()
    scene = bpy.context.scene
    opts = dict(start_frame=10, push_to_nla=True, take_name="line001", add_sound=False)
    apply_take(scene, face, _talking(seed=0.0), TakeOptions(**opts))
    again = apply_take(scene, face, _talking(seed=0.25), TakeOptions(**opts))
    assert _take_actions() == ["UniTAF_Rig_line001"]
    strips = [s for t in arm.animation_data.nla_tracks for s in t.strips if s.action and s.action.get("unitaf_take")]
    assert [s.action for s in strips] == [again.parts[0][1]]
    scene.frame_set(12)
    jaw = arm.pose.bones["Jaw"].rotation_quaternion.angle
    expected = (0.3 + 0.25 * np.sin(2 * np.pi * (2 / 30 + 0.25))) * 0.2   # jawOpen x JAW_OPEN_RADIANS
    assert jaw == pytest.approx(expected, abs=2e-3)


def test_a_failed_take_on_bones_changes_nothing(clean_scene, monkeypatch):
    arm, face = _rig()
    scene = bpy.context.scene
    monkeypatch.setattr(takes, "_verify", lambda *a: (_ for _ in ()).throw(TakeError("forced")))
    before = pose_snapshot(arm)
    with pytest.raises(TakeError, match="forced"):
        apply_take(scene, face, _talking(), TakeOptions(start_frame=1, add_sound=False))
    assert list(bpy.data.actions) == [] and arm.animation_data is None
    scene.frame_set(10)
    assert same_pose(before, pose_snapshot(arm)) == []


def test_a_cancelled_generation_changes_nothing(clean_scene):
    arm, face = _rig()

    class Engine:
        def generate(self, request, progress, cancel):
            return _talking()
    job = jobs.GenerateJob(Engine(), GenerateRequest(text="hi"),
                           lambda perf: apply_take(bpy.context.scene, arm, perf,
                                                   TakeOptions(start_frame=1, add_sound=False)))
    job.start()
    job.wait(5.0)
    job.request_cancel()
    assert job.poll() == jobs.CANCELLED
    assert list(bpy.data.actions) == [] and arm.animation_data is None


def test_a_driven_bone_is_reported_not_claimed(clean_scene):
    """A driver holds the jaw still: evaluating the take shows it, the take is rolled back."""
    arm, face = _rig()
    fc = arm.pose.bones["Jaw"].driver_add("rotation_quaternion", 1)
    fc.driver.expression = "0.0"
    with pytest.raises(TakeError, match="does not play"):
        apply_take(bpy.context.scene, face, _talking(), TakeOptions(start_frame=1, add_sound=False))
    assert _take_actions() == [] and len(arm.animation_data.nla_tracks) == 0


def test_a_linked_rig_is_refused_and_its_override_animated(clean_scene, tmp_path):
    arm, face = _rig("LibRig")
    lib = tmp_path / "lib.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(lib))
    bpy.ops.wm.read_factory_settings(use_empty=True)
    with bpy.data.libraries.load(str(lib), link=True) as (src, dst):
        dst.objects = ["LibRig", "LibRigFace"]
    for obj in dst.objects:
        bpy.context.scene.collection.objects.link(obj)
    linked = bpy.data.objects["LibRig"]
    with pytest.raises(TakeError, match=r"linked from lib\.blend.*library override"):
        takes.validate_target(linked)
    with pytest.raises(TakeError, match="linked from"):
        apply_take(bpy.context.scene, linked, _talking(), TakeOptions(add_sound=False))
    assert not [a for a in bpy.data.actions if a.library is None]
    override = linked.override_create(remap_local_usages=True)
    assert override.library is None and override.override_library is not None
    result = apply_take(bpy.context.scene, override, _talking(), TakeOptions(start_frame=1, add_sound=False))
    assert result.parts[0][0] == override.name and "Jaw" in result.parts[0][2]
    bpy.context.scene.frame_set(10)
    assert override.pose.bones["Jaw"].rotation_quaternion.angle > 0.02


def test_nothing_to_key_on_a_bare_armature_is_a_clear_error(clean_scene):
    arm = bpy.data.objects.new("Bare", bpy.data.armatures.new("Bare"))
    bpy.context.scene.collection.objects.link(arm)
    with pytest.raises(TakeError, match="no face bones UniTAF recognises"):
        takes.validate_target(arm)
