"""Kaldi-style log-mel filterbanks, without torchaudio or transformers.

Two front ends of the reference use them:

* CAMPPlus: `torchaudio.compliance.kaldi.fbank(wav, num_mel_bins=80, dither=0,
  sample_frequency=16000)` on a float waveform in [-1, 1] -> `kaldi_fbank` (float32, same
  operation order as torchaudio so the result matches to float32 rounding).
* w2v-BERT 2.0: the SeamlessM4T feature extractor -> `w2v_bert_features`: the same Kaldi recipe
  on the waveform scaled to the int16 range, computed in float64 (as transformers' numpy code
  does), then per-bin mean/variance normalisation, padding to an even frame count with 1.0,
  stacking frame pairs into 160-dim vectors at 50 Hz, and an attention mask.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

__all__ = ["FbankConfig", "kaldi_mel_scale", "kaldi_mel_banks", "kaldi_fbank", "W2vBertFeatureConfig",
           "w2v_bert_features"]

_FLOAT32_EPS = 1.1920928955078125e-07  # torch.finfo(torch.float32).eps, Kaldi's log floor


@dataclass(frozen=True)
class FbankConfig:
    """Kaldi `compute-fbank-feats` options as torchaudio's defaults, 80 bins at 16 kHz."""
    sample_rate: int = 16000
    num_mel_bins: int = 80
    frame_length_ms: float = 25.0
    frame_shift_ms: float = 10.0
    low_freq: float = 20.0
    high_freq: float = 0.0      # <= 0 means Nyquist + high_freq
    preemphasis: float = 0.97
    remove_dc_offset: bool = True

    @property
    def window_size(self) -> int:
        return int(self.sample_rate * self.frame_length_ms * 0.001)

    @property
    def window_shift(self) -> int:
        return int(self.sample_rate * self.frame_shift_ms * 0.001)

    @property
    def n_fft(self) -> int:  # round_to_power_of_two
        return 1 << (self.window_size - 1).bit_length()


def kaldi_mel_scale(freq):
    """Kaldi's mel scale 1127 ln(1 + f/700) (a float or a tensor)."""
    if isinstance(freq, torch.Tensor):
        return 1127.0 * (1.0 + freq / 700.0).log()
    return 1127.0 * math.log(1.0 + freq / 700.0)


def kaldi_mel_banks(cfg: FbankConfig = FbankConfig(), dtype=torch.float32) -> torch.Tensor:
    """Triangular filters in mel space over the FFT bins 0..n_fft/2 -> (num_mel_bins, n_fft//2 + 1).

    The Nyquist column is zero, as in Kaldi. With dtype=float32 this follows torchaudio's
    `get_mel_banks` arithmetic exactly (edges in Python floats, bin mels in float32).
    """
    num_fft_bins = cfg.n_fft // 2
    nyquist = 0.5 * cfg.sample_rate
    high_freq = cfg.high_freq if cfg.high_freq > 0 else nyquist + cfg.high_freq
    if not (0.0 <= cfg.low_freq < nyquist and 0.0 < high_freq <= nyquist and cfg.low_freq < high_freq):
        raise ValueError(f"bad fbank band [{cfg.low_freq}, {high_freq}] Hz for sample rate {cfg.sample_rate}")
    bin_width = cfg.sample_rate / cfg.n_fft
    mel_low, mel_high = kaldi_mel_scale(cfg.low_freq), kaldi_mel_scale(high_freq)
    delta = (mel_high - mel_low) / (cfg.num_mel_bins + 1)
    b = torch.arange(cfg.num_mel_bins, dtype=dtype).unsqueeze(1)
    left, center, right = mel_low + b * delta, mel_low + (b + 1.0) * delta, mel_low + (b + 2.0) * delta
    mel = kaldi_mel_scale(bin_width * torch.arange(num_fft_bins, dtype=dtype)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1, dtype=dtype), torch.min(up, down))
    return F.pad(banks, (0, 1))


def _povey_window(n: int, dtype) -> torch.Tensor:
    return torch.hann_window(n, periodic=False, dtype=dtype).pow(0.85)


def _frames(wav: torch.Tensor, cfg: FbankConfig) -> torch.Tensor:
    """(N,) -> (frames, window_size) with snip_edges=True (only whole frames)."""
    size, shift = cfg.window_size, cfg.window_shift
    if wav.shape[-1] < size:
        raise ValueError(f"audio too short for a filterbank frame: {wav.shape[-1]} samples < {size} "
                         f"({cfg.frame_length_ms} ms at {cfg.sample_rate} Hz)")
    count = 1 + (wav.shape[-1] - size) // shift
    return wav.as_strided((count, size), (shift * wav.stride(-1), wav.stride(-1)))


def _as_mono(wav) -> torch.Tensor:
    wav = torch.as_tensor(wav)
    if wav.dim() == 2:   # (channels, N): Kaldi/torchaudio take channel 0, like `channel=-1` -> 0
        wav = wav[0]
    if wav.dim() != 1:
        raise ValueError(f"expected a waveform of shape (N,) or (1, N), got {tuple(wav.shape)}")
    if not wav.is_floating_point():
        raise ValueError(f"expected a float waveform, got {wav.dtype}")
    return wav


def _power_spectrum(wav: torch.Tensor, cfg: FbankConfig, window: torch.Tensor) -> torch.Tensor:
    x = _frames(wav.contiguous(), cfg)
    if cfg.remove_dc_offset:
        x = x - x.mean(dim=1, keepdim=True)
    if cfg.preemphasis:
        previous = torch.cat([x[:, :1], x[:, :-1]], dim=1)   # first sample is its own predecessor
        x = x - cfg.preemphasis * previous
    x = F.pad(x * window, (0, cfg.n_fft - cfg.window_size))
    return torch.fft.rfft(x).abs().pow(2.0)


