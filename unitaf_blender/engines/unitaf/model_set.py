"""The UniTAF networks loaded from the model store onto one device (`Models`, `load_models`):
IndexTTS2's text front end, GPT, S2Mel, w2v-BERT with its statistics, the semantic codec,
CAMPPlus, BigVGAN, the mel transform, the emotion matrices, and UniTAF's face head."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Optional

import torch

from .. import EngineError
from .campplus import CAMPPlus, CAMPPlusDims
from .checkpoint import CheckpointError, load_on_meta, read_checkpoint
from .emotion_matrix import load_emotion_matrices
from .face import FaceHead
from .fbank import W2vBertFeatureConfig
from .gpt import UnifiedVoice, load_gpt
from .mel import MelConfig, MelSpectrogram
from .s2mel import S2Mel, S2MelDims
from .semantic import (
    SEMANTIC_LAYER,
    RepCodec,
    RepCodecDims,
    SemanticStats,
    W2vBertEncoder,
    load_repcodec,
    load_semantic_stats,
    load_w2v_bert,
)
from .text import TextFrontend
from .vocoder import BigVGAN


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
