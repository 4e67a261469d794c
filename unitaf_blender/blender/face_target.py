"""What the object a take is aimed at stands for: the face mesh whose shape keys lead the take
(if any), the armature whose bones move with it (if any), and the pose map used there.

* a mesh with keys that map: it leads; its armature (Armature modifier or parent) comes along;
* a mesh without usable keys, or an armature: the character of that armature. The mesh it
  deforms with the most mapped keys leads (Ready Player Me: the head); with none, the take
  keys bones only (a face rigged with Rigify, a pose library, a jaw or head bone).

Linked data is refused with the library named (a library override is local and fine).
Reports of what is dropped say why, per face region (`dropped_report`).
"""
from dataclasses import dataclass

import bpy

from ..core.channels import HEAD_EYE_ROTATIONS
from . import bone_targets, character, face_rigs, pose_library, rig
from .mapping_store import object_plan


class TargetError(ValueError):
    """The object cannot receive a take; the message says why and what to do."""


@dataclass
class FaceTarget:
    head: object          # the mesh whose keys lead the take, or None (bones only)
    plan: object          # its core.targets.TargetPlan, or None
    armature: object      # the armature that moves with it, or None
    pose_map: object      # core.pose_map.PoseMap used on the armature, or None


def linked_part(obj):
    """(what, library path) for the first of `obj`, its mesh and its shape keys that is linked,
    or None when all are local (an override's own datablocks count as local: they can carry
    animation)."""
    for what, block in (("object", obj), ("mesh", obj.data), ("shape keys", getattr(obj.data, "shape_keys", None))):
        if block is not None and block.library is not None:
            return what, block.library.filepath
    return None


def linked_library(obj):
    """The library file `obj`, its mesh or its shape keys come from, or None when all are local."""
    part = linked_part(obj)
    return None if part is None else part[1]


def _linked_message(obj, what, library):
    where = f"{bpy.path.basename(library)} ({library})"
    if what == "object":
        return (f"'{obj.name}' is linked from {where}: linked data is read-only here, so a take would "
                "not be kept. Make a library override first (Object > Library Override > Make > "
                "Selected & Content) and use the override, or open that library file and animate it there.")
    kind = "a library override" if obj.override_library is not None else "local"
    return (f"'{obj.name}' is {kind}, but its mesh '{obj.data.name}' and its shape keys are still linked "
            f"from {where}: they are read-only, so a take would not be kept. Make the mesh editable "
            "too, as a library override of its own (Outliner: right-click the mesh > Library Override "
            f"> Make), or in Blender's Python console: "
            f"bpy.data.objects[{obj.name!r}].data.override_create(remap_local_usages=True)")


def _has_keys(obj):
    key = obj.data.shape_keys
    return key is not None and len(key.key_blocks) > 1


def _usable_plan(obj):
    if obj.type != 'MESH' or not _has_keys(obj) or linked_library(obj) is not None:
        return None
    plan = object_plan(obj)
    return plan if plan.keys() else None


def _checked_armature(armature, pose_maps):
    """(armature, its pose map) when it has something to key; a linked one is refused."""
    if armature is None:
        return None, None
    pose_map = pose_library.map_for(armature, pose_maps)
    if not bone_targets.has_targets(armature, pose_map):
        return None, None
    library = bone_targets.linked_library(armature)
    if library is not None:
        raise TargetError(_linked_message(armature, "object", library))
    return armature, pose_map


def _lead_mesh(armature):
    """(mesh, plan): the mesh `armature` deforms with the most mapped keys, or (None, None)."""
    best = (None, None)
    for obj in sorted(bpy.data.objects, key=lambda o: o.name):
        if obj.type != 'MESH' or character.armature_of(obj) != armature or character.is_skipped(obj):
            continue
        plan = _usable_plan(obj)
        if plan is not None and (best[1] is None or len(plan.keys()) > len(best[1].keys())):
            best = (obj, plan)
    return best


