"""Semantic features: w2v-BERT 2.0 (first 17 conformer layers) -> stats normalisation -> MaskGCT RepCodec.

IndexTTS2 keeps `hidden_states[17]` of facebook/w2v-bert-2.0 (the output of conformer layer 17 of
24), so only those layers are built. Parameter names are the HF `Wav2Vec2BertModel` names in the
official `model.safetensors`, loaded as they are (no transformers). The RepCodec half is the
encoder + factorised VQ of MaskGCT's `semantic_codec/model.safetensors` (the decoder is unused).
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import CheckpointError, load_on_meta, read_checkpoint
from .fbank import W2vBertFeatureConfig, w2v_bert_features

__all__ = ["W2vBertDims", "W2vBertEncoder", "load_w2v_bert", "SemanticStats", "load_semantic_stats",
           "semantic_embedding", "RepCodecDims", "RepCodec", "load_repcodec", "SEMANTIC_LAYER"]

SEMANTIC_LAYER = 17   # IndexTTS2 uses hidden_states[17]


# --------------------------------------------------------------------------------------------
# w2v-BERT 2.0 conformer encoder
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class W2vBertDims:
    hidden: int = 1024
    heads: int = 16
    ffn: int = 4096
    input_dim: int = 160           # stacked fbank pairs
    conv_kernel: int = 31
    left_positions: int = 64       # relative_key distance clamp [-left, +right]
    right_positions: int = 8
    eps: float = 1e-5
    num_layers: int = 24           # layers in the checkpoint (we build only `used_layers`)

    @classmethod
    def from_hf_config(cls, cfg: dict) -> "W2vBertDims":
        """From the w2v-bert-2.0 `config.json` (values it lacks fall back to the official ones)."""
        if cfg.get("position_embeddings_type", "relative_key") != "relative_key":
            raise ValueError(f"unsupported w2v-BERT position_embeddings_type {cfg.get('position_embeddings_type')!r}")
        if cfg.get("hidden_act", "swish") not in ("swish", "silu"):
            raise ValueError(f"unsupported w2v-BERT hidden_act {cfg.get('hidden_act')!r}")
        default = cls()
        return cls(hidden=int(cfg.get("hidden_size", default.hidden)),
                   heads=int(cfg.get("num_attention_heads", default.heads)),
                   ffn=int(cfg.get("intermediate_size", default.ffn)),
                   input_dim=int(cfg.get("feature_projection_input_dim", default.input_dim)),
                   conv_kernel=int(cfg.get("conv_depthwise_kernel_size", default.conv_kernel)),
                   left_positions=int(cfg.get("left_max_position_embeddings", default.left_positions)),
                   right_positions=int(cfg.get("right_max_position_embeddings", default.right_positions)),
                   eps=float(cfg.get("layer_norm_eps", default.eps)),
                   num_layers=int(cfg.get("num_hidden_layers", default.num_layers)))


class FeedForward(nn.Module):
    def __init__(self, dims: W2vBertDims):
        super().__init__()
        self.intermediate_dense = nn.Linear(dims.hidden, dims.ffn)
        self.output_dense = nn.Linear(dims.ffn, dims.hidden)

    def forward(self, x):
        return self.output_dense(F.silu(self.intermediate_dense(x)))


class RelativeKeyAttention(nn.Module):
    """MHA with a learned relative-distance key term: score_ij = q_i.(k_j + E[clamp(j-i)]) / sqrt(d)."""

    def __init__(self, dims: W2vBertDims):
        super().__init__()
        self.heads, self.head_dim = dims.heads, dims.hidden // dims.heads
        self.left, self.right = dims.left_positions, dims.right_positions
        self.linear_q = nn.Linear(dims.hidden, dims.hidden)
        self.linear_k = nn.Linear(dims.hidden, dims.hidden)
        self.linear_v = nn.Linear(dims.hidden, dims.hidden)
        self.linear_out = nn.Linear(dims.hidden, dims.hidden)
        self.distance_embedding = nn.Embedding(dims.left_positions + dims.right_positions + 1, self.head_dim)

    def forward(self, x, distance_index, key_bias):
        b, t, _ = x.shape
        q = self.linear_q(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = self.linear_k(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        v = self.linear_v(x).view(b, t, self.heads, self.head_dim).transpose(1, 2)
        # q . E for the 73 possible distances, then gathered per (i, j): avoids a (T, T, d) tensor
        q_dist = q @ self.distance_embedding.weight.to(q.dtype).T                    # (b, h, t, 73)
        bias = torch.gather(q_dist, 3, distance_index.expand(b, self.heads, t, t)) / math.sqrt(self.head_dim)
        if key_bias is not None:
            bias = bias + key_bias
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.linear_out(out.transpose(1, 2).reshape(b, t, -1))


class ConvModule(nn.Module):
    """LN -> pointwise (2C) -> GLU -> causal depthwise conv -> LN -> swish -> pointwise."""

    def __init__(self, dims: W2vBertDims):
        super().__init__()
        self.layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.pointwise_conv1 = nn.Conv1d(dims.hidden, 2 * dims.hidden, 1, bias=False)
        self.depthwise_conv = nn.Conv1d(dims.hidden, dims.hidden, dims.conv_kernel, groups=dims.hidden, bias=False)
        self.depthwise_layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.pointwise_conv2 = nn.Conv1d(dims.hidden, dims.hidden, 1, bias=False)

    def forward(self, x, pad_mask):
        x = self.layer_norm(x)
        if pad_mask is not None:   # padded frames must not leak into the convolution
            x = x.masked_fill(pad_mask.unsqueeze(-1), 0.0)
        # 1x1 convs as matmuls on (B, T, C): same weights, no layout round trips
        x = F.glu(F.linear(x, self.pointwise_conv1.weight.squeeze(-1)), dim=-1)
        x = self.depthwise_conv(F.pad(x.transpose(1, 2), (self.depthwise_conv.kernel_size[0] - 1, 0)))
        x = F.silu(self.depthwise_layer_norm(x.transpose(1, 2)))
        return F.linear(x, self.pointwise_conv2.weight.squeeze(-1))


class ConformerLayer(nn.Module):
    """Macaron conformer block: ½FFN, attention, conv, ½FFN, final LN."""

    def __init__(self, dims: W2vBertDims):
        super().__init__()
        self.ffn1_layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.ffn1 = FeedForward(dims)
        self.self_attn_layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.self_attn = RelativeKeyAttention(dims)
        self.conv_module = ConvModule(dims)
        self.ffn2_layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)
        self.ffn2 = FeedForward(dims)
        self.final_layer_norm = nn.LayerNorm(dims.hidden, eps=dims.eps)

    def forward(self, x, distance_index, key_bias, pad_mask):
        x = x + 0.5 * self.ffn1(self.ffn1_layer_norm(x))
        x = x + self.self_attn(self.self_attn_layer_norm(x), distance_index, key_bias)
        x = x + self.conv_module(x, pad_mask)
        x = x + 0.5 * self.ffn2(self.ffn2_layer_norm(x))
        return self.final_layer_norm(x)


class FeatureProjection(nn.Module):
    def __init__(self, dims: W2vBertDims):
        super().__init__()
        self.layer_norm = nn.LayerNorm(dims.input_dim, eps=dims.eps)
        self.projection = nn.Linear(dims.input_dim, dims.hidden)

    def forward(self, x):
        return self.projection(self.layer_norm(x))


class W2vBertEncoder(nn.Module):
    """w2v-BERT 2.0 up to `used_layers`: forward returns hidden_states[used_layers] (B, T, hidden)."""

    def __init__(self, dims: W2vBertDims = W2vBertDims(), used_layers: int = SEMANTIC_LAYER):
        super().__init__()
        if not 1 <= used_layers <= dims.num_layers:
            raise ValueError(f"used_layers must be in 1..{dims.num_layers}, got {used_layers}")
        if dims.hidden % dims.heads:
            raise ValueError(f"w2v-BERT hidden size {dims.hidden} is not divisible by {dims.heads} heads")
        self.dims, self.used_layers = dims, used_layers
        self.feature_projection = FeatureProjection(dims)
        self.encoder = nn.Module()
        self.encoder.layers = nn.ModuleList(ConformerLayer(dims) for _ in range(used_layers))

    def forward(self, input_features: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """input_features (B, T, 160), attention_mask (B, T) 1 = valid frame."""
        x = self.feature_projection(input_features.to(self.feature_projection.projection.weight.dtype))
        b, t, _ = x.shape
        pos = torch.arange(t, device=x.device)
        dist = (pos[None, :] - pos[:, None]).clamp(-self.dims.left_positions, self.dims.right_positions)
        distance_index = (dist + self.dims.left_positions).view(1, 1, t, t)
        key_bias = pad_mask = None
        if attention_mask is not None and not bool(attention_mask.bool().all()):
            pad_mask = ~attention_mask.bool()
            x = x.masked_fill(pad_mask.unsqueeze(-1), 0.0)
            # HF adds finfo.min to padded keys (not -inf: a fully padded row stays finite)
            key_bias = pad_mask[:, None, None, :].to(x.dtype) * torch.finfo(x.dtype).min
        for layer in self.encoder.layers:
            x = layer(x, distance_index, key_bias, pad_mask)
        return x


_LAYER_KEY = re.compile(r"^encoder\.layers\.(\d+)\.")


def load_w2v_bert(model_dir, used_layers: int = SEMANTIC_LAYER, device="cpu", dtype=torch.float32,
                  config=None) -> W2vBertEncoder:
    """Build from `<model_dir>/config.json` and load `<model_dir>/model.safetensors` unchanged
    (`model_dir` = the facebook/w2v-bert-2.0 snapshot folder, or its model.safetensors path).
    `config`: the config.json path or its parsed dict instead of the one beside the weights
    (`{}` = the official w2v-bert-2.0 dimensions).

    The checkpoint must hold every tensor of the layers we build; layers above `used_layers`
    (7 of 24, ~680 MB of the 2.3 GB file), `masked_spec_embed` and any adapter/head are never
    read. Mismatches raise CheckpointError naming the file and the first bad key.
    """
    model_dir = os.fspath(model_dir)
    weights = model_dir
    if os.path.isfile(model_dir):   # the model.safetensors path itself: config.json sits beside it
        model_dir = os.path.dirname(model_dir)
    else:
        weights = os.path.join(model_dir, "model.safetensors")
    if not isinstance(config, dict):
        cfg_path = os.fspath(config) if config is not None else os.path.join(model_dir, "config.json")
        try:
            with open(cfg_path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{cfg_path}: cannot read the w2v-BERT config ({exc})") from exc
        if not isinstance(config, dict):
            raise CheckpointError(f"{cfg_path}: not a w2v-BERT config (expected a JSON object)")
    dims = W2vBertDims.from_hf_config(config)

    def keep(key):
        m = _LAYER_KEY.match(key)
        if m:
            return key if int(m.group(1)) < used_layers else None
        return key if key.startswith("feature_projection.") else None

    # built on meta (no random init of ~400 M parameters): it takes the tensors read, ~1x the weights
    model = load_on_meta(lambda: W2vBertEncoder(dims, used_layers),
                         read_checkpoint(weights, keys=lambda key: keep(key) is not None), weights, rename=keep)
    return model.to(device=device, dtype=dtype).eval()


# --------------------------------------------------------------------------------------------
# wav2vec2bert_stats.pt
# --------------------------------------------------------------------------------------------

class SemanticStats(nn.Module):
    """(x - mean) / sqrt(var) with the IndexTTS2 statistics of w2v-BERT layer 17."""

    def __init__(self, mean: torch.Tensor, var: torch.Tensor):
        super().__init__()
        self.register_buffer("mean", mean.float().reshape(-1))
        self.register_buffer("std", torch.sqrt(var.float().reshape(-1)))

    def forward(self, x):
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)


def load_semantic_stats(path, dim: int | None = None, device="cpu") -> SemanticStats:
    state = read_checkpoint(path)
    for key in ("mean", "var"):
        if key not in state:
            raise CheckpointError(f"{path}: missing key {key!r} (expected a dict with 'mean' and 'var')")
    mean, var = state["mean"], state["var"]
    if mean.numel() != var.numel() or (dim is not None and mean.numel() != dim):
        raise CheckpointError(f"{path}: key 'mean' has {mean.numel()} values, 'var' {var.numel()}, "
                              f"the model needs {dim if dim is not None else mean.numel()}")
    if not bool((var > 0).all()):
        raise CheckpointError(f"{path}: key 'var' has non-positive entries")
    return SemanticStats(mean, var).to(device)


_FEATURES = W2vBertFeatureConfig()   # frozen: safe to share as a default


@torch.no_grad()
def semantic_embedding(w2v: W2vBertEncoder, stats: SemanticStats, audio_16k: torch.Tensor,
                       feature_cfg: W2vBertFeatureConfig = _FEATURES) -> torch.Tensor:
    """16 kHz prompt (1, N) -> normalised layer-17 features (1, T, hidden) at 50 Hz, in the model's
    dtype/device: IndexTTS2's `spk_cond_emb` / `emo_cond_emb`."""
    feats, mask = w2v_bert_features(audio_16k.float().cpu(), feature_cfg)
    p = w2v.feature_projection.projection.weight
    return stats(w2v(feats.to(device=p.device, dtype=p.dtype), mask.to(p.device)))


