"""Blender properties of the objects a take keys: the per-object mapping table, the pose map and
the face bones of an armature, and whether a mesh is left out of its character's takes (data
only; the panel's own scene settings are in panel/scene_settings.py). Registered on first use,
so keying works without the panel."""
import bpy
from bpy.props import BoolProperty, CollectionProperty, EnumProperty, IntProperty, PointerProperty, StringProperty

# Enum item lists returned from callbacks must stay referenced from Python (Blender keeps
# raw pointers to the strings), so dynamic lists are cached at module level.
_PRESET_ITEMS = []


def preset_items(self=None, context=None):
    from ..core.mapping import PRESETS
    _PRESET_ITEMS[:] = [(pid, label, desc) for pid, (label, desc) in PRESETS.items()] or [
        ("NONE", "No presets", "")]
    return _PRESET_ITEMS


class UNITAF_PG_mapping_row(bpy.types.PropertyGroup):
    channel: StringProperty(name="Channel", description="ARKit / Live Link channel name")
    shape_key: StringProperty(name="Shape Key", description="Shape key driven by this channel (empty = none)")


class UNITAF_PG_mapping(bpy.types.PropertyGroup):
    """Per-object channel -> shape-key table, saved in the .blend when the user stores one."""
    rows: CollectionProperty(type=UNITAF_PG_mapping_row)
    active_index: IntProperty(default=0)
    stored: BoolProperty(default=False, description="Use this table instead of automatic matching")
    preset: EnumProperty(name="Preset", items=preset_items,
                         description="Naming convention of the mesh's shape keys")


class UNITAF_PG_pose_row(bpy.types.PropertyGroup):
    shape: StringProperty(name="Shape", description="Mouth shape or expression (core.pose_map.SHAPES)")
    action: PointerProperty(name="Pose", type=bpy.types.Action,
                            description="The action (e.g. a pose asset) holding this pose")
    use_frame: BoolProperty(name="Frame", default=False,
                            description="Read the pose at this frame (off: the action's first key)")
    frame: IntProperty(name="Frame", default=1)


class UNITAF_PG_pose_map(bpy.types.PropertyGroup):
    """Per-armature pose map: the pose each mouth shape and expression uses."""
    rows: CollectionProperty(type=UNITAF_PG_pose_row)
    active_index: IntProperty(default=0)


# Bone roles a take moves (rig.py finds them by name; the armature's properties override).
BONE_ROLES = (("head", "Head"), ("neck", "Neck"), ("eye_l", "Left Eye"), ("eye_r", "Right Eye"), ("jaw", "Jaw"))

PROPERTY_CLASSES = (UNITAF_PG_mapping_row, UNITAF_PG_mapping, UNITAF_PG_pose_row, UNITAF_PG_pose_map)


def register_properties():
    """Register the data classes (idempotent: the keying API may need them without the panel)."""
    for cls in PROPERTY_CLASSES:
        if not getattr(cls, "is_registered", False):
            bpy.utils.register_class(cls)
    if not hasattr(bpy.types.Object, "unitaf_mapping"):
        bpy.types.Object.unitaf_mapping = PointerProperty(type=UNITAF_PG_mapping)
    if not hasattr(bpy.types.Object, "unitaf_poses"):
        bpy.types.Object.unitaf_poses = PointerProperty(type=UNITAF_PG_pose_map)
    for role, label in BONE_ROLES:
        if not hasattr(bpy.types.Object, f"unitaf_{role}_bone"):
            setattr(bpy.types.Object, f"unitaf_{role}_bone", StringProperty(
                name=f"{label} Bone", description=f"The {label.lower()} bone takes move (empty: found by name)"))
    if not hasattr(bpy.types.Object, "unitaf_skip"):
        bpy.types.Object.unitaf_skip = BoolProperty(
            name="Skip in Takes", default=False,
            description="Leave this mesh out when a take keys the character it belongs to")


def unregister_properties():
    for owner, name in ((bpy.types.Object, "unitaf_mapping"),
                        (bpy.types.Object, "unitaf_poses"),
                        (bpy.types.Object, "unitaf_skip"),
                        *((bpy.types.Object, f"unitaf_{role}_bone") for role, _ in BONE_ROLES)):
        if hasattr(owner, name):
            delattr(owner, name)
    for cls in reversed(PROPERTY_CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
