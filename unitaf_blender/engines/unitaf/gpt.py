"""IndexTTS2 text-to-semantic GPT ("UnifiedVoice" v2) in plain PyTorch.

Pieces (names match the official `gpt.pth`, which loads unchanged):
  conditioning_encoder + perceiver_encoder   speaker features (B,T,1024) -> 32 latents (B,32,D)
  emo_conditioning_encoder + emo_perceiver_encoder + emovec_layer + emo_layer
                                             emotion features -> emotion vector (B,D)
  speed_emb                                  2 rows appended after the latents
  gpt.h.* / gpt.ln_f (GPT-2 blocks, Conv1D weights stored (in, out)), final_norm, mel_head
  text_embedding / text_pos_embedding, mel_embedding / mel_pos_embedding (learned, per segment)

Sequence layout: [32 latents + emovec ; speed_emb[1] ; speed_emb[0]] [start_text ids stop_text]
[start_mel codes...]. The 34 prefix rows get no position; text and mel positions count from 0.
The reference's HF generate embeds the k-th generated code with mel position k+1 (start_mel has
0) while the teacher-forced pass uses k; we reproduce both because the weights were trained so.

This module is the network only: code generation (sampling, beam search) is in generate.py and
the emotion-matrix maths (feat1/feat2) in emotion_matrix.py.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoint as ckpt
from .conformer import ConformerEncoder
from .packed import PackedLinear, packs
from .perceiver import PerceiverResampler

__all__ = ["GPTDims", "UnifiedVoice", "KVCache", "load_gpt"]


@dataclass
class ConditionDims:
    output_size: int = 512
    linear_units: int = 2048
    attention_heads: int = 8
    num_blocks: int = 6
    perceiver_mult: float = 2


@dataclass
class GPTDims:
    model_dim: int = 1280
    layers: int = 24
    heads: int = 20
    max_mel_tokens: int = 1815
    max_text_tokens: int = 600
    number_text_tokens: int = 12000
    number_mel_codes: int = 8194
    start_mel_token: int = 8192
    stop_mel_token: int = 8193
    start_text_token: int = 0
    stop_text_token: int = 1
    condition_num_latent: int = 32
    semantic_dim: int = 1024         # input width of both conformers (w2v-BERT hidden size)
    emo_perceiver_dim: int = 1024    # emotion latent width (hard-coded 1024 in the reference)
    cond: ConditionDims = field(default_factory=ConditionDims)
    emo_cond: ConditionDims = field(default_factory=lambda: ConditionDims(512, 1024, 4, 4, 2))

    @classmethod
    def from_config(cls, gpt_cfg: dict) -> "GPTDims":
        """From the `gpt:` section of the official config.yaml (unknown keys are ignored)."""
        if not isinstance(gpt_cfg, dict):
            raise ValueError("config: the `gpt:` section is missing or not a mapping")
        if gpt_cfg.get("condition_type", "conformer_perceiver") != "conformer_perceiver":
            raise ValueError(f"config: gpt.condition_type {gpt_cfg.get('condition_type')!r} is not supported "
                             "(only conformer_perceiver, as in IndexTTS2)")
        kw = {k: gpt_cfg[k] for k in ("model_dim", "layers", "heads", "max_mel_tokens", "max_text_tokens",
                                      "number_text_tokens", "number_mel_codes", "start_mel_token",
                                      "stop_mel_token", "start_text_token", "stop_text_token",
                                      "semantic_dim", "emo_perceiver_dim") if k in gpt_cfg}

        def cond(section):
            section_cfg = gpt_cfg.get(section) or {}
            if section_cfg.get("input_layer", "conv2d2") != "conv2d2":
                raise ValueError(f"config: gpt.{section}.input_layer must be conv2d2")
            return ConditionDims(**{k: section_cfg[k] for k in ("output_size", "linear_units", "attention_heads",
                                                                "num_blocks", "perceiver_mult") if k in section_cfg})
        kw["cond"] = cond("condition_module")
        kw["emo_cond"] = cond("emo_condition_module")
        return cls(**kw)


# ---------------------------------------------------------------------------------------------
# GPT-2 backbone
# ---------------------------------------------------------------------------------------------
# At most this many rows go through torch's int8 GEMV kernel; larger inputs (prefill, the
# teacher-forced pass) dequantise the weight once per call instead. Measured on the 2-core AVX2
# EPYC, 1280x5120: 16 rows int8pack 2.9 ms vs fp32 3.9 ms; 100 rows 14.8 ms vs dequantised fp32 12.7 ms.
INT8_GEMV_ROWS = 16


def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-output-channel int8 of a (out, in) weight: (q int8 (out, in), scale fp32 (out,))
    with weight ~ q * scale[:, None]."""
    w = weight.detach().float()
    scale = (w.abs().amax(dim=1) / 127.0).clamp(min=1e-12)
    q = torch.round(w / scale[:, None]).clamp(-127, 127).to(torch.int8).contiguous()
    return q, scale


