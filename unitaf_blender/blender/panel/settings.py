"""The panel's state as a raw request (engines/request_path.py) and take options: the preferences,
the target object, the engine and what it declares, the emotion, voice, recording and option
values. Read by the operators, the set-up operators and the panel; it draws nothing and runs
nothing."""
from ...core.emotion import DEFAULT_EMOTION
from ...engines import engine_class
from ...engines.request_path import RawRequest
from ..recording import RecordingFile, strip_recording
from ..takes import TakeError, TakeOptions
from .engine_options import option_values
from .scene_settings import DEFAULT_ENGINE, absolute_path

ADDON_ID = None   # top-level add-on package, set by register()


def preferences(context):
    addon = context.preferences.addons.get(ADDON_ID) if ADDON_ID else None
    return addon.preferences if addon is not None else None


def preference_folders(context) -> dict:
    """The preferences' model folders, absolute: {"cache_dir": ..., "model_dir": ...}, None where unset."""
    prefs = preferences(context)
    return {name: absolute_path(getattr(prefs, name)) or None if prefs is not None else None
            for name in ("cache_dir", "model_dir")}


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
    if engine_id == DEFAULT_ENGINE:
        prefs = preferences(context)
        engine_id = prefs.default_engine if prefs is not None else ""
    return "" if engine_id in ("", "NONE") else engine_id


def active_engine(context):
    """(id, class) of the engine Generate uses; EngineUnavailable when it cannot load."""
    cls = engine_class(active_engine_id(context) or None)
    return cls.id, cls


def emotion_spec(context, engine_cls) -> str:
    """The panel's emotion as an engine spec: "name:intensity", or 8 comma-separated weights
    (IndexTTS2 order, core.performance.EMOTIONS) when the engine takes a mix and Mix is on."""
    settings = context.scene.unitaf
    if engine_cls.emotion_mix and settings.emotion_mode == "VECTOR":
        return ",".join(f"{min(max(v, 0.0), 1.0):.4f}" for v in settings.emotion_vector)
    if settings.emotion in (DEFAULT_EMOTION, "auto"):
        return settings.emotion
    return f"{settings.emotion}:{settings.emotion_intensity:.3f}"


def request_voice(context, engine_cls):
    """A clip-voiced engine: the voice clip (empty: the engine's own default; a bare id such as
    "lj_speech" passes through); other engines: the voice id."""
    settings = context.scene.unitaf
    if engine_cls.voice_input.kind == "clip":
        clip = settings.voice_clip.strip()
        if clip and not any(c in clip for c in "/\\."):   # a voice id such as "lj_speech"
            return clip
        return absolute_path(clip) or None
    return settings.voice or None


def raw_request(context, recording=None) -> RawRequest:
    """What the panel asks for: the text (the recording's transcript when `recording` is given),
    emotion, voice, seed, and the option values of the active engine."""
    settings = context.scene.unitaf
    engine_id, cls = active_engine(context)
    text = settings.text_block.as_string() if settings.text_block else settings.text
    if recording is None and not text.strip():
        raise TakeError("Type the text to speak (or pick a Text datablock).")
    if recording is not None:
        text = text if settings.lipsync_use_text and text.strip() else None
    return RawRequest(engine_id=engine_id, text=text, recording=recording, emotion=emotion_spec(context, cls),
                      voice=None if recording is not None else request_voice(context, cls), seed=settings.seed,
                      options=request_options(context))


def request_options(context) -> dict:
    """The option values the panel sends to the active engine (the preferences' and the scene's)."""
    engine_id, cls = active_engine(context)
    return option_values(context, engine_id, cls, preferences(context))


def active_sound_strip(context):
    """The sequencer's active strip when it is a sound strip, else None."""
    se = context.scene.sequence_editor
    strip = se.active_strip if se is not None else None
    return strip if strip is not None and strip.type == 'SOUND' else None


def lipsync_recording(context):
    """(recording, the frame a sound strip's recording starts at or None): the Recording field's
    file (read when the request is prepared), else the active sound strip (read now: bpy data is
    read on the main thread only)."""
    path = context.scene.unitaf.lipsync_audio.strip()
    if path:
        return RecordingFile(absolute_path(path)), None
    strip = active_sound_strip(context)
    if strip is None:
        raise TakeError("Choose a Recording file, or make a sound strip active in the Video Sequencer.")
    return strip_recording(strip)
