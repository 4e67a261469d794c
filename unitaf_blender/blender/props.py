"""Blender properties: scene settings and the per-object mapping table (data only; the add-on
preferences, which draw UI, are in ui.py)."""
import bpy
from bpy.props import (
    BoolProperty,
    CollectionProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ..core.channels import INTERPOLATIONS
from ..core.performance import EMOTIONS

# Enum item lists returned from callbacks must stay referenced from Python (Blender keeps
# raw pointers to the strings), so dynamic lists are cached at module level.
_ENGINE_ITEMS = []
_PRESET_ITEMS = []


_SCENE_ENGINE_ITEMS = []
DEFAULT_ENGINE = "DEFAULT"   # scene setting: use the engine chosen in the add-on preferences


def engine_items(self=None, context=None):
    from ..engines import list_engines
    items = [(eid, label, desc) for eid, label, desc in list_engines()]
    if not items:
        items = [("NONE", "No engine installed", "No generation engine is installed in this build")]
    _ENGINE_ITEMS[:] = items
    return _ENGINE_ITEMS


def scene_engine_items(self=None, context=None):
    """The scene's engine choice: "Default" (follows the preferences) first, then every engine."""
    _SCENE_ENGINE_ITEMS[:] = [(DEFAULT_ENGINE, "Default",
                               "The default engine set in the add-on preferences")] + engine_items()
    return _SCENE_ENGINE_ITEMS


def voice_search(self, context, edit_text):
    """The *Voice* field's suggestions: the scene's engine's voices (embedded: natural voices
    first), filtered by what is typed; values are voice ids, shown with their labels."""
    from ..engines import EngineError, get_engine
    engine_id = None if self.engine in (DEFAULT_ENGINE, "NONE") else self.engine
    try:
        voices = get_engine(engine_id).voices()
    except EngineError:
        return []
    typed = edit_text.strip().lower()
    return [(vid, label) for vid, label in voices if not typed or typed in vid.lower() or typed in label.lower()]


def preset_items(self=None, context=None):
    from ..core.mapping import PRESETS
    _PRESET_ITEMS[:] = [(pid, label, desc) for pid, (label, desc) in PRESETS.items()] or [
        ("NONE", "No presets", "")]
    return _PRESET_ITEMS


EMOTION_ITEMS = [("neutral", "Neutral", "No emotion"),
                 ("auto", "Auto (from text)", "Each sentence's emotion read from its words by the "
                                              "text-emotion model (models download --feature emotion-text)")] + [
    (e, e.capitalize(), f"Speak {e}") for e in EMOTIONS]


DEVICE_ITEMS = [("AUTO", "Auto", "CUDA GPU, else Apple GPU (MPS), else CPU"), ("CPU", "CPU", "Slow, needs only RAM"),
                ("CUDA", "CUDA", "NVIDIA GPU"), ("MPS", "MPS", "Apple GPU")]
PRECISION_ITEMS = [("AUTO", "Auto", "fp16 on CUDA; bf16 on CPUs with native bf16 (AMX / AVX512-BF16), else fp32"),
                   ("FP32", "FP32", "Full precision (reference-exact)"),
                   ("FP16", "FP16", "Half precision (GPU only)"), ("BF16", "BF16", "bfloat16 (recent GPUs / CPUs)")]
SAMPLING_ITEMS = [("FAST", "Fast", "One sampled sequence (default)"),
                  ("REFERENCE", "Reference", "The reference implementation's 3-beam sampling (slower)"),
                  ("GREEDY", "Greedy", "Deterministic, no sampling")]


# Newer Blender warns about "//" (blend-relative) paths unless the property opts in; the
# option does not exist in older releases, so it is used only where Property exposes it.
_REL_PATH = ({'PATH_SUPPORTS_BLEND_RELATIVE'} if "is_path_supports_blend_relative" in
             bpy.types.Property.bl_rna.properties else set())


def _is_face_target(self, obj):
    return obj.type in ('MESH', 'ARMATURE')


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


class UNITAF_PG_settings(bpy.types.PropertyGroup):
    text: StringProperty(name="Text", description="What to say. Inline tags: [happy] Hi! [sad:0.6] Bye")
    text_block: PointerProperty(name="Text Block", type=bpy.types.Text,
                                description="Use a Text datablock instead of the text field")
    emotion: EnumProperty(name="Emotion", items=EMOTION_ITEMS, default="neutral")
    emotion_intensity: FloatProperty(name="Intensity", default=0.8, min=0.0, max=1.0)
    engine: EnumProperty(name="Engine", items=scene_engine_items)
    voice: StringProperty(name="Voice", search=voice_search,
                          description="Engine voice id (empty: the default, a natural voice for English); "
                                      "the list shows natural voices first")
    # UniTAF (neural) engine
    voice_clip: StringProperty(name="Voice Clip", subtype='FILE_PATH', options=_REL_PATH,
                               description="A .wav of the voice to speak in (3-15 s of clear speech); "
                                           "empty = the bundled LJ Speech voice")
    emotion_mode: EnumProperty(name="Emotion Mode", default="PRESET", items=[
        ("PRESET", "Preset", "One emotion with an intensity"),
        ("VECTOR", "Mix", "A mix of the 8 emotions, each 0..1")])
    emotion_vector: FloatVectorProperty(name="Emotion Mix", size=len(EMOTIONS), min=0.0, max=1.0,
                                        default=(0.0,) * len(EMOTIONS),
                                        description="Intensity of " + ", ".join(EMOTIONS))
    emo_alpha: FloatProperty(name="Emotion Strength", default=1.0, min=0.0, max=1.0,
                             description="How strongly the emotion (mix, preset or clip) colours the voice")
    emotion_clip: StringProperty(name="Emotion Clip", subtype='FILE_PATH', options=_REL_PATH,
                                 description="Optional .wav whose emotion to copy (blended with the strength)")
    expression_layer: EnumProperty(name="Expression Layer", default="AUTO", items=[
        ("AUTO", "Auto", "On unless a trained expression model is installed"),
        ("ON", "On", "Add emotion-driven brows/eyes/cheeks to the neural face"),
        ("OFF", "Off", "The neural face only")])
    device_override: EnumProperty(name="Device", default="PREFS", items=[
        ("PREFS", "Preferences", "Use the device chosen in the add-on preferences")] + DEVICE_ITEMS)
    precision: EnumProperty(name="Precision", default="AUTO", items=PRECISION_ITEMS)
    sampling: EnumProperty(name="Sampling", default="FAST", items=SAMPLING_ITEMS)
    target: PointerProperty(name="Target", type=bpy.types.Object, poll=_is_face_target,
                            description="The face: a mesh with shape keys, or an armature with face bones "
                                        "(default: the active mesh or armature)")
    use_current_frame: BoolProperty(name="Start at Current Frame", default=True)
    start_frame: IntProperty(name="Start Frame", default=1)
    seed: IntProperty(name="Seed", default=0, min=0)
    # keying options
    intensity_mouth: FloatProperty(name="Mouth", default=1.0, min=0.0, soft_max=2.0)
    intensity_brows: FloatProperty(name="Brows", default=1.0, min=0.0, soft_max=2.0)
    intensity_eyes: FloatProperty(name="Eyes", default=1.0, min=0.0, soft_max=2.0)
    intensity_other: FloatProperty(name="Other", default=1.0, min=0.0, soft_max=2.0)
    smoothing: IntProperty(name="Smoothing", default=0, min=0, soft_max=9,
                           description="Moving-average window in frames (0 = off)")
    interpolation: EnumProperty(name="Interpolation", default="LINEAR",
                                items=[(i, i.capitalize(), "") for i in INTERPOLATIONS])
    push_to_nla: BoolProperty(name="Push to NLA", default=False,
                              description="Place the take as an NLA strip instead of the active action")
    add_sound: BoolProperty(name="Add Sound Strip", default=True)
    # Animate from Audio (lip sync of a recorded line)
    lipsync_audio: StringProperty(name="Recording", subtype='FILE_PATH', options=_REL_PATH,
                                  description="A recorded line (.wav; .flac/.ogg/.mp3 where Blender decodes "
                                              "them). Empty: the active sound strip")
    lipsync_use_text: BoolProperty(name="Text Is the Transcript", default=True,
                                   description="Align the text above to the recording (accurate). Off: the "
                                               "mouth follows the sound alone (less accurate)")
    word_markers: BoolProperty(name="Word Markers", default=True,
                               description="Put the words as pose markers on the take's action")


# Bone roles a take moves (rig.py finds them by name; the armature's properties override).
BONE_ROLES = (("head", "Head"), ("neck", "Neck"), ("eye_l", "Left Eye"), ("eye_r", "Right Eye"), ("jaw", "Jaw"))

PROPERTY_CLASSES = (UNITAF_PG_mapping_row, UNITAF_PG_mapping, UNITAF_PG_pose_row, UNITAF_PG_pose_map,
                    UNITAF_PG_settings)


def register_properties():
    """Register the data classes (idempotent: the keying API may need them without the UI)."""
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
    if not hasattr(bpy.types.Scene, "unitaf"):
        bpy.types.Scene.unitaf = PointerProperty(type=UNITAF_PG_settings)


def unregister_properties():
    for owner, name in ((bpy.types.Scene, "unitaf"), (bpy.types.Object, "unitaf_mapping"),
                        (bpy.types.Object, "unitaf_poses"),
                        (bpy.types.Object, "unitaf_skip"),
                        *((bpy.types.Object, f"unitaf_{role}_bone") for role, _ in BONE_ROLES)):
        if hasattr(owner, name):
            delattr(owner, name)
    for cls in reversed(PROPERTY_CLASSES):
        if getattr(cls, "is_registered", False):
            bpy.utils.unregister_class(cls)
