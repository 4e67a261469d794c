"""Log-mel spectrogram of the S2Mel / BigVGAN front end (IndexTTS2 `mel_fn`), without librosa.

The filterbank reproduces librosa's `filters.mel` (Slaney mel scale + Slaney area norm by default,
HTK scale optional): computed in float64, stored as float32 exactly the way librosa rounds it, so
the features match the reference to float32 precision.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 22050
    n_fft: int = 1024
    win_size: int = 1024
    hop_size: int = 256
    n_mels: int = 80
    fmin: float = 0.0
    fmax: Optional[float] = None   # None = Nyquist
    htk: bool = False              # mel scale: Slaney (False, what IndexTTS2 uses) or HTK
    norm: Optional[str] = "slaney"  # filter normalisation: "slaney" (area) or None
    clip: float = 1e-5             # log floor

    @classmethod
    def from_s2mel_config(cls, cfg: dict) -> "MelConfig":
        """From the official `s2mel.preprocess_params` dict (config.yaml)."""
        sp = cfg["spect_params"]
        fmax = sp.get("fmax")
        fmax = None if fmax in (None, "None", "none", "null") else float(fmax)
        return cls(sample_rate=int(cfg["sr"]), n_fft=int(sp["n_fft"]), win_size=int(sp["win_length"]),
                   hop_size=int(sp["hop_length"]), n_mels=int(sp["n_mels"]), fmin=float(sp.get("fmin", 0)),
                   fmax=fmax)

    @classmethod
    def from_bigvgan_config(cls, h: dict) -> "MelConfig":
        """From a BigVGAN `config.json` dict."""
        fmax = h.get("fmax")
        return cls(sample_rate=int(h["sampling_rate"]), n_fft=int(h["n_fft"]), win_size=int(h["win_size"]),
                   hop_size=int(h["hop_size"]), n_mels=int(h["num_mels"]), fmin=float(h.get("fmin", 0)),
                   fmax=None if fmax is None else float(fmax))


# --- mel scale (float64 scalars/tensors, same formulas as librosa) ---------------------------

_F_SP = 200.0 / 3           # Slaney: linear below 1 kHz, 66.67 Hz per mel
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(f: float, htk: bool = False) -> float:
    if htk:
        return 2595.0 * math.log10(1.0 + f / 700.0)
    if f >= _MIN_LOG_HZ:
        return _MIN_LOG_MEL + math.log(f / _MIN_LOG_HZ) / _LOGSTEP
    return f / _F_SP


def mel_to_hz(m: torch.Tensor, htk: bool = False) -> torch.Tensor:
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    linear = _F_SP * m
    log = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (m - _MIN_LOG_MEL))
    return torch.where(m >= _MIN_LOG_MEL, log, linear)


def _linspace_like_numpy(start: float, stop: float, num: int) -> torch.Tensor:
    # numpy computes arange*step+start and pins the last value; torch.linspace rounds differently.
    y = torch.arange(num, dtype=torch.float64) * ((stop - start) / (num - 1)) + start
    y[-1] = stop
    return y


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: Optional[float] = None, htk: bool = False,
                   norm: Optional[str] = "slaney") -> torch.Tensor:
    """Triangular mel filters, (n_mels, n_fft // 2 + 1) float32 (librosa.filters.mel equivalent)."""
    if norm not in ("slaney", None):
        raise ValueError(f"mel filter norm must be 'slaney' or None, got {norm!r}")
    fmax = sample_rate / 2.0 if fmax is None else float(fmax)
    if not 0 <= fmin < fmax <= sample_rate / 2.0:
        raise ValueError(f"need 0 <= fmin < fmax <= sr/2, got fmin={fmin}, fmax={fmax}, sr={sample_rate}")
    fft_freqs = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (1.0 / (n_fft * (1.0 / sample_rate)))
    mel_pts = _linspace_like_numpy(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2)
    hz_pts = mel_to_hz(mel_pts, htk)
    fdiff = hz_pts[1:] - hz_pts[:-1]
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    lower = -ramps[:n_mels] / fdiff[:n_mels, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = torch.clamp(torch.minimum(lower, upper), min=0.0).float()  # librosa stores float32 here
    if norm == "slaney":
        enorm = 2.0 / (hz_pts[2:n_mels + 2] - hz_pts[:n_mels])
        weights = (weights.double() * enorm[:, None]).float()            # ...and rescales in float64
    return weights


class MelSpectrogram(torch.nn.Module):
    """wav (B, N) or (N,) float in [-1, 1] -> log-mel (B, n_mels, N // hop).

    Matches IndexTTS2's `mel_spectrogram`: reflect pad (n_fft - hop) / 2 per side, `center=False`
    STFT with a periodic Hann window, magnitude sqrt(re² + im² + 1e-9), mel matmul, ln(max(x, clip)).
    """

    def __init__(self, cfg: MelConfig = MelConfig()):
        super().__init__()
        self.cfg = cfg
        if (cfg.n_fft - cfg.hop_size) % 2:
            raise ValueError("n_fft - hop_size must be even for the symmetric reflect padding")
        self.register_buffer("window", torch.hann_window(cfg.win_size), persistent=False)
        self.register_buffer("basis", mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin,
                                                     cfg.fmax, cfg.htk, cfg.norm), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        if wav.dim() == 1:
            wav = wav[None]
        if wav.dim() != 2:
            raise ValueError(f"expected a waveform of shape (N,) or (B, N), got {tuple(wav.shape)}")
        cfg = self.cfg
        pad = (cfg.n_fft - cfg.hop_size) // 2
        if wav.shape[-1] <= pad:
            raise ValueError(f"audio too short for a mel spectrogram: {wav.shape[-1]} samples, need > {pad}")
        x = F.pad(wav.float()[:, None], (pad, pad), mode="reflect")[:, 0]
        spec = torch.stft(x, cfg.n_fft, hop_length=cfg.hop_size, win_length=cfg.win_size, window=self.window,
                          center=False, normalized=False, onesided=True, return_complex=True)
        spec = torch.view_as_real(spec)
        mag = torch.sqrt(spec.pow(2).sum(-1) + 1e-9)
        return torch.log(torch.clamp(torch.matmul(self.basis, mag), min=cfg.clip))


def mel_spectrogram(wav: torch.Tensor, cfg: MelConfig = MelConfig()) -> torch.Tensor:
    """One-shot helper (builds the filterbank each call; keep a `MelSpectrogram` for repeated use)."""
    return MelSpectrogram(cfg).to(wav.device)(wav)
