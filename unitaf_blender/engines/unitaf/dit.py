"""The S2Mel flow-matching estimator: a DiT (gpt-fast style blocks, adaptive RMSNorm on the
timestep, U-ViT skips, a long skip) followed by a WaveNet final layer. Predicts the velocity
dx/dt of mel frames (B, 80, T) given the noisy mel, the prompt mel, content and speaker style.

Module and parameter names follow the reference state dict (`cfm.estimator.*`) so checkpoints
load key-by-key; weight-norm pairs are folded into plain weights before loading.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class DiTDims:
    n_mels: int = 80
    style_dim: int = 192
    content_dim: int = 512      # width of the length-regulated content (`cond`)
    dim: int = 512
    n_heads: int = 8
    depth: int = 13
    wn_dim: int = 512           # WaveNet width; must equal `dim` (final adaLN takes the DiT t-embedding)
    wn_layers: int = 8
    wn_kernel: int = 5
    wn_dilation_rate: int = 1
    uvit_skips: bool = True
    long_skip: bool = True
    rope_base: float = 10000.0
    norm_eps: float = 1e-5

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    @property
    def ffn_dim(self) -> int:
        # gpt-fast: int(2 * 4 * dim / 3) rounded up to a multiple of 256
        n = int(2 * 4 * self.dim / 3)
        return n if n % 256 == 0 else n + 256 - n % 256


# --- time embedding ----------------------------------------------------------------------------

class TimestepEmbedder(nn.Module):
    def __init__(self, dim: int, freq_dim: int = 256):
        super().__init__()
        half = freq_dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half))
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:   # t: (B,) in [0, 1]
        args = 1000 * t[:, None].float() * self.freqs[None]
        return self.mlp(torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(self.mlp[0].weight.dtype))


# --- transformer ---------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        xf = x.float()  # statistics in fp32 even for half-precision runs
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.normalize(x) * self.weight


class AdaptiveRMSNorm(nn.Module):
    """weight(c) * RMSNorm(x) + bias(c); c is the timestep embedding."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.project_layer = nn.Linear(dim, 2 * dim)
        self.norm = RMSNorm(dim, eps)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        weight, bias = self.project_layer(c).chunk(2, dim=-1)
        # fold the norm gain into the (B, 1, D) modulation: one full-size multiply-add instead of three
        return torch.addcmul(bias, self.norm.normalize(x), weight * self.norm.weight)


def rope_table(n_pos: int, head_dim: int, base: float) -> torch.Tensor:
    """(n_pos, head_dim/2, 2) cos/sin table for interleaved-pair rotary embeddings (fp32)."""
    inv = 1.0 / (base ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim))
    ang = torch.outer(torch.arange(n_pos), inv)
    return torch.stack([torch.cos(ang), torch.sin(ang)], dim=-1)


def rope_factors(rope: torch.Tensor):
    """(T, D/2, 2) cos/sin -> (T, 1, D) factors C, S such that rope(x) = x·C + swap_pairs(x)·S."""
    cos, sin = rope[..., 0], rope[..., 1]
    c = torch.stack([cos, cos], dim=-1).flatten(-2)
    s = torch.stack([-sin, sin], dim=-1).flatten(-2)
    return c[:, None], s[:, None]


def apply_rope(x: torch.Tensor, factors) -> torch.Tensor:
    """x (B, T, H, D): rotate each interleaved (even, odd) pair by its position angle (in fp32)."""
    c, s = factors
    xf = x.float()
    swapped = xf.unflatten(-1, (-1, 2)).flip(-1).flatten(-2)     # (x1, x0) per pair
    return torch.addcmul(xf * c, swapped, s).type_as(x)


