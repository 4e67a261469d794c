"""Perceiver resampler: a fixed set of learned latents cross-attends to a variable-length context.

Used twice by the IndexTTS2 GPT: 32 speaker latents at model width, and 1 emotion latent.
Keys/values come from [latents ; projected context] (the latents also see themselves).
Parameter names follow the official `gpt.pth` (`perceiver_encoder.layers.{i}.{0,1}.*`).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CrossAttention(nn.Module):
    def __init__(self, dim: int, heads: int, dim_head: int = 64):
        super().__init__()
        self.heads, self.dim_head = heads, dim_head
        inner = heads * dim_head
        self.to_q = nn.Linear(dim, inner, bias=False)
        self.to_kv = nn.Linear(dim, inner * 2, bias=False)
        self.to_out = nn.Linear(inner, dim, bias=False)

    def forward(self, latents, context, key_mask):
        b, n, _ = latents.shape
        kv_in = torch.cat([latents, context], dim=1)
        q = self.to_q(latents)
        k, v = self.to_kv(kv_in).chunk(2, dim=-1)
        q, k, v = (t.view(b, t.shape[1], self.heads, self.dim_head).transpose(1, 2) for t in (q, k, v))
        sim = (q @ k.transpose(-2, -1)) * self.dim_head ** -0.5
        if key_mask is not None:
            sim = sim.masked_fill(~key_mask[:, None, None, :], -torch.finfo(sim.dtype).max)
        out = sim.softmax(-1) @ v
        return self.to_out(out.transpose(1, 2).reshape(b, n, self.heads * self.dim_head))


class GEGLU(nn.Module):
    def forward(self, x):
        x, gate = x.chunk(2, dim=-1)
        return F.gelu(gate) * x


def feed_forward(dim: int, mult: float) -> nn.Sequential:
    inner = int(dim * mult * 2 / 3)
    return nn.Sequential(nn.Linear(dim, inner * 2), GEGLU(), nn.Linear(inner, dim))


class RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim ** 0.5
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.normalize(x, dim=-1) * self.scale * self.gamma


class PerceiverResampler(nn.Module):
    def __init__(self, dim: int, context_dim: int, num_latents: int, heads: int, ff_mult: float, depth: int = 2):
        super().__init__()
        self.proj_context = nn.Linear(context_dim, dim) if context_dim != dim else nn.Identity()
        self.latents = nn.Parameter(torch.zeros(num_latents, dim))
        self.layers = nn.ModuleList(
            nn.ModuleList([CrossAttention(dim, heads), feed_forward(dim, ff_mult)]) for _ in range(depth))
        self.norm = RMSNorm(dim)

    def forward(self, context: torch.Tensor, context_mask: torch.Tensor | None = None) -> torch.Tensor:
        """context (B, T, Dc), context_mask (B, T) bool or None -> latents (B, N, D)."""
        context = self.proj_context(context)
        b = context.shape[0]
        latents = self.latents.unsqueeze(0).expand(b, -1, -1)
        key_mask = None
        if context_mask is not None and not bool(context_mask.all()):
            ones = torch.ones(b, latents.shape[1], dtype=torch.bool, device=context.device)
            key_mask = torch.cat([ones, context_mask], dim=1)
        for attn, ff in self.layers:
            latents = attn(latents, context, key_mask) + latents
            latents = ff(latents) + latents
        return self.norm(latents)
