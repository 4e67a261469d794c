"""Prompt audio: load, mix to mono, resample, cut to 15 s -- without librosa or torchaudio.

The reference uses two resamplers, and so do we:

* `Resampler`: torchaudio's `Resample` (windowed sinc, Hann window, 6 zero crossings, rolloff 0.99),
  which derives the 16 kHz speaker signal (w2v-BERT, CAMPPlus) from the 22 050 Hz prompt. A
  polyphase bank of kernels applied as one strided conv1d, built in float64 with torchaudio's
  rounding steps: matches it to float32 precision.
* `SoxrHQResampler`: librosa's default `soxr_hq`, used by `librosa.load` for the emotion prompt
  (straight to 16 kHz) and for a speaker file that is not at 22 050 Hz. We re-derive libsoxr's
  "HQ" (20-bit, linear-phase) plan for rational ratios below 4:1 -- a Kaiser low-pass stage with
  optional 2x up/M down, then a polyphase interpolation stage -- from its published design
  formulas, and run each stage as a polyphase conv1d. Matches soxr 1.1.0 to < 1e-6 on every
  sample for the usual prompt rates (8-48 kHz to 16 kHz or 22 050 Hz); ratios of 4:1 and more
  (half-band cascades) and > 4x upsampling fall back to `Resampler`.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PROMPT_MAX_SECONDS", "SPEAKER_RATE", "ENCODER_RATE", "Resampler", "resample", "SoxrHQResampler",
           "resample_hq", "to_mono_tensor",
           "load_audio", "SpeakerPrompt", "load_speaker_prompt", "load_emotion_prompt", "speaker_prompt_from_array",
           "emotion_prompt_from_array"]

PROMPT_MAX_SECONDS = 15      # the reference cuts every prompt to 15 s (after resampling)
SPEAKER_RATE = 22050         # librosa's default rate: S2Mel mel + BigVGAN side
ENCODER_RATE = 16000         # w2v-BERT and CAMPPlus side


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


# --------------------------------------------------------------------------------------------
# libsoxr "HQ" (what librosa.load / librosa.resample use by default)
# --------------------------------------------------------------------------------------------

_DB2 = 20 * math.log10(2.0)        # dB per bit
_SOXR_BITS = 20                    # SOXR_HQ precision
_MULT32 = 65536.0 * 65536.0
_BETA_FITS = (  # libsoxr's Kaiser beta fits (cubic in attenuation) per transition-width octave
    (-6.784957e-10, 1.02856e-05, 0.1087556, -0.8988365 + .001),
    (-6.897885e-10, 1.027433e-05, 0.10876, -0.8994658 + .002),
    (-1.000683e-09, 1.030092e-05, 0.1087677, -0.9007898 + .003),
    (-3.654474e-10, 1.040631e-05, 0.1087085, -0.8977766 + .006),
    (8.106988e-09, 6.983091e-06, 0.1091387, -0.9172048 + .015),
    (9.519571e-09, 7.272678e-06, 0.1090068, -0.9140768 + .025),
    (-5.626821e-09, 1.342186e-05, 0.1083999, -0.9065452 + .05),
    (-9.965946e-08, 5.073548e-05, 0.1040967, -0.7672778 + .085),
    (1.604808e-07, -5.856462e-05, 0.1185998, -1.34824 + .1),
    (-1.511964e-07, 6.363034e-05, 0.1064627, -0.9876665 + .18),
)


def _kaiser_beta(att: float, tr_bw: float) -> float:
    if att >= 60:
        octave = math.log(tr_bw / .0005) / math.log(2.0)
        c0 = _BETA_FITS[min(max(int(octave), 0), len(_BETA_FITS) - 1)]
        c1 = _BETA_FITS[min(max(int(octave) + 1, 0), len(_BETA_FITS) - 1)]
        b0 = ((c0[0] * att + c0[1]) * att + c0[2]) * att + c0[3]
        b1 = ((c1[0] * att + c1[1]) * att + c1[2]) * att + c1[3]
        return b0 + (b1 - b0) * (octave - int(octave))
    if att > 50:
        return .1102 * (att - 8.7)
    return .58417 * (att - 20.96) ** .4 + .07886 * (att - 20.96) if att > 20.96 else 0.0


def _inv_f_resp(drop_db: float, att: float) -> float:
    """Where (0..1 across the transition band) a soxr Kaiser filter's response is `drop_db`."""
    x = ((2.0517e-07 * att - 1.1303e-04) * att + .023154) * att + .55924
    power = math.log(.5) / math.log(math.sin(x * .5))
    drop = 10 ** (drop_db / 20)
    s = 1 - drop if drop > .5 else drop
    x = math.asin(s ** (1 / power)) / x
    return x if drop > .5 else 1 - x


