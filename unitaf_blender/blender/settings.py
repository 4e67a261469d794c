"""The panel's state as engine and take inputs: the preferences, the target object, the take
options, the engine and its request. Read by the operators, the set-up operators and the
panel; it draws nothing and runs nothing."""
import os

import bpy

from ..engines import GenerateRequest, get_engine
from . import props
from .takes import TakeError, TakeOptions

ADDON_ID = None   # top-level add-on package, set by register()


def preferences(context):
    addon = context.preferences.addons.get(ADDON_ID) if ADDON_ID else None
    return addon.preferences if addon is not None else None


def target_object(context):
    """The panel's target, else the active object when it is a mesh or an armature."""
    settings = context.scene.unitaf
    if settings.target is not None:
        return settings.target
    obj = context.active_object
    return obj if obj is not None and obj.type in ('MESH', 'ARMATURE') else None


def take_options(settings) -> TakeOptions:
    return TakeOptions(
        start_frame=None if settings.use_current_frame else settings.start_frame,
        intensity={"mouth": settings.intensity_mouth, "brows": settings.intensity_brows,
                   "eyes": settings.intensity_eyes, "other": settings.intensity_other},
        smoothing=settings.smoothing, interpolation=settings.interpolation,
        push_to_nla=settings.push_to_nla, add_sound=settings.add_sound,
        word_markers=settings.word_markers)


def active_engine_id(context) -> str:
    """The engine Generate uses: the scene's choice, or the preferences' default engine."""
    engine_id = context.scene.unitaf.engine
    if engine_id == props.DEFAULT_ENGINE:
        prefs = preferences(context)
        engine_id = prefs.default_engine if prefs is not None else ""
    return "" if engine_id in ("", "NONE") else engine_id


def _neural(context) -> bool:
    return active_engine_id(context) == "unitaf"


def emotion_spec(context) -> str:
    """The panel's emotion as an engine spec: "name:intensity", or 8 comma-separated weights
    (IndexTTS2 order, core.performance.EMOTIONS) when the UniTAF vector mode is on."""
    settings = context.scene.unitaf
    if _neural(context) and settings.emotion_mode == "VECTOR":
        return ",".join(f"{min(max(v, 0.0), 1.0):.4f}" for v in settings.emotion_vector)
    if settings.emotion == "neutral":
        return "calm:0.0"
    if settings.emotion == "auto":
        return "auto"
    return f"{settings.emotion}:{settings.emotion_intensity:.3f}"


def _abspath(path):
    return os.path.normpath(bpy.path.abspath(path)) if path else ""


def engine_options(context) -> dict:
    """request.options from the preferences and the scene (keys as engines/unitaf/engine.py reads
    them; the embedded engine ignores what it does not know)."""
    settings = context.scene.unitaf
    options = {}
    prefs = preferences(context)
    device = "AUTO"
    if prefs is not None:
        device = prefs.device
        if prefs.cache_dir:
            options["cache_dir"] = _abspath(prefs.cache_dir)
        if prefs.model_dir:
            options["model_dir"] = _abspath(prefs.model_dir)
    if _neural(context):
        if settings.device_override != "PREFS":
            device = settings.device_override
        options.update(precision=settings.precision.lower(), sampling=settings.sampling.lower(),
                       emo_alpha=float(settings.emo_alpha), expression_layer=settings.expression_layer.lower())
        if settings.emotion_clip:
            options["emotion_clip"] = _abspath(settings.emotion_clip)
    options["device"] = device.lower()
    return options


def request_voice(context):
    """UniTAF: the voice clip (empty = the bundled LJ Speech voice); other engines: the voice id."""
    settings = context.scene.unitaf
    if _neural(context):
        clip = settings.voice_clip.strip()
        if clip and not any(c in clip for c in "/\\."):   # a voice id such as "lj_speech"
            return clip
        return _abspath(clip) or None
    return settings.voice or None


def build_request(context) -> GenerateRequest:
    settings = context.scene.unitaf
    text = settings.text_block.as_string() if settings.text_block else settings.text
    if not text.strip():
        raise TakeError("Type the text to speak (or pick a Text datablock).")
    return GenerateRequest(text=text, emotion=emotion_spec(context), voice=request_voice(context),
                           seed=settings.seed, options=engine_options(context))


def engine_for(context):
    return get_engine(active_engine_id(context) or None)


def active_sound_strip(context):
    """The sequencer's active strip when it is a sound strip, else None."""
    se = context.scene.sequence_editor
    strip = se.active_strip if se is not None else None
    return strip if strip is not None and strip.type == 'SOUND' else None


def lipsync_source(context):
    """(recording path or None, sound strip or None): the Recording field, else the active
    sound strip."""
    path = context.scene.unitaf.lipsync_audio.strip()
    if path:
        return _abspath(path), None
    strip = active_sound_strip(context)
    if strip is None:
        raise TakeError("Choose a Recording file, or make a sound strip active in the Video Sequencer.")
    return None, strip
