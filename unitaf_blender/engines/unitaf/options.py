"""Run options of the UniTAF pipeline: the engine's declared options (`OPTIONS`, what the panel,
the CLI and batch files offer), GPT sampling and synthesis settings, the device, precision and
expression-mode names, with their checks.

Plain dataclasses and name lists, no torch, so the engine can check a request before anything
heavy loads; devices.py and face.py use the same lists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .. import EngineError
from ..option_schema import STORE_OPTIONS, Choice, Option
from .segment_plan import MAX_SEGMENT_S

# The device and precision are also the text-emotion model's (emotion 'auto', for every engine).
DEVICE = Option("device", "choice", "auto", "Device", "where the neural models run", choices=(
    Choice("auto", "Auto", "CUDA GPU, else Apple GPU (MPS), else CPU"), Choice("cpu", "CPU", "Slow, needs only RAM"),
    Choice("cuda", "CUDA", "NVIDIA GPU (cuda:N picks one)"), Choice("mps", "MPS", "Apple GPU")),
    also=r"cuda:\d+", preference=True)
PRECISION = Option("precision", "choice", "auto", "Precision", "the neural models' number format", choices=(
    Choice("auto", "Auto", "fp16 on CUDA; bf16 on CPUs with native bf16 (AMX / AVX512-BF16), else fp32"),
    Choice("fp32", "FP32", "Full precision (reference-exact)"), Choice("fp16", "FP16", "Half precision (GPU only)"),
    Choice("bf16", "BF16", "bfloat16 (recent GPUs / CPUs)"), Choice("int8", "INT8", "int8 GPT weights (CPU only)")),
    aliases=(("float32", "fp32"), ("float16", "fp16"), ("bfloat16", "bf16")))   # torch's spellings
DEVICES = DEVICE.values                        # "cuda:N" picks one GPU
PRECISIONS = PRECISION.values                  # int8: GPT weights, CPU only
EXPRESSION_MODES = ("cross_attn", "film")

# the engine's `sampling` option: the reference's 3-beam sampling, or lighter presets
SAMPLING = Option("sampling", "choice", "fast", "Sampling", "how the GPT picks speech codes", choices=(
    Choice("fast", "Fast", "One sampled sequence (default)"),
    Choice("reference", "Reference", "The reference implementation's 3-beam sampling (slower)"),
    Choice("greedy", "Greedy", "Deterministic, no sampling")))
SAMPLING_PRESETS = dict(zip(SAMPLING.values, (dict(num_beams=1), {}, dict(do_sample=False, num_beams=1))))
FACE_TIMING = Option("face_timing", "choice", "fixed", "Face Timing", "when the face moves", choices=(
    Choice("fixed", "Fixed", "The face follows the audio"), Choice("reference", "Reference", "The reference's drift")),
    panel=None)

def device_name(pref: Optional[str]) -> str:
    """The device option as a checked lower-case name ('auto' for None or ''); whether that
    device is present is only known with torch (devices.pick_device)."""
    name = (pref or "auto").strip().lower()
    if name not in DEVICES and not re.fullmatch(DEVICE.also, name):
        raise EngineError(f"Unknown device '{name}'; choose one of {', '.join(DEVICES)}.")
    return name


def precision_name(pref: Optional[str]) -> str:
    """The precision option as one of PRECISIONS ('auto' for None or '')."""
    name = (pref or "auto").strip().lower()
    name = dict(PRECISION.aliases).get(name, name)
    if name not in PRECISIONS:
        raise EngineError(f"Unknown precision '{pref}'; choose one of {', '.join(PRECISIONS)}.")
    return name


def expression_mode_name(mode: Optional[str]) -> str:
    """The expression_mode option ('cross_attn' for None or '')."""
    name = str(mode or "cross_attn").strip().lower()
    if name not in EXPRESSION_MODES:
        raise EngineError(f"expression_mode must be one of {', '.join(EXPRESSION_MODES)}, got {mode!r}")
    return name


@dataclass
class SamplingConfig:
    """Reference defaults (`infer_generator`): beam sampling with 3 beams, T=0.8, top-k 30,
    top-p 0.8, repetition penalty 10, at most 1500 codes. `do_sample=False, num_beams=1` is greedy
    on the penalised logits; `num_beams=1` with sampling is the lean single-sequence path."""
    do_sample: bool = True
    temperature: float = 0.8
    top_k: int = 30
    top_p: float = 0.8
    repetition_penalty: float = 10.0
    max_new_tokens: int = 1500
    num_beams: int = 3
    length_penalty: float = 0.0
    min_new_tokens: int = 0          # the stop token is suppressed before this many codes


@dataclass
class SynthesisOptions:
    diffusion_steps: int = 25
    cfg_rate: float = 0.7
    interval_silence_ms: int = 200
    max_text_tokens: int = 120
    sampling: SamplingConfig = field(default_factory=SamplingConfig)   # reference: 3-beam sampling
    emo_alpha: float = 1.0
    face_timing: str = FACE_TIMING.default   # "fixed": face follows the audio; "reference": the reference's drift
    seed: int = 0

    def check(self):
        if self.diffusion_steps < 1:
            raise ValueError("diffusion_steps must be at least 1")
        if self.interval_silence_ms < 0:
            raise ValueError("interval_silence_ms must be >= 0")
        if self.face_timing not in FACE_TIMING.values:
            raise ValueError(f"face_timing must be 'fixed' or 'reference', got {self.face_timing!r}")
        if not 0.0 <= float(self.emo_alpha) <= 1.0:
            raise ValueError(f"emo_alpha must lie in 0..1, got {self.emo_alpha}")


# a recorded line's longest GPT segment; below ~2 cuts' minimum spacing the splitter has no room
MAX_SEGMENT = Option("max_segment_s", "number", MAX_SEGMENT_S, "Longest Segment",
                     "a recorded line's longest GPT segment in seconds (the model's code limit may cut it)",
                     minimum=4.0, panel=None)
OPTIONS = STORE_OPTIONS + (
    DEVICE, PRECISION,
    SAMPLING,
    Option("emo_alpha", "number", SynthesisOptions.emo_alpha, "Emotion Strength",
           "how strongly the emotion (mix, preset or clip) colours the voice", minimum=0.0, maximum=1.0,
           panel="emotion"),
    Option("emotion_clip", "file", None, "Emotion Clip", "a .wav whose emotion to copy (blended with the strength)"),
    Option("expression_layer", "choice", "auto", "Expression Layer",
           "the upper face over the neural mouth: emotion-driven brows, eyes and cheeks, blinks, gaze, head", choices=(
        Choice("auto", "Auto", "On unless a trained expression model is installed"),
        Choice("on", "On", "Add the emotion-driven upper face (brows, eyes, cheeks, blinks, gaze, head)"),
        Choice("off", "Off", "The neural face only"))),
    Option("expression_checkpoint", "file", None, "Expression Model", "a trained UniTAF expression model (.pt)",
           panel=None),
    Option("expression_mode", "choice", "cross_attn", "Expression Mode", "how the expression model is attached",
           choices=tuple(Choice(m, m) for m in EXPRESSION_MODES), panel=None),
    Option("max_mel_tokens", "integer", SamplingConfig.max_new_tokens, "Most Codes", "most speech codes per segment",
           minimum=1, panel=None),
    Option("diffusion_steps", "integer", SynthesisOptions.diffusion_steps, "Diffusion Steps",
           "S2Mel diffusion steps", minimum=1, panel=None),
    Option("cfg_rate", "number", SynthesisOptions.cfg_rate, "CFG Rate", "S2Mel classifier-free guidance", panel=None),
    Option("interval_silence_ms", "integer", SynthesisOptions.interval_silence_ms, "Segment Silence",
           "silence between segments (ms)", minimum=0, panel=None),
    Option("max_text_tokens", "integer", SynthesisOptions.max_text_tokens, "Segment Text",
           "most text tokens per segment", minimum=1, panel=None),
    FACE_TIMING,
    MAX_SEGMENT,
)
