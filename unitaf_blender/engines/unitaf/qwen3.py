"""Qwen3 decoder-only language model in plain PyTorch, with a KV cache; its decoding loops are in
qwen3_generate.py (as generate.py decodes for gpt.py).

Used by text_emotion.py for IndexTTS2's emotion-from-text model (`qwen0.6bemo4-merge`, a
Qwen3-0.6B fine-tune). The official `model.safetensors` loads unchanged (HF key names):
  model.embed_tokens.weight
  model.layers.N.input_layernorm / post_attention_layernorm           RMSNorm (fp32 inside)
  model.layers.N.self_attn.{q,k,v,o}_proj.weight                      GQA, no biases
  model.layers.N.self_attn.{q,k}_norm.weight                          RMSNorm per head, before RoPE
  model.layers.N.mlp.{gate,up,down}_proj.weight                       SwiGLU
  model.norm.weight, lm_head.weight (absent or ignored when tie_word_embeddings)
Dimensions come from the checkpoint's config.json; decoding follows generation_config.json
(temperature, top-k, top-p, do_sample, eos ids) with HF's warper order (generate._warp).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as ckpt
from .gpt import KVCache
from .packed import PackedLinear, packs

__all__ = ["Qwen3Dims", "Qwen3", "load_qwen3"]


@dataclass
class Qwen3Dims:
    vocab_size: int = 151936
    hidden_size: int = 1024
    intermediate_size: int = 3072
    layers: int = 28
    heads: int = 16
    kv_heads: int = 8
    head_dim: int = 128
    rms_norm_eps: float = 1e-6
    rope_theta: float = 1_000_000.0
    tie_word_embeddings: bool = True
    max_positions: int = 40960

    @classmethod
    def from_config(cls, cfg: dict) -> "Qwen3Dims":
        """From a HF config.json dict. transformers 5 writes rope_theta under `rope_parameters`."""
        if cfg.get("model_type", "qwen3") != "qwen3":
            raise ckpt.CheckpointError(f"not a Qwen3 config (model_type {cfg.get('model_type')!r})")
        scaling = cfg.get("rope_scaling") or (cfg.get("rope_parameters") or {})
        if scaling.get("rope_type", scaling.get("type", "default")) not in ("default", None):
            raise ckpt.CheckpointError(f"unsupported RoPE scaling {scaling!r}")
        theta = cfg.get("rope_theta", (cfg.get("rope_parameters") or {}).get("rope_theta", cls.rope_theta))
        heads = int(cfg["num_attention_heads"])
        return cls(vocab_size=int(cfg["vocab_size"]), hidden_size=int(cfg["hidden_size"]),
                   intermediate_size=int(cfg["intermediate_size"]), layers=int(cfg["num_hidden_layers"]),
                   heads=heads, kv_heads=int(cfg.get("num_key_value_heads", heads)),
                   head_dim=int(cfg.get("head_dim") or int(cfg["hidden_size"]) // heads),
                   rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)), rope_theta=float(theta),
                   tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
                   max_positions=int(cfg.get("max_position_embeddings", cls.max_positions)))


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        # normalised in fp32, cast back before the gain (as HF Qwen3RMSNorm, so bf16 matches)
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


def _rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Attention(nn.Module):
    def __init__(self, d: Qwen3Dims):
        super().__init__()
        self.d = d
        self.q_proj = nn.Linear(d.hidden_size, d.heads * d.head_dim, bias=False)
        self.k_proj = nn.Linear(d.hidden_size, d.kv_heads * d.head_dim, bias=False)
        self.v_proj = nn.Linear(d.hidden_size, d.kv_heads * d.head_dim, bias=False)
        self.o_proj = nn.Linear(d.heads * d.head_dim, d.hidden_size, bias=False)
        self.q_norm = RMSNorm(d.head_dim, d.rms_norm_eps)
        self.k_norm = RMSNorm(d.head_dim, d.rms_norm_eps)

    def forward(self, x, cos, sin, cache: KVCache, layer: int, pos: int, keep, shape, flat=None):
        """x: the (B*T, hidden) tokens of a (B, T) block (`shape`), or only N of them: `flat`, the
        index of each in the B*T grid (the rest are padding and never computed).
        keep: None, or a bool mask [B, 1, T, L] of the cache slots each query may see (rows with
        holes: left padding, rejected guesses; see Qwen3.forward's `seen`)."""
        d = self.d
        B, T = shape
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        if flat is not None:         # the attention itself works on the (B, T) grid
            q, k, v = (_unflat(t, flat, B * T) for t in (q, k, v))
        q = self.q_norm(q.view(B, T, d.heads, d.head_dim)).transpose(1, 2)
        k = self.k_norm(k.view(B, T, d.kv_heads, d.head_dim)).transpose(1, 2)
        v = v.view(B, T, d.kv_heads, d.head_dim).transpose(1, 2)
        q = q * cos + _rotate_half(q) * sin
        k = k * cos + _rotate_half(k) * sin
        k, v = cache.update(layer, pos, k, v)
        rep = d.heads // d.kv_heads
        if T == 1 or keep is not None:
            # decoding and checked guesses (a few queries per row): the `rep` query heads of a KV
            # group share one batched matmul (no copy of the cache per head; CPU SDPA is slow
            # for a few rows, and with a mask)
            L = k.shape[2]
            qg = q.reshape(B, d.kv_heads, rep * T, d.head_dim)
            att = ((qg @ k.transpose(-1, -2)) * d.head_dim ** -0.5).view(B, d.kv_heads, rep, T, L)
            if T > 1:                # query i (absolute pos+i) sees keys 0..pos+i
                keys = torch.arange(L, device=x.device)
                causal = keys[None, :] <= (pos + torch.arange(T, device=x.device))[:, None]
                att = att.masked_fill(~causal, float("-inf"))
            if keep is not None:
                att = att.masked_fill(~keep[:, :, None], float("-inf"))
            probs = att.float().softmax(-1).to(v.dtype).view(B, d.kv_heads, rep * T, L)
            y = (probs @ v).view(B, d.heads, T, d.head_dim)
        else:                    # one prompt, all of it new: query i (absolute pos+i) sees keys 0..pos+i
            if rep > 1:
                k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            keys = torch.arange(pos + T, device=x.device)
            mask = keys[None, :] <= (pos + torch.arange(T, device=x.device))[:, None]
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        y = y.transpose(1, 2).reshape(B * T, d.heads * d.head_dim)
        return self.o_proj(y if flat is None else y.index_select(0, flat))


def _unflat(t, flat, rows):
    """(N, F) packed rows -> (rows, F) with zeros where no token is."""
    out = t.new_zeros(rows, t.shape[-1])
    return out.index_copy_(0, flat, t)


class MLP(nn.Module):
    def __init__(self, d: Qwen3Dims):
        super().__init__()
        self.gate_proj = nn.Linear(d.hidden_size, d.intermediate_size, bias=False)
        self.up_proj = nn.Linear(d.hidden_size, d.intermediate_size, bias=False)
        self.down_proj = nn.Linear(d.intermediate_size, d.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, d: Qwen3Dims):
        super().__init__()
        self.input_layernorm = RMSNorm(d.hidden_size, d.rms_norm_eps)
        self.self_attn = Attention(d)
        self.post_attention_layernorm = RMSNorm(d.hidden_size, d.rms_norm_eps)
        self.mlp = MLP(d)

    def forward(self, x, cos, sin, cache, layer, pos, keep, shape, flat=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, cache, layer, pos, keep, shape, flat)
        return x + self.mlp(self.post_attention_layernorm(x))


class _Body(nn.Module):
    def __init__(self, d: Qwen3Dims):
        super().__init__()
        self.embed_tokens = nn.Embedding(d.vocab_size, d.hidden_size)
        self.layers = nn.ModuleList(Block(d) for _ in range(d.layers))
        self.norm = RMSNorm(d.hidden_size, d.rms_norm_eps)


def _inv_freq(dims: Qwen3Dims) -> torch.Tensor:
    """RoPE inverse frequencies, fp32 whatever the weights' dtype."""
    d = dims.head_dim
    return 1.0 / (dims.rope_theta ** (torch.arange(0, d, 2, dtype=torch.int64).float() / d))


class Qwen3(nn.Module):
    def __init__(self, dims: Qwen3Dims):
        super().__init__()
        self.dims = dims
        self.model = _Body(dims)
        self.lm_head = None if dims.tie_word_embeddings else nn.Linear(dims.hidden_size, dims.vocab_size, bias=False)
        self.head = None      # the output head as a packed Linear, set by pack_for_cpu
        self.register_buffer("inv_freq", _inv_freq(dims), persistent=False)

    @property
    def device(self):
        return self.model.embed_tokens.weight.device

    @property
    def dtype(self):
        return self.model.embed_tokens.weight.dtype

    def new_cache(self, batch: int, max_len: int) -> KVCache:
        d = self.dims
        return KVCache(d.layers, batch, d.kv_heads, max_len, d.head_dim, self.device, self.dtype)

    def _rope(self, positions: torch.Tensor, dtype):
        """cos/sin for RoPE positions (T,) -> (1, 1, T, D) or (B, T) -> (B, 1, T, D); angles in fp32,
        cast to the compute dtype (HF Qwen3RotaryEmbedding)."""
        emb = positions.float()[..., None] * self.inv_freq.float()
        emb = torch.cat((emb, emb), dim=-1)
        if positions.dim() == 1:
            emb = emb[None]
        return emb.cos().to(dtype)[:, None], emb.sin().to(dtype)[:, None]

    @staticmethod
    def _keep(pos: int, T: int, seen: torch.Tensor):
        """[B, 1, T, pos+T] from seen [B, pos+T] (the cache slots a row may attend): a query sees the
        seen slots (causality is applied in Attention) and always itself, so no softmax row is empty."""
        keys = torch.arange(pos + T, device=seen.device)
        own = keys[None, :] == (pos + torch.arange(T, device=seen.device))[:, None]      # (T, L)
        return (seen[:, None, :] | own[None]).unsqueeze(1)

    def forward(self, ids: torch.Tensor, cache: KVCache, pos: int = 0, all_logits: bool = False,
                positions=None, seen=None, valid=None, argmax: bool = False):
        """ids (B, T) written to cache slots pos..pos+T-1 -> fp32 logits (B, V) of the last position
        (or (B, T, V) with all_logits).

        positions (B, T) + seen (B, pos+T) bool, for batches whose rows hold holes in the cache
        (left padding, rejected guesses): each token's RoPE position (a row counts from its first
        real token, as HF's position_ids do), and the slots each row may attend (within the block,
        causality still applies). Without them: positions pos..pos+T-1, every slot seen.
        valid (B, T) bool: the tokens to compute; the others are padding (no compute, their
        slots must stay unseen; their outputs are meaningless). Rows of different lengths then
        cost only their own tokens.
        argmax: instead of logits, the greedy token of each position ((B,) or (B, T) with
        all_logits; -1 where not valid), taken on the logits in the model's float type (the
        fp32 cast is exact and changes no argmax) and computed only where needed."""
        B, T = ids.shape
        if positions is None:
            positions = torch.arange(pos, pos + T, device=ids.device)
        x = self.model.embed_tokens(ids).reshape(B * T, -1)
        cos, sin = self._rope(positions, x.dtype)
        keep = None if seen is None else self._keep(pos, T, seen)
        flat = None if valid is None else valid.reshape(-1).nonzero().squeeze(1)
        if flat is not None:
            x = x.index_select(0, flat)
        for i, block in enumerate(self.model.layers):
            x = block(x, cos, sin, cache, i, pos, keep, (B, T), flat)
        if all_logits:
            out_rows, h = (torch.arange(B * T, device=ids.device) if flat is None else flat), x
        else:               # the last position of each row (which must be valid)
            last = torch.arange(B, device=ids.device) * T + T - 1
            out_rows = last
            h = x.index_select(0, last if flat is None else torch.searchsorted(flat, last))
        h = self.model.norm(h)
        if self.head is not None:
            logits = self.head(h)
        else:
            logits = F.linear(h, self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight)
        if argmax:
            best = logits.argmax(-1)
            if not all_logits:
                return best
            grid = torch.full((B * T,), -1, dtype=torch.long, device=ids.device)
            grid[out_rows] = best
            return grid.view(B, T)
        logits = logits.float()
        if not all_logits:
            return logits
        if flat is None:
            return logits.view(B, T, -1)
        grid = logits.new_zeros(B * T, logits.shape[-1])
        grid[flat] = logits
        return grid.view(B, T, -1)


def pack_for_cpu(model: "Qwen3") -> bool:
    """bf16 on a CPU: every projection and the output head get oneDNN-packed weights (a tied
    head as a copy, as the embedding lookups still read the matrix: +0.3 GB for Qwen3-0.6B).
    False, and nothing changed, for other float types, devices, or where packing does not work."""
    if not packs(model.device, model.dtype):
        return False
    for block in model.model.layers:
        for owner, names in ((block.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                             (block.mlp, ("gate_proj", "up_proj", "down_proj"))):
            for name in names:
                setattr(owner, name, PackedLinear(getattr(owner, name).weight))
    head = model.model.embed_tokens.weight if model.lm_head is None else model.lm_head.weight
    model.head = PackedLinear(head)
    model.lm_head = None          # an untied head now lives in `head` only
    return True


def _stored_keys(model: Qwen3):
    """The file's tensors to read: a stored lm_head is never read when the config ties it to the
    embeddings (Qwen3-0.6B's file may hold both; tied models use the embedding matrix, as HF does)."""
    if model.lm_head is None:
        return lambda key: key != "lm_head.weight"
    return None


def load_qwen3(model_dir, device="cpu", dtype: Optional[torch.dtype] = None,
               weights: Optional[str] = None) -> Qwen3:
    """Build from `<model_dir>/config.json` and load `<model_dir>/model.safetensors` (or `weights`)
    with our safetensors reader (never pickle). dtype None keeps fp32."""
    model_dir = os.fspath(model_dir)
    cfg_path = os.path.join(model_dir, "config.json")
    try:
        with open(cfg_path, encoding="utf-8") as f:
            dims = Qwen3Dims.from_config(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ckpt.CheckpointError(f"{cfg_path}: cannot read the Qwen3 config ({exc})") from exc
    weights = weights or os.path.join(model_dir, "model.safetensors")
    # on meta in the target dtype: each tensor is cast as it loads, the file's copy dropped at once
    # (a bf16 file into fp32 weights peaks at ~1x the fp32 weights, into bf16 at ~1x the file)
    model = ckpt.on_meta(lambda: Qwen3(dims)).to(dtype or torch.float32)
    ckpt.load_into(model, ckpt.read_safetensors(weights, keys=_stored_keys(model)), weights, consume=True)
    model.inv_freq = _inv_freq(dims)   # the one non-persistent buffer: still on meta until here
    model = ckpt.require_loaded(model, weights).to(device=device).eval()
    pack_for_cpu(model)
    return model
