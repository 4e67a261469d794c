"""The UniTAF engine: text + emotion + voice prompt -> neural speech and a 25 fps face.

request.options (all optional):
  model_dir / cache_dir   where the weights are (model folder `<dir>/<repo_id>/<file>`, or the HF cache)
  device                  auto | cuda | mps | cpu;  precision: auto | fp32 | fp16 | bf16
  emo_alpha               0..1 strength of the emotion (vector, preset or clip); default 1.0
  emotion_clip            a .wav whose emotion to copy (blended with emo_alpha)
  expression_layer        True | False | "auto" (auto: on unless a trained expression model is present)
  expression_checkpoint   a trained UniTAF expression model (.pt); expression_mode cross_attn | film
  sampling                fast (1 sequence, default) | reference (3-beam sampling) | greedy
  max_mel_tokens, diffusion_steps, interval_silence_ms, max_text_tokens, face_timing (fixed | reference)
"""
from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from typing import Optional

from ...core.emotion import emotion_label, parse_emotion
from ...core.performance import Performance
from .. import CheckedRequest, EngineError, EngineUnavailable, GenerateRequest, check_cancel, reporter
from .options import (
    SAMPLING_PRESETS,
    SamplingConfig,
    SynthesisOptions,
    device_name,
    expression_mode_name,
    precision_name,
)
from .store import ModelStore
from .text import check_script

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
    name = str(options.get("sampling", "fast")).lower()
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
class _Settings:
    """Everything `check` parsed from a request, for `generate` to use as is."""
    voice_path: str
    default_emotion: object          # float32 [8]
    synth: SynthesisOptions
    emotion_clip: Optional[str]
    layer: str                       # on | off | auto
    expression_checkpoint: Optional[str]
    expression_mode: str             # one of options.EXPRESSION_MODES
    device: str                      # a checked name (options.DEVICES or cuda:N); devices.pick_device resolves it
    precision: str                   # one of options.PRECISIONS
    store: ModelStore


@dataclass
class UniTAFCheckedRequest(CheckedRequest):
    settings: Optional[_Settings] = None


def _check_script(text, default_emotion) -> None:
    """text.check_script as an EngineError, plus: something left to say once tags are removed."""
    try:
        spans = check_script(text, default_emotion)
    except ValueError as exc:
        raise EngineError(str(exc)) from exc
    if not spans:
        raise EngineError("the script has no speakable text (only tags or punctuation)")


class UniTAFEngine:
    id = "unitaf"
    label = "UniTAF (neural)"

    def available(self, options=None):
        """(True, description) or (False, what is missing and how to get it)."""
        try:
            import torch
        except ImportError as exc:
            return False, _torch_missing_message(exc)
        from .devices import describe, pick_device, pick_dtype
        options = options or {}
        store = ModelStore(cache_dir=options.get("cache_dir"), model_dir=options.get("model_dir"))
        missing = store.missing()
        if missing:
            return False, store.missing_message(missing)
        try:
            device = pick_device(options.get("device"))
            dtype = pick_dtype(device, options.get("precision"))
            return True, f"torch {torch.__version__} on {describe(device, dtype)}"
        except EngineError as exc:
            return False, str(exc)

    def voices(self):
        """[(id, label)]; any .wav path is accepted as a voice too."""
        return [(vid, label) for vid, (_, label) in _VOICE_FILES.items()]

    def check(self, request: GenerateRequest) -> UniTAFCheckedRequest:
        """Every check that needs no torch and no loading: emotion, inline tags, script length
        and speakable text, voice, emotion clip, options (device, precision and expression_mode
        names too; whether the device exists needs torch), the runtime and the model files."""
        opts = dict(request.options or {})
        try:
            default_emotion = parse_emotion(request.emotion)
        except ValueError as exc:
            raise EngineError(f"Bad emotion: {exc}") from exc
        _check_script(request.text, default_emotion)
        voice_path = resolve_voice(request.voice)
        try:
            synth = SynthesisOptions(sampling=_sampling(opts), seed=int(request.seed),
                                     **{k: cast(opts[k]) for k, cast in _SYNTH_FIELDS.items() if k in opts})
            synth.check()
        except (TypeError, ValueError) as exc:
            raise EngineError(f"Bad UniTAF option: {exc}") from exc
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
        settings = _Settings(voice_path, default_emotion, synth, emotion_clip, layer, expression_checkpoint,
                             expression_mode, device, precision, store)
        return UniTAFCheckedRequest(request, [], settings)

    def generate(self, request: GenerateRequest, progress=None, cancel=None) -> Performance:
        settings = self.check(request).settings   # the same errors as check, before anything loads
        from . import devices, pipeline
        from .face import to_performance_channels

        synth, store = settings.synth, settings.store
        opts = dict(request.options or {})
        expr_ckpt, expr_mode = settings.expression_checkpoint, settings.expression_mode
        device = devices.pick_device(settings.device)
        dtype = devices.pick_dtype(device, settings.precision)
        key = ("unitaf", store.model_dir or store.cache_dir, str(device), str(dtype), expr_ckpt, expr_mode)
        report = reporter(progress)

        with devices.oom_guard(device):
            report(0.0, "loading models" if key not in devices.cached_keys() else "voice analysis")
            models = devices.get_or_load(key, lambda: pipeline.load_models(store, device, dtype, expr_ckpt, expr_mode))
            check_cancel(cancel)
            report(0.05, "voice analysis")
            voice = pipeline.analyse_voice(models, settings.voice_path)
            try:
                segments = models.text.script_segments(request.text, settings.default_emotion, synth.max_text_tokens)
            except ValueError as exc:
                raise EngineError(str(exc)) from exc
            result = pipeline.synthesize(models, segments, voice, synth, report, cancel, settings.emotion_clip)

        times, vectors = pipeline.emotion_timeline(result)
        use_layer = settings.layer == "on" or (settings.layer == "auto" and models.face.expression is None)
        if use_layer:
            channels, weights = pipeline.with_expression_layer(result.face, result.audio, times, vectors,
                                                               int(request.seed))
        else:
            channels, weights = to_performance_channels(result.face)
        report(1.0, "done")
        return Performance(
            audio=result.audio, sample_rate=result.sample_rate, fps=pipeline.FACE_FPS, channels=channels,
            weights=weights, emotion_times=times, emotion_vectors=vectors,
            meta={"engine": self.id, "text": request.text, "emotion": emotion_label(settings.default_emotion),
                  "seed": int(request.seed), "voice": request.voice or DEFAULT_VOICE,
                  "engine_version": ENGINE_VERSION, "device": devices.describe(device, dtype),
                  "model_dir": store.model_dir or store.cache_dir, "sampling": str(opts.get("sampling", "fast")),
                  "emo_alpha": synth.emo_alpha, "emotion_clip": settings.emotion_clip, "face_timing": synth.face_timing,
                  "expression": ("layer" if use_layer else "none") + (
                      "+model" if models.face.expression is not None else ""),
                  "spans": [{"text": o.text, "emotion": emotion_label(o.emotion),
                             "start": round(o.start / result.sample_rate, 6),
                             "end": round((o.start + len(o.audio)) / result.sample_rate, 6)}
                            for o in result.segments]})
