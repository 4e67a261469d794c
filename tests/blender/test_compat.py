"""Version helpers behave as documented on the bpy this suite runs with."""
import numpy as np
import pytest
from helpers import make_face

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat


def test_slotted_detection_matches_rna(clean_scene):
    assert compat.has_slotted_actions() == ("slots" in bpy.types.Action.bl_rna.properties)
    # hasattr() on the class is always False for RNA properties: the reason for bl_rna.
    assert not hasattr(bpy.types.Action, "slots")


def test_new_action_assign_and_fcurves(clean_scene):
    obj = make_face(bpy)
    key = obj.data.shape_keys
    action, slot = compat.new_action("A", key)
    if compat.has_slotted_actions():
        assert slot is not None and slot.target_id_type == 'KEY'
    else:
        assert slot is None and action.id_root == 'KEY'
    assert compat.assigned_action(key) == (None, None)
    compat.assign_action(key, action, slot)
    got_action, got_slot = compat.assigned_action(key)
    assert got_action == action
    if slot is not None:
        assert got_slot == slot

    writer = compat.FCurveWriter(action, slot, "UniTAF")
    fc = writer.new('key_blocks["jawOpen"].value')
    fc.keyframe_points.insert(1, 0.25)
    assert fc.group is not None and fc.group.name == "UniTAF"
    assert compat.find_fcurve(action, 'key_blocks["jawOpen"].value') == fc
    assert compat.find_fcurve(action, 'key_blocks["nope"].value') is None
    assert [f.data_path for f in compat.action_fcurves(action)] == ['key_blocks["jawOpen"].value']
    # the F-curve drives the key through the assigned slot
    bpy.context.scene.frame_set(1)
    assert key.key_blocks["jawOpen"].value == pytest.approx(0.25)

    compat.assign_action(key, None)
    assert compat.assigned_action(key) == (None, None)


@pytest.mark.skipif(not compat.has_slotted_actions(), reason="slotted actions only (4.4+)")
def test_channelbag_grouping_without_group_name_argument(clean_scene, monkeypatch):
    """4.4/4.5 have no `group_name` on ChannelbagFCurves.new: groups are made by hand."""
    monkeypatch.setattr(compat, "_fcurves_new_takes_group", lambda: False)
    obj = make_face(bpy)
    action, slot = compat.new_action("A", obj.data.shape_keys)
    writer = compat.FCurveWriter(action, slot, "UniTAF")
    a = writer.new('key_blocks["jawOpen"].value')
    b = writer.new('key_blocks["browInnerUp"].value')
    assert a.group.name == b.group.name == "UniTAF"
    bag = action.layers[0].strips[0].channelbag(slot)
    assert len(bag.groups) == 1


def test_interpolation_index_matches_enum(clean_scene):
    items = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items
    for mode in ("CONSTANT", "LINEAR", "BEZIER"):
        assert compat.interpolation_index(mode) == items[mode].value
    assert compat.interpolation_index("CONSTANT") != compat.interpolation_index("LINEAR")


def test_nla_strip_with_slot(clean_scene):
    obj = make_face(bpy)
    key = obj.data.shape_keys
    action, slot = compat.new_action("A", key)
    fc = compat.FCurveWriter(action, slot, "G").new('key_blocks["jawOpen"].value')
    fc.keyframe_points.insert(1, 0.0)
    fc.keyframe_points.insert(11, 1.0)
    track = key.animation_data_create().nla_tracks.new()
    strip = compat.new_nla_strip(track, "s", 5, action, slot)
    assert strip.frame_start == 5 and strip.frame_end == 15
    if slot is not None:
        assert strip.action_slot == slot
    with pytest.raises(RuntimeError):   # strips on one track must not overlap
        compat.new_nla_strip(track, "t", 10, action, slot)


@pytest.mark.usefixtures("needs_audio")
def test_sequencer_helpers(clean_scene, tmp_path):
    from unitaf_blender.core.audio_io import write_wav
    scene = bpy.context.scene
    wav = tmp_path / "a.wav"
    write_wav(str(wav), np.zeros(16000 * 2, np.float32), 16000)   # 2 s
    se = scene.sequence_editor_create()
    assert compat.top_level_strips(se) is not None
    strip = compat.new_sound_strip(se, "a", str(wav), 3, 10)
    assert strip.channel == 3
    assert compat.strip_content_start(strip) == 10
    fps = scene.render.fps / scene.render.fps_base
    assert compat.strip_range(strip) == (10, 10 + round(2 * fps))
    assert compat.all_strips(se) == [strip]
    compat.remove_strip(se, strip)
    assert compat.all_strips(se) == []
