"""The UniTAF synthesis: text segments (+ inline emotion tags) + emotion + an analysed voice prompt
-> 22 050 Hz speech + 25 fps face channels, one text segment at a time. The networks are loaded
by model_set.py, the voice prompt analysed by voice.py, and the take's face made from the face
head's output by face_layers.py.

    voice analysis (once per prompt)  w2v-BERT L17 -> S_ref (codec) ; ref mel ; CAMPPlus style ;
                                      GPT speaker latents ; emotion features of the prompt
    per segment                       emovec -> GPT codes -> teacher-forced latent -> gpt_layer F_i
                                      -> S2Mel (length regulator + CFM) -> BigVGAN
    after all segments                face head on concat(F_i) -> frames placed on the audio timeline

Fix of the reference's sync bug: the reference inserts 200 ms of silence between segments in the
audio but not in the face track, so every boundary shifts the face 5 frames early. We run the face
head exactly as the reference does (same frames, same context across boundaries) and then move
each segment's frames to where its audio starts, filling the gaps with the mouth relaxing to rest.
`face_timing="reference"` keeps the reference's behaviour (for parity tests).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from ...core.performance import EMOTIONS
from ...core.retime import align_face
from .. import EngineError, ProgressFn, check_cancel, reporter
from .audio import SPEAKER_RATE
from .face import FACE_FPS
from .generate import generate
from .model_set import Models
from .options import SynthesisOptions
from .s2mel import target_mel_frames
from .text import TextSegment
from .voice import Voice, emotion_vector

SAMPLE_RATE = SPEAKER_RATE        # 22 050 Hz output
FEATURE_RATE = 50.0               # GPT latents / A2F features: one per semantic code


@dataclass(eq=False)
class SegmentOutput:
    text: str
    emotion: np.ndarray         # float32 [8] (the segment's emotion weights)
    codes: torch.Tensor         # (1, T) semantic codes, stop token removed
    feature: torch.Tensor       # (1, T, SEM) the A2F feature (gpt_layer output) at 50 Hz
    audio: np.ndarray           # float32 [N] in [-1, 1]
    start: int = 0              # first sample in the whole waveform


@dataclass
class SynthesisResult:
    audio: np.ndarray           # float32 [N] in [-1, 1], 22 050 Hz, segments joined by silence
    sample_rate: int
    face: np.ndarray            # float32 [T, 61] at 25 fps on the audio timeline (or the reference's)
    face_owner: np.ndarray      # int [T]: segment index of each face frame, -1 = inserted gap frame
    face_reference: np.ndarray  # float32 [T_ref, 61]: the reference's face track (no gap frames)
    segments: list
    emovecs: list               # (1, D) per segment


class _SegmentProgress:
    """The one progress mapping of a synthesis: segment i of n owns 0.8 / n of the bar from
    0.1 + 0.8 i / n, and every stage text names the segment."""

    def __init__(self, report, index: int, count: int):
        self.report, self.index, self.count = report, index, count
        self.base, self.span = 0.1 + 0.8 * index / count, 0.8 / count

    def __call__(self, share: float, stage: str):
        self.report(self.base + share * self.span, f"{stage} (segment {self.index + 1}/{self.count})")


def _segment_codes(models: Models, seg: TextSegment, voice: Voice, emovec, options: SynthesisOptions,
                   generator, at: _SegmentProgress, cancel):
    """GPT: the segment's semantic codes (stop token removed) and the conditioning they came from.
    Returns (conds, text ids, codes (1, T))."""
    at(0.0, "GPT tokens")
    conds = models.gpt.conditioning(voice.spk_latents, emovec)
    ids = torch.tensor([seg.ids], dtype=torch.long)
    tokens = 0

    def tick():   # the GPT calls this between tokens: progress + cancel
        nonlocal tokens
        check_cancel(cancel)
        tokens += 1
        if tokens % 10 == 0:
            at(0.5 * min(1.0, tokens / options.sampling.max_new_tokens), f"GPT tokens {tokens}")
    result = generate(models.gpt, conds, ids, options.sampling, generator=generator, cancel=tick)
    codes = result.codes[:, :-1] if result.stopped else result.codes   # generate emits only codes
    check_cancel(cancel)
    return conds, ids, codes


def a2f_feature(models: Models, conds, ids, codes) -> torch.Tensor:
    """The UniTAF feature tap: the teacher-forced GPT latent of `codes` (one per code) through
    s2mel's gpt_layer -> (1, T, SEM) at 50 Hz, the face head's input."""
    return models.s2mel.gpt_layer(models.gpt.latents(conds, ids, codes).float())


def _segment_mel(models: Models, conds, ids, codes, voice: Voice, options: SynthesisOptions, noise,
                 generator, at: _SegmentProgress, cancel):
    """Teacher-forced GPT latent of the codes -> the A2F feature tap; S2Mel: codebook embedding +
    feature -> content at the mel rate -> CFM from noise (`noise`, else drawn from `generator`).
    Returns (feature (1, T, SEM), mel (1, 80, T_mel) without the prompt part)."""
    feature = a2f_feature(models, conds, ids, codes)
    at(0.5, "s2mel steps")
    content = models.codec.vq2emb(codes.to(models.device)).transpose(1, 2).float() + feature
    cond = models.s2mel.regulate(content, int(target_mel_frames(codes.shape[1])))
    mu = torch.cat([voice.prompt_condition, cond], dim=1)
    if noise is None:
        noise = torch.randn((1, voice.ref_mel.shape[1], mu.shape[1]), generator=generator)
    noise = noise.to(models.device, torch.float32)

    def step(k, total):
        check_cancel(cancel)
        at(0.5 + 0.4 * k / total, f"s2mel steps {k}/{total}")
    mel = models.s2mel.sample(mu, voice.ref_mel, voice.style, options.diffusion_steps, options.cfg_rate,
                              noise=noise, progress=step)[:, :, voice.ref_mel.shape[-1]:]
    check_cancel(cancel)
    return feature, mel


def _join_audio(outputs: Sequence[SegmentOutput], total: int):
    """The waveform of every voiced segment at its start sample: (audio [total], voiced indices)."""
    voiced_index = [k for k, o in enumerate(outputs) if len(o.audio)]
    if not voiced_index:
        raise EngineError("The model produced no speech for this script (every segment stopped at once). "
                          "Try a different seed or voice clip.")
    audio = np.zeros(total, np.float32)
    for k in voiced_index:
        o = outputs[k]
        audio[o.start:o.start + len(o.audio)] = o.audio
    return audio, voiced_index


@torch.inference_mode()
def synthesize(models: Models, segments: Sequence[TextSegment], voice: Voice, options: SynthesisOptions,
               progress: Optional[ProgressFn] = None, cancel=None,
               emotion_clip: Optional[str] = None, noise: Optional[Sequence[torch.Tensor]] = None
               ) -> SynthesisResult:
    """Speak `segments` (from TextFrontend.script_segments) with `voice`. `noise[i]` (1, 80, T_ref+T_mel)
    replaces the CFM starting noise of segment i (parity tests); otherwise it is drawn from `seed`."""
    options.check()
    if not segments:
        raise EngineError("Nothing to say: the script has no speakable text.")
    report = reporter(progress)
    # CFM noise from a CPU generator (same noise on every device); GPT sampling on the model's device
    cfm_gen = torch.Generator(device="cpu").manual_seed(int(options.seed))
    gpt_gen = cfm_gen
    if models.device.type != "cpu":
        gpt_gen = torch.Generator(device=models.device).manual_seed(int(options.seed))
    gap = int(SAMPLE_RATE * options.interval_silence_ms / 1000)
    emovec_cache, outputs, emovecs = {}, [], []
    pos = 0
    for i, seg in enumerate(segments):
        at = _SegmentProgress(report, i, len(segments))
        check_cancel(cancel)
        key = tuple(np.round(np.asarray(seg.emotion, np.float64), 6))
        if key not in emovec_cache:
            emovec_cache[key] = emotion_vector(models, voice, seg.emotion, options.emo_alpha, emotion_clip)
        emovec = emovec_cache[key]
        emovecs.append(emovec)
        emotion = np.asarray(seg.emotion, np.float32)
        conds, ids, codes = _segment_codes(models, seg, voice, emovec, options, gpt_gen, at, cancel)
        if codes.shape[1] == 0:      # the model stopped at once: nothing to voice for this segment
            outputs.append(SegmentOutput(seg.text, emotion, codes, torch.zeros(1, 0, models.feature_dim),
                                         np.zeros(0, np.float32), pos))
            continue
        feature, mel = _segment_mel(models, conds, ids, codes, voice, options,
                                    None if noise is None else noise[i], cfm_gen, at, cancel)
        at(0.9, "vocoder")
        wav = models.vocoder(mel).reshape(-1).float().cpu().numpy()
        if seg.pause_before is not None:      # a <break>: its own length, also before the first one
            pos += int(round(SAMPLE_RATE * seg.pause_before))
        elif any(len(o.audio) for o in outputs):
            pos += gap
        outputs.append(SegmentOutput(seg.text, emotion, codes.cpu(), feature.float().cpu(), wav, pos))
        pos += len(wav)
    pos += int(round(SAMPLE_RATE * segments[-1].pause_after))
    audio, voiced_index = _join_audio(outputs, pos)
    check_cancel(cancel)
    report(0.92, "face")
    reference = face_track(models, outputs, emovecs)
    if options.face_timing == "reference":
        face, owner = reference, _reference_owner(outputs, len(reference))
    else:
        voiced = [outputs[k] for k in voiced_index]
        face, owner = align_face(reference, [o.feature.shape[1] for o in voiced], [o.start for o in voiced],
                                 [len(o.audio) for o in voiced], len(audio), SAMPLE_RATE, FACE_FPS, FEATURE_RATE)
        owner = np.asarray(voiced_index + [-1])[owner]   # voiced index -> segment index; -1 stays -1
    return SynthesisResult(audio, SAMPLE_RATE, face, owner, reference, outputs, emovecs)


@torch.inference_mode()
def face_track(models: Models, outputs: Sequence[SegmentOutput], emovecs) -> np.ndarray:
    """The reference's non-streaming face: one pass of the face head over every segment's feature
    (no silence frames), one zero frame always appended. With a trained expression model its
    residual is added, each frame taking the emovec of the segment it belongs to."""
    feats = [o.feature for o in outputs if o.feature.shape[1]]
    feature = torch.cat(feats, dim=1).to(models.device)
    head = models.face
    mouth = head.mouth(feature.to(next(head.parameters()).dtype), pad="always")
    if head.expression is not None:
        owner = _reference_owner(outputs, mouth.shape[1])
        total = mouth.clone()
        for i in sorted(set(owner.tolist())):
            expr = head.expression(feature, mouth, emovecs[i].to(mouth.device, mouth.dtype).reshape(1, -1))
            rows = torch.from_numpy(owner == i).to(mouth.device)
            total[:, rows] = mouth[:, rows] + expr[:, rows]
        mouth = total
    return mouth[0].float().cpu().numpy()


def _reference_owner(outputs, n_frames) -> np.ndarray:
    """Segment index of each reference face frame: frame k starts at feature frame 2k."""
    starts = np.cumsum([0] + [o.feature.shape[1] for o in outputs])
    k = np.minimum(2 * np.arange(n_frames), starts[-1] - 1)
    return (np.searchsorted(starts, k, side="right") - 1).astype(np.int64)


def emotion_timeline(result: SynthesisResult) -> tuple:
    """(times [K] seconds, vectors [K, 8]): each segment's emotion from where its audio starts."""
    times = [o.start / result.sample_rate for o in result.segments]
    vectors = [o.emotion for o in result.segments]
    return np.asarray(times, np.float32), np.asarray(vectors, np.float32).reshape(-1, len(EMOTIONS))

