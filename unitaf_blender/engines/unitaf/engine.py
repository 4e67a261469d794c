"""The UniTAF engine: text + emotion + voice prompt -> neural speech and a 25 fps face.

request.options: the options declared in options.OPTIONS (model folders, device, precision,
sampling, emotion strength and clip, expression layer, synthesis settings); all optional.

lipsync(LipsyncRequest): a face for a RECORDED line from its ground-truth tokens (lipsync.py); the
transcript is required. Besides the declared options (max_segment_s among them), the request path
passes:
  segments                [(start_s, end_s, text)] the transcript aligned to the recording (an aligner's
                          split); absent: cut at pauses, the text split by speaking time
  words / phonemes        [(start_s, end_s, label)] passed through to the Performance
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Optional

from ...core.emotion import emotion_label, parse_emotion
from ...core.performance import Performance, TimedLabel
from ...core.recording import RecordingError, check_given
from .. import CheckedRequest, EngineError, EngineUnavailable, GenerateRequest, LipsyncRequest, check_cancel, reporter
from ..option_schema import VoiceInput
from .options import (
    MAX_SEGMENT,
    OPTIONS,
    SAMPLING,
    SAMPLING_PRESETS,
    SamplingConfig,
    SynthesisOptions,
    device_name,
    expression_mode_name,
    precision_name,
)
from .segment_plan import MAX_SEGMENT_S, check_segments, parse_transcript
from .store import ModelStore
from .text import check_script, use_chinese

ENGINE_VERSION = "1"
VOICES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "voices")
DEFAULT_VOICE = "lj_speech"
_VOICE_FILES = {DEFAULT_VOICE: ("lj_speech_default.wav", "LJ Speech reader, female, US English (public domain)")}
_AUDIO_EXT = (".wav",)


def _torch_missing_message(exc) -> str:
    return (f"The UniTAF engine needs PyTorch, which is not installed ({exc}). Use 'Install neural runtime' "
            "in the add-on preferences (or the CLI command `install-runtime`).")


def resolve_voice(voice) -> str:
    """Voice id or path -> a prompt .wav path (None/'default' = the bundled public-domain voice)."""
    if voice in (None, "", "default"):
        voice = DEFAULT_VOICE
    if voice in _VOICE_FILES:
        return os.path.join(VOICES_DIR, _VOICE_FILES[voice][0])
    path = os.path.expanduser(os.fspath(voice))
    if os.path.splitext(path)[1].lower() not in _AUDIO_EXT:
        raise EngineError(f"Unknown UniTAF voice '{voice}': give a .wav voice clip (3-15 s of clear speech) or "
                          f"one of: {', '.join(_VOICE_FILES)}.")
    if not os.path.isfile(path):
        raise EngineError(f"Voice clip not found: {path}")
    return path


def _flag(value, name) -> str:
    if value in (None, "auto"):
        return "auto"
    if isinstance(value, str):
        v = value.strip().lower()
        if v in ("1", "true", "on", "yes"):
            return "on"
        if v in ("0", "false", "off", "no"):
            return "off"
        raise EngineError(f"option {name} must be on, off or auto, got {value!r}")
    return "on" if value else "off"


def _sampling(options) -> SamplingConfig:
    name = str(options.get("sampling", SAMPLING.default)).lower()
    if name not in SAMPLING_PRESETS:
        raise EngineError(f"sampling must be one of {', '.join(SAMPLING_PRESETS)}, got {name!r}")
    cfg = SamplingConfig(**SAMPLING_PRESETS[name])
    if options.get("max_mel_tokens") is not None:
        cfg.max_new_tokens = int(options["max_mel_tokens"])
        if cfg.max_new_tokens < 1:
            raise EngineError("max_mel_tokens must be at least 1")
    return cfg


# request.options that set SynthesisOptions fields directly (the dataclass keeps the defaults)
_SYNTH_FIELDS = {"diffusion_steps": int, "cfg_rate": float, "interval_silence_ms": int,
                 "max_text_tokens": int, "emo_alpha": float, "face_timing": str}


@dataclass
class _ModelSettings:
    """What generate and lipsync share: the emotion clip, the face layers, device and models."""
    emotion_clip: Optional[str]
    layer: str                       # on | off | auto
    expression_checkpoint: Optional[str]
    expression_mode: str             # one of options.EXPRESSION_MODES
    device: str                      # a checked name (options.DEVICES or cuda:N); devices.pick_device resolves it
    precision: str                   # one of options.PRECISIONS
    store: ModelStore


@dataclass
class _Settings(_ModelSettings):
    """Everything `check` parsed from a request, for `generate` to use as is."""
    voice_path: str = ""
    default_emotion: object = None   # float32 [8]
    synth: Optional[SynthesisOptions] = None


@dataclass
class _LipsyncSettings(_ModelSettings):
    """Everything `check_lipsync` parsed from a LipsyncRequest, for `lipsync` to use as is."""
    audio: object = None             # float32 [N], the recording as given (None: only its length was)
    default_emotion: object = None   # float32 [8]
    transcript: object = None        # segment_plan.Transcript (tags removed, emotion per character range)
    segments: Optional[list] = None  # [segment_plan.GivenSegment] from options["segments"]
    max_segment_s: float = MAX_SEGMENT_S
    emo_alpha: float = 1.0
    labels: tuple = ((), ())         # (phonemes, words) as TimedLabel lists, when given


@dataclass
class UniTAFCheckedRequest(CheckedRequest):
    settings: Optional[_ModelSettings] = None


def _model_settings(opts) -> dict:
    """The _ModelSettings fields from request options; the torch and model-file checks come last, so a
    misspelt option is reported first and without importing torch."""
    emotion_clip = opts.get("emotion_clip") or None
    if emotion_clip and not os.path.isfile(emotion_clip):
        raise EngineError(f"Emotion clip not found: {emotion_clip}")
    expression_checkpoint = opts.get("expression_checkpoint") or None
    if expression_checkpoint and not os.path.isfile(expression_checkpoint):
        raise EngineError(f"Expression model not found: {expression_checkpoint}")
    layer = _flag(opts.get("expression_layer", "auto"), "expression_layer")
    expression_mode = expression_mode_name(opts.get("expression_mode"))
    device, precision = device_name(opts.get("device")), precision_name(opts.get("precision"))
    if importlib.util.find_spec("torch") is None:   # find, never import: check stays light
        raise EngineUnavailable(_torch_missing_message("no module named 'torch'"))
    store = ModelStore(cache_dir=opts.get("cache_dir"), model_dir=opts.get("model_dir"))
    store.require()   # ModelsMissing: every missing file, the download size and how to get them
    return dict(emotion_clip=emotion_clip, layer=layer, expression_checkpoint=expression_checkpoint,
                expression_mode=expression_mode, device=device, precision=precision, store=store)


def _parse_default_emotion(spec):
    try:
        return parse_emotion(spec)
    except ValueError as exc:
        raise EngineError(f"Bad emotion: {exc}") from exc


def _timed_labels(value, name) -> list:
    """options["words"] / ["phonemes"]: [(start_s, end_s, label)] -> [TimedLabel]."""
    if value is None:
        return []
    try:
        return [TimedLabel(float(a), float(b), str(label)) for a, b, label in value]
    except (TypeError, ValueError):
        raise EngineError(f"option {name} must be a list of (start_s, end_s, label)") from None


def _emo_alpha(opts) -> float:
    try:
        alpha = float(opts.get("emo_alpha", 1.0))
    except (TypeError, ValueError):
        raise EngineError(f"Bad UniTAF option: emo_alpha must be a number, got {opts.get('emo_alpha')!r}") from None
    if not 0.0 <= alpha <= 1.0:
        raise EngineError(f"Bad UniTAF option: emo_alpha must lie in 0..1, got {alpha}")
    return alpha


_NO_TRANSCRIPT = ("The UniTAF engine animates a recording from what is said in it (the paper's ground-truth "
                  "tokens), so it needs the transcript. Type the line's text, or to animate the recording from "
                  "its sound alone use the embedded engine's signal-only mode (--engine embedded without a "
                  "transcript).")


def _check_script(text, default_emotion, language=None) -> None:
    """text.check_script as an EngineError, plus: something left to say once tags are removed,
    and an explicit `language` the model can obey (it reads each span as Chinese or English,
    decided from the span's own text: a language that differs is refused, never ignored)."""
    try:
        spans = check_script(text, default_emotion)
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    if not spans:
        raise EngineError("the script has no speakable text (only tags or punctuation)")
    if language:
        wanted = _LANGUAGES.get(str(language).split("+")[0].split("-")[0].lower())
        read = {"Chinese" if use_chinese(span.text) else "English" for span in spans}
        if wanted is None or read != {wanted}:
            raise EngineError(
                f"The UniTAF engine cannot speak this text in the language '{language}': it speaks Chinese "
                f"and English and reads this text as {' and '.join(sorted(read))}. Leave the language out, "
                "or use the embedded engine for other languages.")


_LANGUAGES = {"en": "English", "zh": "Chinese", "cmn": "Chinese"}


@contextlib.contextmanager
def _loaded(settings: _ModelSettings, progress, cancel, first_stage: str):
    """(models, device, devices.Precision, report) for these settings, loaded once per session
    (devices.get_or_load); the body runs under the out-of-memory guard of that device."""
    from . import devices, model_set
    device = devices.pick_device(settings.device)
    prec = devices.pick_precision(device, settings.precision)
    report = reporter(progress)
    store, expr_ckpt, expr_mode = settings.store, settings.expression_checkpoint, settings.expression_mode
    key = ("unitaf", store.model_dir or store.cache_dir, str(device), str(prec.dtype), prec.int8, expr_ckpt, expr_mode)
    with devices.oom_guard(device):
        # the precision and why (e.g. "cpu, bf16: native bf16 on this CPU") shows in the panel and CLI
        report(0.0, f"loading models ({device.type}, {prec.name}: {prec.why})" if key not in devices.cached_keys()
               else first_stage)
        models = devices.get_or_load(key, lambda: model_set.load_models(store, device, prec.dtype, expr_ckpt, expr_mode,
                                                                        gpt_int8=prec.int8))
        check_cancel(cancel)
        yield models, device, prec, report


class UniTAFEngine:
    id = "unitaf"
    label = "UniTAF (neural)"
    options = OPTIONS
    voice_input = VoiceInput("clip", "Voice Clip", "A .wav of the voice to speak in (3-15 s of clear speech); "
                             "empty = the bundled LJ Speech voice", empty="Voice: bundled LJ Speech")
    emotion_mix = True
    # lipsync works segment by segment: the request path passes the aligner's text<->time split
    # (engines.segments.with_segments) as options["segments"] for long recordings
    wants_segments = True

    def assets(self, options=None) -> list:
        """The model weights and the neural runtime (assets.py)."""
        from .assets import model_files, runtime
        return [model_files(options), runtime()]

    @staticmethod
    def release_models() -> int:
        """Free the loaded models and their (GPU) memory; how many model sets were freed. Never
        imports torch: nothing can be loaded before devices.py is."""
        devices = sys.modules.get(__package__ + ".devices")
        return devices.release() if devices is not None else 0

    def available(self, options=None):
        """(True, description) or (False, what is missing and how to get it)."""
        try:
            import torch
        except ImportError as exc:
            return False, _torch_missing_message(exc)
        from .devices import describe, pick_device, pick_precision
        options = options or {}
        store = ModelStore(cache_dir=options.get("cache_dir"), model_dir=options.get("model_dir"))
        missing = store.missing()
        if missing:
            return False, store.missing_message(missing)
        try:
            device = pick_device(options.get("device"))
            prec = pick_precision(device, options.get("precision"))
            return True, f"torch {torch.__version__} on {describe(device, prec.dtype, prec.int8)} ({prec.why})"
        except EngineError as exc:
            return False, str(exc)

    def voices(self):
        """[(id, label)]; any .wav path is accepted as a voice too."""
        return [(vid, label) for vid, (_, label) in _VOICE_FILES.items()]

    def check(self, request: GenerateRequest) -> UniTAFCheckedRequest:
        """Every check that needs no torch and no loading: emotion, inline tags and markup, script
        length and speakable text, an explicit language (Chinese or English), voice, emotion
        clip, options (device, precision and expression_mode names too; whether the device
        exists needs torch), the runtime and the model files."""
        opts = dict(request.options or {})
        default_emotion = _parse_default_emotion(request.emotion)
        _check_script(request.text, default_emotion, request.language)
        voice_path = resolve_voice(request.voice)
        try:
            synth = SynthesisOptions(sampling=_sampling(opts), seed=int(request.seed),
                                     **{k: cast(opts[k]) for k, cast in _SYNTH_FIELDS.items() if k in opts})
            synth.check()
        except (TypeError, ValueError) as exc:
            raise EngineError(f"Bad UniTAF option: {exc}") from exc
        settings = _Settings(**_model_settings(opts), voice_path=voice_path, default_emotion=default_emotion, synth=synth)
        return UniTAFCheckedRequest(request, [], settings)

    def generate(self, request: GenerateRequest, progress=None, cancel=None) -> Performance:
        settings = self.check(request).settings   # the same errors as check, before anything loads
        from . import devices, pipeline
        from .face import FACE_FPS
        from .face_layers import face_layers
        from .voice import analyse_voice

        synth, store = settings.synth, settings.store
        opts = dict(request.options or {})
        with _loaded(settings, progress, cancel, "voice analysis") as (models, device, prec, report):
            report(0.05, "voice analysis")
            voice = analyse_voice(models, settings.voice_path)
            try:
                segments = models.text.script_segments(request.text, settings.default_emotion, synth.max_text_tokens)
            except ValueError as exc:
                raise EngineError(str(exc)) from exc
            result = pipeline.synthesize(models, segments, voice, synth, report, cancel, settings.emotion_clip)

        times, vectors = pipeline.emotion_timeline(result)
        channels, weights, expression = face_layers(result.face, result.audio, result.sample_rate, times, vectors,
                                                    settings.layer, models, request.seed)
        report(1.0, "done")
        return Performance(
            audio=result.audio, sample_rate=result.sample_rate, fps=FACE_FPS, channels=channels,
            weights=weights, emotion_times=times, emotion_vectors=vectors,
            meta={"engine": self.id, "text": request.text, "emotion": emotion_label(settings.default_emotion),
                  "seed": int(request.seed), "voice": request.voice or DEFAULT_VOICE,
                  "engine_version": ENGINE_VERSION, "device": devices.describe(device, prec.dtype, prec.int8),
                  "precision": prec.name,
                  "model_dir": store.model_dir or store.cache_dir, "sampling": str(opts.get("sampling", SAMPLING.default)),
                  "emo_alpha": synth.emo_alpha, "emotion_clip": settings.emotion_clip, "face_timing": synth.face_timing,
                  "expression": expression,
                  "spans": [{"text": o.text, "emotion": emotion_label(o.emotion),
                             "start": round(o.start / result.sample_rate, 6),
                             "end": round((o.start + len(o.audio)) / result.sample_rate, 6)}
                            for o in result.segments]})

    # -- a recorded line -----------------------------------------------------------------------
    def check_lipsync(self, request: LipsyncRequest) -> UniTAFCheckedRequest:
        """Every check of a recorded line that needs no torch: the transcript (required), emotion,
        the recording (not empty or silent, sane rate, bounded length), options (segments, emo_alpha,
        emotion clip, face layers, device), the runtime and the model files."""
        opts = dict(request.options or {})
        if request.transcript is None or not str(request.transcript).strip():
            raise EngineError(_NO_TRANSCRIPT)
        default_emotion = _parse_default_emotion(request.emotion)
        _check_script(request.transcript, default_emotion)
        try:   # while `audio` is None only its length is known (the request path's cheap check)
            audio, seconds = check_given(request.audio, request.sample_rate, request.seconds)
        except RecordingError as exc:
            raise EngineError(str(exc)) from None
        try:
            segments = check_segments(opts.get("segments"), seconds)
            max_segment_s = float(opts.get("max_segment_s", MAX_SEGMENT_S))
        except (TypeError, ValueError) as exc:
            raise EngineError(f"Cannot animate this recording: {exc}") from exc
        if not max_segment_s >= MAX_SEGMENT.minimum:
            raise EngineError(f"Bad UniTAF option: max_segment_s must be at least {MAX_SEGMENT.minimum:g} seconds, "
                              f"got {max_segment_s}")
        labels = (_timed_labels(opts.get("phonemes"), "phonemes"), _timed_labels(opts.get("words"), "words"))
        settings = _LipsyncSettings(
            **_model_settings(opts), audio=audio, default_emotion=default_emotion,
            transcript=parse_transcript(request.transcript, default_emotion), segments=segments,
            max_segment_s=max_segment_s, emo_alpha=_emo_alpha(opts), labels=labels)
        notes = [] if segments else ["The transcript is split over the recording's pauses by speaking time "
                                     "(no aligned segments were given)."]
        return UniTAFCheckedRequest(request, notes, settings)

    def lipsync(self, request: LipsyncRequest, progress=None, cancel=None) -> Performance:
        """The face of a recorded line from its ground-truth tokens; the Performance's audio is the
        recording itself (same samples, same rate) and frame k sits at k / 25 s of it."""
        settings = self.check_lipsync(request).settings
        if settings.audio is None:
            raise EngineError("Lip-sync needs the recording's samples; only its length was given.")
        from . import devices, lipsync
        from .face_layers import face_layers
        from .segment_plan import emotion_timeline

        rate = int(request.sample_rate)
        with _loaded(settings, progress, cancel, "recording analysis") as (models, device, prec, report):
            result = lipsync.lipsync(models, settings.audio, rate, settings.transcript, settings.segments,
                                     max_seconds=settings.max_segment_s, emo_alpha=settings.emo_alpha,
                                     emotion_clip=settings.emotion_clip, source=request.source,
                                     progress=report, cancel=cancel)
        times, vectors = emotion_timeline(result.plan, settings.transcript, rate)
        channels, weights, expression = face_layers(result.face, settings.audio, rate, times, vectors,
                                                    settings.layer, models, request.seed)
        report(1.0, "done")
        phonemes, words = settings.labels
        return Performance(
            audio=settings.audio, sample_rate=rate, fps=lipsync.FACE_FPS, channels=channels, weights=weights,
            phonemes=list(phonemes), words=list(words), emotion_times=times, emotion_vectors=vectors,
            meta={"engine": self.id, "mode": "ground-truth tokens", "transcript": request.transcript,
                  "source": request.source, "emotion": emotion_label(settings.default_emotion),
                  "seed": int(request.seed), "engine_version": ENGINE_VERSION,
                  "device": devices.describe(device, prec.dtype, prec.int8), "precision": prec.name,
                  "model_dir": settings.store.model_dir or settings.store.cache_dir,
                  "emo_alpha": settings.emo_alpha, "emotion_clip": settings.emotion_clip, "expression": expression,
                  "segments": [{"start": round(p.start / rate, 6), "end": round(p.end / rate, 6), "text": p.text,
                                "emotion": emotion_label(p.emotion), "codes": int(o.codes.shape[1])}
                               for p, o in zip(result.plan, result.segments)]})
