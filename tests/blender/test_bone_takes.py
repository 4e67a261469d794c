"""Takes on bones behave like takes on keys (issue 23): one action per armature per take, the
rest layer (outside a take the rig shows what it showed before, the artist's clip keeps
playing), re-generating replaces, a cancelled or failed take changes nothing, linked rigs are
refused and library overrides work, and a take that does not play is caught by evaluating it."""
import numpy as np
import pytest
from face_rig_testutil import pose_snapshot, same_pose
from helpers import make_face, make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import takes
from unitaf_blender.blender.panel import jobs
from unitaf_blender.blender.takes import TakeError, TakeOptions, apply_take
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.engines import CheckedRequest, GenerateRequest
from unitaf_blender.engines.request_path import Checked

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
    pad = result.ease_frames          # it eases in over the frames before frame_start, out after frame_end
    assert pad > 0
    for frame in (1, result.frame_start - pad - 1, result.frame_end + pad + 1, 500):
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
    # pushed down onto an NLA track of its own, where it keeps playing (not parked on a fake user)
    ad = arm.animation_data
    assert ad.action is None and not clip.use_fake_user
    playing = [(t.name, s.action) for t in ad.nla_tracks if not t.mute for s in t.strips if not s.mute]
    assert (clip.name, clip) in playing
    for frame, matrix in expected.items():
        scene.frame_set(frame)
        assert np.allclose(np.array(upper.matrix), matrix, atol=1e-5), frame


def _basis_angle(a, b):
    """The rotation (radians) between two local bone rotations (matrix_basis)."""
    return a.to_quaternion().rotation_difference(b.to_quaternion()).angle


def _local_poses(arm, frames):
    """{frame: {bone: matrix_basis}} as Blender evaluates the rig at each frame."""
    scene = bpy.context.scene
    out = {}
    for frame in frames:
        scene.frame_set(frame)
        out[frame] = {pb.name: pb.matrix_basis.copy() for pb in arm.pose.bones}
    return out


@pytest.mark.parametrize("under", ["rest", "artist clip"])
def test_bone_takes_ease_in_and_out(clean_scene, under):
    """Issue 22 on bones: entering and leaving a take no bone jumps. The take's first frame
    opens the jaw to jawOpen 0.55 and turns the head 0.3 rad, far from what plays under it
    (the rest pose, or the artist's clip nodding the jaw); the NLA strip eases in and out over
    result.ease_frames, so per frame the jaw moves at most 0.15 of its full opening (jawOpen
    units: its angle / JAW_OPEN_RADIANS) and the head at most 0.15 rad (headYaw's units).
    Outside the eased frames the rig shows exactly what it showed before."""
    from unitaf_blender.core.face_bones import JAW_OPEN_RADIANS
    arm, face = _rig()
    scene = bpy.context.scene
    if under == "artist clip":
        arm.animation_data_create()
        for frame, angle in ((1, 0.0), (120, 0.15)):
            for bone in ("Jaw", "UpperArm"):
                arm.pose.bones[bone].rotation_quaternion = (np.cos(angle / 2), np.sin(angle / 2), 0, 0)
                arm.pose.bones[bone].keyframe_insert("rotation_quaternion", frame=frame)
    frames = range(1, 121)
    before = _local_poses(arm, frames)
    snapshots = {}
    for frame in frames:
        scene.frame_set(frame)
        snapshots[frame] = pose_snapshot(arm)

    def fn(t, i):
        name = CHANNELS[i]
        if name == "jawOpen":
            return 0.55 + 0.1 * np.sin(2 * np.pi * t)
        if name == "headYaw":
            return 0.3 * np.cos(np.pi * t)
        return np.zeros_like(t)
    perf = make_perf(seconds=1.0, fps=30.0, channels=CHANNELS, fn=fn, audio=False)
    result = apply_take(scene, face, perf, TakeOptions(start_frame=40, add_sound=False))
    pad = result.ease_frames
    first, last = result.frame_start - pad, result.frame_end + pad
    assert pad == 8 and last < frames[-1]
    after = _local_poses(arm, frames)
    # unblended, the take would jump there: its first and last frames are far from what is under
    for edge in (result.frame_start, result.frame_end):
        assert _basis_angle(after[edge]["Jaw"], before[edge]["Jaw"]) / JAW_OPEN_RADIANS > 0.3
        assert _basis_angle(after[edge]["Head"], before[edge]["Head"]) > 0.25
    edges = list(range(first - 1, result.frame_start)) + list(range(result.frame_end, last + 1))
    for frame in edges:
        jaw = _basis_angle(after[frame]["Jaw"], after[frame + 1]["Jaw"]) / JAW_OPEN_RADIANS
        head = _basis_angle(after[frame]["Head"], after[frame + 1]["Head"])
        assert jaw <= 0.15 and head <= 0.15, (frame, jaw, head)
    for frame in frames:
        if frame < first or frame > last:
            scene.frame_set(frame)
            assert same_pose(snapshots[frame], pose_snapshot(arm)) == [], frame