def _design_lpf(fp, fs, fn, att, num_taps, k):
    """Kaiser-windowed sinc low-pass as libsoxr designs it -> (taps float64 or None, num_taps).
    k > 0: polyphase prototype with k phases; k < 0: num_taps = 1 (mod -k)."""
    phases, modulo = max(k, 1), max(-k, 1)
    rho = .5 if phases == 1 else (.63 if att < 120 else .75)
    fp, fs = fp / abs(fn), fs / abs(fn)
    tr_bw = .5 * (fs - fp) / phases
    fs /= phases
    tr_bw = min(tr_bw, .5 * fs)
    fc = fs - tr_bw
    beta = _kaiser_beta(att, tr_bw * .5 / fc)
    if not num_taps:
        a = ((.0007528358 - 1.577737e-05 * beta) * beta + .6248022) * beta + .06186902
        n = math.ceil(a / tr_bw + 1)
        num_taps = n // phases * phases + phases - 1 if phases > 1 else (n + modulo - 2) // modulo * modulo + 1
    if fn < 0:
        return None, num_taps
    m = num_taps - 1
    z = torch.arange(num_taps, dtype=torch.float64) - .5 * m
    x = z * math.pi
    y = z / (.5 * m + rho)
    safe_x = torch.where(x != 0, x, torch.ones((), dtype=x.dtype))
    sinc = torch.where(x != 0, torch.sin(fc * x) / safe_x, torch.full((), fc, dtype=x.dtype))
    i0_beta = torch.special.i0(torch.tensor(beta, dtype=x.dtype))
    window = torch.special.i0(beta * torch.sqrt((1 - y * y).clamp_min(0))) / i0_beta
    return sinc * window * phases, num_taps


