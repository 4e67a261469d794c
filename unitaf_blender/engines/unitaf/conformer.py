"""Conformer encoder used by the IndexTTS2 GPT for speaker and emotion conditioning.

WeNet-style: Conv2d subsampling by 2 -> N pre-norm blocks (rel-pos self-attention, conv module,
SiLU feed-forward, final LayerNorm) -> `after_norm`. Parameter names follow the official
`gpt.pth` (`conditioning_encoder.*`, `emo_conditioning_encoder.*`) so it loads unchanged.
Input (B, T, C) semantic features at 50 Hz; output (B, (T-1)//2, D) and a key mask (B, 1, T').
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def sinusoid_table(max_len: int, dim: int) -> torch.Tensor:
    """(1, max_len, dim): sin on even channels, cos on odd ones (stored in the checkpoint too)."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * -(math.log(10000.0) / dim))
    pe = torch.zeros(max_len, dim)
    pe[:, 0::2] = torch.sin(position * div)
    pe[:, 1::2] = torch.cos(position * div)
    return pe.unsqueeze(0)


class RelPosEncoding(nn.Module):
    def __init__(self, dim: int, max_len: int = 5000):
        super().__init__()
        self.register_buffer("pe", sinusoid_table(max_len, dim))  # persistent: gpt.pth holds it


class Subsampling2(nn.Module):
    """Conv2d(1->D, k3, s2) + ReLU over (T, C), flatten channels x freq, Linear -> D, scale by sqrt(D)."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(1, dim, 3, 2), nn.ReLU())
        self.out = nn.Sequential(nn.Linear(dim * ((in_dim - 1) // 2), dim))
        self.pos_enc = RelPosEncoding(dim)
        self.scale = math.sqrt(dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.conv(x.unsqueeze(1))                      # (B, D, T', F')
        b, c, t, f = x.shape
        x = self.out(x.transpose(1, 2).reshape(b, t, c * f)) * self.scale
        return x, self.pos_enc.pe[:, :t].to(x.dtype)


class RelPosSelfAttention(nn.Module):
    """Self-attention with the extra positional term (q + v_bias) . linear_pos(pe); WeNet has no rel_shift here."""

    def __init__(self, heads: int, dim: int):
        super().__init__()
        self.h, self.d_k = heads, dim // heads
        self.linear_q = nn.Linear(dim, dim)
        self.linear_k = nn.Linear(dim, dim)
        self.linear_v = nn.Linear(dim, dim)
        self.linear_out = nn.Linear(dim, dim)
        self.linear_pos = nn.Linear(dim, dim, bias=False)
        self.pos_bias_u = nn.Parameter(torch.zeros(heads, self.d_k))
        self.pos_bias_v = nn.Parameter(torch.zeros(heads, self.d_k))

    def forward(self, x, pos_emb, key_mask):
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.h, self.d_k)               # (B, T, H, dk)
        k = self.linear_k(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.h, self.d_k).transpose(1, 2)
        p = self.linear_pos(pos_emb).view(1, t, self.h, self.d_k).transpose(1, 2)
        q_u = (q + self.pos_bias_u).transpose(1, 2)
        q_v = (q + self.pos_bias_v).transpose(1, 2)
        scores = (q_u @ k.transpose(-2, -1) + q_v @ p.transpose(-2, -1)) / math.sqrt(self.d_k)
        if key_mask is not None:
            masked = ~key_mask.unsqueeze(1)                                # (B, 1, 1, T)
            attn = scores.masked_fill(masked, float("-inf")).softmax(-1).masked_fill(masked, 0.0)
        else:
            attn = scores.softmax(-1)
        out = (attn @ v).transpose(1, 2).reshape(b, t, self.h * self.d_k)
        return self.linear_out(out)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.w_1 = nn.Linear(dim, hidden)
        self.w_2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.w_2(F.silu(self.w_1(x)))


class ConvModule(nn.Module):
    def __init__(self, dim: int, kernel: int = 15):
        super().__init__()
        self.pointwise_conv1 = nn.Conv1d(dim, 2 * dim, 1)
        self.depthwise_conv = nn.Conv1d(dim, dim, kernel, padding=(kernel - 1) // 2, groups=dim)
        self.norm = nn.LayerNorm(dim)
        self.pointwise_conv2 = nn.Conv1d(dim, dim, 1)

    def forward(self, x, pad_mask):
        x = x.transpose(1, 2)                                              # (B, D, T)
        if pad_mask is not None:
            x = x.masked_fill(~pad_mask, 0.0)
        x = F.glu(self.pointwise_conv1(x), dim=1)
        x = self.depthwise_conv(x)
        x = F.silu(self.norm(x.transpose(1, 2))).transpose(1, 2)
        x = self.pointwise_conv2(x)
        if pad_mask is not None:
            x = x.masked_fill(~pad_mask, 0.0)
        return x.transpose(1, 2)


class ConformerBlock(nn.Module):
    def __init__(self, dim: int, heads: int, ff_dim: int):
        super().__init__()
        self.self_attn = RelPosSelfAttention(heads, dim)
        self.feed_forward = FeedForward(dim, ff_dim)
        self.conv_module = ConvModule(dim)
        self.norm_ff = nn.LayerNorm(dim)
        self.norm_mha = nn.LayerNorm(dim)
        self.norm_conv = nn.LayerNorm(dim)
        self.norm_final = nn.LayerNorm(dim)

    def forward(self, x, pos_emb, mask):
        x = x + self.self_attn(self.norm_mha(x), pos_emb, mask)
        x = x + self.conv_module(self.norm_conv(x), mask)
        x = x + self.feed_forward(self.norm_ff(x))
        return self.norm_final(x)


class ConformerEncoder(nn.Module):
    def __init__(self, in_dim: int, dim: int, heads: int, ff_dim: int, blocks: int):
        super().__init__()
        self.embed = Subsampling2(in_dim, dim)
        self.encoders = nn.ModuleList(ConformerBlock(dim, heads, ff_dim) for _ in range(blocks))
        self.after_norm = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None):
        """x (B, T, C); lengths (B,) valid frames (None: all). Returns (B, T', D), mask (B, 1, T')."""
        b, t, _ = x.shape
        if lengths is None:
            mask = torch.ones(b, 1, t, dtype=torch.bool, device=x.device)
        else:
            mask = (torch.arange(t, device=x.device)[None, :] < lengths.to(x.device)[:, None]).unsqueeze(1)
        x, pos_emb = self.embed(x)
        mask = mask[:, :, 2::2][:, :, :x.shape[1]]
        # an all-true mask changes nothing; skipping it keeps the common B=1 path lean
        use_mask = None if bool(mask.all()) else mask
        for block in self.encoders:
            x = block(x, pos_emb, use_mask)
        return self.after_norm(x), mask