def test_a_take_adds_its_motion_to_the_artists_clip_on_the_same_bone(clean_scene):
    """The artist's clip keeps moving the jaw during the take and the take opens it from
    there (a Combine strip): at every frame of the take the jaw is the clip's jaw turned by
    the take's jawOpen (0.3 x JAW_OPEN_RADIANS), wherever the scene stood when it was made."""
    from unitaf_blender.core.face_bones import JAW_OPEN_RADIANS
    arm, face = _rig()
    scene = bpy.context.scene
    arm.animation_data_create()
    jaw = arm.pose.bones["Jaw"]
    for frame, angle in ((1, 0.0), (120, 0.3)):
        jaw.rotation_quaternion = (np.cos(angle / 2), 0, 0, np.sin(angle / 2))    # the clip swings the jaw sideways
        jaw.keyframe_insert("rotation_quaternion", frame=frame)
    frames = range(40, 70)
    clip = {}
    for frame in frames:
        scene.frame_set(frame)
        clip[frame] = jaw.matrix_basis.to_quaternion()
    scene.frame_set(100)              # the scene stands elsewhere in the clip
    perf = make_perf(seconds=1.0, fps=30.0, channels=CHANNELS, audio=False,
                     fn=lambda t, i: np.full_like(t, 0.3 if CHANNELS[i] == "jawOpen" else 0.0))
    apply_take(scene, face, perf, TakeOptions(start_frame=40, add_sound=False))
    for frame in frames:
        scene.frame_set(frame)
        opened = clip[frame].rotation_difference(jaw.matrix_basis.to_quaternion()).angle
        assert opened == pytest.approx(0.3 * JAW_OPEN_RADIANS, abs=1e-3), frame
    assert clip[frames[-1]].rotation_difference(clip[frames[0]]).angle > 0.05     # the clip moved meanwhile


def test_a_take_made_while_the_scene_shows_another_starts_from_the_rest_pose(clean_scene):
    """The bones' base is what the rig shows outside its takes (the rest layer), not the
    pose at the current frame: a take made, or re-generated, while the scene shows a take
    with the jaw open turns the jaw from its resting pose, like one made anywhere else."""
    arm, face = _rig()
    scene = bpy.context.scene
    apply_take(scene, face, _talking(), TakeOptions(start_frame=10, take_name="line001", add_sound=False))
    expected = (0.3 + 0.25 * np.sin(2 * np.pi * (2 / 30 + 0.25))) * 0.2   # jawOpen x JAW_OPEN_RADIANS
    scene.frame_set(15)
    assert arm.pose.bones["Jaw"].rotation_quaternion.angle > 0.05      # the scene shows line001
    apply_take(scene, face, _talking(seed=0.25), TakeOptions(start_frame=100, add_sound=False))
    scene.frame_set(102)
    assert arm.pose.bones["Jaw"].rotation_quaternion.angle == pytest.approx(expected, abs=2e-3)
    scene.frame_set(15)
    apply_take(scene, face, _talking(seed=0.25), TakeOptions(start_frame=10, take_name="line001", add_sound=False))
    scene.frame_set(12)
    assert arm.pose.bones["Jaw"].rotation_quaternion.angle == pytest.approx(expected, abs=2e-3)
    scene.frame_set(60)
    assert arm.pose.bones["Jaw"].rotation_quaternion.angle < 1e-6       # between the takes: the rest pose


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
        def check(self, request):
            return CheckedRequest(request)

        def generate(self, request, progress, cancel):
            return _talking()
    job = jobs.GenerateJob(Checked(Engine(), GenerateRequest(text="hi")),
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


def test_a_rig_in_nla_tweak_mode_is_refused_and_left_as_it_was(clean_scene):
    arm, face = _rig()
    clip = bpy.data.actions.new("Wave")
    arm.animation_data_create()
    track = arm.animation_data.nla_tracks.new()
    strip = track.strips.new("Wave", 1, clip)
    track.is_solo = False
    arm.animation_data.nla_tracks.active = track
    strip.select = True
    arm.animation_data.use_tweak_mode = True
    assert arm.animation_data.use_tweak_mode
    with pytest.raises(TakeError, match="'Rig' is in NLA tweak mode: exit it"):
        apply_take(bpy.context.scene, face, _talking(), TakeOptions(start_frame=1, add_sound=False))
    assert _take_actions() == [] and arm.animation_data.use_tweak_mode
    assert [s.name for t in arm.animation_data.nla_tracks for s in t.strips] == ["Wave"]
