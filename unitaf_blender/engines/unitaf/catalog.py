"""The catalogue of UniTAF model files: what each file is, where it lives on the Hugging Face Hub
(repository, path, pinned revision), its size and sha256, the features that need it, and the
licence of its repository. Data only: no I/O, no torch, no network.
"""
from __future__ import annotations

from dataclasses import replace

from ..model_files import GB, KB, MB, ModelFile

LICENCES = {
    "IndexTeam/IndexTTS-2": "bilibili Model Use License Agreement (custom: royalty-free; separate licence above "
                            "100 M MAU / RMB 1 bn revenue; keep notices; no use to improve other AI models)",
    "facebook/w2v-bert-2.0": "MIT",
    "amphion/MaskGCT": "CC-BY-NC-4.0 (NON-COMMERCIAL use only)",
    "funasr/campplus": "FunASR Model Open Source License v1.1 (attribution, keep model names)",
    "nvidia/bigvgan_v2_22khz_80band_256x": "MIT",
    "ATA-space/UniTAF": "not stated; derivative of IndexTTS2 (bilibili licence) and UniTalker (Apache-2.0)",
}

FEATURES = {
    "speech": "text -> speech (IndexTTS2 GPT, S2Mel, w2v-BERT, semantic codec, CAMPPlus, BigVGAN)",
    "emotion-vector": "emotion from an 8-value vector / emotion names (IndexTTS2 speaker/emotion matrices)",
    "face": "speech features -> 61 face channels (UniTAF projector + UniTalker decoder)",
    "emotion-text": "emotion from free text (optional Qwen3-0.6B fine-tune)",
}
DEFAULT_FEATURES = ("speech", "emotion-vector", "face")

_A2F_RUN = ("UniTAF-A2F(口型状态顶点空间加权loss_加权仅作用于嘴部顶点)-加载Adapter预训练权重"
            "(约束AudioFeature_step_74140)_260109/checkpoint-74140")


_ITTS = "IndexTeam/IndexTTS-2"
_ITTS_REV = "main"  # UNVERIFIED: no full commit hash found; content is pinned by sha256 below
_W2V_REV = "da985ba0987f70aaeb84a80f2851cfac8c697a7b"     # main after "Upload model (#12)", 2024-01-25
_MASKGCT_REV = "630cca57634b477ee7ccfd3baa2c6adc922b93bc"  # a commit holding semantic_codec/model.safetensors
_CAMPPLUS_REV = "fb71fe990cbf6031ae6987a2d76fe64f94377b7e"  # head of main ("add", 2024-02-01)
_BIGVGAN_REV = "633ff708ed5b74903e86ff1298cf4a98e921c513"   # head of main (after v2.4, 2024-09-05)
_UNITAF_REV = "main"  # UNVERIFIED: the ATA-space/UniTAF listing could not be read

