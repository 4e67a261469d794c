"""A voice prompt analysed once per file (`Voice`: the speaker's w2v-BERT features, reference mel,
CAMPPlus style and GPT speaker latents), and the emotion vector a segment is spoken with (an
emotion clip, 8 weights over the emotion matrices, or the prompt's own emotion)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from ...core.performance import EMOTIONS
from .. import EngineError
from .audio import SPEAKER_RATE, SpeakerPrompt, load_emotion_prompt, load_speaker_prompt
from .campplus import speaker_style
from .emotion_matrix import resolve_emotion
from .model_set import Models
from .semantic import semantic_embedding


@dataclass
class Voice:
    spk_cond_emb: torch.Tensor     # (1, T, SEM) normalised w2v-BERT L17 of the 16 kHz prompt
    emo_cond_emb: torch.Tensor     # the same file re-read straight at 16 kHz (the reference's emotion path)
    prompt_condition: Optional[torch.Tensor]  # (1, T_ref, content) length-regulated S_ref (None: no S2Mel)
    ref_mel: Optional[torch.Tensor]           # (1, 80, T_ref)
    style: torch.Tensor            # (1, 192) CAMPPlus
    spk_latents: torch.Tensor      # (1, 32, D) GPT speaker conditioning
    path: str = ""


@torch.inference_mode()
def analyse_voice(models: Models, path) -> Voice:
    """Speaker prompt analysis, cached per file (path, mtime, size) for the session."""
    path = os.path.abspath(os.fspath(path))
    try:
        st = os.stat(path)
    except OSError:
        raise EngineError(f"Voice clip not found: {path}") from None
    key = (path, st.st_mtime_ns, st.st_size)
    if key in models.voices:
        return models.voices[key]
    try:
        prompt = load_speaker_prompt(path)
        emo_16k = load_emotion_prompt(path)
    except ValueError as exc:
        raise EngineError(f"Cannot use voice clip {path}: {exc}") from exc
    if prompt.audio_22k.shape[-1] < SPEAKER_RATE // 2:
        raise EngineError(f"Voice clip {path} is too short ({prompt.audio_22k.shape[-1] / SPEAKER_RATE:.2f} s); "
                          "use 3 to 15 seconds of clear speech.")
    voice = voice_from_audio(models, prompt, emo_16k, path)
    models.voices[key] = voice
    return voice


@torch.inference_mode()
def voice_from_audio(models: Models, prompt: SpeakerPrompt, emo_16k: torch.Tensor, path: str = "",
                     for_s2mel: bool = True) -> Voice:
    """A loaded speaker prompt -> Voice. `for_s2mel=False` skips the reference mel and the
    prompt condition, which only the S2Mel diffusion uses (the lipsync path has no S2Mel)."""
    spk = semantic_embedding(models.w2v, models.w2v_stats, prompt.audio_16k, models.w2v_features)
    emo = semantic_embedding(models.w2v, models.w2v_stats, emo_16k, models.w2v_features)
    style = speaker_style(models.campplus, prompt.audio_16k).float()
    ref_mel = prompt_condition = None
    if for_s2mel:
        _, s_ref = models.codec.quantize(spk.to(_codec_dtype(models)))
        ref_mel = models.mel(prompt.audio_22k.to(models.device))
        prompt_condition = models.s2mel.regulate(s_ref.float(), ref_mel.shape[-1])
    return Voice(spk, emo, prompt_condition, ref_mel, style, models.gpt.speaker_latents(spk), path)


@torch.inference_mode()
def emotion_clip_features(models: Models, path) -> torch.Tensor:
    """Normalised w2v-BERT features of an emotion reference clip (loaded straight at 16 kHz)."""
    path = os.path.abspath(os.fspath(path))
    if path not in models.emotions:
        try:
            audio = load_emotion_prompt(path)
        except ValueError as exc:
            raise EngineError(f"Cannot use emotion clip {path}: {exc}") from exc
        models.emotions[path] = semantic_embedding(models.w2v, models.w2v_stats, audio, models.w2v_features)
    return models.emotions[path]


def _codec_dtype(models: Models) -> torch.dtype:
    return next(models.codec.parameters()).dtype


@torch.inference_mode()
def emotion_vector(models: Models, voice: Voice, weights=None, alpha: float = 1.0,
                   emotion_clip: Optional[str] = None) -> torch.Tensor:
    """emovec (1, D) by the reference's rules: an emotion clip blends with alpha; else the 8 weights
    (scaled by alpha) mix feat1/feat2 rows; all-zero weights = the voice prompt's own emotion."""
    if emotion_clip:
        emo = emotion_clip_features(models, emotion_clip)
        return resolve_emotion(models.gpt, voice.spk_cond_emb, emo, alpha=alpha, external_emotion_audio=True)
    w = [round(float(x), 6) for x in (np.zeros(8) if weights is None else np.asarray(weights).reshape(-1))]
    if len(w) != len(EMOTIONS):
        raise ValueError(f"an emotion vector needs {len(EMOTIONS)} values, got {len(w)}")
    if not any(w):
        return models.gpt.merge_emotion(voice.spk_cond_emb, voice.emo_cond_emb, 1.0)
    if models.emo_matrices is None:
        raise EngineError("Emotion presets/vectors need the IndexTTS-2 files feat1.pt and feat2.pt, which are "
                          "missing. Download the models again, or use neutral emotion / an emotion clip.")
    # the feat1/feat2 matrices stay on the CPU: match the style there (the mix moves to the GPT's device)
    return resolve_emotion(models.gpt, voice.spk_cond_emb, voice.emo_cond_emb, weights=w, alpha=alpha,
                           style=voice.style.cpu(), matrices=models.emo_matrices)
