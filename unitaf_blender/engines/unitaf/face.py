"""UniTAF face head: AudioFeatureProjector + UniTalker TCN decoder (+ optional expression model).

Input is the 50 Hz `gpt_layer` feature of S2Mel (1024-d at official size); output is 61
blendshape-weight channels at 25 fps. Channels 0-50 are UniTalker's in-house ARKit order;
51-60 are unnamed and (per the shipped training loss) unsupervised, so they are dropped when
building a Performance.

All widths are read from the checkpoint shapes, so the same code loads the official files and
the tiny parity fixtures unchanged.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...core.channels import HEAD_EYE_ROTATIONS, canonical
from .checkpoint import CheckpointError, load_on_meta, read_checkpoint
from .options import EXPRESSION_MODES

PROJECTOR_FILE = "audio_feature_projector.pt"
DECODER_FILE = "a2f_model.pt"
EXPRESSION_FILE = "expression_model.pt"
FACE_FPS = 25.0
HEAD_KEY = "qxsk_inhouse_blendshape_weight"

# UniTalker's in-house 51-ARKit order (reference §4.5); index = output channel.
UNITALKER_51 = (
    "EyeBlinkLeft", "EyeBlinkRight", "EyeSquintLeft", "EyeSquintRight", "EyeLookDownLeft",
    "EyeLookDownRight", "EyeLookInLeft", "EyeLookInRight", "EyeWideLeft", "EyeWideRight",
    "EyeLookOutLeft", "EyeLookOutRight", "EyeLookUpLeft", "EyeLookUpRight", "BrowDownLeft",
    "BrowDownRight", "BrowInnerUp", "BrowOuterUpLeft", "BrowOuterUpRight", "JawOpen",
    "MouthClose", "JawLeft", "JawRight", "JawForward", "MouthUpperUpLeft",
    "MouthUpperUpRight", "MouthLowerDownLeft", "MouthLowerDownRight", "MouthRollUpper", "MouthRollLower",
    "MouthSmileLeft", "MouthSmileRight", "MouthDimpleLeft", "MouthDimpleRight", "MouthStretchLeft",
    "MouthStretchRight", "MouthFrownLeft", "MouthFrownRight", "MouthPressLeft", "MouthPressRight",
    "MouthPucker", "MouthFunnel", "MouthLeft", "MouthRight", "MouthShrugLower",
    "MouthShrugUpper", "NoseSneerLeft", "NoseSneerRight", "CheekPuff", "CheekSquintLeft",
    "CheekSquintRight",
)
assert len(UNITALKER_51) == 51


def channel_names() -> tuple:
    """Canonical (camelCase ARKit) names of output channels 0-50. tongueOut is not produced."""
    names = tuple(canonical(n) for n in UNITALKER_51)
    assert None not in names and len(set(names)) == 51
    return names


# ARKit-style channels this head never produces (the mapping layer should report them as unset).
NOT_PRODUCED = ("tongueOut",) + HEAD_EYE_ROTATIONS
UNNAMED = tuple(f"unitafChannel{i}" for i in range(51, 61))  # only with keep_unnamed=True


def to_performance_channels(motion, keep_unnamed: bool = False) -> tuple:
    """(names, weights [T, C] float32) from a [T, 61] or [1, T, 61] model output.

    Values stay unclamped (as the reference); clamp at the Blender boundary. Channels 51-60
    are dropped unless `keep_unnamed`: they are unidentified and received no training signal.
    """
    if isinstance(motion, torch.Tensor):
        motion = motion.detach().float().cpu().numpy()
    motion = np.asarray(motion, dtype=np.float32)
    if motion.ndim == 3:
        if motion.shape[0] != 1:
            raise ValueError(f"expected one sequence, got batch of {motion.shape[0]}")
        motion = motion[0]
    if motion.ndim != 2 or motion.shape[1] < 51:
        raise ValueError(f"face motion must be [T, 61] (or at least 51 channels), got {motion.shape}")
    if keep_unnamed:
        if motion.shape[1] != 61:
            raise ValueError(f"keep_unnamed needs all 61 channels, got {motion.shape[1]}")
        return channel_names() + UNNAMED, np.ascontiguousarray(motion)
    return channel_names(), np.ascontiguousarray(motion[:, :51])


# --------------------------------------------------------------------------- projector

@dataclass
class ProjectorDims:
    in_dim: int = 1024
    hidden: int = 256
    out_dim: int = 768
    head_mid: int = 256
    mid: int = 64
    groups: int = 8
    n_middle: int = 1   # bottlenecks between head and tail (num_blocks - 2)

    @classmethod
    def from_state(cls, sd: dict) -> "ProjectorDims":
        _need(sd, "head.conv1.weight", "projector")
        head_mid, in_dim = sd["head.conv1.weight"].shape[:2]
        mid = sd["tail.conv1.weight"].shape[0]
        n_middle = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        return cls(in_dim=in_dim, hidden=sd["head.conv3.weight"].shape[0],
                   out_dim=sd["tail.conv3.weight"].shape[0], head_mid=head_mid, mid=mid,
                   groups=head_mid // sd["head.conv2.weight"].shape[1], n_middle=n_middle)


class Bottleneck1D(nn.Module):
    """1x1 reduce -> 3-tap grouped conv (maybe strided) -> 1x1 expand, BN after each, residual."""

    def __init__(self, c_in: int, c_out: int, mid: int, groups: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(mid)
        self.conv2 = nn.Conv1d(mid, mid, 3, stride=stride, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm1d(mid)
        self.conv3 = nn.Conv1d(mid, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm1d(c_out)
        self.shortcut = (nn.Conv1d(c_in, c_out, 1, stride=stride, bias=False)
                         if stride != 1 or c_in != c_out else None)

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class AudioFeatureProjector(nn.Module):
    """(B, L, in_dim) at 50 Hz -> (B, ceil(L/2), out_dim) at 25 Hz."""

    def __init__(self, dims: ProjectorDims):
        super().__init__()
        self.dims = dims
        self.head = Bottleneck1D(dims.in_dim, dims.hidden, dims.head_mid, dims.groups)
        self.blocks = nn.ModuleList(
            Bottleneck1D(dims.hidden, dims.hidden, dims.mid, dims.groups) for _ in range(dims.n_middle))
        self.tail = Bottleneck1D(dims.hidden, dims.out_dim, dims.mid, dims.groups, stride=2)
        self.norm = nn.LayerNorm(dims.out_dim)
        self.audio_scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        x = self.head(x.transpose(1, 2))
        for block in self.blocks:
            x = block(x)
        x = self.tail(x).transpose(1, 2)
        return self.norm(x) * self.audio_scale


# --------------------------------------------------------------------------- decoder

@dataclass
class DecoderDims:
    in_dim: int = 768        # projector out_dim
    hidden: int = 256        # decoder_dimension
    style_dim: int = 64
    n_identities: int = 935
    n_layers: int = 3
    out_dim: int = 61

    @classmethod
    def from_state(cls, sd: dict) -> "DecoderDims":
        _need(sd, "decoder.audio_feature_map.weight", "a2f decoder")
        _need(sd, f"out_head_dict.{HEAD_KEY}.weight", "a2f decoder")
        hidden, in_dim = sd["decoder.audio_feature_map.weight"].shape
        n_id, style_dim = sd["decoder.learnable_style_emb.weight"].shape
        n_layers = len({k.split(".")[4] for k in sd if k.startswith("decoder.tcn.first_net.conv_layers.")})
        return cls(in_dim=in_dim, hidden=hidden, style_dim=style_dim, n_identities=n_id,
                   n_layers=n_layers, out_dim=sd[f"out_head_dict.{HEAD_KEY}.weight"].shape[0])


class ConvNormRelu(nn.Module):
    """Conv1d k3 -> LayerNorm over channels -> + residual -> ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, 3, padding=1)
        self.norm = nn.LayerNorm(c_out)
        # Only a width change needs a learned residual; it is a k3 conv in UniTalker.
        self.residual_layer = (nn.Sequential(nn.Conv1d(c_in, c_out, 3, padding=1))
                               if c_in != c_out else None)

    def forward(self, x):  # x: (B, C, T)
        y = self.norm(self.conv(x).transpose(1, 2)).transpose(1, 2)
        y = y + (x if self.residual_layer is None else self.residual_layer(x))
        return F.relu(y)


