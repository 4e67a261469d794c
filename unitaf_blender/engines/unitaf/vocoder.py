"""BigVGAN v2 vocoder (nvidia/bigvgan_v2_22khz_80band_256x): log-mel (B, 80, T) -> wav (B, 1, 256·T).

Plain PyTorch, no CUDA kernel. Anti-aliased SnakeBeta activations: 2x upsample (12-tap
Kaiser-sinc, transposed conv), x + sin²(αx)/β, 2x low-pass downsample. Loads `bigvgan_generator.pt`
(`['generator']`, weight-norm pairs folded on load) with the hub `config.json` unchanged.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import load_into, on_meta, read_checkpoint, require_loaded
from .s2mel import fold_weight_norm


@dataclass
class BigVGANDims:
    n_mels: int = 80
    initial_channels: int = 1536
    upsample_rates: list = field(default_factory=lambda: [4, 4, 2, 2, 2, 2])
    upsample_kernels: list = field(default_factory=lambda: [8, 8, 4, 4, 4, 4])
    resblock_kernels: list = field(default_factory=lambda: [3, 7, 11])
    resblock_dilations: list = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3, 5]])
    final_bias: bool = False
    final_tanh: bool = False
    sample_rate: int = 22050

    @property
    def hop(self) -> int:
        return math.prod(self.upsample_rates)

    @classmethod
    def from_config(cls, h: dict) -> "BigVGANDims":
        """From BigVGAN's config.json dict (only the v2 'resblock 1 + log-scale snakebeta' layout)."""
        try:
            if str(h["resblock"]) != "1":
                raise ValueError(f"BigVGAN resblock {h['resblock']!r} is not supported (only '1', AMPBlock1)")
            if h.get("activation") != "snakebeta" or not h.get("snake_logscale", False):
                raise ValueError("BigVGAN activation must be 'snakebeta' with snake_logscale=true")
            return cls(n_mels=int(h["num_mels"]), initial_channels=int(h["upsample_initial_channel"]),
                       upsample_rates=[int(u) for u in h["upsample_rates"]],
                       upsample_kernels=[int(k) for k in h["upsample_kernel_sizes"]],
                       resblock_kernels=[int(k) for k in h["resblock_kernel_sizes"]],
                       resblock_dilations=[[int(d) for d in ds] for ds in h["resblock_dilation_sizes"]],
                       final_bias=bool(h.get("use_bias_at_final", True)),
                       final_tanh=bool(h.get("use_tanh_at_final", True)),
                       sample_rate=int(h["sampling_rate"]))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"BigVGAN config is missing or has a malformed entry: {exc}") from exc


def kaiser_sinc_filter(cutoff: float, half_width: float, kernel: int) -> torch.Tensor:
    """(1, 1, kernel) windowed-sinc low-pass (StyleGAN3 / BigVGAN design), normalised to sum 1."""
    half = kernel // 2
    A = 2.285 * (half - 1) * math.pi * (4 * half_width) + 7.95
    beta = 0.1102 * (A - 8.7) if A > 50 else (0.5842 * (A - 21) ** 0.4 + 0.07886 * (A - 21) if A >= 21 else 0.0)
    window = torch.kaiser_window(kernel, beta=beta, periodic=False)
    time = (torch.arange(-half, half) + 0.5) if kernel % 2 == 0 else (torch.arange(kernel) - half)
    filt = 2 * cutoff * window * torch.sinc(2 * cutoff * time)
    return (filt / filt.sum()).view(1, 1, kernel)


