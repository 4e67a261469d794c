"""What a take keys on a character's armature: one set of F-curves on the armature object,
from four sources, each channel driving one thing:

1. the pose map (pose_library.py), the user's explicit choice: mouth shapes solved from the
   mouth channels, expression poses straight from theirs, blended per frame;
2. the face rig (face_rigs.py: Rigify's face, a Biped face, or a jaw bone), moving each
   region as core.face_bones says, for the channels no shape key and no pose shows;
3. head and neck turns, and the eye bones where nothing else shows the gaze (rig.py).

Per bone the pieces compose: the pose blend (or the bone's resting value) is the base, turns
are multiplied on, moves added, so a jaw pose and the head turn play together. Resting values
are what the rig shows outside its takes (rest_pose.Resting: the rest layer's, whatever frame
is current), so a take made while the scene shows another take never builds on that take.

The take is keyed relative to the resting pose, for an NLA strip in Combine mode: each curve
is the change from the resting value (locations, Euler angles and other properties added,
quaternions and scale multiplied on), so Blender adds the take to whatever plays under it --
the rest layer (the take then shows exactly the composed pose) or the artist's own clip (a
body animation's head keeps its motion and talks on top) -- and the strip's Blend In/Out ease
it in and out of that (ease.py). Keyed once per scene frame. Bones in axis-angle rotation are
not keyed (said in a warning).
"""
import re
from dataclasses import dataclass, field

import bpy
import numpy as np
from mathutils import Euler, Quaternion

from ..core import face_bones
from ..core import pose_map as core_pose_map
from ..core.channels import channel_group
from ..core.retime import resample
from . import face_rigs, keying, layers, pose_library, rig
from .rest_pose import Resting

_TRANSFORMS = ("location", "rotation_quaternion", "rotation_euler", "scale")
_SIZES = {"location": 3, "rotation_quaternion": 4, "rotation_euler": 3, "scale": 3}
_GAZE_WEIGHTS = {f"eyeLook{d}{s}" for d in ("Down", "In", "Out", "Up") for s in ("Left", "Right")}


class BoneTargetError(ValueError):
    """A character's bones cannot be keyed as asked; the message says why."""


@dataclass
class BonePlan:
    armature: object
    curves: list                        # [(data path, index, float32 values)] on the armature, relative (Combine)
    labels: list                        # bones (and other properties) keyed, for the report
    sources: list                       # what drives them: "pose map", "Rigify face", "head", ...
    channels: set                       # performance channels the bones (or poses) show
    key_curves: dict = field(default_factory=dict)   # mesh name -> [(shape key, values)] from poses
    neutral: dict = field(default_factory=dict)      # (data path, index) -> the value that changes nothing


def linked_library(armature):
    """The library file `armature` is linked from (a library override is local), or None."""
    return armature.library.filepath if armature.library is not None else None


def has_targets(armature, pose_map=None) -> bool:
    """True when a take would key something on `armature`: a pose map, a face rig or jaw
    bone, or a head, neck or eye bone."""
    if pose_map is not None:
        return True
    bones = rig.find_bones(armature)
    return face_rigs.find_face_rig(armature, bones) is not None or any(
        r in bones for r in ("head", "neck", "eye_l", "eye_r"))


# --- per-bone accumulation -------------------------------------------------------------------

def _path(bone):
    return f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'


def _multiply(a, b):
    """Quaternions a [T, 4] times b [T, 4] (w, x, y, z), frame by frame."""
    aw, ax, ay, az = a.T
    bw, bx, by, bz = b.T
    return np.stack([aw * bw - ax * bx - ay * by - az * bz, aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx, aw * bz + ax * by - ay * bx + az * bw], axis=1)


def _continuous(q):
    """Unit quaternions whose neighbours never flip sign (interpolation takes the short way)."""
    q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    flips = np.concatenate([[1.0], np.where(np.sum(q[1:] * q[:-1], axis=1) < 0, -1.0, 1.0)])
    return q * np.cumprod(flips)[:, None]


