"""A character is often several meshes: head, teeth, tongue, eyes, lashes, brows, beard.

The meshes that move with the target head, carry shape keys of their own and share its rig
are keyed in the same take (one action per shape-key datablock, same frames, same NLA and
rest-layer treatment): Ready Player Me's teeth open with `jawOpen` / `viseme_aa`, its eye
meshes follow `eyeLook*`. "Share its rig" means deformed by the same armature, or parented
to the head. Two characters that merely sit under one empty are never mixed up. A mesh is
left out when its object's `unitaf_skip` is set (the mapping panel's switch), when it is
linked from a library, or when none of its keys map.
"""
import bpy

from . import props


def armature_of(obj):
    """The armature object deforming `obj` (an Armature modifier, else an armature parent)."""
    for mod in getattr(obj, "modifiers", ()):
        if mod.type == 'ARMATURE' and mod.object is not None:
            return mod.object
    parent = obj.parent
    return parent if parent is not None and parent.type == 'ARMATURE' else None


def _has_keys(obj):
    key = obj.data.shape_keys if obj.type == 'MESH' else None
    return key is not None and len(key.key_blocks) > 1


def is_skipped(obj) -> bool:
    props.register_properties()
    return bool(obj.unitaf_skip)


def candidates(head) -> list:
    """Meshes of `head`'s character with shape keys (the head excluded), by name."""
    rig = armature_of(head)
    out = []
    for obj in bpy.data.objects:
        if obj == head or not _has_keys(obj):
            continue
        if obj.parent == head or (rig is not None and armature_of(obj) == rig):
            out.append(obj)
    return sorted(out, key=lambda o: o.name)


def companions(head) -> list:
    """The candidates a take keys with `head`: not switched off, not linked."""
    return [obj for obj in candidates(head) if not is_skipped(obj)
            and obj.library is None and obj.data.library is None and obj.data.shape_keys.library is None]