# --------------------------------------------------------------------------------------------
# MaskGCT RepCodec (encoder + factorised VQ)
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RepCodecDims:
    codebook_size: int = 8192
    hidden_size: int = 1024
    codebook_dim: int = 8
    vocos_dim: int = 384
    vocos_intermediate_dim: int = 2048
    vocos_num_layers: int = 12

    @classmethod
    def from_config(cls, cfg: dict) -> "RepCodecDims":
        """From the `semantic_codec:` section of config.yaml."""
        if int(cfg.get("num_quantizers", 1)) != 1 or int(cfg.get("downsample_scale") or 1) != 1:
            raise ValueError("only the MaskGCT semantic codec layout is supported: 1 quantizer, no downsampling "
                             f"(config has num_quantizers={cfg.get('num_quantizers')}, "
                             f"downsample_scale={cfg.get('downsample_scale')})")
        names = {f.name for f in fields(cls)}
        return cls(**{k: int(v) for k, v in cfg.items() if k in names})


class ConvNeXtBlock(nn.Module):
    def __init__(self, dim: int, intermediate: int):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, intermediate)
        self.pwconv2 = nn.Linear(intermediate, dim)
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x):   # (B, C, T)
        y = self.dwconv(x).transpose(1, 2)
        y = self.gamma * self.pwconv2(F.gelu(self.pwconv1(self.norm(y))))
        return x + y.transpose(1, 2)