def _conjugate(q):
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def _unit(q):
    return q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)


class _BonePose:
    """One pose bone over the take: a base (its resting value, or the pose blend), then turns
    (local quaternions, multiplied on in order) and moves (local vectors, added); keyed as the
    change from its resting value."""

    def __init__(self, armature, name, n, resting):
        pb = armature.pose.bones[name]
        self.name, self.mode, self.n = name, pb.rotation_mode, n
        world = armature.matrix_world.to_3x3().normalized() @ armature.data.bones[name].matrix_local.to_3x3().normalized()
        self.world_rest = np.array(world, np.float64)       # the bone's rest axes in world space
        path = _path(name)
        self.rest = {prop: np.array([resting.value(f"{path}.{prop}", i) for i in range(size)], np.float64)
                     for prop, size in _SIZES.items()}
        self.base = {prop: np.tile(values, (n, 1)) for prop, values in self.rest.items()}
        self.posed = set()           # transforms the pose map sets
        self.turns = []
        self.moves = np.zeros((n, 3))

    def set_pose(self, prop, index, values):
        self.base[prop][:, index] = values
        self.posed.add(prop)

    def turn(self, local_quaternions):
        self.turns.append(local_quaternions)

    def turn_about(self, axis, radians):
        """A turn about a world (character-frame) axis through the bone's head."""
        axis = self.world_rest.T @ np.asarray(axis, np.float64)
        half = 0.5 * np.asarray(radians, np.float64)
        self.turns.append(np.concatenate([np.cos(half)[:, None], np.sin(half)[:, None] * axis[None]], 1))

    def move(self, world_vectors):
        self.moves += world_vectors @ self.world_rest     # = (world_rest^T v) per frame

    def _base_quaternions(self):
        if self.mode == 'QUATERNION':
            q = self.base["rotation_quaternion"]
            return q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
        return np.array([tuple(Euler(e, self.mode).to_quaternion()) for e in self.base["rotation_euler"]])

    def curves(self, warnings):
        """[(data path, index, values)]: each transform's change from the resting value, as a
        Combine strip composes it (location and Euler angles added, the quaternion and the
        scale multiplied on)."""
        out, path = [], _path(self.name)
        if self.moves.any() or "location" in self.posed:
            loc = self.base["location"] + self.moves - self.rest["location"]
            out += [(path + ".location", i, loc[:, i]) for i in range(3)]
        rotated = self.turns or {"rotation_quaternion", "rotation_euler"} & self.posed
        if rotated and self.mode == 'AXIS_ANGLE':
            warnings.append(f"Bone '{self.name}' uses axis-angle rotation: it was not keyed (use quaternion or Euler).")
        elif rotated:
            q = self._base_quaternions()
            for turn in self.turns:
                q = _multiply(q, turn)
            if self.mode == 'QUATERNION':
                rest = np.tile(_conjugate(_unit(self.rest["rotation_quaternion"])), (self.n, 1))
                q = _continuous(_multiply(rest, q))
                out += [(path + ".rotation_quaternion", i, q[:, i]) for i in range(4)]
            else:
                eulers, previous = [], Euler(self.base["rotation_euler"][0], self.mode)
                for v in q:
                    previous = Quaternion(v).to_euler(self.mode, previous)
                    eulers.append(tuple(previous))
                eulers = np.asarray(eulers, np.float64) - self.rest["rotation_euler"]
                out += [(path + ".rotation_euler", i, eulers[:, i]) for i in range(3)]
        if "scale" in self.posed:
            rest = self.rest["scale"]
            # a bone scaled to 0 at rest has no ratio to key: its pose scale is not shown
            scale = np.where(np.abs(rest) > 1e-9, self.base["scale"] / np.where(np.abs(rest) > 1e-9, rest, 1.0), 1.0)
            out += [(path + ".scale", i, scale[:, i]) for i in range(3)]
        return [(p, i, np.ascontiguousarray(v, np.float32)) for p, i, v in out]