def _int8pack_works() -> bool:
    """torch._weight_int8pack_mm (CPU kernel since torch 2.3) exists and is correct here. Probed
    at a GPT-like shape: with 2 output channels torch 2.13 returned inf or crashed."""
    fn = getattr(torch, "_weight_int8pack_mm", None)
    if fn is None:
        return False
    try:
        q = (torch.arange(16 * 64).view(16, 64) % 255 - 127).to(torch.int8)
        x = (torch.arange(64) % 7 - 3).to(torch.bfloat16).view(1, 64)      # small integers: exact in bf16
        y = fn(x, q, torch.ones(16, dtype=torch.bfloat16)).float()
        return bool(torch.allclose(y, x.float() @ q.float().t(), rtol=1e-2, atol=1.0))
    except (RuntimeError, NotImplementedError):
        return False


_INT8PACK = None


def int8_linear(x: torch.Tensor, q: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """x @ (q * scale).T + bias, reading the int8 weight. Few rows: torch's int8 GEMV in bf16 (one
    byte per weight read; the fastest weight-only kernel measured here, 1.9 ms per GPT layer vs fp32
    5.8 ms and our blocked dequantise 5.0 ms, 2 threads); its scales are 1 and the fp32 scale is
    applied after, so no bf16 rounding of the scales. Many rows: dequantise once, float GEMM."""
    global _INT8PACK
    shape = x.shape
    x2 = x.reshape(-1, shape[-1])
    if x2.shape[0] <= INT8_GEMV_ROWS and x.device.type == "cpu" and q.shape[0] % 16 == 0 and q.shape[1] % 16 == 0:
        if _INT8PACK is None:
            _INT8PACK = _int8pack_works()
        if _INT8PACK:
            ones = torch.ones(q.shape[0], dtype=torch.bfloat16)
            y = torch._weight_int8pack_mm(x2.to(torch.bfloat16), q, ones).to(x.dtype) * scale.to(x.dtype)
        else:   # older torch: dequantise in row blocks (each block cast stays in cache)
            y = torch.cat([F.linear(x2, q[i:i + 256].to(x.dtype)) for i in range(0, q.shape[0], 256)], dim=1)
            y = y * scale.to(x.dtype)
    else:
        y = F.linear(x2, q.to(x.dtype)) * scale.to(x.dtype)
    if bias is not None:
        y = y + bias.to(x.dtype)
    return y.view(*shape[:-1], -1)


class Conv1D(nn.Module):
    """HF GPT-2 'Conv1D': a linear layer whose weight is stored (in, out)."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out))
        self.linear_layout = False
        self.int8 = False
        self.packed = None       # a PackedLinear (bf16 on a CPU), which then holds the weights
        nn.init.normal_(self.weight, std=0.02)

    def use_linear_layout(self) -> None:
        """Store the weight (out, in) like nn.Linear. CPU half-precision GEMV is only fast in that
        layout (fp16 x@W with W (in, out) runs ~30x slower than F.linear here)."""
        if not self.linear_layout and not self.int8:
            self.weight = nn.Parameter(self.weight.detach().t().contiguous(), requires_grad=False)
            self.linear_layout = True

    def use_packed(self) -> None:
        """bf16 on a CPU: the weight laid out once for oneDNN (packed.py); the plain copy is dropped."""
        if self.packed is None and not self.int8:
            self.use_linear_layout()
            self.packed = PackedLinear(self.weight, self.bias)
            del self.weight, self.bias

    def use_int8(self) -> None:
        """Weight-only int8, per output channel (a quarter of fp32's bytes per decoded token); the
        bias stays in the float type. The float weight is dropped."""
        if self.int8:
            return
        w = self.weight.detach()
        q, scale = quantize_int8(w if self.linear_layout else w.t())
        del self.weight
        self.register_buffer("qweight", q)
        self.register_buffer("scale", scale)
        self.int8 = True

    def forward(self, x):
        if self.packed is not None:
            return self.packed(x)
        if self.int8:
            return int8_linear(x, self.qweight, self.scale, self.bias)
        if self.linear_layout:
            return F.linear(x, self.weight, self.bias)
        return torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight).view(*x.shape[:-1], -1)


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.c_attn = Conv1D(dim, 3 * dim)
        self.c_proj = Conv1D(dim, dim)

    def forward(self, x, cache: "KVCache | None", layer: int, pos: int):
        b, t, d = x.shape
        q, k, v = self.c_attn(x).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, self.head_dim).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            k, v = cache.update(layer, pos, k, v)
        total = k.shape[2]
        mask = None
        if t > 1:  # causal within the new chunk, all of the cached past visible
            mask = torch.ones(t, total, dtype=torch.bool, device=x.device).tril(total - t)
        if x.is_cuda:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            # torch's CPU SDPA kernel costs ~10 ms per call here even for one query; plain
            # matmul-softmax-matmul is what a memory-bound batch-1 decode step wants on CPU
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            out = scores.softmax(-1) @ v
        return self.c_proj(out.transpose(1, 2).reshape(b, t, d))


class MLP(nn.Module):
    def __init__(self, dim: int, inner: int):
        super().__init__()
        self.c_fc = Conv1D(dim, inner)
        self.c_proj = Conv1D(inner, dim)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))  # GPT-2 "gelu_new"


class Block(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = Attention(dim, heads)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = MLP(dim, 4 * dim)

    def forward(self, x, cache, layer, pos):
        x = x + self.attn(self.ln_1(x), cache, layer, pos)
        return x + self.mlp(self.ln_2(x))


class GPT2(nn.Module):
    """GPT-2 blocks without token/position tables (IndexTTS2 adds its own embeddings outside)."""

    def __init__(self, dim: int, layers: int, heads: int):
        super().__init__()
        self.h = nn.ModuleList(Block(dim, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x, cache=None, pos: int = 0):
        for i, block in enumerate(self.h):
            x = block(x, cache, i, pos)
        return self.ln_f(x)


class KVCache:
    """Preallocated keys/values for every layer: (layers, B, heads, max_len, head_dim)."""

    def __init__(self, layers, batch, heads, max_len, head_dim, device, dtype):
        shape = (layers, batch, heads, max_len, head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.max_len = max_len
        self._spare = None   # second pair of buffers, made on the first beam reorder

    def update(self, layer, pos, k, v):
        end = pos + k.shape[2]
        if end > self.max_len:
            raise ValueError(f"sequence of {end} positions exceeds the KV cache ({self.max_len})")
        self.k[layer, :, :, pos:end] = k
        self.v[layer, :, :, pos:end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def reorder(self, index: torch.Tensor, filled: int):
        """Beam search: row b of the batch continues beam index[b]. Only the filled positions
        are copied, and nothing when every beam keeps its own row."""
        if bool((index == torch.arange(index.numel(), device=index.device)).all()):
            return
        # Gather into a spare pair and swap: copying the gathered rows back into the strided
        # slice in place cost ~15x more (about 100 ms per token at full size on CPU).
        if self._spare is None:
            self._spare = (torch.empty_like(self.k), torch.empty_like(self.v))
        k2, v2 = self._spare
        torch.index_select(self.k[:, :, :, :filled], 1, index, out=k2[:, :, :, :filled])
        torch.index_select(self.v[:, :, :, :filled], 1, index, out=v2[:, :, :, :filled])
        self._spare = (self.k, self.v)
        self.k, self.v = k2, v2


class LearnedPositions(nn.Module):
    def __init__(self, rows: int, dim: int):
        super().__init__()
        self.emb = nn.Embedding(rows, dim)


# ---------------------------------------------------------------------------------------------
# UnifiedVoice
# ---------------------------------------------------------------------------------------------
class UnifiedVoice(nn.Module):
    def __init__(self, dims: GPTDims):
        super().__init__()
        self.dims = dims
        spk, emo = dims.cond, dims.emo_cond   # speaker / emotion conditioning encoders
        self.conditioning_encoder = ConformerEncoder(dims.semantic_dim, spk.output_size, spk.attention_heads,
                                                     spk.linear_units, spk.num_blocks)
        self.perceiver_encoder = PerceiverResampler(dims.model_dim, spk.output_size, dims.condition_num_latent,
                                                    spk.attention_heads, spk.perceiver_mult)
        self.emo_conditioning_encoder = ConformerEncoder(dims.semantic_dim, emo.output_size, emo.attention_heads,
                                                         emo.linear_units, emo.num_blocks)
        self.emo_perceiver_encoder = PerceiverResampler(dims.emo_perceiver_dim, emo.output_size, 1,
                                                        emo.attention_heads, emo.perceiver_mult)
        self.text_embedding = nn.Embedding(dims.number_text_tokens + 1, dims.model_dim)
        self.emo_layer = nn.Linear(dims.model_dim, dims.model_dim)
        self.emovec_layer = nn.Linear(dims.emo_perceiver_dim, dims.model_dim)
        self.mel_embedding = nn.Embedding(dims.number_mel_codes, dims.model_dim)
        self.gpt = GPT2(dims.model_dim, dims.layers, dims.heads)
        self.mel_pos_embedding = LearnedPositions(dims.max_mel_tokens + 3, dims.model_dim)
        self.text_pos_embedding = LearnedPositions(dims.max_text_tokens + 2, dims.model_dim)
        self.final_norm = nn.LayerNorm(dims.model_dim)
        self.text_head = nn.Linear(dims.model_dim, dims.number_text_tokens + 1)
        self.mel_head = nn.Linear(dims.model_dim, dims.number_mel_codes)
        self.speed_emb = nn.Embedding(2, dims.model_dim)

    @property
    def device(self):
        return self.final_norm.weight.device

    def optimize_for_inference(self, int8: bool = False) -> "UnifiedVoice":
        """Pick the fastest weight layout for the current device/dtype (call after .to()).
        CPU fp16/bf16: GPT-2 weights go to the (out, in) layout; in bf16, where oneDNN can, they and
        the mel head are packed for oneDNN (packed.py: same products, faster few-row decoding).
        int8 (CPU only): the GPT-2 blocks' projections become weight-only int8; embeddings, norms,
        heads, the conditioning encoders and the KV cache keep the float type."""
        if int8 and self.device.type != "cpu":
            raise ValueError("int8 GPT weights are for the CPU only")
        pack = not int8 and packs(self.device, self.dtype)
        for m in self.gpt.modules():
            if isinstance(m, Conv1D):
                if int8:
                    m.use_int8()
                elif pack:
                    m.use_packed()
                elif self.device.type == "cpu" and self.dtype in (torch.float16, torch.bfloat16):
                    m.use_linear_layout()
        if pack and not isinstance(self.mel_head, PackedLinear):
            self.mel_head = PackedLinear(self.mel_head.weight, self.mel_head.bias)
        return self

    @property
    def dtype(self):
        return self.final_norm.weight.dtype

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 3 or x.shape[-1] != self.dims.semantic_dim:
            raise ValueError(f"conditioning features must be (B, T, {self.dims.semantic_dim}), got {tuple(x.shape)}")
        if x.shape[1] < 3:
            raise ValueError("conditioning audio is too short (needs at least 3 feature frames = 60 ms)")
        return x.to(self.device, self.dtype)

    # -- conditioning ------------------------------------------------------------------------
    @torch.inference_mode()
    def speaker_latents(self, spk_feat: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Speaker features (B, T, C) -> (B, 32, D). `lengths` = valid frames (None: all, as the
        reference effectively does since it passes the feature width as the length)."""
        h, mask = self.conditioning_encoder(self._features(spk_feat), lengths)
        return self.perceiver_encoder(h, mask.squeeze(1))

    @torch.inference_mode()
    def emotion_latent(self, emo_feat: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        h, mask = self.emo_conditioning_encoder(self._features(emo_feat), lengths)
        return self.emo_perceiver_encoder(h, mask.squeeze(1)).squeeze(1)

    @torch.inference_mode()
    def emotion_vector(self, emo_feat: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Emotion features (B, T, C) -> emovec (B, D) (reference `get_emovec`)."""
        return self.emo_layer(self.emovec_layer(self.emotion_latent(emo_feat, lengths)))

    @torch.inference_mode()
    def merge_emotion(self, spk_feat, emo_feat, alpha: float = 1.0) -> torch.Tensor:
        """base + alpha * (emo - base), base from the speaker audio (reference `merge_emovec`)."""
        emo = self.emotion_vector(emo_feat)
        base = self.emotion_vector(spk_feat)
        return base + alpha * (emo - base)

    def conditioning(self, spk_latents: torch.Tensor, emovec: torch.Tensor) -> torch.Tensor:
        """The 34-row prefix: [latents + emovec ; speed_emb[1] ; speed_emb[0]] -> (B, 34, D)."""
        b = spk_latents.shape[0]
        speed = self.speed_emb.weight.to(spk_latents.dtype)
        return torch.cat([spk_latents + emovec.to(spk_latents.dtype).unsqueeze(1),
                          speed[1].expand(b, 1, -1), speed[0].expand(b, 1, -1)], dim=1)

    # -- embeddings --------------------------------------------------------------------------
    def _text_ids(self, text_ids) -> torch.Tensor:
        ids = torch.as_tensor(text_ids, device=self.device).long()
        if ids.ndim == 1:
            ids = ids.unsqueeze(0)
        if ids.shape[-1] == 0:
            raise ValueError("no text tokens to speak")
        if ids.shape[-1] + 2 > self.text_pos_embedding.emb.num_embeddings:
            raise ValueError(f"{ids.shape[-1]} text tokens exceed the model limit of "
                             f"{self.dims.max_text_tokens} per segment; split the text into shorter segments")
        if int(ids.min()) < 0 or int(ids.max()) > self.dims.number_text_tokens:
            raise ValueError("text token id out of range for this model (wrong bpe.model?)")
        return ids

    def _embed_text(self, ids: torch.Tensor) -> torch.Tensor:
        dims = self.dims
        ids = F.pad(F.pad(ids, (1, 0), value=dims.start_text_token), (0, 1), value=dims.stop_text_token)
        pos = torch.arange(ids.shape[1], device=ids.device)
        return self.text_embedding(ids) + self.text_pos_embedding.emb(pos)

    def embed_mel(self, codes: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        return self.mel_embedding(codes) + self.mel_pos_embedding.emb(positions)

    # -- teacher-forced pass -----------------------------------------------------------------
    @torch.inference_mode()
    def forward_teacher(self, conds: torch.Tensor, text_ids, codes) -> tuple[torch.Tensor, torch.Tensor]:
        """Full causal pass over [conds][start text stop][start_mel codes stop_mel] (mel positions 0..T+1).
        Returns the hidden states after ln_f + final_norm for the text and mel parts:
        (B, L+2, D), (B, T+2, D)."""
        dims = self.dims
        ids = self._text_ids(text_ids)
        codes = torch.as_tensor(codes, device=self.device).long()
        if codes.ndim == 1:
            codes = codes.unsqueeze(0)
        if codes.shape[1] + 2 > self.mel_pos_embedding.emb.num_embeddings:
            raise ValueError(f"{codes.shape[1]} codes exceed the model limit of {dims.max_mel_tokens}")
        mel = F.pad(F.pad(codes, (1, 0), value=dims.start_mel_token), (0, 1), value=dims.stop_mel_token)
        text_emb = self._embed_text(ids)
        mel_emb = self.embed_mel(mel, torch.arange(mel.shape[1], device=mel.device))
        x = torch.cat([conds.to(self.dtype), text_emb, mel_emb], dim=1)
        h = self.final_norm(self.gpt(x))
        n_cond, n_text = conds.shape[1], text_emb.shape[1]
        return h[:, n_cond:n_cond + n_text], h[:, n_cond + n_text:]

    @torch.inference_mode()
    def latents(self, conds, text_ids, codes) -> torch.Tensor:
        """One latent per code (B, T, D): the input to s2mel's gpt_layer (the A2F feature tap)."""
        _, mel_h = self.forward_teacher(conds, text_ids, codes)
        return mel_h[:, :-2]

    @torch.inference_mode()
    def logits(self, conds, text_ids, codes) -> tuple[torch.Tensor, torch.Tensor]:
        """Training-style logits, channel-first: text (B, Vt, L+2), mel (B, Vm, T+2)."""
        text_h, mel_h = self.forward_teacher(conds, text_ids, codes)
        return self.text_head(text_h).transpose(1, 2), self.mel_head(mel_h).transpose(1, 2)

    # -- generation --------------------------------------------------------------------------
    @torch.inference_mode()
    def prefill_embeddings(self, conds: torch.Tensor, text_ids) -> torch.Tensor:
        """[conds][start ids stop] with text ids 0/1 removed first, as the reference does (B=1)."""
        ids = self._text_ids(text_ids)
        if ids.shape[0] != 1:
            raise ValueError("generation runs one segment at a time (batch 1)")
        keep = (ids != self.dims.stop_text_token) & (ids != self.dims.start_text_token)
        ids = ids[keep].unsqueeze(0)
        if ids.shape[1] == 0:
            raise ValueError("no text tokens to speak")
        return torch.cat([conds.to(self.dtype), self._embed_text(ids)], dim=1)

# ---------------------------------------------------------------------------------------------
def load_gpt(checkpoint, config, device="cpu", dtype=torch.float32) -> UnifiedVoice:
    """Build the GPT from the official config.yaml (path or parsed dict) and load `gpt.pth` unchanged."""
    if not isinstance(config, dict):
        import yaml
        try:
            with open(config, "r", encoding="utf-8") as f:
                config = yaml.safe_load(f)
        except OSError as exc:
            raise ckpt.CheckpointError(f"cannot read config {config}: {exc}") from exc
    dims = GPTDims.from_config((config or {}).get("gpt"))
    state = ckpt.read_checkpoint(checkpoint)
    if any(k.startswith("model.") for k in state) and not any(k.startswith("gpt.") for k in state):
        state = {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}
    # UniTAF fine-tuned files (LoRA-merged `tts_model.pt`) may carry runtime-only keys and PEFT
    # names; the stock gpt.pth has none of them and loads key for key. The model stays on the
    # meta device and takes the checkpoint's tensors themselves (consume): peak ~1x the weights.
    # The GPT has no non-persistent buffers.
    model = ckpt.load_on_meta(lambda: UnifiedVoice(dims), state, str(checkpoint),
                              ignore=("inference_model.", "gpt.wte.", "gpt.wpe."),
                              rename=lambda k: None if ".lora_" in k else k.replace(".base_layer.", "."))
    del state
    return model.to(device=device, dtype=dtype).eval().optimize_for_inference()