class Attention(nn.Module):
    def __init__(self, dims: DiTDims):
        super().__init__()
        self.n_heads, self.head_dim = dims.n_heads, dims.head_dim
        self.wqkv = nn.Linear(dims.dim, 3 * dims.n_heads * dims.head_dim, bias=False)
        self.wo = nn.Linear(dims.n_heads * dims.head_dim, dims.dim, bias=False)

    def forward(self, x, rope, mask):
        B, T, _ = x.shape
        qkv = self.wqkv(x).view(B, T, 3, self.n_heads, self.head_dim)
        qk = apply_rope(qkv[:, :, :2].reshape(B, T, 2 * self.n_heads, self.head_dim), rope)   # q and k at once
        q, k = qk.view(B, T, 2, self.n_heads, self.head_dim).unbind(2)
        v = qkv[:, :, 2]
        y = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask)
        return self.wo(y.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):  # SwiGLU
    def __init__(self, dims: DiTDims):
        super().__init__()
        self.w1 = nn.Linear(dims.dim, dims.ffn_dim, bias=False)
        self.w3 = nn.Linear(dims.dim, dims.ffn_dim, bias=False)
        self.w2 = nn.Linear(dims.ffn_dim, dims.dim, bias=False)

    def forward(self, x):
        return self.w2(F.silu(self.w1(x), inplace=True).mul_(self.w3(x)))


class Block(nn.Module):
    def __init__(self, dims: DiTDims):
        super().__init__()
        self.attention = Attention(dims)
        self.feed_forward = FeedForward(dims)
        self.attention_norm = AdaptiveRMSNorm(dims.dim, dims.norm_eps)
        self.ffn_norm = AdaptiveRMSNorm(dims.dim, dims.norm_eps)
        # every block owns one (checkpoint layout) but only the second half uses it
        self.skip_in_linear = nn.Linear(2 * dims.dim, dims.dim) if dims.uvit_skips else None

    def forward(self, x, c, rope, mask, skip: Optional[torch.Tensor] = None):
        if skip is not None:
            x = self.skip_in_linear(torch.cat([x, skip], dim=-1))
        h = x + self.attention(self.attention_norm(x, c), rope, mask)
        return h + self.feed_forward(self.ffn_norm(h, c))


class Transformer(nn.Module):
    def __init__(self, dims: DiTDims):
        super().__init__()
        self.layers = nn.ModuleList(Block(dims) for _ in range(dims.depth))
        self.norm = AdaptiveRMSNorm(dims.dim, dims.norm_eps)
        self.uvit_skips = dims.uvit_skips

    def forward(self, x, c, rope, mask):
        # U-ViT: outputs of the first depth//2 blocks are consumed LIFO by the blocks after the middle one
        n, stack = len(self.layers), []
        for i, layer in enumerate(self.layers):
            skip = stack.pop() if self.uvit_skips and i > n // 2 else None
            x = layer(x, c, rope, mask, skip)
            if self.uvit_skips and i < n // 2:
                stack.append(x)
        return self.norm(x, c)


# --- WaveNet final layer -------------------------------------------------------------------------

def reflect_pad(x: torch.Tensor, left: int, right: int) -> torch.Tensor:
    """Reflect padding that also works when the signal is shorter than the pad (zero-extends first)."""
    extra = max(left, right) - x.shape[-1] + 1 if x.shape[-1] <= max(left, right) else 0
    if extra:
        x = F.pad(x, (0, extra))
    x = F.pad(x, (left, right), mode="reflect")
    return x[..., : x.shape[-1] - extra] if extra else x


