"""CAMPPlus (3D-Speaker CAM++) speaker embedding: 80-bin Kaldi fbank -> 192-d style vector.

Layout and parameter names follow `campplus_cn_common.bin` (funasr/campplus), loaded unchanged:
`head.*` is a small 2-D ResNet over (freq, time) that strides only the frequency axis, `xvector.*`
a densely connected TDNN with context-aware masking, statistics pooling and a 192-d dense layer.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import load_on_meta, read_checkpoint
from .fbank import FbankConfig, kaldi_fbank

__all__ = ["CAMPPlusDims", "CAMPPlus", "load_campplus", "campplus_features", "speaker_style"]


@dataclass(frozen=True)
class CAMPPlusDims:
    feat_dim: int = 80
    embedding_size: int = 192
    growth_rate: int = 32
    bn_size: int = 4
    init_channels: int = 128
    head_channels: int = 32                 # FCM m_channels (hard-coded in the reference)
    block_layers: tuple = (12, 24, 16)
    block_dilations: tuple = (1, 2, 2)

    @classmethod
    def from_kwargs(cls, kw: dict) -> "CAMPPlusDims":
        """From CAMPPlus constructor kwargs (feat_dim, embedding_size, growth_rate, bn_size, init_channels)."""
        if kw.get("config_str", "batchnorm-relu") != "batchnorm-relu":
            raise ValueError(f"unsupported CAMPPlus config_str {kw.get('config_str')!r}")
        default = cls()
        return cls(feat_dim=int(kw.get("feat_dim", default.feat_dim)),
                   embedding_size=int(kw.get("embedding_size", default.embedding_size)),
                   growth_rate=int(kw.get("growth_rate", default.growth_rate)),
                   bn_size=int(kw.get("bn_size", default.bn_size)),
                   init_channels=int(kw.get("init_channels", default.init_channels)))


class BNReLU(nn.Sequential):
    """`get_nonlinear('batchnorm-relu')`: keys `<name>.batchnorm.*`."""

    def __init__(self, channels: int, affine: bool = True, relu: bool = True):
        super().__init__()
        self.batchnorm = nn.BatchNorm1d(channels, affine=affine)
        if relu:
            self.relu = nn.ReLU()


class ResBlock2d(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=(stride, 1), bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.shortcut(x))


class FCM(nn.Module):
    """2-D front: (B, F, T) -> (B, C * F/8, T)."""

    def __init__(self, dims: CAMPPlusDims):
        super().__init__()
        channels = dims.head_channels
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.layer1 = nn.Sequential(ResBlock2d(channels, channels, 2), ResBlock2d(channels, channels, 1))
        self.layer2 = nn.Sequential(ResBlock2d(channels, channels, 2), ResBlock2d(channels, channels, 1))
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.out_channels = channels * (dims.feat_dim // 8)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x.unsqueeze(1))))
        x = F.relu(self.bn2(self.conv2(self.layer2(self.layer1(x)))))
        return x.flatten(1, 2)


class TDNN(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, kernel, stride=stride, padding=(kernel - 1) // 2, bias=False)
        self.nonlinear = BNReLU(cout)

    def forward(self, x):
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    """Local conv gated by a sigmoid of (utterance mean + 100-frame segment means)."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int, seg_len: int = 100):
        super().__init__()
        self.seg_len = seg_len
        self.linear_local = nn.Conv1d(cin, cout, kernel, padding=(kernel - 1) // 2 * dilation, dilation=dilation,
                                      bias=False)
        self.linear1 = nn.Conv1d(cin, cin // 2, 1)
        self.linear2 = nn.Conv1d(cin // 2, cout, 1)

    def forward(self, x):
        t = x.shape[-1]
        seg = F.avg_pool1d(x, self.seg_len, self.seg_len, ceil_mode=True)   # last segment may be partial
        seg = seg.repeat_interleave(self.seg_len, dim=-1)[..., :t]
        context = F.relu(self.linear1(x.mean(-1, keepdim=True) + seg))
        return self.linear_local(x) * torch.sigmoid(self.linear2(context))


class DenseTDNNLayer(nn.Module):
    def __init__(self, cin: int, growth: int, bottleneck: int, dilation: int):
        super().__init__()
        self.nonlinear1 = BNReLU(cin)
        self.linear1 = nn.Conv1d(cin, bottleneck, 1, bias=False)
        self.nonlinear2 = BNReLU(bottleneck)
        self.cam_layer = CAMLayer(bottleneck, growth, 3, dilation)

    def forward(self, x):
        return self.cam_layer(self.nonlinear2(self.linear1(self.nonlinear1(x))))


class DenseBlock(nn.Module):
    def __init__(self, layers: int, cin: int, growth: int, bottleneck: int, dilation: int):
        super().__init__()
        for i in range(layers):
            self.add_module(f"tdnnd{i + 1}", DenseTDNNLayer(cin + i * growth, growth, bottleneck, dilation))

    def forward(self, x):
        for layer in self.children():
            x = torch.cat([x, layer(x)], dim=1)
        return x


class Transit(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.nonlinear = BNReLU(cin)
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.linear(self.nonlinear(x))


class Dense(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.linear = nn.Conv1d(cin, cout, 1, bias=False)
        self.nonlinear = BNReLU(cout, affine=False, relu=False)

    def forward(self, x):   # (B, C)
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class StatsPool(nn.Module):
    def forward(self, x):   # mean ‖ unbiased std over time
        return torch.cat([x.mean(-1), x.std(-1, unbiased=True)], dim=-1)


class CAMPPlus(nn.Module):
    """forward(fbank (B, T, 80), mean-normalised over time) -> (B, 192)."""

    def __init__(self, dims: CAMPPlusDims = CAMPPlusDims()):
        super().__init__()
        self.dims = dims
        self.head = FCM(dims)
        x = nn.Sequential()
        x.add_module("tdnn", TDNN(self.head.out_channels, dims.init_channels, 5, stride=2))
        channels = dims.init_channels
        for i, (layers, dilation) in enumerate(zip(dims.block_layers, dims.block_dilations)):
            bottleneck = dims.bn_size * dims.growth_rate
            x.add_module(f"block{i + 1}", DenseBlock(layers, channels, dims.growth_rate, bottleneck, dilation))
            channels += layers * dims.growth_rate
            x.add_module(f"transit{i + 1}", Transit(channels, channels // 2))
            channels //= 2
        x.add_module("out_nonlinear", BNReLU(channels))
        x.add_module("stats", StatsPool())
        x.add_module("dense", Dense(2 * channels, dims.embedding_size))
        self.xvector = x

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        if feats.dim() != 3 or feats.shape[-1] != self.dims.feat_dim:
            raise ValueError(f"CAMPPlus expects fbank (B, T, {self.dims.feat_dim}), got {tuple(feats.shape)}")
        return self.xvector(self.head(feats.transpose(1, 2)))


def load_campplus(path, dims: CAMPPlusDims | None = None, device="cpu", dtype=torch.float32) -> CAMPPlus:
    """Load `campplus_cn_common.bin` (a plain state dict, torch.load weights_only=True), strict."""
    model = load_on_meta(lambda: CAMPPlus(dims or CAMPPlusDims()), read_checkpoint(path), os.fspath(path))
    return model.to(device=device, dtype=dtype).eval()


def campplus_features(audio_16k: torch.Tensor) -> torch.Tensor:
    """Reference CAMPPlus input: Kaldi fbank (80 bins, dither 0) of the float 16 kHz waveform, minus
    its time mean -> (T, 80)."""
    feats = kaldi_fbank(audio_16k, FbankConfig(sample_rate=16000, num_mel_bins=80))
    return feats - feats.mean(0, keepdim=True)


@torch.no_grad()
def speaker_style(model: CAMPPlus, audio_16k: torch.Tensor) -> torch.Tensor:
    """16 kHz prompt (1, N) -> style vector (1, 192)."""
    p = next(model.parameters())
    feats = campplus_features(audio_16k.float().cpu()).to(device=p.device, dtype=p.dtype)
    return model(feats.unsqueeze(0))