def kaldi_fbank(wav, cfg: FbankConfig = FbankConfig()) -> torch.Tensor:
    """Log mel filterbank energies (frames, num_mel_bins), float32, like torchaudio's kaldi.fbank
    with dither=0 and the defaults in `FbankConfig` (povey window, snip_edges, power spectrum)."""
    wav = _as_mono(wav).to(torch.float32)
    spec = _power_spectrum(wav, cfg, _povey_window(cfg.window_size, torch.float32).to(wav.device))
    banks = kaldi_mel_banks(cfg, torch.float32).to(wav.device)
    mel = torch.mm(spec, banks.T)
    return torch.clamp_min(mel, _FLOAT32_EPS).log()


@dataclass(frozen=True)
class W2vBertFeatureConfig:
    """SeamlessM4T feature extractor settings (facebook/w2v-bert-2.0 `preprocessor_config.json`)."""
    sample_rate: int = 16000
    num_mel_bins: int = 80
    stride: int = 2
    padding_value: float = 1.0

    @classmethod
    def from_preprocessor_config(cls, cfg: dict) -> "W2vBertFeatureConfig":
        kind = cfg.get("feature_extractor_type", "SeamlessM4TFeatureExtractor")
        if kind != "SeamlessM4TFeatureExtractor":
            raise ValueError(f"unsupported feature extractor {kind!r} (expected SeamlessM4TFeatureExtractor)")
        return cls(sample_rate=int(cfg.get("sampling_rate", 16000)), num_mel_bins=int(cfg.get("num_mel_bins", 80)),
                   stride=int(cfg.get("stride", 2)), padding_value=float(cfg.get("padding_value", 1.0)))


def w2v_bert_features(wav, cfg: W2vBertFeatureConfig = W2vBertFeatureConfig()):
    """16 kHz waveform in [-1, 1] -> (input_features (1, T, 80*stride) float32, attention_mask (1, T) int32).

    Same result as `SeamlessM4TFeatureExtractor(wav, sampling_rate=16000)` for one utterance:
    int16-scaled Kaldi fbank in float64 (the FFT output rounded to complex64 like the numpy code),
    per-bin normalisation with the unbiased variance, padding to a multiple of `stride` frames with
    `padding_value` (mask 0), then frame stacking; the mask keeps every stride-th frame's flag.
    """
    wav = _as_mono(wav)
    device = wav.device
    fb = FbankConfig(sample_rate=cfg.sample_rate, num_mel_bins=cfg.num_mel_bins)
    x = wav.to(torch.float32).cpu() * 32768.0   # Kaldi convention: int16 range (float32 product, as numpy)
    x = _frames(x.to(torch.float64).contiguous(), fb)
    x = x - x.mean(dim=1, keepdim=True)
    x = torch.cat([x[:, :1] * (1.0 - fb.preemphasis), x[:, 1:] - fb.preemphasis * x[:, :-1]], dim=1)
    x = F.pad(x * _povey_window(fb.window_size, torch.float64), (0, fb.n_fft - fb.window_size))
    spec = torch.fft.rfft(x).to(torch.complex64).abs().to(torch.float64).pow(2.0)
    banks = _w2v_mel_banks(fb)
    feats = torch.clamp_min(spec @ banks.T, _FLOAT32_EPS).log().to(torch.float32)   # (frames, 80)

    n = feats.shape[0]
    if n < 2:
        raise ValueError(f"audio too short for w2v-BERT features: {wav.shape[-1]} samples give {n} frame(s)")
    mean = feats.mean(0, keepdim=True)
    var = feats.var(0, keepdim=True, unbiased=True)
    feats = (feats - mean) / torch.sqrt(var + 1e-7)

    mask = torch.ones(n, dtype=torch.int32)
    pad = (-n) % cfg.stride
    if pad:
        feats = torch.cat([feats, feats.new_full((pad, feats.shape[1]), cfg.padding_value)])
        mask = torch.cat([mask, mask.new_zeros(pad)])
    total = n + pad
    feats = feats.reshape(1, total // cfg.stride, feats.shape[1] * cfg.stride)
    mask = mask[cfg.stride - 1::cfg.stride].unsqueeze(0)
    return feats.to(device), mask.to(device)


def _w2v_mel_banks(cfg: FbankConfig) -> torch.Tensor:
    """transformers' `mel_filter_bank(..., mel_scale="kaldi", triangularize_in_mel_space=True)` in
    float64: edges from a numpy-style linspace in mel space, FFT bin centres mapped to mel."""
    num_bins = cfg.n_fft // 2
    mel_low, mel_high = kaldi_mel_scale(cfg.low_freq), kaldi_mel_scale(cfg.sample_rate // 2)
    step = (mel_high - mel_low) / (cfg.num_mel_bins + 1)
    edges = torch.arange(cfg.num_mel_bins + 2, dtype=torch.float64) * step + mel_low
    edges[-1] = mel_high
    fft_mel = kaldi_mel_scale((cfg.sample_rate / (num_bins * 2)) * torch.arange(num_bins, dtype=torch.float64))
    diff = edges[1:] - edges[:-1]
    slopes = edges.unsqueeze(0) - fft_mel.unsqueeze(1)            # (bins, mels+2)
    down = -slopes[:, :-2] / diff[:-1]
    up = slopes[:, 2:] / diff[1:]
    banks = torch.clamp_min(torch.minimum(down, up), 0.0)          # (bins, mels)
    return F.pad(banks.T, (0, 1))                                   # (mels, bins+1), Nyquist column zero
