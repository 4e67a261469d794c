"""The per-object mapping table: stored in the .blend, used by apply_take, report/missing."""
import pytest
from helpers import make_face, make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, keying, mapping_store
from unitaf_blender.blender.mapping_store import object_mapping
from unitaf_blender.blender.takes import TakeOptions, apply_take


def test_auto_mapping_without_a_stored_table(clean_scene):
    obj = make_face(bpy, keys=("JawOpen", "EyeBlinkLeft", "Smile"))
    m = object_mapping(obj)
    assert m.pairs == {"eyeBlinkLeft": "EyeBlinkLeft", "jawOpen": "JawOpen"}
    assert not mapping_store.has_stored_mapping(obj)


def test_stored_table_survives_reload_and_drives_keying(clean_scene, tmp_path):
    obj = make_face(bpy, keys=("JawOpen", "EyeBlinkLeft", "Smile"))
    m = mapping_store.auto_map_into(obj)
    assert len(obj.unitaf_mapping.rows) == len(mapping_store.CHANNELS)
    # the user edits the table: Smile drives mouthSmileLeft, jawOpen is switched off
    rows = {r.channel: r for r in obj.unitaf_mapping.rows}
    rows["mouthSmileLeft"].shape_key = "Smile"
    rows["jawOpen"].shape_key = ""
    path = str(tmp_path / "map.blend")
    bpy.ops.wm.save_as_mainfile(filepath=path)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    # like the CLI in a fresh process: the classes are registered only after the file is open
    from unitaf_blender.blender import props
    props.unregister_properties()
    bpy.ops.wm.open_mainfile(filepath=path)
    obj = bpy.data.objects["Face"]
    assert mapping_store.has_stored_mapping(obj)
    m = object_mapping(obj)
    assert m.pairs == {"eyeBlinkLeft": "EyeBlinkLeft", "mouthSmileLeft": "Smile"}
    assert "jawOpen" in m.unmapped_channels
    r = apply_take(bpy.context.scene, obj, make_perf(), TakeOptions(start_frame=1, add_sound=False))
    paths = sorted(fc.data_path for fc in compat.action_fcurves(r.action))
    assert paths == sorted([keying.data_path("EyeBlinkLeft"), keying.data_path("Smile")])


def test_missing_shapes_reported_and_skipped(clean_scene):
    obj = make_face(bpy, keys=("jawOpen", "eyeBlinkLeft"))
    mapping_store.auto_map_into(obj)
    obj.data.shape_keys.key_blocks["eyeBlinkLeft"].name = "renamed"
    assert mapping_store.missing_shapes(obj) == ["eyeBlinkLeft"]
    assert object_mapping(obj).pairs == {"jawOpen": "jawOpen"}


def test_preset_and_clear(clean_scene):
    obj = make_face(bpy, keys=("AK_25_JawOpen", "SR_21_Jaw_Open", "AK_09_EyeBlinkLeft"))
    m = mapping_store.apply_preset_into(obj, "rocketbox_ak")
    assert m.pairs == {"eyeBlinkLeft": "AK_09_EyeBlinkLeft", "jawOpen": "AK_25_JawOpen"}
    assert obj.unitaf_mapping.preset == "rocketbox_ak" and mapping_store.has_stored_mapping(obj)
    with pytest.raises(ValueError):
        mapping_store.apply_preset_into(obj, "nope")
    mapping_store.clear_mapping(obj)
    assert not mapping_store.has_stored_mapping(obj) and len(obj.unitaf_mapping.rows) == 0


def test_duplicate_key_in_table_keys_once(clean_scene):
    obj = make_face(bpy, keys=("jawOpen",))
    mapping_store.auto_map_into(obj)
    rows = {r.channel: r for r in obj.unitaf_mapping.rows}
    rows["mouthClose"].shape_key = "jawOpen"
    r = apply_take(bpy.context.scene, obj, make_perf(), TakeOptions(start_frame=1, add_sound=False))
    assert len(compat.action_fcurves(r.action)) == 1
    assert any("both map to 'jawOpen'" in w for w in r.warnings)


def test_panel_report_lines(clean_scene):
    from unitaf_blender.blender.panel.ui import _mapping_report
    obj = make_face(bpy, keys=("jawOpen", "eyeBlinkLeft", "Extra"))
    lines, missing = _mapping_report(obj)
    assert lines[0].startswith("2/52 channels mapped") and missing == []
    mapping_store.auto_map_into(obj)
    obj.data.shape_keys.key_blocks["jawOpen"].name = "gone"
    lines, missing = _mapping_report(obj)
    assert lines[0].startswith("1/52") and missing == ["jawOpen"]