class _Builder:
    def __init__(self, armature, n):
        self.armature, self.n = armature, n
        self.resting = Resting(armature, layers.artist_channels(armature))
        self.bones = {}
        self.other = {}              # (path, index) -> values: non-transform properties of poses

    def bone(self, name):
        if name not in self.bones:
            self.bones[name] = _BonePose(self.armature, name, self.n, self.resting)
        return self.bones[name]

    def curves(self, warnings):
        """([(data path, index, values)] relative to the resting values, labels)."""
        out, labels = [], []
        for name, pose in self.bones.items():
            curves = pose.curves(warnings)
            if curves:
                out += curves
                labels.append(name)
        for (path, index), values in self.other.items():
            change = values - self.resting.value(path, index) + neutral_value(self.armature, path, index)
            out.append((path, index, np.ascontiguousarray(change, np.float32)))
            labels.append(path)
        return out, labels


# --- Combine: what Blender's NLA does with the relative curves --------------------------------

_IDPROP = re.compile(r'^(.*)\["((?:[^"\\]|\\.)*)"\]$')


def neutral_value(armature, path, index) -> float:
    """The value of (path, index) that a Combine strip adds nothing with: 1 for a quaternion's
    w and for scale, else the property's default (a custom property's UI default, else 0),
    which Blender's NLA subtracts before adding."""
    _, prop = _transform_of(path)
    if prop == "rotation_quaternion":
        return 1.0 if index == 0 else 0.0
    if prop is not None:
        return 1.0 if prop == "scale" else 0.0
    match = _IDPROP.match(path)
    try:
        if match:
            owner = armature.path_resolve(match.group(1)) if match.group(1) else armature
            default = owner.id_properties_ui(keying.unescape_identifier(match.group(2))).as_dict().get("default", 0.0)
        else:
            owner_path, _, name = path.rpartition(".")
            owner = armature.path_resolve(owner_path) if owner_path else armature
            rna = owner.bl_rna.properties[name]
            default = rna.default_array if getattr(rna, "is_array", False) else rna.default
    except (TypeError, KeyError, ValueError, AttributeError):
        return 0.0
    if isinstance(default, (int, float, bool)):
        return float(default)
    return float(default[index]) if len(default) > index else 0.0


def combined(under: dict, keyed: dict, neutral: dict) -> dict:
    """What a Combine strip at full influence shows ({(data path, index): value}) over the
    values `under` it: quaternions multiplied on (both normalised, as Blender does), scale
    multiplied, everything else added as its change from `neutral`."""
    out = {}
    quaternions = {path for path, _ in keyed if path.endswith(".rotation_quaternion")}
    for path in quaternions:
        below = _unit(np.array([under[(path, i)] for i in range(4)], np.float64))
        mine = _unit(np.array([keyed[(path, i)] for i in range(4)], np.float64))
        q = _multiply(below[None], mine[None])[0]
        out.update({(path, i): float(q[i]) for i in range(4)})
    for (path, index), value in keyed.items():
        if path in quaternions:
            continue
        if _transform_of(path)[1] == "scale":
            out[(path, index)] = float(under[(path, index)] * value)
        else:
            out[(path, index)] = float(under[(path, index)] + value - neutral[(path, index)])
    return out


# --- the sources -----------------------------------------------------------------------------

def _columns(perf, fps, intensity, smoothing):
    """{channel: float64 values at the scene rate}, with eye rotations from eyeLook* when the
    source has none, each channel's intensity group applied and smoothed."""
    channels, weights = face_bones.with_gaze_rotations(perf.channels, perf.weights)
    gains = np.array([float(intensity.get(channel_group(c), 1.0)) for c in channels], np.float32)
    values = keying.smooth(np.asarray(resample(weights * gains, perf.fps, fps), np.float32), smoothing)
    return {c: values[:, j].astype(np.float64) for j, c in enumerate(channels)}