_FILES = (
    ModelFile("indextts2.gpt", _ITTS, "gpt.pth", _ITTS_REV, int(3.48 * GB), ("speech", "face"),
              sha256="baaaeb8b56328da81731dc540a85a7dee32eca9da28f174b05757cb651c602a4"),
    ModelFile("indextts2.s2mel", _ITTS, "s2mel.pth", _ITTS_REV, int(1.2 * GB), ("speech", "face"),
              sha256="aae1bb12017cbb47e7a5ce537fc82f40b6b1deb71acdb9b8f25686f32714b636"),
    ModelFile("indextts2.bpe", _ITTS, "bpe.model", _ITTS_REV, 476 * KB, ("speech", "face"),
              note="sha256 b2a5ce80... per a mirror page only; not pinned"),
    ModelFile("indextts2.w2v_stats", _ITTS, "wav2vec2bert_stats.pt", _ITTS_REV, 9343, ("speech", "face"),
              size=9343, sha256="c9c176c2b8850ab2e3ba828bbfa969deaf4566ce55db5f2687b8430b87526ad2"),
    ModelFile("indextts2.config", _ITTS, "config.yaml", _ITTS_REV, 3 * KB, ("speech", "face")),
    ModelFile("indextts2.feat1", _ITTS, "feat1.pt", _ITTS_REV, 57170, ("emotion-vector",),
              size=57170, sha256="f219cb447d80216ba615666da2ff8d63ac544eee26657f3a7b278692bf7a67c4"),
    ModelFile("indextts2.feat2", _ITTS, "feat2.pt", _ITTS_REV, 374866, ("emotion-vector",),
              size=374866, note="sha256 9c4292e9... per a mirror page only; not pinned"),
    ModelFile("w2vbert.model", "facebook/w2v-bert-2.0", "model.safetensors", _W2V_REV, int(2.32 * GB),
              ("speech", "face"), sha256="eb890c9660ed6e3414b6812e27257b8ce5454365d5490d3ad581ea60b93be043"),
    ModelFile("w2vbert.config", "facebook/w2v-bert-2.0", "config.json", _W2V_REV, 1870, ("speech", "face"),
              optional=True, note="1.87 kB per the Hub listing at this revision (approximate; not enforced); "
                                  "without it the official w2v-BERT 2.0 dimensions are assumed"),
    ModelFile("w2vbert.preprocessor", "facebook/w2v-bert-2.0", "preprocessor_config.json", _W2V_REV, 1 * KB,
              ("speech", "face")),
    ModelFile("maskgct.semantic_codec", "amphion/MaskGCT", "semantic_codec/model.safetensors", _MASKGCT_REV,
              177 * MB, ("speech", "face"),
              sha256="ec947271175d8cad75ec37e83aa487e27c97a0f72a303393772da5ffa84bddf2"),
    ModelFile("campplus.model", "funasr/campplus", "campplus_cn_common.bin", _CAMPPLUS_REV, 28036335,
              ("speech", "face"), note="size 28,036,335 B per a mirror commit; not enforced"),
    ModelFile("bigvgan.generator", "nvidia/bigvgan_v2_22khz_80band_256x", "bigvgan_generator.pt", _BIGVGAN_REV,
              449 * MB, ("speech",)),
    ModelFile("bigvgan.config", "nvidia/bigvgan_v2_22khz_80band_256x", "config.json", _BIGVGAN_REV, 2 * KB,
              ("speech",)),
    ModelFile("unitaf.projector", "ATA-space/UniTAF", f"{_A2F_RUN}/audio_feature_projector.pt", _UNITAF_REV,
              int(3.7 * MB), ("face",), note="file path inferred from the UniTAF code; UNVERIFIED"),
    ModelFile("unitaf.a2f", "ATA-space/UniTAF", f"{_A2F_RUN}/a2f_model.pt", _UNITAF_REV, int(4.9 * MB),
              ("face",), note="file path inferred from the UniTAF code; UNVERIFIED"),
    # Emotion from text (IndexTTS2's Qwen3-0.6B fine-tune). Only the files our engine reads:
    # tokenizer.json holds the vocabulary, merges and added tokens, so vocab.json / merges.txt /
    # tokenizer_config.json (also in the folder, per third-party download lists) are not fetched.
    # File names seen in third-party lists of this folder; sizes are estimates (UNVERIFIED).
    ModelFile("qwen_emo.config", _ITTS, "qwen0.6bemo4-merge/config.json", _ITTS_REV, 1 * KB, ("emotion-text",),
              note="UNVERIFIED size"),
    ModelFile("qwen_emo.generation_config", _ITTS, "qwen0.6bemo4-merge/generation_config.json", _ITTS_REV, 239,
              ("emotion-text",), note="UNVERIFIED size"),
    ModelFile("qwen_emo.model", _ITTS, "qwen0.6bemo4-merge/model.safetensors", _ITTS_REV, int(1.19 * GB),
              ("emotion-text",), note="UNVERIFIED size (Qwen3-0.6B in bf16: ~1.19 GB, ~1.5 GB with lm_head)"),
    ModelFile("qwen_emo.tokenizer", _ITTS, "qwen0.6bemo4-merge/tokenizer.json", _ITTS_REV, int(11.4 * MB),
              ("emotion-text",), note="UNVERIFIED size (the Qwen3 tokenizer.json is ~11.4 MB)"),
)

# Every file carries its repository's licence (shown before any download).
MODEL_FILES = tuple(replace(f, licence=LICENCES[f.repo_id]) for f in _FILES)
