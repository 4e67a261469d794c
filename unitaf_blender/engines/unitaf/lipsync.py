"""The paper's ground-truth-token path: a face for a RECORDED line.

    recording -> 16 kHz (audio.py, the speaker-prompt chain) -> w2v-BERT L17 -> semantic codec
    codes of the recording itself (50 Hz) -> GPT teacher-forced on [speaker/emotion prefix]
    [transcript text][these codes] -> latents -> s2mel's gpt_layer -> face head -> 25 fps

No sampling, no S2Mel diffusion, no vocoder: the audio is the recording, so the face is keyed on
its clock (frame k at k / 25 s from its first sample). The recording is also the speaker prompt
and, unless an emotion or emotion clip is given, the emotion prompt: the GPT is conditioned the
way it was when these codes were its training targets. Long recordings run segment by segment
(segment_plan.plan_segments); each segment's face is moved to where its audio starts.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from ...core.retime import align_face
from .. import EngineError, check_cancel, reporter
from .audio import ENCODER_RATE, PROMPT_MAX_SECONDS, emotion_prompt_from_array, speaker_prompt_from_array
from .face import FACE_FPS
from .model_set import Models
from .pipeline import FEATURE_RATE, SegmentOutput, a2f_feature
from .segment_plan import MAX_SEGMENT_S, PlannedSegment, Transcript, plan_segments
from .semantic import semantic_embedding
from .voice import Voice, emotion_vector, voice_from_audio

_REPLANS = 4        # tries at a shorter segment cap when a segment's text is too long for the GPT


@dataclass
class LipsyncResult:
    face: np.ndarray            # float32 [n_frames_for(N, sr, 25), 61] on the recording's clock
    owner: np.ndarray           # int [T]: segment index of each frame, -1 = gap (relaxing to rest)
    segments: list              # [SegmentOutput]: codes fed to the GPT, feature, recording slice, start
    plan: list                  # [PlannedSegment]
    emovecs: list               # (1, D) per segment
    faces: list                 # float32 [T_i, 61] per segment, as the face head made them


@torch.inference_mode()
def analyse_recording(models: Models, audio: np.ndarray, sample_rate: int, source: str = "") -> tuple:
    """(Voice of the recording as speaker + emotion prompt, the whole recording at 16 kHz (1, N16)).
    The 16 kHz signal comes from the speaker-prompt chain (soxr to 22 050 Hz, then sinc to 16 kHz),
    the prompt is its first 15 s as the reference cuts prompts; the emotion prompt is loaded
    straight at 16 kHz, as the reference does."""
    full = speaker_prompt_from_array(audio, sample_rate, max_seconds=len(audio) / sample_rate + 1.0)
    prompt = full
    if len(audio) > PROMPT_MAX_SECONDS * sample_rate:
        prompt = speaker_prompt_from_array(audio, sample_rate)
    voice = voice_from_audio(models, prompt, emotion_prompt_from_array(audio, sample_rate), source, for_s2mel=False)
    return voice, full.audio_16k


@torch.inference_mode()
def recording_codes(models: Models, audio_16k: torch.Tensor) -> tuple:
    """16 kHz speech (1, N) -> (normalised w2v-BERT L17 features (1, T, SEM), codec codes (1, T)):
    the quantisation the pipeline applies to voice prompts, here the GPT's ground-truth tokens."""
    feats = semantic_embedding(models.w2v, models.w2v_stats, audio_16k, models.w2v_features)
    codes, _ = models.codec.quantize(feats.to(next(models.codec.parameters()).dtype))
    return feats, codes


def max_segment_seconds(models: Models, wanted: float = MAX_SEGMENT_S) -> float:
    """The segment cap: `wanted`, or less where the GPT has fewer code positions (start + stop)."""
    return min(float(wanted), (models.gpt.dims.max_mel_tokens - 2) / FEATURE_RATE)


def plan_for_model(models: Models, audio: np.ndarray, sample_rate: int, transcript: Transcript, given=None,
                   max_seconds: float = MAX_SEGMENT_S) -> tuple:
    """plan_segments with the GPT's limits: code positions (segment length) and text positions
    (re-planned with a shorter cap while a segment's text has too many tokens).
    Returns (plan, token ids per segment)."""
    cap = max_segment_seconds(models, max_seconds)
    limit = models.gpt.dims.max_text_tokens
    for _ in range(_REPLANS):
        plan = plan_segments(audio, sample_rate, transcript, given, max_seconds=cap)
        ids = [models.text.encode(seg.text) for seg in plan]
        longest = max(len(i) for i in ids)
        if longest <= limit:
            return plan, ids
        cap *= 0.9 * limit / longest
    raise EngineError(f"A segment of the transcript has {longest} text tokens, more than the model's {limit}, "
                      "even cut at every pause: give the recording's text split by time in option segments.")


