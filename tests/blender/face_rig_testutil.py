"""Faces that move with bones, built for the tests from Blender's own Rigify and the shared
assets, and what the tests measure on their deformed geometry (imported by tests)."""
import numpy as np

from unitaf_blender.core.retime import resample
from unitaf_blender.core.signal import n_frames_for

BILABIALS = ("p", "b", "m")
LINE = "Bob may paint a map of Paris."           # seven /p b m/
# A line whose take always blinks: the face blinks at phrase starts and pauses, so a 1.5 s
# line often has none, but a take of 2.5 s or more always has one (core.blinks.ALWAYS_BLINK_S).
BLINK_LINE = "Bob may paint a map of Paris, but maybe not today."


def bound_points(bpy, armature, bone_names, name="FacePoints"):
    """A mesh with one vertex at the rest head of each bone, fully weighted to it and deformed
    by `armature` (Armature modifier, parented): a skin whose vertices sit on the bones."""
    world = armature.matrix_world
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(world @ armature.data.bones[n].head_local) for n in bone_names], [], [])
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    for i, bone in enumerate(bone_names):
        obj.vertex_groups.new(name=bone).add([i], 1.0, 'REPLACE')
    obj.modifiers.new("Armature", 'ARMATURE').object = armature
    obj.parent = armature
    obj.matrix_parent_inverse = armature.matrix_world.inverted()
    return obj


RIGIFY_FACE_DEF = ("lip", "lid", "brow", "jaw", "chin", "cheek", "nose", "tongue", "teeth", "spine.006")


def build_rigify(bpy, path, modular=False):
    """Rigify's Human meta-rig generated (its face as the meta-rig has it, or upgraded to the
    modular face), with a point mesh bound to the face's deform bones; saved to `path`."""
    import addon_utils
    bpy.ops.wm.read_factory_settings(use_empty=True)
    addon_utils.enable("rigify", default_set=True)
    try:
        bpy.ops.object.armature_human_metarig_add()
        if modular:
            bpy.ops.object.mode_set(mode='POSE')
            bpy.ops.pose.rigify_upgrade_face()
            bpy.ops.object.mode_set(mode='OBJECT')
        bpy.ops.pose.rigify_generate()
        if bpy.context.mode != 'OBJECT':
            bpy.ops.object.mode_set(mode='OBJECT')
    finally:
        addon_utils.disable("rigify", default_set=True)
        for handlers in (bpy.app.handlers.load_post, bpy.app.handlers.depsgraph_update_post):
            for handler in [h for h in handlers if getattr(h, "__module__", "").startswith("rigify")]:
                handlers.remove(handler)     # Rigify 5.x leaves a versioning handler behind
    rig = bpy.data.objects["rig"]
    names = [b.name for b in rig.data.bones if b.name.startswith("DEF-") and any(s in b.name for s in RIGIFY_FACE_DEF)]
    bound_points(bpy, rig, names, "Face")
    bpy.data.objects.remove(bpy.data.objects["metarig"])
    scene = bpy.context.scene
    scene.render.fps, scene.frame_start, scene.frame_current = 30, 1, 1
    bpy.ops.wm.save_as_mainfile(filepath=str(path))


def open_rigify(bpy, path):
    """Open a .blend made by build_rigify (or a take saved over it): (the rig, its point mesh)."""
    bpy.ops.wm.open_mainfile(filepath=str(path), load_ui=False)
    return bpy.data.objects["rig"], bpy.data.objects["Face"]


class FaceMeasures:
    """Distances on build_rigify's deformed point mesh: the lips' gap and each side's lid gap,
    relative to the face as it is when made (the rig's rest is its closed mouth and open eyes)."""

    def __init__(self, bpy, face):
        self.bpy, self.face = bpy, face
        self.index = {g.name: g.index for g in face.vertex_groups}
        rest = deformed(bpy, face)
        self.rest_lips = self._gap(rest, "DEF-lip.T.L", "DEF-lip.B.L")
        self.rest_lid = self._gap(rest, "DEF-lid.T.L.002", "DEF-lid.B.L.002")

    def _gap(self, points, a, b):
        return float(np.linalg.norm(points[self.index[a]] - points[self.index[b]]))

    def now(self):
        """(lip gap - its rest gap, lid gap / its rest gap) as Blender evaluates the face now."""
        points = deformed(self.bpy, self.face)
        return (self._gap(points, "DEF-lip.T.L", "DEF-lip.B.L") - self.rest_lips,
                self._gap(points, "DEF-lid.T.L.002", "DEF-lid.B.L.002") / self.rest_lid)


