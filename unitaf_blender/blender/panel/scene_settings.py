"""The panel's scene settings (`scene.unitaf`): the text, emotion, engine, voice, target, frame and
keying options, and the values of each engine's declared options (engine_options.py). Data
only; the add-on preferences, which draw, are in ui.py."""
import os

import bpy
from bpy.props import (
    BoolProperty,
    EnumProperty,
    FloatProperty,
    FloatVectorProperty,
    IntProperty,
    PointerProperty,
    StringProperty,
)

from ...core.channels import INTERPOLATIONS
from ...core.emotion import DEFAULT_EMOTION
from ...core.performance import EMOTIONS
from ...engines import list_engines

# Enum item lists returned from callbacks must stay referenced from Python (Blender keeps
# raw pointers to the strings), so dynamic lists are cached at module level.
_ENGINE_ITEMS = []
_SCENE_ENGINE_ITEMS = []
DEFAULT_ENGINE = "DEFAULT"   # scene setting: use the engine chosen in the add-on preferences


def engine_items(self=None, context=None):
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
    from ...engines import EngineError, get_engine
    engine_id = None if self.engine in (DEFAULT_ENGINE, "NONE") else self.engine
    try:
        voices = get_engine(engine_id).voices()
    except EngineError:
        return []
    typed = edit_text.strip().lower()
    return [(vid, label) for vid, label in voices if not typed or typed in vid.lower() or typed in label.lower()]


EMOTION_ITEMS = [(DEFAULT_EMOTION, "Neutral", "No emotion"),
                 ("auto", "Auto (from text)", "Each sentence's emotion read from its words by the "
                                              "text-emotion model (models download --feature emotion-text)")] + [
    (e, e.capitalize(), f"Speak {e}") for e in EMOTIONS]


# Newer Blender warns about "//" (blend-relative) paths unless the property opts in; the
# option does not exist in older releases, so it is used only where Property exposes it.
REL_PATH = ({'PATH_SUPPORTS_BLEND_RELATIVE'} if "is_path_supports_blend_relative" in
            bpy.types.Property.bl_rna.properties else set())


def absolute_path(path):
    """A path setting's value made absolute ("//" is the .blend's folder) and normalised; "" stays ""."""
    return os.path.normpath(bpy.path.abspath(path)) if path else ""


def _is_face_target(self, obj):
    return obj.type in ('MESH', 'ARMATURE')


class UNITAF_PG_settings(bpy.types.PropertyGroup):
    text: StringProperty(name="Text", description="What to say. Inline tags: [happy] Hi! [sad:0.6] Bye")
    text_block: PointerProperty(name="Text Block", type=bpy.types.Text,
                                description="Use a Text datablock instead of the text field")
    emotion: EnumProperty(name="Emotion", items=EMOTION_ITEMS, default=DEFAULT_EMOTION)
    emotion_intensity: FloatProperty(name="Intensity", default=0.8, min=0.0, max=1.0)
    engine: EnumProperty(name="Engine", items=scene_engine_items)
    voice: StringProperty(name="Voice", search=voice_search,
                          description="Engine voice id (empty: the default, a natural voice for English); "
                                      "the list shows natural voices first")
    voice_clip: StringProperty(name="Voice Clip", subtype='FILE_PATH', options=REL_PATH,
                               description="A .wav of the voice to speak in, for engines that imitate a clip "
                                           "(3-15 s of clear speech)")
    emotion_mode: EnumProperty(name="Emotion Mode", default="PRESET", items=[
        ("PRESET", "Preset", "One emotion with an intensity"),
        ("VECTOR", "Mix", "A mix of the 8 emotions, each 0..1")])
    emotion_vector: FloatVectorProperty(name="Emotion Mix", size=len(EMOTIONS), min=0.0, max=1.0,
                                        default=(0.0,) * len(EMOTIONS),
                                        description="Intensity of " + ", ".join(EMOTIONS))
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
    lipsync_audio: StringProperty(name="Recording", subtype='FILE_PATH', options=REL_PATH,
                                  description="A recorded line (.wav; .flac/.ogg/.mp3 where Blender decodes "
                                              "them). Empty: the active sound strip")
    lipsync_use_text: BoolProperty(name="Text Is the Transcript", default=True,
                                   description="Align the text above to the recording (accurate). Off: the "
                                               "mouth follows the sound alone (less accurate)")
    word_markers: BoolProperty(name="Word Markers", default=True,
                               description="Put the words as pose markers on the take's action")


def register_scene_settings():
    if not getattr(UNITAF_PG_settings, "is_registered", False):
        bpy.utils.register_class(UNITAF_PG_settings)
    bpy.types.Scene.unitaf = PointerProperty(type=UNITAF_PG_settings)


def unregister_scene_settings():
    if hasattr(bpy.types.Scene, "unitaf"):
        del bpy.types.Scene.unitaf
    if getattr(UNITAF_PG_settings, "is_registered", False):
        bpy.utils.unregister_class(UNITAF_PG_settings)