def resolve(obj, pose_maps=()) -> FaceTarget:
    """The FaceTarget of `obj`, or TargetError (None, deleted, not a mesh or armature, linked,
    nothing to animate). Reads only: the object and the file stay as they were."""
    if obj is None:
        raise TargetError("No target object: pick a face mesh with shape keys, or its armature.")
    try:
        kind, name = obj.type, obj.name
    except ReferenceError:
        raise TargetError("The target object was deleted.") from None
    if kind not in ('MESH', 'ARMATURE'):
        raise TargetError(f"'{name}' is a {kind.lower()} object, not a mesh or an armature: pick the face "
                          "mesh (shape keys) or the armature of its face bones.")
    if kind == 'MESH':
        linked = linked_part(obj)
        if linked is not None:
            raise TargetError(_linked_message(obj, *linked))
        plan = _usable_plan(obj)
        armature, pose_map = _checked_armature(character.armature_of(obj), pose_maps)
        if plan is not None:
            return FaceTarget(obj, plan, armature, pose_map)
        if armature is None:
            if not _has_keys(obj):
                raise TargetError(f"'{name}' has no shape keys to animate and no armature with face bones: "
                                  "add ARKit-style shape keys (e.g. jawOpen, eyeBlinkLeft) first, or deform it "
                                  "with an armature that has a jaw, a Rigify face, head bones or a pose map.")
            key = obj.data.shape_keys
            keys = [kb.name for kb in key.key_blocks[1:6]]
            raise TargetError(f"None of the {len(key.key_blocks) - 1} shape keys on '{name}' "
                              f"(e.g. {', '.join(keys)}) match an ARKit / Live Link channel or a known "
                              "convention (visemes, FACS, VRoid, Character Creator, MMD). "
                              "Map them in the UniTAF panel (Mapping: preset or table).")
    else:
        armature, pose_map = _checked_armature(obj, pose_maps)
    head, plan = _lead_mesh(armature if kind == 'MESH' else obj)
    if armature is None and head is None:
        raise TargetError(f"'{name}' has no face bones UniTAF recognises (a Rigify face, a Biped face, a jaw, "
                          "head or eye bones) and deforms no mesh with shape keys: choose the bones in the "
                          "UniTAF mapping panel, or make a pose map.")
    return FaceTarget(head, plan, armature, pose_map)


def character_meshes(target) -> list:
    """The local meshes of the character with shape keys (where a pose's keys may go): the
    leading mesh and its companions, and every mesh the armature deforms."""
    out = [target.head] + character.candidates(target.head) if target.head is not None else []
    if target.armature is not None:
        out += [o for o in bpy.data.objects if o.type == 'MESH' and o not in out
                and character.armature_of(o) == target.armature and _has_keys(o)]
    return [o for o in out if linked_library(o) is None and not character.is_skipped(o)]


# --- what is dropped, and why ----------------------------------------------------------------

def _region(channel):
    if channel in rig.HEAD_TURN:
        return "head turns"
    if channel in HEAD_EYE_ROTATIONS:
        return "eye turns"
    if channel.startswith(("jaw", "mouth", "tongue")):
        return "mouth"
    if channel.startswith(("eyeBlink", "eyeSquint", "eyeWide")):
        return "eyelids"
    if channel.startswith("eyeLook"):
        return "gaze"
    if channel.startswith("brow"):
        return "brows"
    return "cheeks and nose"


def _reason(region, channels, armature, perf):
    if region in ("head turns", "eye turns") and not any(
            c in perf.channels and abs(perf.channel(c)).max() > 1e-6 for c in channels):
        return "all zero in this take (the source does not track them)"
    if armature is None:
        where = "no armature deforms the face"
    else:
        bones = rig.find_bones(armature)
        face = face_rigs.find_face_rig(armature, bones)
        where = f"'{armature.name}': " + (face.label if face else "no face bones")
        if region == "head turns" and "head" not in bones:
            return (f"no head bone on '{armature.name}' (named Head, neck_01, Bip01 Head, mixamorig:Head, "
                    "CC_Base_Head...): choose one in the mapping panel")
        if region == "eye turns" and not {"eye_l", "eye_r"} & set(bones):
            return f"no eyeLook* keys and no eye bones on '{armature.name}'"
    what = {"head turns": "the head", "eye turns": "the eyes", "mouth": "these mouth channels",
            "eyelids": "the lids", "gaze": "the gaze", "brows": "the brows",
            "cheeks and nose": "cheeks and nose"}[region]
    return f"no shape key, face bone or pose moves {what} ({where})"


def dropped_report(perf, driven, armature) -> list:
    """One warning per face region with channels nothing drives: which, and why."""
    by_region = {}
    for channel in perf.channels:
        if channel not in driven:
            by_region.setdefault(_region(channel), []).append(channel)
    lines = []
    for region, channels in by_region.items():
        names = ", ".join(channels[:6]) + ("..." if len(channels) > 6 else "")
        lines.append(f"dropped: {region}, {len(channels)} channel(s) ({names}): "
                     f"{_reason(region, channels, armature, perf)}")
    return lines