def bone_facing_x(armature, bone):
    """How far a bone's forward (-Y at rest) points toward the character's left (+X), in world
    space and whatever the armature's or the bone's scale."""
    pb = armature.pose.bones[bone]
    world = armature.matrix_world
    turn = np.array((world @ pb.matrix).to_3x3().normalized()) @ np.linalg.inv(
        np.array((world @ pb.bone.matrix_local).to_3x3().normalized()))
    return float((turn @ np.array([0.0, -1.0, 0.0]))[0])


def deformed(bpy, obj):
    """World positions [V, 3] of `obj`'s vertices as Blender evaluates them now."""
    evaluated = obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    mesh = evaluated.to_mesh()
    co = np.empty(3 * len(mesh.vertices), np.float32)
    mesh.vertices.foreach_get("co", co)
    evaluated.to_mesh_clear()
    world = np.array(obj.matrix_world)
    return co.reshape(-1, 3).astype(np.float64) @ world[:3, :3].T + world[:3, 3]


def over_frames(bpy, frames, measure):
    """measure() at each scene frame, as an array."""
    scene = bpy.context.scene
    out = []
    for frame in frames:
        scene.frame_set(frame)
        out.append(measure())
    return np.array(out)


def pose_snapshot(armature):
    """{bone: 4x4 pose matrix} of every bone as evaluated now (constraints and drivers included)."""
    return {pb.name: np.array(pb.matrix) for pb in armature.pose.bones}


def same_pose(a, b, atol=1e-5):
    """The bones whose evaluated pose differs between two snapshots."""
    return [n for n in a if not np.allclose(a[n], b[n], atol=atol)]


def take_length(perf, fps):
    """How many scene frames a take of `perf` spans (what apply_take keys)."""
    return n_frames_for((perf.n_frames - 1) / perf.fps, 1.0, fps)


def at_scene_rate(perf, channel, fps, n):
    """A performance channel at the take's scene frames (frame k at k / fps)."""
    return resample(perf.channel(channel)[:, None], perf.fps, fps)[:n, 0].astype(np.float64)


def sealed_jaw(perf, fps, n):
    """jawOpen - mouthClose at the scene frames: how open the lips are. What a jaw bone carries
    (core.face_bones.sealed_jaw) and what a pose chart is solved from: the face seals its
    bilabials with mouthClose over a jaw still 0.1-0.25 open, so at /p b m/ the take's
    jawOpen says open while the mouth is shut. The bones' mouth opening is measured against
    this, not against jawOpen alone."""
    return np.maximum(at_scene_rate(perf, "jawOpen", fps, n) - at_scene_rate(perf, "mouthClose", fps, n), 0.0)


def frames_around(bpy, take, start, n):
    """(the frame before `take` starts easing in, the frame after it has eased out): the
    nearest frames outside it, where the rig shows exactly what it showed before. `take` is
    the take's action; it records how many frames it eases over."""
    pad = int(bpy.data.actions[take]["unitaf_ease_frames"])
    return start - pad - 1, start + n - 1 + pad + 1


def bilabial_frames(perf, fps):
    """The take-relative scene frame at the middle of every /p b m/ of the performance."""
    return [int(round(0.5 * (ph.start + ph.end) * fps)) for ph in perf.phonemes
            if ph.label.lstrip("'%,")[:1] in BILABIALS]


def assert_closes_on_bilabials(opening, perf, fps, closed):
    """`opening` (one value per take frame) comes down to `closed` or below within 2 frames of
    the middle of every /p b m/ of `perf`, and the take has some. Returns those frames."""
    bilabials = bilabial_frames(perf, fps)
    assert bilabials
    for k in bilabials:
        window = opening[max(k - 2, 0):k + 3]
        assert window.min() <= closed, (k, window)
    return bilabials


def assert_pose_kept_outside(bpy, armature, before, take, start, n):
    """At frame 1 and at the nearest frames outside the take (frames_around), every bone of
    `armature` is posed as in the snapshot `before`."""
    scene = bpy.context.scene
    for frame in (1, *frames_around(bpy, take, start, n)):
        scene.frame_set(frame)
        assert same_pose(before, pose_snapshot(armature)) == [], frame


def correlation(a, b):
    return float(np.corrcoef(np.asarray(a, np.float64), np.asarray(b, np.float64))[0, 1])


def blink_peaks(values, threshold=0.6):
    """Indexes of the local maxima of `values` above `threshold` (one per blink)."""
    v = np.asarray(values)
    return [i for i in range(1, len(v) - 1) if v[i] >= threshold and v[i] >= v[i - 1] and v[i] > v[i + 1]]
