"""Registration: load the repo exactly as an installed extension, and the operators in use."""
import pathlib
import sys

import pytest
from helpers import make_face

from blender_testutil import enabled_as_extension

bpy = pytest.importorskip("bpy")

ROOT = pathlib.Path(__file__).resolve().parents[2]
CLASSES = ("UNITAF_PT_main", "UNITAF_PT_mapping", "UNITAF_PT_keying", "UNITAF_UL_mapping")
OPERATORS = ("generate", "lipsync", "cancel", "import_performance", "mapping_auto", "mapping_preset",
             "mapping_clear")


@pytest.fixture
def fresh_types(clean_scene):
    """Other tests register the data classes lazily from the plain `unitaf_blender` import."""
    from unitaf_blender.blender import props
    props.unregister_properties()
    yield
    props.unregister_properties()


def test_enabled_as_installed_extension(fresh_types, tmp_path):
    if not (ROOT / "blender_manifest.toml").exists():
        pytest.skip("blender_manifest.toml is not in the repository root yet")
    with enabled_as_extension(bpy, ROOT, tmp_path, "unitaf_test") as (addon_id, mod, errors):
        assert not errors and mod is not None and mod.__name__ == addon_id
        for name in CLASSES:
            assert hasattr(bpy.types, name), name
        for op in OPERATORS:
            assert hasattr(bpy.ops.unitaf, op), op
        addon = bpy.context.preferences.addons.get(addon_id)
        assert addon is not None and addon.preferences is not None   # keyed by the top-level id
        assert addon.preferences.device == "AUTO"
        assert bpy.types.UNITAF_PT_main.bl_category == "UniTAF"
        assert sys.modules[addon_id + ".unitaf_blender"]._cli_handle is not None
        assert hasattr(bpy.context.scene, "unitaf") and hasattr(bpy.types.Object, "unitaf_mapping")
        # the operators run (background mode calls execute) and fail with a clear message
        with pytest.raises(RuntimeError, match="No target object"):
            bpy.ops.unitaf.generate()
    assert not errors
    for name in CLASSES:
        assert not hasattr(bpy.types, name), name
    assert not hasattr(bpy.context.scene, "unitaf")


def test_operators_in_use(fresh_types, assets, monkeypatch):
    import unitaf_blender
    csv = assets / "performances" / "MySlate_3_Jason_Millers_iPhone.csv"
    if not csv.exists():
        pytest.skip(f"needs {csv}")
    unitaf_blender.register("unitaf_blender")
    try:
        obj = make_face(bpy, keys=("JawOpen", "EyeBlinkLeft", "Odd"))
        bpy.context.view_layer.objects.active = obj
        scene = bpy.context.scene
        # mapping operators act on the active mesh and store the table on it
        assert bpy.ops.unitaf.mapping_auto() == {'FINISHED'}
        assert obj.unitaf_mapping.stored and len(obj.unitaf_mapping.rows) > 0
        assert bpy.ops.unitaf.mapping_preset(preset="livelink") == {'FINISHED'}
        assert {r.channel: r.shape_key for r in obj.unitaf_mapping.rows}["jawOpen"] == "JawOpen"
        assert bpy.ops.unitaf.mapping_clear() == {'FINISHED'} and not obj.unitaf_mapping.stored
        # import a Live Link Face CSV through the operator, with the panel's keying options
        scene.unitaf.use_current_frame = False
        scene.unitaf.start_frame = 12
        scene.unitaf.interpolation = "CONSTANT"
        assert bpy.ops.unitaf.import_performance(filepath=str(csv)) == {'FINISHED'}
        action = obj.data.shape_keys.animation_data.action
        assert action.name.startswith("UniTAF_Face_MySlate")
        assert action.frame_range[0] + action["unitaf_ease_frames"] == 12
        # the panel's Generate without text says so
        scene.unitaf.text = ""
        with pytest.raises(RuntimeError, match="text"):
            bpy.ops.unitaf.generate()
        # no engine installed: a clear message, and nothing is created
        from unitaf_blender import engines
        n_actions = len(bpy.data.actions)
        scene.unitaf.text = "Hello there."
        with monkeypatch.context() as m:
            m.setattr(engines.registry, "_ENGINES", {})
            with pytest.raises(RuntimeError, match="No engine is installed"):
                bpy.ops.unitaf.generate()
        assert len(bpy.data.actions) == n_actions
    finally:
        unitaf_blender.unregister()
    assert not hasattr(bpy.types, "UNITAF_PT_main")


