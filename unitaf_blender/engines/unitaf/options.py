"""Run options of the UniTAF pipeline: GPT sampling and synthesis settings, the device,
precision and expression-mode names, with their checks.

Plain dataclasses and name lists, no torch, so the engine can check a request before anything
heavy loads; devices.py and face.py use the same lists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .. import EngineError

DEVICES = ("auto", "cuda", "mps", "cpu")       # "cuda:N" picks one GPU
PRECISIONS = ("auto", "fp32", "fp16", "bf16", "int8")   # int8: GPT weights, CPU only
_PRECISION_ALIASES = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16"}   # torch's spellings
EXPRESSION_MODES = ("cross_attn", "film")


def device_name(pref: Optional[str]) -> str:
    """The device option as a checked lower-case name ('auto' for None or ''); whether that
    device is present is only known with torch (devices.pick_device)."""
    name = (pref or "auto").strip().lower()
    if name not in DEVICES and not re.fullmatch(r"cuda:\d+", name):
        raise EngineError(f"Unknown device '{name}'; choose one of {', '.join(DEVICES)}.")
    return name


def precision_name(pref: Optional[str]) -> str:
    """The precision option as one of PRECISIONS ('auto' for None or '')."""
    name = (pref or "auto").strip().lower()
    name = _PRECISION_ALIASES.get(name, name)
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


# the engine's `sampling` option: the reference's 3-beam sampling, or lighter presets
SAMPLING_PRESETS = {"fast": dict(num_beams=1), "reference": {}, "greedy": dict(do_sample=False, num_beams=1)}


@dataclass
class SynthesisOptions:
    diffusion_steps: int = 25
    cfg_rate: float = 0.7
    interval_silence_ms: int = 200
    max_text_tokens: int = 120
    sampling: SamplingConfig = field(default_factory=SamplingConfig)   # reference: 3-beam sampling
    emo_alpha: float = 1.0
    face_timing: str = "fixed"         # "fixed": face follows the audio; "reference": the reference's drift
    seed: int = 0

    def check(self):
        if self.diffusion_steps < 1:
            raise ValueError("diffusion_steps must be at least 1")
        if self.interval_silence_ms < 0:
            raise ValueError("interval_silence_ms must be >= 0")
        if self.face_timing not in ("fixed", "reference"):
            raise ValueError(f"face_timing must be 'fixed' or 'reference', got {self.face_timing!r}")
        if not 0.0 <= float(self.emo_alpha) <= 1.0:
            raise ValueError(f"emo_alpha must lie in 0..1, got {self.emo_alpha}")