class _TCN(nn.Module):
    def __init__(self, c_in: int, hidden: int, n_layers: int):
        super().__init__()
        self.conv_layers = nn.ModuleList(
            ConvNormRelu(c_in if i == 0 else hidden, hidden) for i in range(n_layers))

    def forward(self, x):
        for layer in self.conv_layers:
            x = layer(x)
        return x


class _DecoderTCN(nn.Module):
    def __init__(self, dims: DecoderDims):
        super().__init__()
        self.learnable_style_emb = nn.Embedding(dims.n_identities, dims.style_dim)
        self.audio_feature_map = nn.Linear(dims.in_dim, dims.hidden)
        self.tcn = nn.Module()
        self.tcn.first_net = _TCN(dims.hidden + dims.style_dim, dims.hidden, dims.n_layers)

    def forward(self, x, style_idx):  # x: (B, T, in_dim) -> (B, T, hidden)
        feat = self.audio_feature_map(x).transpose(1, 2)
        style = self.learnable_style_emb(style_idx)[:, :, None].expand(-1, -1, feat.shape[2])
        return self.tcn.first_net(torch.cat([feat, style], dim=1)).transpose(1, 2)


class UniTalkerDecoder(nn.Module):
    """UniTalker's TCN decoder with the 61-channel `qxsk_inhouse_blendshape_weight` head."""

    def __init__(self, dims: DecoderDims):
        super().__init__()
        self.dims = dims
        self.decoder = _DecoderTCN(dims)
        self.out_head_dict = nn.ModuleDict({HEAD_KEY: nn.Linear(dims.hidden, dims.out_dim)})

    def features(self, x, style_idx=None):
        if style_idx is None:  # the reference uses the last ("pivot") identity at inference
            style_idx = torch.full((x.shape[0],), self.dims.n_identities - 1, dtype=torch.long, device=x.device)
        return self.decoder(x, style_idx)

    def forward(self, x, style_idx=None):
        # The template is all zeros in UniTAF, so no offset is added.
        return self.out_head_dict[HEAD_KEY](self.features(x, style_idx))