def _moves(columns, names):
    """All-zero rotations are "not tracked" (a phone that records no head turn)."""
    return all(c in columns for c in names) and any(np.abs(columns[c]).max() > 1e-6 for c in names)


def _apply_poses(builder, armature, pose_map, perf, fps, intensity, smoothing, meshes, n):
    """Blend the map's poses into the builder; returns ({mesh name: [(key, values)]}, channels)."""
    try:
        poses = pose_library.resolve(pose_map, armature, meshes)
    except core_pose_map.PoseMapError as e:
        raise BoneTargetError(str(e)) from None
    shapes = list(poses)
    gains = np.array([float(intensity.get(channel_group(c), 1.0)) for c in perf.channels], np.float32)
    weights = core_pose_map.pose_weights(shapes, perf.channels, perf.weights * gains, perf.fps)
    weights = {s: np.clip(keying.smooth(np.asarray(resample(w[:, None], perf.fps, fps), np.float32), smoothing)[:n, 0],
                          0.0, 1.0) for s, w in weights.items()}
    # the rest pose, where mapped, is what no pose means; else each property's resting value
    rest_bones, rest_keys = poses.get("rest", ({}, {}))
    bone_base, key_base, key_resting = {}, {}, {}
    for bone_values, key_values in poses.values():
        for prop in bone_values:
            if prop not in bone_base:
                bone_base[prop] = rest_bones[prop] if prop in rest_bones else builder.resting.value(*prop)
        for prop in key_values:
            if prop not in key_base:
                mesh, key = prop
                if mesh not in key_resting:
                    shape_keys = bpy.data.objects[mesh].data.shape_keys
                    key_resting[mesh] = Resting(shape_keys, layers.artist_channels(shape_keys))
                key_base[prop] = rest_keys[prop] if prop in rest_keys else \
                    key_resting[mesh].value(keying.data_path(key), 0)
    bone_poses = {s: dict(_aligned(v[0], bone_base)) for s, v in poses.items()}
    for (path, index), values in core_pose_map.blend_poses(weights, bone_poses, bone_base).items():
        owner, prop = _transform_of(path)
        if owner is not None:
            builder.bone(owner).set_pose(prop, index, values)
        else:
            builder.other[(path, index)] = values
    key_curves = {}
    blended = core_pose_map.blend_poses(weights, {s: v[1] for s, v in poses.items()}, key_base)
    for (mesh, key), values in blended.items():
        key_curves.setdefault(mesh, []).append((key, np.clip(values, 0.0, 1.0).astype(np.float32)))
    return key_curves, core_pose_map.shape_channels([s for s in shapes if s in weights])


def _aligned(values, base):
    """Pose quaternions on the same hemisphere as the base, so the blend takes the short way."""
    out = dict(values)
    quats = {}
    for (path, index), v in values.items():
        if path.endswith(".rotation_quaternion"):
            quats.setdefault(path, {})[index] = v
    for path, comps in quats.items():
        if len(comps) == 4:
            dot = sum(comps[i] * base[(path, i)] for i in range(4))
            if dot < 0:
                for i in range(4):
                    out[(path, i)] = -comps[i]
    return out.items()


def _transform_of(path):
    """(bone, transform) for `pose.bones["X"].<transform>`, else (None, None)."""
    for prop in _TRANSFORMS:
        suffix = "." + prop
        if path.startswith("pose.bones[") and path.endswith(suffix):
            inner = path[len('pose.bones["'):-len(suffix) - 2]
            return inner.replace('\\"', '"').replace('\\\\', '\\'), prop
    return None, None


