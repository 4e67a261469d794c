"""S2Mel: semantic features -> 80-band mel, by conditional flow matching (IndexTTS2 `MyModel`).

Three parts, loaded from `s2mel.pth['net']` unchanged:
  gpt_layer        GPT latent (1280) -> 1024 features at 50 Hz. This is ALSO the feature tap the
                   UniTAF face head consumes (`S2Mel.gpt_layer(latent)`).
  length_regulator content (1024) at 50 Hz -> 512-d content at the mel rate (nearest + convs).
  cfm              the DiT velocity estimator, integrated with Euler steps + classifier-free guidance.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checkpoint import CheckpointError, load_into, on_meta, read_checkpoint, require_loaded
from .dit import DiT, DiTDims

MEL_FRAMES_PER_CODE = 1.72   # the reference's approximation of 22050 / 256 / 50 = 1.7227


@dataclass
class S2MelDims:
    gpt_dim: int = 1280          # GPT latent width (gpt_layer input)
    feat_dim: int = 1024         # gpt_layer output = semantic width = length-regulator input
    content_dim: int = 512       # length-regulator channels
    regulator_blocks: int = 4    # len(sampling_ratios)
    dit: DiTDims = field(default_factory=DiTDims)

    @classmethod
    def from_config(cls, s2mel_cfg: dict) -> "S2MelDims":
        """From the `s2mel:` section of the official config.yaml (tiny configs may add
        `gpt_layer_in_dim` / `gpt_layer_out_dim`; the official widths are the defaults)."""
        try:
            lr, dt, wn = s2mel_cfg["length_regulator"], s2mel_cfg["DiT"], s2mel_cfg["wavenet"]
            _require(dt.get("final_layer_type", "wavenet") == "wavenet", "DiT.final_layer_type must be 'wavenet'")
            for flag in ("time_as_token", "style_as_token", "is_causal", "zero_prompt_speech_token"):
                _require(not dt.get(flag, False), f"DiT.{flag}=true is not supported")
            _require(dt.get("style_condition", True), "DiT.style_condition=false is not supported")
            _require(not lr.get("is_discrete", False), "length_regulator.is_discrete=true is not supported")
            _require(not lr.get("vector_quantize", False), "length_regulator.vector_quantize is not supported")
            _require(not lr.get("f0_condition", False), "length_regulator.f0_condition is not supported")
            _require(len(lr["sampling_ratios"]) > 0, "length_regulator.sampling_ratios must not be empty")
            dit = DiTDims(
                n_mels=int(dt["in_channels"]), style_dim=int(s2mel_cfg["style_encoder"]["dim"]),
                content_dim=int(dt["content_dim"]), dim=int(dt["hidden_dim"]), n_heads=int(dt["num_heads"]),
                depth=int(dt["depth"]), wn_dim=int(wn["hidden_dim"]), wn_layers=int(wn["num_layers"]),
                wn_kernel=int(wn["kernel_size"]), wn_dilation_rate=int(wn["dilation_rate"]),
                uvit_skips=bool(dt.get("uvit_skip_connection", False)),
                long_skip=bool(dt.get("long_skip_connection", False)))
            return cls(gpt_dim=int(s2mel_cfg.get("gpt_layer_in_dim", 1280)),
                       feat_dim=int(s2mel_cfg.get("gpt_layer_out_dim", lr["in_channels"])),
                       content_dim=int(lr["channels"]), regulator_blocks=len(lr["sampling_ratios"]), dit=dit)
        except (KeyError, TypeError) as exc:
            raise ValueError(f"s2mel config is missing or has a malformed entry: {exc}") from exc


def _require(ok: bool, msg: str) -> None:
    if not ok:
        raise ValueError(f"unsupported s2mel config: {msg}")


class LengthRegulator(nn.Module):
    """Content (B, T_in, feat) -> (B, T_out, channels): project, nearest-resample to the target
    length, then `blocks` x [Conv1d k3 -> GroupNorm(1) -> Mish] and a 1x1 conv."""

    def __init__(self, in_dim: int, channels: int, blocks: int = 4):
        super().__init__()
        self.content_in_proj = nn.Linear(in_dim, channels)
        layers = []
        for _ in range(blocks):
            layers += [nn.Conv1d(channels, channels, 3, padding=1), nn.GroupNorm(1, channels), nn.Mish()]
        self.model = nn.Sequential(*layers, nn.Conv1d(channels, channels, 1))

    def forward(self, x: torch.Tensor, ylens: torch.Tensor) -> torch.Tensor:
        x = self.content_in_proj(x).transpose(1, 2)
        x = F.interpolate(x, size=int(ylens.max()), mode="nearest")   # legacy floor-nearest, as the reference
        mask = torch.arange(x.shape[-1], device=x.device)[None, :] < ylens.to(x.device)[:, None]
        return self.model(x).transpose(1, 2) * mask[..., None].to(x.dtype)


def target_mel_frames(n_codes) -> torch.Tensor:
    """Mel frames for n semantic codes: (n * 1.72).long(), multiplied in float32 like the reference."""
    n = torch.as_tensor(n_codes)
    return (n.to(torch.float32) * MEL_FRAMES_PER_CODE).long()


class S2Mel(nn.Module):
    def __init__(self, dims: S2MelDims = None):
        super().__init__()
        self.dims = dims = dims or S2MelDims()
        # Sequential of three Linear layers, no activation: the reference's `gpt_layer`
        self.gpt_proj = nn.Sequential(nn.Linear(dims.gpt_dim, 256), nn.Linear(256, 128), nn.Linear(128, dims.feat_dim))
        self.length_regulator = LengthRegulator(dims.feat_dim, dims.content_dim, dims.regulator_blocks)
        self.estimator = DiT(dims.dit)
        if dims.dit.content_dim != dims.content_dim:
            raise ValueError(f"DiT content_dim {dims.dit.content_dim} != regulator channels {dims.content_dim}")
        self.compute_dtype = torch.float32

    def set_compute_dtype(self, dtype: torch.dtype) -> "S2Mel":
        """float32 (default) is the reference-exact path. torch.bfloat16 (CPUs with AVX512-BF16/AMX)
        or torch.float16 (GPU) runs the DiT estimator under autocast: matmuls and convs in half
        precision, norms, softmax statistics and the Euler state in float32."""
        if dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(f"unsupported compute dtype {dtype}")
        self.compute_dtype = dtype
        return self

    def compute_context(self, device: torch.device):
        if self.compute_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.compute_dtype)

    # -- the three stages ---------------------------------------------------------------------

    def gpt_layer(self, latent: torch.Tensor) -> torch.Tensor:
        """GPT latent (B, T, gpt_dim) -> (B, T, feat_dim) at 50 Hz. UniTAF's face head `audio_feature`."""
        return self.gpt_proj(latent)

    def regulate(self, content: torch.Tensor, n_frames) -> torch.Tensor:
        """(B, T_in, feat_dim) -> (B, n_frames, content_dim). `n_frames`: int or (B,) lengths."""
        ylens = torch.as_tensor(n_frames, device=content.device).reshape(-1)
        if ylens.numel() == 1 and content.shape[0] > 1:
            ylens = ylens.expand(content.shape[0])
        return self.length_regulator(content, ylens.long())

    @torch.inference_mode()
    def sample(self, mu: torch.Tensor, prompt_mel: torch.Tensor, style: torch.Tensor, steps: int = 25,
               cfg_rate: float = 0.7, noise: Optional[torch.Tensor] = None,
               generator: Optional[torch.Generator] = None, temperature: float = 1.0,
               x_lens: Optional[torch.Tensor] = None, progress=None) -> torch.Tensor:
        """Euler-integrate the flow from noise (t=0) to mel (t=1) over `steps` uniform steps.

        mu (B, T, content_dim): [prompt content ; target content]. prompt_mel (B, 80, P): the first P
        frames are given, kept at zero in x, and fed as `prompt_x`. CFG: v = (1+r)·v_cond − r·v_uncond,
        where the unconditional half zeroes prompt_x, style and mu. `noise` (B, 80, T) overrides the
        N(0,1)·temperature draw from `generator`. Returns (B, 80, T), prompt frames zeroed."""
        B, T = mu.shape[0], mu.shape[1]
        n_mels = self.dims.dit.n_mels
        if prompt_mel.shape[1] != n_mels or prompt_mel.shape[-1] > T:
            raise ValueError(f"prompt mel {tuple(prompt_mel.shape)} must be (B, {n_mels}, P) with P <= {T}")
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        if noise is None:
            noise = torch.randn((B, n_mels, T), generator=generator, device=mu.device) * temperature
        elif tuple(noise.shape) != (B, n_mels, T):
            raise ValueError(f"noise must have shape {(B, n_mels, T)}, got {tuple(noise.shape)}")
        x_lens = torch.tensor([T], device=mu.device) if x_lens is None else x_lens
        P = prompt_mel.shape[-1]
        x = noise.float().clone()
        prompt_x = torch.zeros_like(x)
        prompt_x[..., :P] = prompt_mel[..., :P]
        x[..., :P] = 0
        t_span = torch.linspace(0, 1, steps + 1, device=mu.device)
        t = t_span[0]
        if cfg_rate > 0:   # the unconditional half never changes: build the stacked inputs once
            prompt_2 = torch.cat([prompt_x, torch.zeros_like(prompt_x)])
            style_2 = torch.cat([style, torch.zeros_like(style)])
            mu_2 = torch.cat([mu, torch.zeros_like(mu)])
        for step in range(1, steps + 1):
            dt = t_span[step] - t_span[step - 1]
            with self.compute_context(x.device):
                if cfg_rate > 0:
                    v = self.estimator(torch.cat([x, x]), prompt_2, x_lens, torch.stack([t, t]), style_2, mu_2).float()
                else:
                    v = self.estimator(x, prompt_x, x_lens, t[None], style, mu).float()
            if cfg_rate > 0:
                v_cond, v_uncond = v.chunk(2, dim=0)
                v = (1.0 + cfg_rate) * v_cond - cfg_rate * v_uncond
            x = x + dt * v
            t = t + dt
            x[:, :, :P] = 0
            if progress is not None:
                progress(step, steps)
        return x

    @torch.inference_mode()
    def forward(self, content: torch.Tensor, prompt_content: torch.Tensor, prompt_mel: torch.Tensor,
                style: torch.Tensor, steps: int = 25, cfg_rate: float = 0.7, noise=None, generator=None,
                n_frames: Optional[int] = None) -> torch.Tensor:
        """The reference per-segment path. content = vq2emb(codes) + gpt_layer(latent), (1, T_codes, feat);
        prompt_content = S_ref (1, T_ref_codes, feat). Returns the new mel (1, 80, floor(1.72·T_codes))
        with the prompt frames cropped."""
        n_frames = int(target_mel_frames(content.shape[1])) if n_frames is None else int(n_frames)
        cond = self.regulate(content, n_frames)
        prompt_cond = self.regulate(prompt_content, prompt_mel.shape[-1])
        mel = self.sample(torch.cat([prompt_cond, cond], dim=1), prompt_mel, style, steps, cfg_rate, noise, generator)
        return mel[:, :, prompt_mel.shape[-1]:]

    # -- loading --------------------------------------------------------------------------------

    @classmethod
    def from_checkpoint(cls, path, dims: S2MelDims, device="cpu", dtype=torch.float32) -> "S2Mel":
        """Load `s2mel.pth` (its `net` dict: cfm / length_regulator / gpt_layer) unchanged. Weights
        stay float32; `dtype` is the estimator's compute dtype (see set_compute_dtype).
        Built on the meta device, so the module takes the checkpoint's tensors: ~1x the weights."""
        model = on_meta(lambda: cls(dims))
        model.load_state(read_checkpoint(path, container="net"), source=str(path), owned=True)
        return require_loaded(model, str(path)).to(device=device).set_compute_dtype(dtype).eval()

    def load_state(self, state: dict, source: str, owned: bool = False) -> None:
        """Load the reference `net` dict; owned=True: nobody else holds its tensors (just read from
        the file), so weight-norm pairs fold in place."""
        state = {k[len("module."):] if k.startswith("module.") else k: v for k, v in state.items()}
        state = fold_weight_norm(state, source, in_place=owned)
        sub = {"gpt_layer.": "gpt_proj.", "length_regulator.": "length_regulator.", "cfm.estimator.": "estimator."}

        def rename(key: str):
            for old, new in sub.items():
                if key.startswith(old):
                    return new + key[len(old):].replace(".conv.conv.", ".")
            return None
        # present in the file, unused by inference (the reference builds them but never calls them)
        unused = ("length_regulator.embedding.", "length_regulator.mask_token", "estimator.input_pos",
                  "estimator.x_embedder.", "estimator.cond_embedder.", "estimator.content_mask_embedder.")
        load_into(self, state, source, rename=rename, ignore=unused, consume=True)