# --------------------------------------------------------------------------- expression model

@dataclass
class ExpressionDims:
    gpt_dim: int = 1024
    face_dim: int = 61
    emo_dim: int = 1280
    hidden: int = 256
    n_cross_layers: int = 4
    n_film_layers: int = 4  # film mode takes num_layers from its config; cross_attn always has 4
    n_heads: int = 4        # not stored in the weights; the reference always uses 4
    ff: int = 1024

    @classmethod
    def from_state(cls, sd: dict, n_heads: int = 4) -> "ExpressionDims":
        _need(sd, "gpt_proj.weight", "expression model")
        hidden, gpt_dim = sd["gpt_proj.weight"].shape
        def count(prefix):
            return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})
        return cls(gpt_dim=gpt_dim, face_dim=sd["mouth_proj.weight"].shape[1],
                   emo_dim=sd["emo_proj.weight"].shape[1], hidden=hidden,
                   n_cross_layers=count("cross_layers."), n_film_layers=count("transformer_film.layers."),
                   n_heads=n_heads, ff=sd["cross_layers.0.ff.0.weight"].shape[0])


class Attention(nn.Module):
    """Multi-head attention with torch.nn.MultiheadAttention's parameter layout (packed in_proj)."""

    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * dim))
        self.out_proj = nn.Linear(dim, dim)

    def forward(self, q, kv):
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        B, T, D = q.shape
        h = self.n_heads

        def heads(t):
            return t.view(B, -1, h, D // h).transpose(1, 2)
        out = F.scaled_dot_product_attention(
            heads(F.linear(q, w_q, b_q)), heads(F.linear(kv, w_k, b_k)), heads(F.linear(kv, w_v, b_v)))
        return self.out_proj(out.transpose(1, 2).reshape(B, T, D))


class EncoderLayer(nn.Module):
    """Post-norm transformer layer (ReLU FF), named like torch.nn.TransformerEncoderLayer."""

    def __init__(self, dims: ExpressionDims):
        super().__init__()
        self.self_attn = Attention(dims.hidden, dims.n_heads)
        self.linear1 = nn.Linear(dims.hidden, dims.ff)
        self.linear2 = nn.Linear(dims.ff, dims.hidden)
        self.norm1 = nn.LayerNorm(dims.hidden)
        self.norm2 = nn.LayerNorm(dims.hidden)

    def forward(self, x):
        x = self.norm1(x + self.self_attn(x, x))
        return self.norm2(x + self.linear2(F.relu(self.linear1(x))))


class CrossAttnBlock(nn.Module):
    def __init__(self, dims: ExpressionDims):
        super().__init__()
        self.self_attn = Attention(dims.hidden, dims.n_heads)
        self.cross_attn = Attention(dims.hidden, dims.n_heads)
        self.norm1 = nn.LayerNorm(dims.hidden)
        self.norm2 = nn.LayerNorm(dims.hidden)
        self.norm3 = nn.LayerNorm(dims.hidden)
        # indices 1 and 2 (GELU, dropout) hold no weights; keep .0/.3 numbering of the checkpoint
        self.ff = nn.Sequential(nn.Linear(dims.hidden, dims.ff), nn.GELU(), nn.Identity(),
                                nn.Linear(dims.ff, dims.hidden))

    def forward(self, x, mouth):
        x = self.norm1(x + self.self_attn(x, x))
        x = self.norm2(x + self.cross_attn(x, mouth))
        return self.norm3(x + self.ff(x))


class ExpressionModel(nn.Module):
    """Emotion-driven residual added to the mouth motion. Both modes' weights always exist."""

    def __init__(self, dims: ExpressionDims, mode: str = "cross_attn"):
        super().__init__()
        if mode not in EXPRESSION_MODES:
            raise ValueError(f"expression mode must be one of {EXPRESSION_MODES}, got {mode!r}")
        self.dims, self.mode = dims, mode
        self.gpt_proj = nn.Linear(dims.gpt_dim, dims.hidden)
        self.mouth_proj = nn.Linear(dims.face_dim, dims.hidden)
        self.emo_proj = nn.Linear(dims.emo_dim, dims.hidden)
        self.film = nn.Module()
        self.film.linear = nn.Linear(dims.emo_dim, 2 * dims.hidden)
        self.transformer_film = nn.Module()
        self.transformer_film.layers = nn.ModuleList(EncoderLayer(dims) for _ in range(dims.n_film_layers))
        self.cross_layers = nn.ModuleList(CrossAttnBlock(dims) for _ in range(dims.n_cross_layers))
        self.out_proj = nn.Sequential(nn.Linear(dims.hidden, dims.hidden), nn.GELU(),
                                      nn.Linear(dims.hidden, dims.face_dim))
        self.residual_scale = nn.Parameter(torch.tensor(0.1))

    def forward(self, feature, mouth, emovec):
        """feature (B, L, gpt_dim) at 50 Hz unpadded, mouth (B, T, 61), emovec (B, emo_dim) -> (B, T, 61)."""
        g = self.gpt_proj(feature).transpose(1, 2)
        g = F.interpolate(g, size=mouth.shape[1], mode="linear", align_corners=False).transpose(1, 2)
        m = self.mouth_proj(mouth)
        x = g + m + self.emo_proj(emovec)[:, None, :]
        if self.mode == "film":
            for layer in self.transformer_film.layers:
                x = layer(x)
            gamma, beta = self.film.linear(emovec)[:, None, :].chunk(2, dim=-1)
            x = x * (1 + gamma) + beta
        else:
            for block in self.cross_layers:
                x = block(x, m)
        return self.residual_scale * self.out_proj(x)


# --------------------------------------------------------------------------- wrapper

class FaceHead(nn.Module):
    """gpt_layer feature (B, L, 1024) at 50 Hz -> face motion (B, T, 61) at 25 fps.

    pad="always" matches the reference non-streaming path (one zero frame appended, so
    T = floor(L/2) + 1); pad="odd" matches its streaming path (T = ceil(L/2)).
    """

    def __init__(self, projector: AudioFeatureProjector, decoder: UniTalkerDecoder,
                 expression: Optional[ExpressionModel] = None):
        super().__init__()
        self.projector, self.decoder, self.expression = projector, decoder, expression
        self.fps = FACE_FPS

    @classmethod
    def from_dir(cls, path, expression_path=None, expression_mode: str = "cross_attn",
                 device="cpu", dtype=torch.float32) -> "FaceHead":
        """Load `audio_feature_projector.pt` and `a2f_model.pt` from `path`.

        The expression model is loaded only from a real checkpoint: `expression_path`, or
        `<path>/expression_model.pt` when it exists. Otherwise it stays off (None); a
        randomly initialised residual is never used.
        """
        path = os.fspath(path)
        projector = load_projector(os.path.join(path, PROJECTOR_FILE))
        decoder = load_decoder(os.path.join(path, DECODER_FILE))
        if expression_path is None and os.path.isfile(os.path.join(path, EXPRESSION_FILE)):
            expression_path = os.path.join(path, EXPRESSION_FILE)
        expression = load_expression(expression_path, expression_mode) if expression_path else None
        if projector.dims.out_dim != decoder.dims.in_dim:
            raise CheckpointError(f"{path}: projector outputs {projector.dims.out_dim} channels but the "
                                  f"decoder takes {decoder.dims.in_dim}")
        head = cls(projector, decoder, expression)
        return head.to(device=device, dtype=dtype).eval()

    @property
    def in_dim(self) -> int:
        return self.projector.dims.in_dim

    @staticmethod
    def pad_input(feature, pad: str = "always"):
        if pad == "always" or (pad == "odd" and feature.shape[1] % 2 == 1):
            return F.pad(feature, (0, 0, 0, 1))
        if pad in ("odd", "none"):
            return feature
        raise ValueError(f"pad must be 'always', 'odd' or 'none', got {pad!r}")

    def mouth(self, feature, pad: str = "always"):
        return self.decoder(self.projector(self.pad_input(feature, pad)))

    @torch.inference_mode()
    def forward(self, feature, emovec=None, pad: str = "always"):
        if feature.ndim != 3 or feature.shape[-1] != self.in_dim:
            raise ValueError(f"face head expects a [B, L, {self.in_dim}] feature, got {tuple(feature.shape)}")
        if feature.shape[1] < 1:
            raise ValueError("face head needs at least one feature frame")
        ref = self.decoder.decoder.audio_feature_map.weight  # follow the head's device and dtype
        feature = feature.to(ref.device, ref.dtype)
        mouth = self.mouth(feature, pad)
        if self.expression is not None and emovec is not None:
            emovec = emovec.to(ref.device, ref.dtype).reshape(feature.shape[0], -1)
            if emovec.shape[1] != self.expression.dims.emo_dim:
                raise ValueError(f"emotion vector must have {self.expression.dims.emo_dim} values, "
                                 f"got {emovec.shape[1]}")
            mouth = mouth + self.expression(feature, mouth, emovec)
        return mouth


def load_projector(path) -> AudioFeatureProjector:
    sd = read_checkpoint(path)
    dims = ProjectorDims.from_state(sd)
    return load_on_meta(lambda: AudioFeatureProjector(dims), sd, str(path)).eval()


def load_decoder(path) -> UniTalkerDecoder:
    sd = read_checkpoint(path)
    # UniTAF's file may also carry other dataset heads or the loss module; only the 61 head is used.
    ignore = ("loss_module.",) + tuple(
        f"out_head_dict.{k}." for k in {m.group(1) for m in map(re.compile(r"out_head_dict\.([^.]+)\.").match, sd) if m}
        if k != HEAD_KEY)
    dims = DecoderDims.from_state(sd)
    return load_on_meta(lambda: UniTalkerDecoder(dims), sd, str(path), ignore=ignore).eval()


def load_expression(path, mode: str = "cross_attn") -> ExpressionModel:
    sd = read_checkpoint(path)
    dims = ExpressionDims.from_state(sd)
    return load_on_meta(lambda: ExpressionModel(dims, mode=mode), sd, str(path)).eval()


def _need(sd: dict, key: str, what: str) -> None:
    if key not in sd:
        raise CheckpointError(f"not a {what} checkpoint: key {key!r} is missing (found e.g. {list(sd)[:3]})")
