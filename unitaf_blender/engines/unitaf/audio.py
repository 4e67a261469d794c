"""Prompt audio: load, mix to mono, resample, cut to 15 s -- without librosa or torchaudio.

The reference loads the speaker prompt with librosa at 22 050 Hz, cuts it to 15 s and derives the
16 kHz signal (w2v-BERT, CAMPPlus) with torchaudio's `Resample(22050, 16000)` (windowed sinc,
Hann window, 6 zero crossings, rolloff 0.99). `Resampler` is that filter: a polyphase bank of
`new` kernels applied as one strided conv1d, the kernel built in float64 with the same rounding
steps, so 22 050 -> 16 000 matches torchaudio to float32 precision.

Where the reference uses librosa's soxr resampler (a file whose rate is not 22 050 Hz, and the
emotion prompt, which librosa loads straight at 16 kHz) we use the same sinc filter; the two
agree to about -60 dB (see tests/unitaf/test_frontend_audio_parity.py), not bit for bit.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PROMPT_MAX_SECONDS", "SPEAKER_RATE", "FEATURE_RATE", "Resampler", "resample", "to_mono_tensor",
           "load_audio", "SpeakerPrompt", "load_speaker_prompt", "load_emotion_prompt", "speaker_prompt_from_array"]

PROMPT_MAX_SECONDS = 15      # the reference cuts every prompt to 15 s (after resampling)
SPEAKER_RATE = 22050         # librosa's default rate: S2Mel mel + BigVGAN side
FEATURE_RATE = 16000         # w2v-BERT and CAMPPlus side


class Resampler(torch.nn.Module):
    """Band-limited resampling orig_rate -> new_rate (windowed sinc, Hann window)."""

    def __init__(self, orig_rate: int, new_rate: int, zero_crossings: int = 6, rolloff: float = 0.99):
        super().__init__()
        orig_rate, new_rate = int(orig_rate), int(new_rate)
        if orig_rate <= 0 or new_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
        g = math.gcd(orig_rate, new_rate)
        self.orig, self.new = orig_rate // g, new_rate // g
        kernel, self.width = _sinc_kernel(self.orig, self.new, zero_crossings, rolloff)
        self.register_buffer("kernel", kernel, persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(..., N) float -> (..., ceil(N * new / orig))."""
        if self.orig == self.new:
            return wav
        shape = wav.shape
        x = wav.reshape(-1, shape[-1])
        n = x.shape[-1]
        x = F.pad(x, (self.width, self.width + self.orig))
        # one output phase per kernel row; interleave the phases back into time order
        y = F.conv1d(x[:, None], self.kernel.to(x.dtype), stride=self.orig)
        y = y.transpose(1, 2).reshape(x.shape[0], -1)
        target = math.ceil(self.new * n / self.orig)
        return y[:, :target].reshape(*shape[:-1], -1)


def _sinc_kernel(orig: int, new: int, zero_crossings: int, rolloff: float):
    """(new, 1, 2*width + orig) float32 polyphase kernels. Arithmetic mirrors torchaudio's
    `_get_sinc_resample_kernel` with dtype=None: the phase offsets -j/new are float32, the rest float64."""
    base = min(orig, new) * rolloff
    width = math.ceil(zero_crossings * orig / base)
    idx = torch.arange(-width, width + orig, dtype=torch.float64)[None, None] / orig
    phase = (torch.arange(0, -new, -1)[:, None, None] / new).to(torch.float32)   # float32 on purpose
    t = (phase + idx) * base
    t = t.clamp(-zero_crossings, zero_crossings)
    window = torch.cos(t * math.pi / zero_crossings / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones((), dtype=t.dtype), t.sin() / t)
    return (sinc * (window * (base / orig))).to(torch.float32), width


@lru_cache(maxsize=8)
def _resampler(orig: int, new: int) -> Resampler:
    return Resampler(orig, new)


def resample(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample the last axis; cached filters per rate pair."""
    if int(orig_rate) == int(new_rate):
        return wav
    return _resampler(int(orig_rate), int(new_rate))(wav)


def to_mono_tensor(audio) -> torch.Tensor:
    """numpy/tensor audio, (N,), (1, N) or (channels, N) -> float32 tensor (1, N), channels averaged."""
    x = torch.as_tensor(np.asarray(audio) if not isinstance(audio, torch.Tensor) else audio)
    if not x.is_floating_point():
        raise ValueError(f"expected float audio in [-1, 1], got dtype {x.dtype}")
    if x.dim() == 1:
        x = x.unsqueeze(0)
    elif x.dim() == 2:
        if x.shape[0] > 8 and x.shape[1] <= 8:   # (N, channels) as soundfile returns it
            x = x.T
        x = x.mean(0, keepdim=True) if x.shape[0] > 1 else x
    else:
        raise ValueError(f"expected mono or (channels, N) audio, got shape {tuple(x.shape)}")
    x = x.to(torch.float32)
    if x.shape[-1] == 0:
        raise ValueError("prompt audio is empty")
    if not torch.isfinite(x).all():
        raise ValueError("prompt audio contains NaN or infinite samples")
    return x


def _cut(x: torch.Tensor, rate: int, max_seconds: float) -> torch.Tensor:
    return x[:, :int(max_seconds * rate)]


def load_audio(path) -> tuple[torch.Tensor, int]:
    """Read a WAV file -> (float32 (1, N) mono in [-1, 1], sample rate)."""
    from ...core.audio_io import WavError, read_wav
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"prompt audio not found: {path}")
    try:
        data, rate = read_wav(path)
    except WavError as exc:
        raise ValueError(f"cannot read prompt audio {path}: {exc} (use a PCM or float WAV file)") from exc
    return to_mono_tensor(data), rate


@dataclass
class SpeakerPrompt:
    audio_22k: torch.Tensor   # (1, N22) float32: S2Mel reference mel
    audio_16k: torch.Tensor   # (1, N16) float32: w2v-BERT features + CAMPPlus


def speaker_prompt_from_array(audio, rate: int, max_seconds: float = PROMPT_MAX_SECONDS) -> SpeakerPrompt:
    """Reference order: to 22 050 Hz, cut to `max_seconds`, then 22 050 -> 16 000 Hz."""
    x = to_mono_tensor(audio)
    audio_22k = _cut(resample(x, rate, SPEAKER_RATE), SPEAKER_RATE, max_seconds)
    return SpeakerPrompt(audio_22k=audio_22k, audio_16k=resample(audio_22k, SPEAKER_RATE, FEATURE_RATE))


def load_speaker_prompt(path, max_seconds: float = PROMPT_MAX_SECONDS) -> SpeakerPrompt:
    x, rate = load_audio(path)
    return speaker_prompt_from_array(x, rate, max_seconds)


def load_emotion_prompt(path, max_seconds: float = PROMPT_MAX_SECONDS) -> torch.Tensor:
    """Emotion prompt: straight to 16 kHz (the reference's librosa sr=16000 load), cut to `max_seconds`."""
    x, rate = load_audio(path)
    return _cut(resample(x, rate, FEATURE_RATE), FEATURE_RATE, max_seconds)
