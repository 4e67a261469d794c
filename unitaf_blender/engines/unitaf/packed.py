"""bf16 linear layers on a CPU with oneDNN-packed weights.

F.linear in bf16 on a CPU hands the weight to oneDNN in its plain layout on every call; laid out
once for oneDNN's kernels (`torch.ops.mkldnn._reorder_linear_weight`, what torch.compile's CPU
weight packing uses), the products are the same and the few-row products of decoding run
1.5-5x faster here (bench/README.md). Used where a model runs in bf16 on a CPU: the text-emotion
Qwen3 (qwen3.pack_for_cpu) and the GPT's blocks and mel head (gpt.UnifiedVoice.optimize_for_inference).
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PackedLinear", "packing_works", "packs"]


class PackedLinear(nn.Module):
    """y = x @ weight.T + bias with the weight packed once; any leading dimensions."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.packed = torch.ops.mkldnn._reorder_linear_weight(weight.detach())
        self.bias = None if bias is None else bias.detach().to(weight.dtype)

    def forward(self, x):
        rows = x.reshape(-1, self.in_features).contiguous()
        y = torch.ops.mkldnn._linear_pointwise(rows, self.packed, self.bias, "none", [], "")
        return y.view(*x.shape[:-1], self.out_features)


@lru_cache(maxsize=1)
def packing_works() -> bool:
    """oneDNN can pack and multiply bf16 weights on this CPU and gives F.linear's numbers
    (probed once, at a tiny shape); False on builds or CPUs without it."""
    try:
        if not (torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()):
            return False
        gen = torch.Generator().manual_seed(0)
        w = torch.randn(16, 32, generator=gen).to(torch.bfloat16)
        b = torch.randn(16, generator=gen).to(torch.bfloat16)
        x = torch.randn(3, 32, generator=gen).to(torch.bfloat16)
        return bool(torch.equal(PackedLinear(w, b)(x), F.linear(x, w, b)))
    except (RuntimeError, AttributeError):
        return False


def packs(device: torch.device, dtype: torch.dtype) -> bool:
    """Whether a model on this device in this float type gets packed weights: bf16 on a CPU where
    oneDNN packing works."""
    return device.type == "cpu" and dtype == torch.bfloat16 and packing_works()