def fold_weight_norm(state: dict, source: str, in_place: bool = False) -> dict:
    """Replace every `X.weight_g` / `X.weight_v` pair (old torch weight_norm, dim 0) by `X.weight`
    = g · v / ‖v‖ — exactly what the reference computes at run time or in remove_weight_norm().

    in_place=True (only for a state read from its file just now, which nobody else holds) writes
    each folded fp32 weight into its weight_v tensor: pages of a memory-mapped file are then
    copied on write instead of staying mapped beside a new tensor (BigVGAN, all weight-normed,
    would peak at ~2x its weights). Same values either way."""
    out = {k: v for k, v in state.items() if not k.endswith((".weight_g", ".weight_v"))}
    for key in state:
        if not key.endswith(".weight_v"):
            continue
        base = key[: -len(".weight_v")]
        v, g = state[key], state.get(base + ".weight_g")
        if g is None:
            raise CheckpointError(f"{source}: key {base + '.weight_g'!r} is missing (weight_v present)")
        if g.dim() != v.dim() or g.shape[0] != v.shape[0] or g.numel() != v.shape[0]:
            raise CheckpointError(f"{source}: key {base + '.weight_g'!r} has shape {tuple(g.shape)}, "
                                  f"which does not fit {key!r} {tuple(v.shape)}")
        w = _weight_norm(v.float(), g.float())
        if in_place and v.dtype == torch.float32 and v.is_contiguous():
            w = v.copy_(w)
        out[base + ".weight"] = w
    orphan = [k[:-1] + "v" for k in state if k.endswith(".weight_g") and k[:-1] + "v" not in state]
    if orphan:
        raise CheckpointError(f"{source}: key {orphan[0]!r} is missing (weight_g present)")
    return out


def _weight_norm(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    if hasattr(torch, "_weight_norm"):   # the kernel torch's weight_norm itself uses: bit-identical
        return torch._weight_norm(v, g, 0)
    return v * (g / v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1))))


def load_s2mel(config_path, checkpoint_path=None, device="cpu", dtype=torch.float32) -> S2Mel:
    """Build from an IndexTTS2 config.yaml (`s2mel:` section) and load the checkpoint it names."""
    import os

    import yaml
    try:
        with open(config_path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read s2mel config {config_path}: {exc}") from exc
    if not isinstance(cfg, dict) or "s2mel" not in cfg:
        raise ValueError(f"{config_path}: no 's2mel' section")
    if checkpoint_path is None:
        checkpoint_path = os.path.join(os.path.dirname(os.fspath(config_path)), cfg.get("s2mel_checkpoint", "s2mel.pth"))
    return S2Mel.from_checkpoint(checkpoint_path, S2MelDims.from_config(cfg["s2mel"]), device=device, dtype=dtype)
