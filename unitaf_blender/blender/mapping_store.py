"""The per-object channel -> shape-key table stored in the .blend (Object.unitaf_mapping)."""
import numpy as np

from ..core import mapping as core_mapping
from ..core import targets as core_targets
from ..core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from . import props

CHANNELS = ARKIT_52 + HEAD_EYE_ROTATIONS


def shape_key_names(obj) -> list:
    key = obj.data.shape_keys if obj is not None and obj.type == 'MESH' else None
    return [] if key is None else [kb.name for kb in key.key_blocks]


def silent_keys(obj) -> set:
    """Shape keys whose geometry equals their reference (they move nothing). Such a key
    counts as missing: Ready Player Me's eye and teeth meshes carry all 67 names, but most of
    them are empty there."""
    key = obj.data.shape_keys if obj is not None and obj.type == 'MESH' else None
    if key is None or len(key.key_blocks) < 2:
        return set()
    n = len(key.key_blocks[0].data)
    coords = {}

    def co(block):
        if block.name not in coords:
            buf = np.empty(3 * n, np.float32)
            block.data.foreach_get("co", buf)
            coords[block.name] = buf
        return coords[block.name]
    return {kb.name for kb in key.key_blocks[1:]
            if np.array_equal(co(kb), co(kb.relative_key or key.reference_key))}


def reference_key_name(obj) -> str:
    key = obj.data.shape_keys
    return key.reference_key.name if key is not None and key.reference_key else "Basis"


def _table(obj):
    props.register_properties()
    return obj.unitaf_mapping


def has_stored_mapping(obj) -> bool:
    # Reading obj.unitaf_mapping would create the (empty) property group on the object, so a
    # mere check would change the file: look whether it exists first.
    if obj is None or obj.type != 'MESH':
        return False
    props.register_properties()
    return obj.is_property_set("unitaf_mapping") and obj.unitaf_mapping.stored


def stored_pairs(obj) -> dict:
    """channel -> shape key from the stored table (rows with an empty shape key are skipped)."""
    return {row.channel: row.shape_key for row in _table(obj).rows if row.shape_key}


def missing_shapes(obj) -> list:
    """Shape keys named by the stored table that the mesh no longer has."""
    if not has_stored_mapping(obj):
        return []
    names = set(shape_key_names(obj))
    return sorted({k for k in stored_pairs(obj).values() if k not in names})


def object_mapping(obj):
    """The stored table when the user stored one, else automatic matching of the mesh's keys."""
    names = shape_key_names(obj)
    reference = reference_key_name(obj) if names else "Basis"
    if has_stored_mapping(obj):
        present = set(names)
        pairs = {ch: k for ch, k in stored_pairs(obj).items() if ch in CHANNELS and k in present}
        used = set(pairs.values())
        return core_mapping.ShapeKeyMapping(
            pairs=pairs,
            unmapped_channels=[c for c in CHANNELS if c not in pairs],
            unused_keys=[k for k in names if k != reference and k not in used],
        )
    silent = silent_keys(obj)
    return core_mapping.auto_map([k for k in names if k not in silent], channels=CHANNELS,
                                 reference_key=reference)


def object_plan(obj):
    """What a take drives on `obj` (core.targets.TargetPlan): ARKit keys from the stored table
    or by name, and keys of other conventions (visemes, FACS, VRoid, CC, MMD) computed from the
    channels. Keys that move nothing are left out."""
    names = shape_key_names(obj)
    reference = reference_key_name(obj) if names else "Basis"
    stored = None
    if has_stored_mapping(obj):
        stored = {ch: k for ch, k in stored_pairs(obj).items() if ch in CHANNELS}
    return core_targets.plan_targets(names, reference_key=reference, stored_pairs=stored,
                                     ignore_keys=silent_keys(obj))


def store_mapping(obj, mapping, preset=None):
    """Write `mapping` into the object's table (one row per channel) and mark it stored."""
    table = _table(obj)
    table.rows.clear()
    for ch in CHANNELS:
        row = table.rows.add()
        row.channel = ch
        row.shape_key = mapping.pairs.get(ch, "")
    if preset:
        table.preset = preset
    table.stored = True
    table.active_index = 0


def auto_map_into(obj):
    mapping = core_mapping.auto_map(shape_key_names(obj), channels=CHANNELS,
                                    reference_key=reference_key_name(obj))
    store_mapping(obj, mapping)
    return mapping


def apply_preset_into(obj, preset_id):
    mapping = core_mapping.apply_preset(preset_id, shape_key_names(obj), channels=CHANNELS)
    store_mapping(obj, mapping, preset=preset_id)
    return mapping


def clear_mapping(obj):
    table = _table(obj)
    table.rows.clear()
    table.stored = False
    table.active_index = 0