def _soxr_hq_plan(orig: int, new: int):
    """libsoxr's stage plan for HQ, linear phase -> list of (L, M, prototype taps) or None if the
    ratio needs stages we do not reproduce (half-band cascades, post stages, irrational steps)."""
    io_ratio = orig / new
    bits = _SOXR_BITS
    rej = bits * _DB2
    fp0 = 1 - .05 / (1 - _inv_f_resp(-3.0, rej))      # pass-band end, 0 dB point (Nyquist = 1)
    fs0 = 1.0
    att = (bits + 1) * _DB2                             # +1: pass + stop
    mode = (bits - 6) // 4
    arb_m = io_ratio
    upsample = arb_m < 1
    i, shr = int(.5 * arb_m), 0
    while i >> 1:
        i >>= 1
        arb_m *= .5
        shr += 1
    pre_m = int(upsample or 1.5 < arb_m < 2)
    post_m = 1 + int(arb_m > 1 and bool(pre_m))
    arb_m /= post_m
    pre_l = 1 + int(not pre_m and arb_m < 2) + int(upsample and bool(mode))
    arb_m *= pre_l
    arb_l = 1
    frac = arb_m - int(arb_m)
    rational = frac == 0
    eps = abs(math.floor(frac * _MULT32 + .5) / (frac * _MULT32) - 1) if frac else 0.0
    for i in range(1, 2049):
        if rational:
            break
        d = frac * i
        guess = int(d + .5)
        if abs(guess / d - 1) <= eps:
            rational = True
            if guess == i:
                arb_m = math.ceil(arb_m)
                shr += int(arb_m > 3)
                arb_m /= 1 + int(arb_m > 3)
            else:
                arb_m, arb_l = i * int(arb_m) + guess, i
    big_l, big_m = pre_l * arb_l, int(arb_m * post_m)
    odd = (big_l | big_m) & 1
    if not odd:
        big_l, big_m = big_l >> 1, big_m >> 1
    if pre_l * arb_l / arb_m > 4 and pre_l * arb_l / arb_m != 5:
        return None                                     # large upsampling: extra post stage
    if rational and (max(big_l, big_m) < 5 or big_l * big_m < 6):
        pre_l, pre_m, arb_m, arb_l, post_m = big_l, big_m, 1, 1, 1
    if shr or post_m != 1 or not rational:
        return None
    has_pre, has_arb = pre_m * pre_l != 1, arb_m * arb_l != 1
    n_stages = int(has_pre) + int(has_arb)
    att_arb = att
    if n_stages > 1:
        n = n_stages
        if has_arb:
            att += _DB2
            att_arb = att
            n -= 1
        att += 20 * math.log10(n)
    stages = []
    fp1, fs1 = fp0, fs0
    if has_pre:
        fn1 = max(pre_l, pre_m) if pre_m else arb_m / arb_l
        taps, _ = _design_lpf(fp1, fs1, fn1, att, 0, -4)
        stages.append((pre_l, max(pre_m, 1), taps * pre_l))    # zero-stuffing gain L
        fp1, fs1 = fp1 / fn1, fs1 / fn1
    if has_arb:
        if not upsample and pre_m:
            return None
        fs = 2 - (fp1 + (fs1 - fp1) * .7)
        fp = fs - (fs - fp1) / (1 - _inv_f_resp(-.01, att_arb))
        phases = int(arb_l)
        _, n0 = _design_lpf(fp, fs, -1.0, att_arb, 0, max(phases, 19))
        num_coefs = n0 // max(phases, 19) + 1
        num_coefs += num_coefs & int(not pre_m)
        step_m = int(arb_m)
        if num_coefs & 1 and phases & 1:
            phases, step_m = phases * 2, step_m * 2
        taps, _ = _design_lpf(fp, fs, 1.0, att_arb, num_coefs * phases - 1, phases)
        stages.append((phases, step_m, taps))
    return stages


