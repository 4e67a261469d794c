"""Small helpers that hide Blender API differences between 4.2 LTS and 5.2 LTS.

Every choice is made by feature detection (does the RNA property/function exist?), never
by version number, so point releases that back-port or drop an API keep working:

- Actions: 4.4+ are "slotted" (slots, layers, keyframe strips, channelbags); 5.0 removed the
  legacy `Action.fcurves/groups/id_root`; 4.2/4.3 only have the legacy model.
- Sequencer: 4.4 renamed `sequences` -> `strips` (5.0 removed `sequences`).
- Strip timing: 5.1 renamed `frame_start/frame_final_*` -> `content_start/left_handle/right_handle`
  (old names warn and go away in 6.0).
"""
import bpy


def has_slotted_actions() -> bool:
    # RNA properties are not class attributes, so hasattr(bpy.types.Action, "slots") is False.
    return "slots" in bpy.types.Action.bl_rna.properties


def has_audio() -> bool:
    """False in the bpy 4.2 PyPI wheel (built without Audaspace): sound strips cannot be made."""
    return bool(getattr(bpy.app.build_options, "audaspace", True))


# --- actions -------------------------------------------------------------------------------

def new_action(name: str, id_block):
    """Create an empty action for `id_block` (e.g. a shape-key Key). Returns (action, slot).

    `slot` is None on the legacy (pre-4.4) model.
    """
    action = bpy.data.actions.new(name)
    if has_slotted_actions():
        slot = action.slots.new(id_type=id_block.id_type, name=id_block.name)
        return action, slot
    action.id_root = id_block.id_type
    return action, None


def assigned_action(id_block):
    """(action, slot) currently assigned to `id_block`; (None, None) when there is none."""
    ad = id_block.animation_data
    if ad is None or ad.action is None:
        return None, None
    slot = ad.action_slot if has_slotted_actions() else None
    return ad.action, slot


def assign_action(id_block, action, slot=None):
    """Make `action` (and `slot` on 4.4+) the active animation of `id_block`; None clears it."""
    ad = id_block.animation_data or id_block.animation_data_create()
    ad.action = action
    if action is not None and slot is not None and has_slotted_actions():
        ad.action_slot = slot


def _channelbag(action, slot, create: bool):
    layers = action.layers
    if len(layers) == 0:
        if not create:
            return None
        layers.new("Layer")
    strips = layers[0].strips
    if len(strips) == 0:
        if not create:
            return None
        strips.new(type='KEYFRAME')
    return strips[0].channelbag(slot, ensure=create)


def _fcurves_new_takes_group() -> bool:
    return "group_name" in bpy.types.ActionChannelbagFCurves.bl_rna.functions["new"].parameters


class FCurveWriter:
    """Creates F-curves for one (action, slot) pair on either action model."""

    def __init__(self, action, slot, group: str):
        self.action, self.slot, self.group = action, slot, group
        if has_slotted_actions():
            self._bag = _channelbag(action, slot, create=True)
            self._group_kw = _fcurves_new_takes_group()   # 5.0+: group_name argument
        else:
            self._bag = None

    def new(self, data_path: str, index: int = 0):
        if self._bag is None:
            return self.action.fcurves.new(data_path, index=index, action_group=self.group)
        if self._group_kw:
            return self._bag.fcurves.new(data_path, index=index, group_name=self.group)
        fc = self._bag.fcurves.new(data_path, index=index)   # 4.4/4.5: group by hand
        grp = self._bag.groups.get(self.group) or self._bag.groups.new(self.group)
        fc.group = grp
        return fc


def action_fcurves(action, slot=None) -> list:
    """All F-curves of `action` (for `slot` on the slotted model; its first slot when None)."""
    if not has_slotted_actions():
        return list(action.fcurves)
    if slot is None:
        if len(action.slots) == 0:
            return []
        slot = action.slots[0]
    out = []
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot) if strip.type == 'KEYFRAME' else None
            if bag is not None:
                out.extend(bag.fcurves)
    return out


def fcurves_by_id_type(action) -> list:
    """[(id type, F-curve)] over every slot of `action` ('OBJECT', 'KEY', ...); on the legacy
    model the action's `id_root` ('UNSPECIFIED' until something used it)."""
    if not has_slotted_actions():
        return [(action.id_root, fc) for fc in action.fcurves]
    return [(slot.target_id_type, fc) for slot in action.slots for fc in action_fcurves(action, slot)]


def remove_fcurve(action, slot, fcurve):
    """Remove `fcurve` from `action` (from `slot`'s channelbag on the slotted model)."""
    if not has_slotted_actions():
        action.fcurves.remove(fcurve)
        return
    for layer in action.layers:
        for strip in layer.strips:
            bag = strip.channelbag(slot) if strip.type == 'KEYFRAME' else None
            if bag is not None and fcurve in list(bag.fcurves):
                bag.fcurves.remove(fcurve)
                return


def find_fcurve(action, data_path: str, index: int = 0, slot=None):
    for fc in action_fcurves(action, slot):
        if fc.data_path == data_path and fc.array_index == index:
            return fc
    return None


def new_nla_strip(track, name: str, start: int, action, slot=None):
    """Add `action` as a strip on `track` (raises RuntimeError when it would overlap)."""
    strip = track.strips.new(name, int(start), action)
    if slot is not None and "action_slot" in strip.bl_rna.properties:
        strip.action_slot = slot
    return strip


def strip_slot(nla_strip):
    """The action slot an NLA strip plays (None on the legacy model)."""
    return getattr(nla_strip, "action_slot", None) if has_slotted_actions() else None


def interpolation_index(mode: str) -> int:
    """Enum index used by Keyframe.interpolation (for foreach_set)."""
    items = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items
    return items[mode].value


# --- sequencer -----------------------------------------------------------------------------

def top_level_strips(sequence_editor):
    """The collection that owns `new_sound` (`strips` on 4.4+, `sequences` before)."""
    se = sequence_editor
    return se.strips if hasattr(se, "strips") else se.sequences


def all_strips(sequence_editor) -> list:
    """Every strip, including those inside meta strips."""
    se = sequence_editor
    return list(se.strips_all if hasattr(se, "strips_all") else se.sequences_all)


def strip_content_start(strip) -> float:
    """Where the strip's content starts (`content_start` on 5.1+, `frame_start` before)."""
    props = strip.bl_rna.properties
    return strip.content_start if "content_start" in props else strip.frame_start


def strip_range(strip) -> tuple:
    """(first frame, end frame exclusive) of the visible strip, i.e. its handles."""
    props = strip.bl_rna.properties
    if "left_handle" in props:
        return strip.left_handle, strip.right_handle
    return strip.frame_final_start, strip.frame_final_end


def new_sound_strip(sequence_editor, name: str, filepath: str, channel: int, frame_start: int):
    return top_level_strips(sequence_editor).new_sound(name, filepath, int(channel), int(frame_start))


def remove_strip(sequence_editor, strip):
    top_level_strips(sequence_editor).remove(strip)