class VocosBackbone(nn.Module):
    def __init__(self, dims: RepCodecDims):
        super().__init__()
        self.embed = nn.Conv1d(dims.hidden_size, dims.vocos_dim, 7, padding=3)
        self.norm = nn.LayerNorm(dims.vocos_dim, eps=1e-6)
        self.convnext = nn.ModuleList(ConvNeXtBlock(dims.vocos_dim, dims.vocos_intermediate_dim)
                                      for _ in range(dims.vocos_num_layers))
        self.final_layer_norm = nn.LayerNorm(dims.vocos_dim, eps=1e-6)

    def forward(self, x):   # (B, C_in, T) -> (B, T, dim)
        x = self.norm(self.embed(x).transpose(1, 2)).transpose(1, 2)
        for block in self.convnext:
            x = block(x)
        return self.final_layer_norm(x.transpose(1, 2))


class WeightNormConv1x1(nn.Module):
    """1x1 Conv1d stored as weight_g/weight_v (torch.nn.utils.weight_norm, dim 0)."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.weight_g = nn.Parameter(torch.ones(cout, 1, 1))
        self.weight_v = nn.Parameter(torch.randn(cout, cin, 1) / math.sqrt(cin))
        self.bias = nn.Parameter(torch.zeros(cout))

    def weight(self):
        v = self.weight_v
        return self.weight_g * v / v.norm(dim=(1, 2), keepdim=True)

    def forward(self, x):   # (B, C, T)
        return F.conv1d(x, self.weight(), self.bias)


class FactorizedVQ(nn.Module):
    def __init__(self, dims: RepCodecDims):
        super().__init__()
        self.in_project = WeightNormConv1x1(dims.hidden_size, dims.codebook_dim)
        self.out_project = WeightNormConv1x1(dims.codebook_dim, dims.hidden_size)
        self.codebook = nn.Embedding(dims.codebook_size, dims.codebook_dim)

    def codes(self, x):   # (B, C, T) -> (B, T)
        z = self.in_project(x)
        b, _, t = z.shape
        enc = F.normalize(z.transpose(1, 2).reshape(b * t, -1))
        book = F.normalize(self.codebook.weight)
        # nearest by the same squared distance the reference computes (cosine on unit vectors)
        dist = enc.pow(2).sum(1, keepdim=True) - 2 * enc @ book.T + book.pow(2).sum(1, keepdim=True).T
        return (-dist).max(1)[1].view(b, t)

    def embed(self, codes):   # (B, T) -> (B, C, T); the un-normalised codebook row -> out_project
        return self.out_project(self.codebook(codes).transpose(1, 2))


class RepCodec(nn.Module):
    """quantize(x (B,T,hidden)) -> (codes (B,T), embeddings (B,T,hidden)); vq2emb(codes) -> (B,hidden,T)."""

    def __init__(self, dims: RepCodecDims = RepCodecDims()):
        super().__init__()
        self.dims = dims
        self.encoder = nn.Sequential(VocosBackbone(dims), nn.Linear(dims.vocos_dim, dims.hidden_size))
        self.quantizer = nn.Module()
        self.quantizer.quantizers = nn.ModuleList([FactorizedVQ(dims)])

    def quantize(self, x: torch.Tensor):
        z = self.encoder(x.transpose(1, 2)).transpose(1, 2)      # (B, hidden, T)
        vq = self.quantizer.quantizers[0]
        codes = vq.codes(z)
        return codes, vq.embed(codes).transpose(1, 2)

    def vq2emb(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, T) -> (B, hidden, T) (channel-first, as the reference's `quantizer.vq2emb`)."""
        if codes.dim() != 2:
            raise ValueError(f"codes must be (B, T), got {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.dims.codebook_size):
            raise ValueError(f"semantic codes must be in [0, {self.dims.codebook_size}), "
                             f"got [{int(codes.min())}, {int(codes.max())}]")
        return self.quantizer.quantizers[0].embed(codes)


def load_repcodec(path, dims: RepCodecDims | None = None, device="cpu", dtype=torch.float32) -> RepCodec:
    """Load MaskGCT `semantic_codec/model.safetensors` unchanged; the decoder half is never read.
    `dims` default: the official config; pass `RepCodecDims.from_config(cfg['semantic_codec'])`."""
    state = read_checkpoint(path, keys=lambda key: not key.startswith("decoder."))
    model = load_on_meta(lambda: RepCodec(dims or RepCodecDims()), state, os.fspath(path))
    return model.to(device=device, dtype=dtype).eval()