def _rational_fir(x: torch.Tensor, taps: torch.Tensor, up: int, down: int, with_tail: bool = False) -> torch.Tensor:
    """y[j] = sum_k x[k] * taps[k*up - j*down + c], c = centre of the symmetric `taps`: a linear-phase
    FIR at `up` x the input rate, sampled every `down`; (B, N) -> (B, ceil(N*up/down)), or up to the
    last output the filter tail reaches (`with_tail`, for a stage that feeds another). Polyphase:
    one kernel row per output phase, one strided conv1d."""
    n_taps = taps.shape[0]
    if n_taps % 2 == 0:
        raise ValueError("expected an odd-length linear-phase FIR")
    c = (n_taps - 1) // 2
    d_min = -((c + up - 1) // up) - 1
    d_max = ((n_taps - 1 - c) + (up - 1) * down) // up + 1
    d = torch.arange(d_min, d_max + 1)
    r = torch.arange(up).unsqueeze(1)
    idx = d.unsqueeze(0) * up - r * down + c                       # (up, K)
    valid = (idx >= 0) & (idx < n_taps)
    kernel = torch.where(valid, taps[idx.clamp(0, n_taps - 1)], torch.zeros((), dtype=taps.dtype))
    n = x.shape[-1]
    n_out = ((n - 1) * up + c) // down + 1 if with_tail else -(-n * up // down)
    q = -(-n_out // up)
    k = kernel.shape[1]
    right = max(0, (q - 1) * down + k - (n - d_min))
    xp = F.pad(x, (-d_min, right))
    y = F.conv1d(xp[:, None], kernel.to(x.dtype)[:, None], stride=down)[..., :q]
    return y.transpose(1, 2).reshape(x.shape[0], -1)[:, :n_out]


class SoxrHQResampler(torch.nn.Module):
    """orig_rate -> new_rate as `soxr.resample(x, orig, new, quality="soxr_hq")` (librosa's default)."""

    def __init__(self, orig_rate: int, new_rate: int):
        super().__init__()
        orig_rate, new_rate = int(orig_rate), int(new_rate)
        if orig_rate <= 0 or new_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {orig_rate} -> {new_rate}")
        self.orig, self.new = orig_rate, new_rate
        plan = _soxr_hq_plan(orig_rate, new_rate) if orig_rate != new_rate else []
        self.exact = plan is not None
        self.stages = [(up, down) for up, down, _ in plan or []]
        for i, (_, _, taps) in enumerate(plan or []):
            self.register_buffer(f"taps{i}", taps.to(torch.float32), persistent=False)
        self.fallback = None if self.exact else Resampler(orig_rate, new_rate)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """(..., N) -> (..., ceil(N * new / orig)), like librosa.resample(fix=True)."""
        if self.orig == self.new:
            return wav
        if self.fallback is not None:
            return self.fallback(wav)
        shape = wav.shape
        x = wav.reshape(-1, shape[-1])
        n = x.shape[-1]
        last = len(self.stages) - 1
        for i, (up, down) in enumerate(self.stages):
            # soxr streams the whole filter tail of one stage into the next
            x = _rational_fir(x, getattr(self, f"taps{i}"), up, down, with_tail=i < last)
        target = math.ceil(n * self.new / self.orig)
        x = F.pad(x, (0, max(0, target - x.shape[-1])))[:, :target]
        return x.reshape(*shape[:-1], -1)


@lru_cache(maxsize=8)
def _hq(orig: int, new: int) -> SoxrHQResampler:
    return SoxrHQResampler(orig, new)


def resample_hq(wav: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """librosa-style (soxr_hq) resampling of the last axis; cached plans per rate pair."""
    if int(orig_rate) == int(new_rate):
        return wav
    return _hq(int(orig_rate), int(new_rate))(wav)


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
    """Reference order: to 22 050 Hz (librosa.load: soxr_hq), cut to `max_seconds`, then 22 050 ->
    16 000 Hz (torchaudio's sinc filter)."""
    x = to_mono_tensor(audio)
    audio_22k = _cut(resample_hq(x, rate, SPEAKER_RATE), SPEAKER_RATE, max_seconds)
    return SpeakerPrompt(audio_22k=audio_22k, audio_16k=resample(audio_22k, SPEAKER_RATE, ENCODER_RATE))


def load_speaker_prompt(path, max_seconds: float = PROMPT_MAX_SECONDS) -> SpeakerPrompt:
    x, rate = load_audio(path)
    return speaker_prompt_from_array(x, rate, max_seconds)


def load_emotion_prompt(path, max_seconds: float = PROMPT_MAX_SECONDS) -> torch.Tensor:
    """Emotion prompt: straight to 16 kHz (the reference's librosa sr=16000 load: soxr_hq), cut to
    `max_seconds`."""
    x, rate = load_audio(path)
    return emotion_prompt_from_array(x, rate, max_seconds)


def emotion_prompt_from_array(audio, rate: int, max_seconds: float = PROMPT_MAX_SECONDS) -> torch.Tensor:
    return _cut(resample_hq(to_mono_tensor(audio), rate, ENCODER_RATE), ENCODER_RATE, max_seconds)
