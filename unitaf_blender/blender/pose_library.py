"""Pose maps in the .blend: the poses (actions, e.g. pose assets) a character's armature uses
for each mouth shape and expression (core.pose_map), stored on the armature object
(`unitaf_poses`), filled in by name, and read back as property values.

A pose is every F-curve of its action evaluated at the pose's frame (default: the action's
first key): bone transforms and any other armature property (`pose.bones[...]`, custom
properties such as Rigify's `mouth_lock`), and shape-key values (`key_blocks[...]`, from a
KEY slot, or a legacy action whose ID type is KEY) applied to every mesh of the character
that has that key. Blender's pose assets are such actions; one action holding a whole mouth
chart works too, one pose per frame, named by pose markers.
"""
import re

import bpy

from ..core.pose_map import SHAPES, PoseMap, PoseMapError, PoseRef, auto_fill
from . import compat, keying, layers, props

_BONE_PATH = re.compile(r'^pose\.bones\["((?:[^"\\]|\\.)*)"\]')


def _bones_keyed(action) -> set:
    return {keying.unescape_identifier(m.group(1)) for _, fc in compat.fcurves_by_id_type(action)
            if (m := _BONE_PATH.match(fc.data_path))}


def pose_actions(armature) -> list:
    """Actions that can be poses of `armature`: they key at least one of its bones (UniTAF's
    own takes and rest layers excluded), by name."""
    bones = set(armature.data.bones.keys())
    return sorted((a for a in bpy.data.actions if not layers.is_ours(a) and _bones_keyed(a) & bones),
                  key=lambda a: a.name)


def candidates(armature) -> list:
    """(action, frame, label) for auto-fill: each pose action by its name, then each pose
    marker of those actions by the marker's name."""
    actions = pose_actions(armature)
    out = [(a.name, None, a.name) for a in actions]
    out += [(a.name, float(m.frame), m.name) for a in actions for m in a.pose_markers]
    return out


# --- the stored map --------------------------------------------------------------------------

def has_stored_map(armature) -> bool:
    # reading the property would create it: look first (a check must not change the file)
    if armature is None or armature.type != 'ARMATURE':
        return False
    props.register_properties()
    return armature.is_property_set("unitaf_poses") and any(
        row.action is not None for row in armature.unitaf_poses.rows)


def has_table(armature) -> bool:
    """The armature has a pose table (rows, mapped or not) to show."""
    if armature is None or armature.type != 'ARMATURE':
        return False
    props.register_properties()
    return armature.is_property_set("unitaf_poses") and len(armature.unitaf_poses.rows) > 0


def stored_map(armature):
    """The PoseMap stored on `armature`, or None."""
    if not has_stored_map(armature):
        return None
    poses = {row.shape: PoseRef(row.action.name, float(row.frame) if row.use_frame else None)
             for row in armature.unitaf_poses.rows if row.action is not None and row.shape in SHAPES}
    return PoseMap(poses, armature.name, source=f"the pose map of '{armature.name}'") if poses else None


def store_map(armature, pose_map):
    """Write `pose_map` into the armature's table: one row per shape, empty where unmapped."""
    props.register_properties()
    table = armature.unitaf_poses
    table.rows.clear()
    for shape in SHAPES:
        row = table.rows.add()
        row.shape = shape
        ref = pose_map.poses.get(shape) if pose_map is not None else None
        if ref is not None:
            row.action = bpy.data.actions.get(ref.action)
            row.use_frame = ref.frame is not None
            row.frame = int(round(ref.frame)) if ref.frame is not None else 0
    table.active_index = 0


def auto_fill_into(armature) -> int:
    """Fill the armature's table from action and pose-marker names; returns the number of
    shapes found (0 leaves the table empty)."""
    found = auto_fill(candidates(armature))
    store_map(armature, PoseMap(found, armature.name))
    return len(found)


def clear_map(armature):
    props.register_properties()
    armature.unitaf_poses.rows.clear()


def map_for(armature, pose_maps=()):
    """The pose map a take uses on `armature`: a given map naming it, else a given map naming
    no armature, else the stored one (None: no poses)."""
    named = [m for m in pose_maps if m.armature == armature.name]
    anonymous = [m for m in pose_maps if m.armature is None]
    return (named or anonymous or [stored_map(armature)])[0]


# --- reading poses ---------------------------------------------------------------------------

def _first_key_frame(action):
    frames = [fc.keyframe_points[0].co[0] for _, fc in compat.fcurves_by_id_type(action)
              if len(fc.keyframe_points)]
    return min(frames) if frames else None


def read_pose(ref, armature, meshes):
    """({(armature data path, index): value}, {(mesh name, key name): value}) of one pose.
    Raises PoseMapError when the action is missing, empty, or keys nothing this character has."""
    action = bpy.data.actions.get(ref.action)
    if action is None:
        raise PoseMapError(f"no action named '{ref.action}' in this file (append or link the pose asset first)")
    frame = ref.frame if ref.frame is not None else _first_key_frame(action)
    if frame is None:
        raise PoseMapError(f"the action '{action.name}' has no keys")
    bone_values, key_values = {}, {}
    for id_type, fc in compat.fcurves_by_id_type(action):
        if not len(fc.keyframe_points):
            continue
        value = float(fc.evaluate(frame))
        name = keying.key_name_from_path(fc.data_path)
        if name is not None and id_type in ('KEY', 'UNSPECIFIED'):
            for mesh in meshes:
                shape_keys = mesh.data.shape_keys
                if shape_keys is not None and name in shape_keys.key_blocks:
                    key_values[(mesh.name, name)] = value
            continue
        if id_type not in ('OBJECT', 'UNSPECIFIED'):
            continue
        try:
            armature.path_resolve(fc.data_path)
        except ValueError:
            continue                  # a bone or property this armature lacks
        bone_values[(fc.data_path, fc.array_index)] = value
    if not bone_values and not key_values:
        raise PoseMapError(f"the action '{action.name}' keys no bone of '{armature.name}' and no shape key "
                           "of its meshes")
    return bone_values, key_values


def resolve(pose_map, armature, meshes) -> dict:
    """{shape: (bone values, key values)} for every pose of the map; every problem is one
    PoseMapError naming the shape."""
    out, problems = {}, []
    for shape, ref in pose_map.poses.items():
        try:
            out[shape] = read_pose(ref, armature, meshes)
        except PoseMapError as e:
            problems.append(f"'{shape}': {e}")
    if problems:
        raise PoseMapError(f"{pose_map.source or 'pose map'} for '{armature.name}': " + "; ".join(problems))
    return out