def test_generate_operator_with_the_embedded_engine(fresh_types):
    import unitaf_blender
    from unitaf_blender.engines import list_engines
    if "embedded" not in [e[0] for e in list_engines()]:
        pytest.skip("embedded engine not registered")
    unitaf_blender.register("unitaf_blender")
    try:
        obj = make_face(bpy, keys=("jawOpen", "mouthClose", "mouthFunnel", "browInnerUp"))
        scene = bpy.context.scene
        scene.unitaf.target = obj
        scene.unitaf.text = "Hello there."
        scene.unitaf.emotion = "happy"
        scene.unitaf.engine = "embedded"
        scene.frame_current = 5
        try:
            result = bpy.ops.unitaf.generate()
        except RuntimeError as e:   # e.g. espeak-ng runtime missing on this machine
            if "espeak" in str(e).lower():
                pytest.skip(str(e))
            raise
        assert result == {'FINISHED'}
        action = obj.data.shape_keys.animation_data.action
        assert action["unitaf_engine"] == "embedded" and action.frame_range[0] + action["unitaf_ease_frames"] == 5
        from unitaf_blender.blender import compat
        if compat.has_audio():
            strips = compat.all_strips(scene.sequence_editor)
            assert len(strips) == 1 and compat.strip_content_start(strips[0]) == 5
    finally:
        unitaf_blender.unregister()


def test_animate_from_audio_operator_on_a_file_and_on_the_active_strip(fresh_types):
    """The panel's Animate from Audio: the Recording file (its strip plays the file in place),
    or the active sound strip (the take starts where it does, no new strip)."""
    import unitaf_blender
    from shared_paths import LJ, LJ_TEXT, need
    from unitaf_blender.blender import compat
    recording = str(need(LJ))
    unitaf_blender.register("unitaf_blender")
    try:
        obj = make_face(bpy, keys=("jawOpen", "mouthClose", "mouthFunnel", "browInnerUp"))
        scene = bpy.context.scene
        settings = scene.unitaf
        settings.target, settings.engine, settings.text = obj, "embedded", LJ_TEXT
        settings.lipsync_audio = recording
        scene.frame_current = 3
        assert bpy.ops.unitaf.lipsync() == {'FINISHED'}
        action = obj.data.shape_keys.animation_data.action
        assert action.frame_range[0] + action["unitaf_ease_frames"] == 3
        assert [m.name for m in action.pose_markers][:1] == ["Printing"]
        if not compat.has_audio():
            return
        strips = compat.all_strips(scene.sequence_editor)
        assert len(strips) == 1 and bpy.path.abspath(strips[0].sound.filepath) == recording
        assert strips[0].sound.packed_file is None                       # referenced, never copied
        # now from the active strip, without a transcript (the signal-only mode)
        strips[0].frame_start = 40
        scene.sequence_editor.active_strip = strips[0]
        settings.lipsync_audio, settings.lipsync_use_text = "", False
        assert bpy.ops.unitaf.lipsync() == {'FINISHED'}
        action = obj.data.shape_keys.animation_data.action
        assert action.frame_range[0] + action["unitaf_ease_frames"] == 40 and len(compat.all_strips(scene.sequence_editor)) == 1
    finally:
        unitaf_blender.unregister()
