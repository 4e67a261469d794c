"""The whole UniTAF pipeline: text (+ inline emotion tags) + emotion + voice prompt -> 22 050 Hz
speech + 25 fps face channels, one text segment at a time.

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

from dataclasses import dataclass, field
import json
import os
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from .. import Cancelled, EngineError
from ...core.performance import EMOTIONS
from .audio import load_emotion_prompt, load_speaker_prompt, SPEAKER_RATE
from .campplus import CAMPPlus, CAMPPlusDims, speaker_style
from .checkpoint import load_into, read_checkpoint
from .face import FACE_FPS, FaceHead, channel_names
from .fbank import W2vBertFeatureConfig
from .gpt import SamplingConfig, UnifiedVoice, load_emotion_matrices, load_gpt, resolve_emotion
from .mel import MelConfig, MelSpectrogram
from .s2mel import S2Mel, S2MelDims, target_mel_frames
from .semantic import (SEMANTIC_LAYER, RepCodec, RepCodecDims, W2vBertEncoder, load_repcodec,
                       load_semantic_stats, load_w2v_bert, semantic_embedding, SemanticStats)
from .text import TextFrontend, TextSegment
from .vocoder import BigVGAN

SAMPLE_RATE = SPEAKER_RATE        # 22 050 Hz output
FEATURE_RATE = 50.0               # GPT latents / A2F features: one per semantic code
STAGES = ("voice analysis", "GPT tokens", "s2mel steps", "vocoder", "face")


@dataclass
class SynthesisOptions:
    diffusion_steps: int = 25
    cfg_rate: float = 0.7
    interval_silence_ms: int = 200
    max_text_tokens: int = 120
    sampling: SamplingConfig = field(default_factory=SamplingConfig)   # reference: 3-beam sampling
    emo_alpha: float = 1.0
    face_timing: str = "fixed"         # "fixed": face follows the audio; "reference": the reference's drift
    seed: int = 0

    def check(self):
        if self.diffusion_steps < 1:
            raise ValueError("diffusion_steps must be at least 1")
        if self.interval_silence_ms < 0:
            raise ValueError("interval_silence_ms must be >= 0")
        if self.face_timing not in ("fixed", "reference"):
            raise ValueError(f"face_timing must be 'fixed' or 'reference', got {self.face_timing!r}")
        if not 0.0 <= float(self.emo_alpha) <= 1.0:
            raise ValueError(f"emo_alpha must lie in 0..1, got {self.emo_alpha}")


# ------------------------------------------------------------------------------------ models

@dataclass
class Models:
    """Every module of the pipeline, on one device. Built once and cached by runtime.get_or_load."""
    text: TextFrontend
    gpt: UnifiedVoice
    s2mel: S2Mel
    w2v: W2vBertEncoder
    w2v_stats: SemanticStats
    codec: RepCodec
    campplus: CAMPPlus
    vocoder: BigVGAN
    face: FaceHead
    mel: MelSpectrogram
    w2v_features: W2vBertFeatureConfig = field(default_factory=W2vBertFeatureConfig)
    emo_matrices: Optional[tuple] = None       # (feat1 speaker matrix, feat2 emotion matrix)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32
    voices: dict = field(default_factory=dict)  # voice-analysis cache: (path, mtime, size) -> Voice
    emotions: dict = field(default_factory=dict)  # emotion features of extra emotion clips

    @property
    def feature_dim(self) -> int:
        return self.face.in_dim


def gpt_dtype(device, dtype):
    """GPT weights: the requested half type on a GPU; on CPU only bf16 (fast there in the (out, in)
    layout, see UnifiedVoice.optimize_for_inference); fp16 on CPU stays fp32."""
    device = torch.device(device)
    if device.type != "cpu" or dtype == torch.bfloat16:
        return dtype
    return torch.float32


def load_models(store, device="cpu", dtype=torch.float32, expression_checkpoint=None,
                expression_mode: str = "cross_attn") -> Models:
    """Build every module from a `store.ModelStore` (cache or model folder). `store.path` raises
    ModelsMissing listing every missing file first, so nothing is half loaded."""
    store.require()
    device = torch.device(device)
    cfg_path = store.path("indextts2.config")
    cfg = _read_yaml(cfg_path)
    gpt = load_gpt(store.path("indextts2.gpt"), cfg, device="cpu").to(
        device=device, dtype=gpt_dtype(device, dtype)).eval().optimize_for_inference()
    s2mel = S2Mel.from_checkpoint(store.path("indextts2.s2mel"), S2MelDims.from_config(cfg["s2mel"]),
                                  device=device, dtype=dtype)
    w2v = _load_w2v(store.path("w2vbert.model"), store.optional_path("w2vbert.config")).to(device=device)
    stats = load_semantic_stats(store.path("indextts2.w2v_stats"), device=device)
    with open(store.path("w2vbert.preprocessor"), encoding="utf-8") as f:
        feat_cfg = W2vBertFeatureConfig.from_preprocessor_config(json.load(f))
    codec = load_repcodec(store.path("maskgct.semantic_codec"),
                          RepCodecDims.from_config(cfg.get("semantic_codec") or {}), device=device)
    campplus = _load_campplus(store.path("campplus.model")).to(device)
    store.path("bigvgan.config")
    vocoder = BigVGAN.from_pretrained(os.path.dirname(store.path("bigvgan.generator")), device=device,
                                      dtype=dtype if device.type != "cpu" else torch.float32)
    store.path("unitaf.a2f")
    face = FaceHead.from_dir(os.path.dirname(store.path("unitaf.projector")), expression_checkpoint,
                             expression_mode, device=device)
    mel = MelSpectrogram(MelConfig.from_s2mel_config(cfg["s2mel"]["preprocess_params"])).to(device)
    matrices = None
    try:
        matrices = load_emotion_matrices(store.path("indextts2.feat1"), store.path("indextts2.feat2"))
    except EngineError:
        pass   # optional: only emotion vectors need them; generate() says so when one is used
    return Models(TextFrontend(store.path("indextts2.bpe")), gpt, s2mel, w2v, stats, codec, campplus, vocoder,
                  face, mel, feat_cfg, matrices, device, dtype)


def _read_yaml(path) -> dict:
    import yaml
    try:
        with open(path, encoding="utf-8") as f:
            cfg = yaml.safe_load(f)
    except (OSError, yaml.YAMLError) as exc:
        raise EngineError(f"Cannot read the IndexTTS2 config {path}: {exc}") from exc
    if not isinstance(cfg, dict) or "gpt" not in cfg or "s2mel" not in cfg:
        raise EngineError(f"{path} is not an IndexTTS2 config.yaml (no 'gpt'/'s2mel' sections).")
    return cfg


def _load_w2v(weights_path, config_path=None) -> W2vBertEncoder:
    """w2v-BERT with its dimensions from `config_path` (the catalogue's w2vbert.config), else a
    config.json beside the weights (or beside the file a symlink points to), else the official
    w2v-bert-2.0 dimensions (model folders and caches made before config.json was catalogued)."""
    if config_path is None:
        for folder in dict.fromkeys((os.path.dirname(weights_path), os.path.dirname(os.path.realpath(weights_path)))):
            if os.path.isfile(os.path.join(folder, "config.json")):
                config_path = os.path.join(folder, "config.json")
                break
    return load_w2v_bert(weights_path, SEMANTIC_LAYER, config=config_path if config_path is not None else {})


def _load_campplus(path) -> CAMPPlus:
    """CAMPPlus with its widths read from the weight shapes (the file has no config)."""
    sd = read_checkpoint(path)
    try:
        growth = sd["xvector.block1.tdnnd1.cam_layer.linear_local.weight"].shape[0]
        dims = CAMPPlusDims(
            feat_dim=CAMPPlusDims().feat_dim,
            embedding_size=sd["xvector.dense.linear.weight"].shape[0],
            growth_rate=growth,
            bn_size=sd["xvector.block1.tdnnd1.linear1.weight"].shape[0] // growth,
            init_channels=sd["xvector.tdnn.linear.weight"].shape[0])
    except KeyError as exc:
        raise EngineError(f"{path}: not a CAMPPlus checkpoint (key {exc} missing)") from exc
    model = CAMPPlus(dims)
    load_into(model, sd, os.fspath(path))
    return model.eval()


# ------------------------------------------------------------------------------------ voice

@dataclass
class Voice:
    spk_cond_emb: torch.Tensor     # (1, T, SEM) normalised w2v-BERT L17 of the 16 kHz prompt
    emo_cond_emb: torch.Tensor     # the same file re-read straight at 16 kHz (the reference's emotion path)
    prompt_condition: torch.Tensor  # (1, T_ref, content) length-regulated S_ref
    ref_mel: torch.Tensor          # (1, 80, T_ref)
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
    if prompt.audio_22k.shape[-1] < SAMPLE_RATE // 2:
        raise EngineError(f"Voice clip {path} is too short ({prompt.audio_22k.shape[-1] / SAMPLE_RATE:.2f} s); "
                          "use 3 to 15 seconds of clear speech.")
    spk = semantic_embedding(models.w2v, models.w2v_stats, prompt.audio_16k, models.w2v_features)
    emo = semantic_embedding(models.w2v, models.w2v_stats, emo_16k, models.w2v_features)
    _, s_ref = models.codec.quantize(spk.to(_codec_dtype(models)))
    ref_mel = models.mel(prompt.audio_22k.to(models.device))
    style = speaker_style(models.campplus, prompt.audio_16k)
    prompt_condition = models.s2mel.regulate(s_ref.float(), ref_mel.shape[-1])
    voice = Voice(spk, emo, prompt_condition, ref_mel, style.float(), models.gpt.speaker_latents(spk), path)
    models.voices[key] = voice
    return voice


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


# ------------------------------------------------------------------------------------ synthesis

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


def _report(progress, fraction, stage):
    if progress is not None:
        progress(float(min(max(fraction, 0.0), 1.0)), stage)


def _checker(cancel):
    def check(*_):
        if cancel is not None and cancel.is_set():
            raise Cancelled()
    return check


@torch.inference_mode()
def synthesize(models: Models, segments: Sequence[TextSegment], voice: Voice, options: SynthesisOptions,
               progress: Optional[Callable[[float, str], None]] = None, cancel=None,
               emotion_clip: Optional[str] = None, noise: Optional[Sequence[torch.Tensor]] = None
               ) -> SynthesisResult:
    """Speak `segments` (from TextFrontend.script_segments) with `voice`. `noise[i]` (1, 80, T_ref+T_mel)
    replaces the CFM starting noise of segment i (parity tests); otherwise it is drawn from `seed`."""
    options.check()
    if not segments:
        raise EngineError("Nothing to say: the script has no speakable text.")
    check = _checker(cancel)
    # CFM noise from a CPU generator (same noise on every device); GPT sampling on the model's device
    gen = torch.Generator(device="cpu").manual_seed(int(options.seed))
    gpt_gen = gen
    if models.device.type != "cpu":
        gpt_gen = torch.Generator(device=models.device).manual_seed(int(options.seed))
    gap = int(SAMPLE_RATE * options.interval_silence_ms / 1000)
    n = len(segments)
    emovec_cache, outputs, emovecs = {}, [], []
    pos = 0
    for i, seg in enumerate(segments):
        base = 0.1 + 0.8 * i / n
        span = 0.8 / n
        check()
        key = tuple(np.round(np.asarray(seg.emotion, np.float64), 6))
        if key not in emovec_cache:
            emovec_cache[key] = emotion_vector(models, voice, seg.emotion, options.emo_alpha, emotion_clip)
        emovec = emovec_cache[key]
        # GPT: semantic codes, then the teacher-forced latent of those codes (the A2F feature tap)
        _report(progress, base, f"GPT tokens (segment {i + 1}/{n})")
        conds = models.gpt.conditioning(voice.spk_latents, emovec)
        ids = torch.tensor([seg.ids], dtype=torch.long)
        tokens = [0]

        def tick(_b=base, _s=span):   # the GPT calls this between tokens: progress + cancel
            check()
            tokens[0] += 1
            if tokens[0] % 10 == 0:
                _report(progress, _b + 0.5 * _s * min(1.0, tokens[0] / options.sampling.max_new_tokens),
                        f"GPT tokens {tokens[0]} (segment {i + 1}/{n})")
        result = models.gpt.generate(conds, ids, options.sampling, generator=gpt_gen, cancel=tick)
        codes = result.codes[:, :-1] if result.stopped else result.codes   # generate emits only codes
        check()
        if codes.shape[1] == 0:      # the model stopped at once: nothing to voice for this segment
            outputs.append(SegmentOutput(seg.text, np.asarray(seg.emotion, np.float32), codes,
                                         torch.zeros(1, 0, models.feature_dim), np.zeros(0, np.float32), pos))
            emovecs.append(emovec)
            continue
        latent = models.gpt.latents(conds, ids, codes).float()
        feature = models.s2mel.gpt_layer(latent)
        # S2Mel: codebook embedding + feature -> content at the mel rate -> CFM from noise
        _report(progress, base + 0.5 * span, f"s2mel steps (segment {i + 1}/{n})")
        content = models.codec.vq2emb(codes.to(models.device)).transpose(1, 2).float() + feature
        n_mel = int(target_mel_frames(codes.shape[1]))
        cond = models.s2mel.regulate(content, n_mel)
        mu = torch.cat([voice.prompt_condition, cond], dim=1)
        z = None if noise is None else noise[i].to(models.device, torch.float32)

        def step(k, total, _b=base, _s=span):
            check()
            _report(progress, _b + _s * (0.5 + 0.4 * k / total), f"s2mel steps {k}/{total} (segment {i + 1}/{n})")
        if z is None:
            z = torch.randn((1, voice.ref_mel.shape[1], mu.shape[1]), generator=gen).to(models.device)
        mel = models.s2mel.sample(mu, voice.ref_mel, voice.style, options.diffusion_steps, options.cfg_rate,
                                  noise=z, progress=step)[:, :, voice.ref_mel.shape[-1]:]
        check()
        _report(progress, base + 0.9 * span, f"vocoder (segment {i + 1}/{n})")
        wav = models.vocoder(mel).reshape(-1).float().cpu().numpy()
        if outputs and any(len(o.audio) for o in outputs):
            pos += gap
        outputs.append(SegmentOutput(seg.text, np.asarray(seg.emotion, np.float32), codes.cpu(),
                                     feature.float().cpu(), wav, pos))
        emovecs.append(emovec)
        pos += len(wav)
    voiced_index = [k for k, o in enumerate(outputs) if len(o.audio)]
    voiced = [outputs[k] for k in voiced_index]
    if not voiced:
        raise EngineError("The model produced no speech for this script (every segment stopped at once). "
                          "Try a different seed or voice clip.")
    audio = np.zeros(pos, np.float32)
    for o in voiced:
        audio[o.start:o.start + len(o.audio)] = o.audio
    check()
    _report(progress, 0.92, "face")
    reference = face_track(models, outputs, emovecs)
    if options.face_timing == "reference":
        face, owner = reference, _reference_owner(outputs, len(reference))
    else:
        face, owner = align_face(reference, [o.feature.shape[1] for o in voiced], [o.start for o in voiced],
                                 [len(o.audio) for o in voiced], len(audio))
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


def align_face(motion: np.ndarray, seg_frames: Sequence[int], seg_starts: Sequence[int],
               seg_samples: Sequence[int], total_samples: int, sample_rate: int = SAMPLE_RATE,
               fps: float = FACE_FPS, feature_rate: float = FEATURE_RATE, decay_frames: int = 3):
    """Move the reference face frames onto the audio timeline.

    motion [K, C]: face frames over the concatenated features (frame k starts at feature 2k).
    Segment i's features start at feature S_i and its audio at sample A_i; its frames are shifted by
    round((A_i / sr - S_i / feature_rate) * fps), re-anchored at every segment, so neither the
    inserted silences nor the 1.72-mel-per-code drift accumulate. Frames left empty (the gaps, and
    the end of the audio) relax from the last placed frame to rest over `decay_frames`.
    Returns (face [T, C] with T = floor(total_samples * fps / sr) + 1, owner [T], -1 for gap frames).
    """
    motion = np.asarray(motion, np.float32)
    n_out = int(np.floor(total_samples * fps / sample_rate + 1e-9)) + 1
    feat_starts = np.cumsum([0] + list(seg_frames))
    shifts = [int(round((a / sample_rate - s / feature_rate) * fps)) for a, s in zip(seg_starts, feat_starts)]
    seg_end_frame = [int(np.ceil((a + n) * fps / sample_rate)) for a, n in zip(seg_starts, seg_samples)]
    out = np.zeros((n_out, motion.shape[1]), np.float32)
    owner = np.full(n_out, -1, np.int64)
    first_feature = np.minimum(2 * np.arange(len(motion)), feat_starts[-1] - 1)
    frame_seg = np.searchsorted(feat_starts, first_feature, side="right") - 1
    for k, i in enumerate(frame_seg):
        j = k + shifts[i]
        # a segment's frames stop where its audio stops (the reference's trailing pad frame and
        # the slight 1.72-ratio overhang must not spill into the following gap)
        if 0 <= j < n_out and j <= seg_end_frame[i]:
            out[j], owner[j] = motion[k], i
    last, run = None, 0
    for j in range(n_out):
        if owner[j] >= 0:
            last, run = out[j], 0
        elif last is not None:
            run += 1
            out[j] = last * max(0.0, 1.0 - run / decay_frames)
    return out, owner


# ------------------------------------------------------------------------------------ face layers

def neural_channels(face: np.ndarray) -> tuple:
    """(names, weights [T, 51]) of the face head's named channels (51-60 are unnamed and dropped)."""
    from .face import to_performance_channels
    return to_performance_channels(face)


def with_expression_layer(face: np.ndarray, audio: np.ndarray, emotion_times, emotion_vectors,
                          seed: int = 0, fps: float = FACE_FPS) -> tuple:
    """Our expression layer over the neural mouth: the embedded engine's upper face (emotion shapes,
    blinks, gaze, head motion) driven by the same emotion timeline. The published model carries
    emotion only through the speech, so without this an angry line would not look angry.
    Returns (FACE_CHANNELS, weights [T, 61]) with ARKit weights clipped to [0, 1]."""
    from ..embedded.expression import FACE_CHANNELS, merge_layers, upper_face
    from ..embedded.face import emphasis_curve, loudness_envelope
    names, weights = neural_channels(face)
    n = len(weights)
    mouth = np.zeros((n, len(FACE_CHANNELS)), np.float32)
    index = {c: i for i, c in enumerate(FACE_CHANNELS)}
    for j, name in enumerate(names):
        mouth[:, index[name]] = weights[:, j]
    mouth[:, :52] = np.clip(mouth[:, :52], 0.0, 1.0)
    loud = loudness_envelope(audio, SAMPLE_RATE, n, fps)
    upper = upper_face(emotion_times, emotion_vectors, n, fps, seed, emphasis=emphasis_curve(loud, fps))
    return FACE_CHANNELS, merge_layers(mouth, upper)


def emotion_timeline(result: SynthesisResult) -> tuple:
    """(times [K] seconds, vectors [K, 8]): each segment's emotion from where its audio starts."""
    times = [o.start / result.sample_rate for o in result.segments]
    vectors = [o.emotion for o in result.segments]
    return np.asarray(times, np.float32), np.asarray(vectors, np.float32).reshape(-1, len(EMOTIONS))


def face_channel_names() -> tuple:
    return channel_names()