def _apply_face_rig(builder, face, columns, taken):
    """Each region's motions, driven by the channels nothing else shows; returns the channels
    used."""
    used = set()
    sealed = dict(columns)
    if "jawOpen" in columns and "mouthClose" in columns:
        sealed["jawOpen"] = np.maximum(columns["jawOpen"] - columns["mouthClose"], 0.0)
    for region, bone in face.regions.items():
        for motion in face_bones.REGIONS[region]:
            drive = tuple((c, w) for c, w in motion.drive if c not in taken)
            free = face_bones.Motion(motion.kind, motion.vector, motion.amount, drive, motion.unit)
            values = face_bones.drive_values(free, sealed)
            if values is None:
                continue
            used |= {c for c, _ in drive if c in columns}
            if not np.any(np.abs(values) > 1e-6):
                continue                # shown, but still this take
            if motion.kind == "turn":
                builder.bone(bone).turn_about(motion.vector, motion.amount * values)
            else:
                unit = face.unit(motion.unit, region)
                if not unit:
                    continue
                builder.bone(bone).move(np.outer(values * motion.amount * unit, motion.vector))
    if "jawOpen" in used:
        used.add("mouthClose")          # the seal shows in the jaw
    return used


def _apply_turns(builder, armature, columns, roles, bones):
    """Head/neck (the head turn shared) and eye bones (their own rotations)."""
    for role in roles:
        pose = builder.bone(bones[role])
        turns = rig.turn_matrices(*rig.angles_for(role, columns, "neck" in roles))
        pose.turn(rig.matrices_to_quaternions(rig.local_rotations(pose.world_rest, turns)))


def plan_bones(armature, perf, fps, n_frames, intensity, smoothing, keys_read, gaze_on_keys,
               pose_map, meshes, warnings):
    """The BonePlan of one take on `armature`, or None when it keys nothing.

    keys_read: the channels the character's shape keys already show (bones leave them alone,
    the pose map excepted); gaze_on_keys: eyeLook* keys move the eyes; meshes: the
    character's meshes (for shape keys a pose carries). The caller refuses an armature in NLA
    tweak mode first."""
    n = n_frames
    columns = {c: v[:n] for c, v in _columns(perf, fps, intensity, smoothing).items()}
    builder = _Builder(armature, n)
    sources, shown = [], set()
    taken = set(keys_read)
    if gaze_on_keys:
        taken |= {c for side in rig.EYE_TURN.values() for c in side}
    key_curves = {}
    if pose_map is not None:
        key_curves, pose_channels = _apply_poses(builder, armature, pose_map, perf, fps, intensity,
                                                 smoothing, meshes, n)
        overlap = sorted(pose_channels & set(keys_read))
        if overlap:
            warnings.append(f"The pose map and shape keys both show {', '.join(overlap[:6])}"
                            f"{'...' if len(overlap) > 6 else ''}: clear those keys from the mapping "
                            "table if the face moves twice.")
        sources.append("pose map")
        shown |= pose_channels
        taken |= pose_channels
    bones = rig.find_bones(armature)
    face = face_rigs.find_face_rig(armature, bones)
    if face is not None:
        used = _apply_face_rig(builder, face, columns, taken)
        if used:
            sources.append(face.label)
            shown |= used
    face_bones_used = set(face.regions.values()) if face is not None else set()
    roles = [r for r in ("neck", "head") if r in bones and _moves(columns, rig.HEAD_TURN)]
    if not (gaze_on_keys or (face is not None and face.gaze_on_target)):
        roles += [r for r in ("eye_l", "eye_r") if r in bones and bones[r] not in face_bones_used
                  and _moves(columns, rig.EYE_TURN[r])]
    if roles:
        _apply_turns(builder, armature, columns, roles, bones)
        sources += roles
        shown |= {c for role in roles for c in rig.EYE_TURN.get(role, rig.HEAD_TURN)}
    if shown & {c for side in rig.EYE_TURN.values() for c in side}:
        shown |= _GAZE_WEIGHTS            # the gaze shows through eye bones or the eyes target
    curves, labels = builder.curves(warnings)
    if not curves and not key_curves:
        return None
    neutral = {(path, index): neutral_value(armature, path, index) for path, index, _ in curves}
    return BonePlan(armature, curves, labels, sources, shown, key_curves, neutral)