class WaveNet(nn.Module):
    """Gated dilated conv stack (VITS `WN`) with a global condition g; convs reflect-pad ('same')."""

    def __init__(self, dim: int, kernel: int, dilation_rate: int, n_layers: int, gin: int):
        super().__init__()
        self.dim, self.kernel = dim, kernel
        self.dilations = [dilation_rate ** i for i in range(n_layers)]
        self.cond_layer = nn.Conv1d(gin, 2 * dim * n_layers, 1)
        self.in_layers = nn.ModuleList(nn.Conv1d(dim, 2 * dim, kernel, dilation=dl) for dl in self.dilations)
        self.res_skip_layers = nn.ModuleList(
            nn.Conv1d(dim, 2 * dim if i < n_layers - 1 else dim, 1) for i in range(n_layers))

    def forward(self, x, mask: Optional[torch.Tensor], g):
        """x (B, dim, T); mask (B|1, 1, T) or None when every frame is valid; g (B, gin, 1)."""
        out = None
        g = self.cond_layer(g)
        H, n = self.dim, len(self.in_layers)
        for i, (conv, res_skip, dl) in enumerate(zip(self.in_layers, self.res_skip_layers, self.dilations)):
            pad = (self.kernel - 1) * dl
            a = conv(reflect_pad(x, pad - pad // 2, pad // 2)).add_(g[:, 2 * H * i: 2 * H * (i + 1)])
            acts = torch.tanh(a[:, :H]).mul_(torch.sigmoid(a[:, H:]))
            rs = res_skip(acts)
            skip = rs[:, H:] if i < n - 1 else rs
            out = skip.clone() if out is None else out.add_(skip)
            if i < n - 1:
                x = x + rs[:, :H]
                if mask is not None:
                    x = x * mask
        return out if mask is None else out * mask


class FinalLayer(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.linear = nn.Linear(dim, dim)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 2 * dim))

    def forward(self, x, c):
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        x = F.layer_norm(x, (x.shape[-1],), eps=1e-6)
        return self.linear(x * (1 + scale[:, None]) + shift[:, None])


# --- the estimator -------------------------------------------------------------------------------

class DiT(nn.Module):
    def __init__(self, dims: DiTDims):
        super().__init__()
        if dims.wn_dim != dims.dim:
            raise ValueError(f"WaveNet width {dims.wn_dim} must equal the DiT width {dims.dim}")
        self.dims = dims
        self.transformer = Transformer(dims)
        self.cond_projection = nn.Linear(dims.content_dim, dims.dim)
        self.cond_x_merge_linear = nn.Linear(dims.dim + 2 * dims.n_mels + dims.style_dim, dims.dim)
        self.t_embedder = TimestepEmbedder(dims.dim)
        self.t_embedder2 = TimestepEmbedder(dims.wn_dim)
        self.skip_linear = nn.Linear(dims.dim + dims.n_mels, dims.dim) if dims.long_skip else None
        self.conv1 = nn.Linear(dims.dim, dims.wn_dim)
        self.wavenet = WaveNet(dims.wn_dim, dims.wn_kernel, dims.wn_dilation_rate, dims.wn_layers, gin=dims.wn_dim)
        self.res_projection = nn.Linear(dims.dim, dims.wn_dim)
        self.final_layer = FinalLayer(dims.wn_dim)
        self.conv2 = nn.Conv1d(dims.wn_dim, dims.n_mels, 1)
        self._rope = None   # cached RoPE factors, grown on demand

    def rope(self, T: int, device):
        if self._rope is None or self._rope[0].shape[0] < T or self._rope[0].device != device:
            n = max(T, 1024)
            self._rope = rope_factors(rope_table(n, self.dims.head_dim, self.dims.rope_base).to(device))
        return self._rope[0][:T], self._rope[1][:T]

    def forward(self, x, prompt_x, x_lens, t, style, cond):
        """x, prompt_x (B, 80, T); x_lens (B,) or (1,) valid frames; t (B,); style (B, S); cond (B, T, C).
        Returns the velocity (B, 80, T)."""
        B, _, T = x.shape
        dtype = self.cond_projection.weight.dtype
        t1 = self.t_embedder(t)
        x = x.transpose(1, 2).to(dtype)
        x_in = torch.cat([x, prompt_x.transpose(1, 2).to(dtype), self.cond_projection(cond.to(dtype)),
                          style.to(dtype)[:, None, :].expand(B, T, style.shape[-1])], dim=-1)
        x_in = self.cond_x_merge_linear(x_in)

        valid = torch.arange(T, device=x.device)[None, :] < x_lens.to(x.device)[:, None]  # (B|1, T)
        # full-length batches need no mask, which lets SDPA take its fastest kernel
        attn_mask = None if bool(valid.all()) else valid[:, None, None, :]
        x_res = self.transformer(x_in, t1[:, None], self.rope(T, x.device), attn_mask)
        if self.skip_linear is not None:
            x_res = self.skip_linear(torch.cat([x_res, x], dim=-1))

        mask = None if attn_mask is None else valid[:, None, :].to(dtype)             # (B|1, 1, T)
        h = self.conv1(x_res).transpose(1, 2)
        h = self.wavenet(h, mask, self.t_embedder2(t)[:, :, None]).transpose(1, 2) + self.res_projection(x_res)
        h = self.final_layer(h, t1).transpose(1, 2)
        return self.conv2(h)