def _segment_span_16k(seg: PlannedSegment, sample_rate: int) -> slice:
    return slice(int(round(seg.start * ENCODER_RATE / sample_rate)), int(round(seg.end * ENCODER_RATE / sample_rate)))


@torch.inference_mode()
def segment_feature(models: Models, voice: Voice, emovec, audio_16k: torch.Tensor, ids: Sequence[int]) -> tuple:
    """One segment: its codes, then the teacher-forced GPT on (text ids, codes) with the recording's
    speaker latents + emovec -> (codes (1, T), A2F feature (1, T, SEM))."""
    _, codes = recording_codes(models, audio_16k)
    conds = models.gpt.conditioning(voice.spk_latents, emovec)
    feature = a2f_feature(models, conds, torch.tensor([list(ids)], dtype=torch.long), codes)
    return codes, feature


@torch.inference_mode()
def segment_face(models: Models, feature: torch.Tensor, emovec) -> np.ndarray:
    """The face head on one segment's feature, padded as the reference's non-streaming path
    (frame k at k / 25 s from the segment's first sample) -> float32 [T_i // 2 + 1, 61]. A trained
    expression model adds its residual with the segment's emovec."""
    return models.face(feature, emovec, pad="always")[0].float().cpu().numpy()


def place_faces(faces: Sequence[np.ndarray], outputs: Sequence[SegmentOutput], n_samples: int, sample_rate: int):
    """Each segment's frames moved to its absolute start on the recording (core.retime.align_face,
    as generate's gap fix); gaps and the edges relax to rest. The head runs per segment, not over
    the joined features as generate does: a segment with an odd number of codes would shift every
    later one by half a frame there, and the segments are separate stretches of the recording."""
    frames = [len(f) for f in faces]
    # align_face reads frame k as starting at joined feature 2k: 2 * frames per segment keeps that exact
    return align_face(np.concatenate(faces), [2 * n for n in frames], [o.start for o in outputs],
                      [len(o.audio) for o in outputs], n_samples, sample_rate, FACE_FPS, FEATURE_RATE)


@torch.inference_mode()
def lipsync(models: Models, audio: np.ndarray, sample_rate: int, transcript: Transcript, given=None, *,
            max_seconds: float = MAX_SEGMENT_S, emo_alpha: float = 1.0, emotion_clip: Optional[str] = None,
            source: str = "", progress=None, cancel=None) -> LipsyncResult:
    """The face of `audio` (float32 [N], checked by core.recording.check_recording) saying `transcript`."""
    report = reporter(progress)
    report(0.05, "recording analysis")
    voice, audio_16k = analyse_recording(models, audio, sample_rate, source)
    plan, ids = plan_for_model(models, audio, sample_rate, transcript, given, max_seconds)
    check_cancel(cancel)
    emovec_cache, outputs, emovecs, faces = {}, [], [], []
    for i, (seg, seg_ids) in enumerate(zip(plan, ids)):
        report(0.1 + 0.8 * i / len(plan), f"GPT latents (segment {i + 1}/{len(plan)})")
        key = tuple(np.round(np.asarray(seg.emotion, np.float64), 6))
        if key not in emovec_cache:
            emovec_cache[key] = emotion_vector(models, voice, seg.emotion, emo_alpha, emotion_clip)
        try:
            codes, feature = segment_feature(models, voice, emovec_cache[key],
                                             audio_16k[:, _segment_span_16k(seg, sample_rate)], seg_ids)
        except ValueError as exc:   # e.g. a segment too short for the w2v-BERT frames
            raise EngineError(f"Segment {i + 1} ({seg.start / sample_rate:.2f}-{seg.end / sample_rate:.2f} s, "
                              f"{seg.text[:40]!r}): {exc}") from exc
        emovecs.append(emovec_cache[key])
        faces.append(segment_face(models, feature, emovec_cache[key]))
        outputs.append(SegmentOutput(seg.text, np.asarray(seg.emotion, np.float32), codes.cpu(),
                                     feature.float().cpu(), audio[seg.start:seg.end], seg.start))
        check_cancel(cancel)
    report(0.92, "face")
    face, owner = place_faces(faces, outputs, len(audio), sample_rate)
    return LipsyncResult(face, owner, outputs, plan, emovecs, faces)
