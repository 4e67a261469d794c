"""Panel draw code against a recording layout (no window exists in the bpy module).

The recorder checks that every property a panel shows exists on its data and every button
names a registered operator, so renamed properties or operators fail here.
"""
import pytest
from helpers import make_face

bpy = pytest.importorskip("bpy")


class Recorder:
    def __init__(self, log):
        self.log = log
        self.enabled = True

    def _child(self, *a, **k):
        return Recorder(self.log)
    row = column = box = grid_flow = split = _child

    def prop(self, data, name, **k):
        assert name in data.bl_rna.properties, name
        self.log.append(("prop", name))

    def prop_search(self, data, name, search_data, search_name, **k):
        assert name in data.bl_rna.properties and search_name in search_data.bl_rna.properties
        self.log.append(("prop_search", name))

    def operator(self, idname, **k):
        mod, name = idname.split(".")
        assert hasattr(getattr(bpy.ops, mod), name), idname
        self.log.append(("operator", idname))

    def operator_menu_enum(self, idname, prop, **k):
        mod, name = idname.split(".")
        op = getattr(getattr(bpy.ops, mod), name)
        assert prop in op.get_rna_type().properties, (idname, prop)
        self.log.append(("operator_menu_enum", idname, prop))

    def label(self, text="", **k):
        self.log.append(("label", text))

    def progress(self, text="", factor=0.0, type='BAR'):
        self.log.append(("progress", text, factor))

    def template_list(self, list_type, list_id, data, prop, active_data, active_prop, **k):
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.log.append(("list", prop))

    def separator(self, **k):
        pass


def _draw(panel_cls):
    log = []
    panel = type("P", (), {"layout": Recorder(log)})()
    panel_cls.draw(panel, bpy.context)
    return log


@pytest.fixture
def registered(clean_scene):
    import unitaf_blender
    from unitaf_blender.blender import props
    props.unregister_properties()
    unitaf_blender.register("unitaf_blender")
    yield
    unitaf_blender.unregister()


def test_panels_draw(registered):
    from unitaf_blender.blender.panel import jobs, ui
    obj = make_face(bpy, keys=("jawOpen", "Extra"))
    bpy.context.view_layer.objects.active = obj
    log = _draw(ui.UNITAF_PT_main)
    assert ("operator", "unitaf.generate") in log and ("operator", "unitaf.import_performance") in log
    assert ("label", "Using active mesh: Face") in log
    assert {"text", "emotion", "engine", "voice", "target", "seed"} <= {e[1] for e in log if e[0] == "prop"}
    log = _draw(ui.UNITAF_PT_keying)
    assert {"intensity_mouth", "smoothing", "interpolation", "push_to_nla", "add_sound"} <= {e[1] for e in log}
    log = _draw(ui.UNITAF_PT_mapping)
    assert ("label", "Automatic matching (no stored table)") in log
    assert ("operator_menu_enum", "unitaf.mapping_preset", "preset") in log
    assert not obj.is_property_set("unitaf_mapping")   # drawing never adds data to the object
    assert any(e[0] == "label" and e[1].startswith("1/52 channels mapped") for e in log)
    bpy.ops.unitaf.mapping_auto()
    assert ("list", "rows") in _draw(ui.UNITAF_PT_mapping)
    row = obj.unitaf_mapping.rows[0]
    item_log = []
    ui.UNITAF_UL_mapping.draw_item(None, bpy.context, Recorder(item_log), None, row, 0, None, "", 0, 0)
    assert ("label", row.channel) in item_log and ("prop_search", "shape_key") in item_log

    class Running:   # a job in flight shows progress and Cancel instead of Generate
        finished, progress, stage, state, error = False, 0.4, "Synthesising", jobs.RUNNING, None
    jobs.set_current(Running())
    try:
        log = _draw(ui.UNITAF_PT_main)
    finally:
        jobs.set_current(None)
    assert ("progress", "Synthesising", 0.4) in log and ("operator", "unitaf.cancel") in log
    assert ("operator", "unitaf.generate") not in log


def test_face_bones_panel_draws_and_fills_the_pose_map(registered):
    """The Face Bones sub-panel of an armature target: its bones (choosable), its pose map with
    Auto-fill; drawing adds nothing to the armature."""
    from unitaf_blender.blender.panel import rig_ui
    arm = bpy.data.objects.new("Rig", bpy.data.armatures.new("Rig"))
    bpy.context.scene.collection.objects.link(arm)
    bpy.context.view_layer.objects.active = arm
    bpy.ops.object.mode_set(mode='EDIT')
    for name, z in (("Head", 1.5), ("Jaw", 1.4)):
        bone = arm.data.edit_bones.new(name)
        bone.head, bone.tail = (0, 0, z), (0, -0.1, z)
    bpy.ops.object.mode_set(mode='OBJECT')
    log = _draw(rig_ui.UNITAF_PT_face_bones)
    assert ("label", "jaw bone: jaw Jaw") in log
    assert {"unitaf_head_bone", "unitaf_jaw_bone"} <= {e[1] for e in log if e[0] == "prop_search"}
    assert ("operator", "unitaf.poses_auto_fill") in log
    assert ("label", "No pose map: the face rig and bones are used") in log
    assert not arm.is_property_set("unitaf_poses")
    arm.animation_data_create()
    arm.pose.bones["Jaw"].keyframe_insert("rotation_quaternion", frame=1)
    arm.animation_data.action.name = "mouth_MBP"
    arm.animation_data.action = None
    bpy.ops.unitaf.poses_auto_fill()
    log = _draw(rig_ui.UNITAF_PT_face_bones)
    assert ("list", "rows") in log and ("label", "1 of 10 mouth shapes mapped") in log
    row = next(r for r in arm.unitaf_poses.rows if r.shape == "MBP")
    assert row.action.name == "mouth_MBP"
    item_log = []
    rig_ui.UNITAF_UL_poses.draw_item(None, bpy.context, Recorder(item_log), None, row, 0, None, "", 0, 0)
    assert ("label", "MBP") in item_log and ("prop", "action") in item_log
    bpy.ops.unitaf.poses_clear()
    assert len(arm.unitaf_poses.rows) == 0