class AntiAliasedSnakeBeta(nn.Module):
    """upsample x2 -> SnakeBeta -> low-pass + downsample x2 (BigVGAN `Activation1d`, torch path)."""

    def __init__(self, channels: int, kernel: int = 12):
        super().__init__()
        # log-scale parameters as stored in the checkpoint
        self.alpha = nn.Parameter(torch.zeros(channels))
        self.beta = nn.Parameter(torch.zeros(channels))
        self.register_buffer("up_filter", kaiser_sinc_filter(0.25, 0.3, kernel))
        self.register_buffer("down_filter", kaiser_sinc_filter(0.25, 0.3, kernel))
        self.kernel = kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        C, k = x.shape[1], self.kernel
        pad = k // 2 - 1                                                    # 5
        x = F.pad(x, (pad, pad), mode="replicate")
        # the x2 gain of zero-stuffing is folded into the (tiny) filter instead of a full-size multiply
        x = F.conv_transpose1d(x, (2 * self.up_filter).expand(C, -1, -1), stride=2, groups=C)
        crop_l, crop_r = pad * 2 + (k - 2) // 2, pad * 2 + (k - 2 + 1) // 2  # 15, 15
        x = x[..., crop_l:-crop_r]
        # SnakeBeta x + sin²(αx)/β with log-scale α, β; in place on the fresh upsampled tensor
        alpha = torch.exp(self.alpha)[None, :, None]
        inv_beta = 1.0 / (torch.exp(self.beta)[None, :, None] + 1e-9)
        s = torch.sin(x * alpha)
        x = x.addcmul_(s.mul_(s), inv_beta)
        x = F.pad(x, (k // 2 - 1, k // 2), mode="replicate")               # 5 left, 6 right
        return F.conv1d(x, self.down_filter.expand(C, -1, -1), stride=2, groups=C)


class Conv1d(nn.Conv1d):
    """Conv1d that runs in its weight's dtype and returns float32: lets the dense convs use
    bf16/fp16 kernels (see BigVGAN.set_compute_dtype) while activations stay float32."""

    def forward(self, x):
        return super().forward(x.to(self.weight.dtype)).float()


class ConvTranspose1d(nn.ConvTranspose1d):
    def forward(self, x):
        return super().forward(x.to(self.weight.dtype)).float()


class AMPBlock(nn.Module):
    """For each dilation d: x += conv_1(act(conv_d(act(x)))), convs 'same'-padded."""

    def __init__(self, channels: int, kernel: int, dilations):
        super().__init__()
        self.convs1 = nn.ModuleList(Conv1d(channels, channels, kernel, dilation=d, padding=(kernel * d - d) // 2)
                                    for d in dilations)
        self.convs2 = nn.ModuleList(Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2)
                                    for _ in dilations)
        self.activations = nn.ModuleList(AntiAliasedSnakeBeta(channels) for _ in range(2 * len(dilations)))

    def forward(self, x):
        for i, (c1, c2) in enumerate(zip(self.convs1, self.convs2)):
            xt = c2(self.activations[2 * i + 1](c1(self.activations[2 * i](x))))
            x = xt.add_(x)   # fresh tensor: the block input is shared by the sibling blocks, never modify it
        return x


class BigVGAN(nn.Module):
    def __init__(self, dims: BigVGANDims = None):
        super().__init__()
        self.dims = dims = dims or BigVGANDims()
        ch = dims.initial_channels
        self.conv_pre = Conv1d(dims.n_mels, ch, 7, padding=3)
        self.ups = nn.ModuleList()
        self.resblocks = nn.ModuleList()
        for i, (u, k) in enumerate(zip(dims.upsample_rates, dims.upsample_kernels)):
            c_in, c_out = ch // 2 ** i, ch // 2 ** (i + 1)
            # wrapped in a list: checkpoint keys are `ups.{i}.0.*`
            self.ups.append(nn.ModuleList([ConvTranspose1d(c_in, c_out, k, u, padding=(k - u) // 2)]))
            for rk, rd in zip(dims.resblock_kernels, dims.resblock_dilations):
                self.resblocks.append(AMPBlock(c_out, rk, rd))
        c_last = ch // 2 ** len(dims.upsample_rates)
        self.activation_post = AntiAliasedSnakeBeta(c_last)
        self.conv_post = Conv1d(c_last, 1, 7, padding=3, bias=dims.final_bias)

    def set_compute_dtype(self, dtype: torch.dtype) -> "BigVGAN":
        """Run the dense convolutions (~70 % of the time) in `dtype` (torch.bfloat16 on CPUs with
        AVX512-BF16/AMX, torch.float16 on GPU); the anti-aliased activations, their filters and the
        signal between layers stay float32. float32 (the default) is the reference-exact path."""
        for m in self.modules():
            if isinstance(m, (Conv1d, ConvTranspose1d)):
                m.to(dtype)
        return self

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """mel (B, 80, T) -> wav (B, 1, hop·T) float32 in [-1, 1]."""
        if mel.dim() != 3 or mel.shape[1] != self.dims.n_mels:
            raise ValueError(f"expected a mel of shape (B, {self.dims.n_mels}, T), got {tuple(mel.shape)}")
        x = self.conv_pre(mel.float())
        n_k = len(self.dims.resblock_kernels)
        for i, up in enumerate(self.ups):
            x = up[0](x)
            xs = self.resblocks[i * n_k](x)
            for j in range(1, n_k):
                xs = xs.add_(self.resblocks[i * n_k + j](x))
            x = xs.div_(n_k)
        x = self.conv_post(self.activation_post(x))
        return torch.tanh(x) if self.dims.final_tanh else torch.clamp(x, -1.0, 1.0)

    @classmethod
    def from_pretrained(cls, directory, device="cpu", dtype=torch.float32) -> "BigVGAN":
        """Load `config.json` + `bigvgan_generator.pt` from a hub-style directory; `dtype` is the
        dense-conv compute dtype (see set_compute_dtype)."""
        cfg_path = os.path.join(os.fspath(directory), "config.json")
        try:
            with open(cfg_path, encoding="utf-8") as f:
                h = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read BigVGAN config {cfg_path}: {exc}") from exc
        dims = BigVGANDims.from_config(h)
        model = on_meta(lambda: cls(dims))   # takes the checkpoint's tensors: ~1x the weights
        ckpt = os.path.join(os.fspath(directory), "bigvgan_generator.pt")
        model.load_state(read_checkpoint(ckpt, container="generator"), source=ckpt, owned=True)
        return require_loaded(model, ckpt).to(device=device).set_compute_dtype(dtype).eval()

    def load_state(self, state: dict, source: str, owned: bool = False) -> None:
        """Load the reference `generator` dict (filters included: they are persistent buffers);
        owned=True: nobody else holds its tensors (just read from the file), so weight-norm pairs
        fold in place."""
        def rename(key: str):
            key = key.replace(".upsample.filter", ".up_filter").replace(".downsample.lowpass.filter", ".down_filter")
            return key.replace(".act.alpha", ".alpha").replace(".act.beta", ".beta")
        # the folded dict is our own: consuming it drops each folded weight's last extra reference
        load_into(self, fold_weight_norm(state, source, in_place=owned), source, rename=rename, consume=True)


def to_int16_range(wav: torch.Tensor) -> torch.Tensor:
    """The reference post-processing: 32767·wav clamped to ±32767 (float, not cast)."""
    return torch.clamp(32767 * wav, -32767.0, 32767.0)
