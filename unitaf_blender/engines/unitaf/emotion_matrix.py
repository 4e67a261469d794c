"""IndexTTS2's emotion control maths: 8 emotion weights -> an emotion vector through the
feat1.pt (speaker) / feat2.pt (emotion) matrices, and the reference's rules for blending the
voice's own emotion, an emotion clip and the weights (`resolve_emotion`).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from .checkpoint import CheckpointError, torch_load

if TYPE_CHECKING:
    from .gpt import UnifiedVoice

EMO_NUM = (3, 17, 2, 8, 4, 5, 10, 24)  # rows per emotion in feat1.pt / feat2.pt (official config)


def scale_emotion_weights(weights, alpha: float) -> list[float]:
    """Reference: clamp alpha to [0, 1]; if != 1, scale and truncate each weight to 4 decimals."""
    alpha = max(0.0, min(1.0, float(alpha)))
    weights = [float(w) for w in weights]
    if alpha != 1.0:
        weights = [int(w * alpha * 10000) / 10000 for w in weights]
    return weights


def emotion_matrix_vector(weights, style: torch.Tensor, spk_matrix: torch.Tensor, emo_matrix: torch.Tensor,
                          emo_num=EMO_NUM) -> tuple[torch.Tensor, list[int]]:
    """Σ_i w_i · emo_matrix_i[r_i], r_i = row of spk_matrix_i most cosine-similar to `style` (1, 192).
    Returns (mix (1, D), [r_i]). `emovec = mix + (1 - Σw) · base_emovec` is done by the caller."""
    w = torch.as_tensor(weights, dtype=torch.float32)
    if w.shape != (len(emo_num),):
        raise ValueError(f"emotion weights must have {len(emo_num)} values, got {tuple(w.shape)}")
    if sum(emo_num) != spk_matrix.shape[0] or sum(emo_num) != emo_matrix.shape[0]:
        raise ValueError(f"feat1/feat2 have {spk_matrix.shape[0]}/{emo_matrix.shape[0]} rows, "
                         f"expected {sum(emo_num)} (emo_num {list(emo_num)})")
    style = style.float().reshape(1, -1)
    rows, mix = [], torch.zeros(1, emo_matrix.shape[1])
    for i, (spk_part, emo_part) in enumerate(zip(spk_matrix.float().split(list(emo_num)),
                                                emo_matrix.float().split(list(emo_num)))):
        r = int(F.cosine_similarity(style, spk_part, dim=1).argmax())
        rows.append(r)
        mix = mix + w[i] * emo_part[r]
    return mix, rows


def mix_emotion(mix: torch.Tensor, weights, base: torch.Tensor) -> torch.Tensor:
    """emovec = mix + (1 - Σw) · base (reference `infer_generator` with an emo_vector)."""
    total = float(torch.as_tensor(weights, dtype=torch.float32).sum())
    return mix.to(base.dtype).to(base.device) + (1.0 - total) * base


def resolve_emotion(model: "UnifiedVoice", spk_feat: torch.Tensor, emo_feat: torch.Tensor, *,
                    weights=None, alpha: float = 1.0, external_emotion_audio: bool = False,
                    style: torch.Tensor | None = None, matrices=None, emo_num=EMO_NUM) -> torch.Tensor:
    """The reference's emotion control (`infer_generator`) -> emovec (1, D) for the GPT prefix
    and the face expression model.

    spk_feat: speaker features as the GPT sees them; emo_feat: features of the emotion audio,
    which is the external emotion reference when `external_emotion_audio`, else the speaker file
    re-read at 16 kHz (the reference reads it through a different resampler).
    - weights (8 values, EMOTIONS order): the emotion audio is ignored; weights are scaled by
      clamp(alpha, 0, 1) (4-decimal truncation), mixed through feat1/feat2 (`matrices`, picking
      rows by cosine similarity to the CAMPPlus `style`) and emovec = mix + (1 - Σw) · emovec(emo).
    - external emotion audio: emovec = base + alpha · (emovec(emo) - base), base = emovec(spk).
    - neither: emovec of the speaker's own audio (alpha forced to 1)."""
    if weights is not None:
        if style is None or matrices is None:
            raise ValueError("emotion weights need the speaker style vector and feat1/feat2 matrices")
        w = scale_emotion_weights(weights, alpha)
        base = model.merge_emotion(spk_feat, emo_feat, 1.0)
        mix, _ = emotion_matrix_vector(w, style, matrices[0], matrices[1], emo_num)
        return mix_emotion(mix, w, base)
    return model.merge_emotion(spk_feat, emo_feat, float(alpha) if external_emotion_audio else 1.0)


def load_emotion_matrices(feat1, feat2) -> tuple[torch.Tensor, torch.Tensor]:
    """feat1.pt (speaker matrix, (73, 192)) and feat2.pt (emotion matrix, (73, D)): bare tensors."""
    out = []
    for path in (feat1, feat2):
        if not os.path.isfile(path):
            raise CheckpointError(f"emotion matrix not found: {path}")
        obj = torch_load(os.fspath(path))   # CheckpointError: unsafe or unreadable, never echoing torch's advice
        if not isinstance(obj, torch.Tensor) or obj.ndim != 2:
            raise CheckpointError(f"{path}: expected a 2-D tensor, found {type(obj).__name__}")
        out.append(obj.float())
    if out[0].shape[0] != out[1].shape[0]:
        raise CheckpointError(f"feat1/feat2 row counts differ: {out[0].shape[0]} vs {out[1].shape[0]}")
    return out[0], out[1]
