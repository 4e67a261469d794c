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

import json
import os
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import torch

from ...core.channels import ARKIT_52
from ...core.performance import EMOTIONS
from ...core.retime import align_face
from ...core.signal import loudness_envelope
from ...core.upper_face import FACE_CHANNELS, FACE_INDEX, merge_layers, upper_face
from ...core.voice_prosody import VoiceProsody
from .. import EngineError, ProgressFn, check_cancel, reporter
from .audio import SPEAKER_RATE, SpeakerPrompt, load_emotion_prompt, load_speaker_prompt
from .campplus import CAMPPlus, CAMPPlusDims, speaker_style
from .checkpoint import CheckpointError, load_on_meta, read_checkpoint
from .emotion_matrix import load_emotion_matrices, resolve_emotion
from .face import FACE_FPS, FaceHead, to_performance_channels
from .fbank import W2vBertFeatureConfig
from .generate import generate
from .gpt import UnifiedVoice, load_gpt
from .mel import MelConfig, MelSpectrogram
from .options import SynthesisOptions
from .s2mel import S2Mel, S2MelDims, target_mel_frames
from .semantic import (
    SEMANTIC_LAYER,
    RepCodec,
    RepCodecDims,
    SemanticStats,
    W2vBertEncoder,
    load_repcodec,
    load_semantic_stats,
    load_w2v_bert,
    semantic_embedding,
)
from .text import TextFrontend, TextSegment
from .vocoder import BigVGAN

SAMPLE_RATE = SPEAKER_RATE        # 22 050 Hz output
FEATURE_RATE = 50.0               # GPT latents / A2F features: one per semantic code
STAGES = ("voice analysis", "GPT tokens", "s2mel steps", "vocoder", "face")


# ------------------------------------------------------------------------------------ models

@dataclass
class Models:
    """Every module of the pipeline, on one device. Built once and cached by devices.get_or_load."""
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
                expression_mode: str = "cross_attn", gpt_int8: bool = False) -> Models:
    """Build every module from a `store.ModelStore` (cache or model folder). `store.require()`
    raises ModelsMissing listing every missing file first, so nothing is half loaded. A file that
    does not load (CheckpointError) gets the store's size report added: in a model folder, where
    sizes are not enforced, "expected 3.48 GB, found 1.0 MB" names the real cause."""
    store.require()
    try:
        return _build_models(store, torch.device(device), dtype, expression_checkpoint, expression_mode, gpt_int8)
    except CheckpointError as exc:
        sizes = store.size_report()
        if not sizes:
            raise
        raise CheckpointError(f"{exc}\nModel files whose size is not the official file's (a wrong file or a "
                              f"partial copy?):\n{sizes}") from exc


def _build_models(store, device, dtype, expression_checkpoint, expression_mode, gpt_int8=False) -> Models:
    cfg_path = store.path("indextts2.config")
    cfg = _read_yaml(cfg_path)
    gpt = load_gpt(store.path("indextts2.gpt"), cfg, device="cpu").to(
        device=device, dtype=gpt_dtype(device, dtype)).eval().optimize_for_inference(int8=gpt_int8)
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
    import yaml  # PyYAML comes with the neural runtime; only model loading needs it
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
    return load_on_meta(lambda: CAMPPlus(dims), sd, os.fspath(path)).eval()


# ------------------------------------------------------------------------------------ voice

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
    if prompt.audio_22k.shape[-1] < SAMPLE_RATE // 2:
        raise EngineError(f"Voice clip {path} is too short ({prompt.audio_22k.shape[-1] / SAMPLE_RATE:.2f} s); "
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


# ------------------------------------------------------------------------------------ face layers

def with_expression_layer(face: np.ndarray, audio: np.ndarray, emotion_times, emotion_vectors,
                          seed: int = 0, fps: float = FACE_FPS, sample_rate: int = SAMPLE_RATE) -> tuple:
    """Our expression layer over the neural mouth: core's upper face (emotion shapes, blinks, gaze,
    head motion) driven by the same emotion timeline. The published model carries emotion only
    through the speech, so without this an angry line would not look angry.
    Returns (FACE_CHANNELS, weights [T, 61]) with ARKit weights clipped to [0, 1]."""
    names, weights = to_performance_channels(face)
    n = len(weights)
    mouth = np.zeros((n, len(FACE_CHANNELS)), np.float32)
    for j, name in enumerate(names):
        mouth[:, FACE_INDEX[name]] = weights[:, j]
    mouth[:, :len(ARKIT_52)] = np.clip(mouth[:, :len(ARKIT_52)], 0.0, 1.0)
    loud = loudness_envelope(audio, sample_rate, n, fps)
    prosody = VoiceProsody.from_audio(audio, sample_rate, n, fps, energy=loud)
    upper = upper_face(emotion_times, emotion_vectors, n, fps, seed, prosody=prosody)
    return FACE_CHANNELS, merge_layers(mouth, upper)


def emotion_timeline(result: SynthesisResult) -> tuple:
    """(times [K] seconds, vectors [K, 8]): each segment's emotion from where its audio starts."""
    times = [o.start / result.sample_rate for o in result.segments]
    vectors = [o.emotion for o in result.segments]
    return np.asarray(times, np.float32), np.asarray(vectors, np.float32).reshape(-1, len(EMOTIONS))

