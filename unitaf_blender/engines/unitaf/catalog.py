"""The catalogue of UniTAF model files: what each file is, where it lives on the Hugging Face Hub
(repository, path, pinned revision), its size and sha256, the features that need it, and the
licence of its repository. Data only: no I/O, no torch, no network.
"""
from __future__ import annotations

from dataclasses import replace

from ..model_files import KB, MB, ModelFile

LICENCES = {
    "IndexTeam/IndexTTS-2": "bilibili Model Use License Agreement (custom: royalty-free; separate licence above "
                            "100 M MAU / RMB 1 bn revenue; keep notices; the model and its output must not be "
                            "used to improve other AI models, except IndexTTS derivatives and non-commercial "
                            "models; full text: LICENSE.txt, downloaded with the weights)",
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
# A commit many projects pin; the weights' last change is in it. Sizes and hashes below are the
# Hub's file pages, the index-tts download log (index-tts/index-tts#410) and pinned manifests of
# other projects; "probable" marks a value taken from an identical copy rather than the Hub page.
_ITTS_REV = "740dcaff396282ffb241903d150ac011cd4b1ede"
_W2V_REV = "da985ba0987f70aaeb84a80f2851cfac8c697a7b"     # main after "Upload model (#12)", 2024-01-25
_MASKGCT_REV = "630cca57634b477ee7ccfd3baa2c6adc922b93bc"  # a commit holding semantic_codec/model.safetensors
_CAMPPLUS_REV = "fb71fe990cbf6031ae6987a2d76fe64f94377b7e"  # head of main ("add", 2024-02-01)
_BIGVGAN_REV = "633ff708ed5b74903e86ff1298cf4a98e921c513"   # head of main (after v2.4, 2024-09-05)
# No public evidence pins ATA-space/UniTAF: the commit each download resolved is recorded in the
# cache's lock file (engines/model_lock.py), shown by `models status` and reused by later downloads.
_UNITAF_REV = "main"
_ALL_FEATURES = ("speech", "emotion-vector", "face", "emotion-text")
_QWEN = "qwen0.6bemo4-merge"


def _exact(spec_id, repo, filename, revision, size, features, sha256=None, **kw):
    """A file whose exact byte count is known (enforced by status, verify and download)."""
    return ModelFile(spec_id, repo, filename, revision, size, features, size=size, sha256=sha256, **kw)


_FILES = (
    _exact("indextts2.gpt", _ITTS, "gpt.pth", _ITTS_REV, 3_484_663_079, ("speech", "face"),
           "baaaeb8b56328da81731dc540a85a7dee32eca9da28f174b05757cb651c602a4"),
    _exact("indextts2.s2mel", _ITTS, "s2mel.pth", _ITTS_REV, 1_202_198_223, ("speech", "face"),
           "aae1bb12017cbb47e7a5ce537fc82f40b6b1deb71acdb9b8f25686f32714b636"),
    _exact("indextts2.bpe", _ITTS, "bpe.model", _ITTS_REV, 475_997, ("speech", "face"),
           "b2a5ce8090d32da3642cc4f81fdc996376bc6dd3f4cd5e3d165f71120d9f2bc8"),
    _exact("indextts2.w2v_stats", _ITTS, "wav2vec2bert_stats.pt", _ITTS_REV, 9343, ("speech", "face"),
           "c9c176c2b8850ab2e3ba828bbfa969deaf4566ce55db5f2687b8430b87526ad2"),
    _exact("indextts2.config", _ITTS, "config.yaml", _ITTS_REV, 2882, ("speech", "face"),
           "ea9c2815ecc3874577c7ac158b97248c027250e5b05972fbbb1216b6d6539081",
           note="sha256 probable (from an identical git copy)"),
    _exact("indextts2.feat1", _ITTS, "feat1.pt", _ITTS_REV, 57170, ("emotion-vector",),
           "f219cb447d80216ba615666da2ff8d63ac544eee26657f3a7b278692bf7a67c4"),
    _exact("indextts2.feat2", _ITTS, "feat2.pt", _ITTS_REV, 374_866, ("emotion-vector",),
           "9c4292e96dee535aea9a6206e9a0c856dd578dde9212acdb16dd3ada4d12bf80"),
    # The licence text travels with the weights (its terms bind every copy); the engine runs without it.
    ModelFile("indextts2.licence", _ITTS, "LICENSE.txt", _ITTS_REV, 12 * KB, _ALL_FEATURES, optional=True,
              note="the bilibili Model Use License Agreement; size approximate"),
    _exact("w2vbert.model", "facebook/w2v-bert-2.0", "model.safetensors", _W2V_REV, 2_322_063_736,
           ("speech", "face"), "eb890c9660ed6e3414b6812e27257b8ce5454365d5490d3ad581ea60b93be043"),
    _exact("w2vbert.config", "facebook/w2v-bert-2.0", "config.json", _W2V_REV, 1874, ("speech", "face"),
           "f5572bd5998b68182e9c328a43127ed21fed687f6910497136b91a4e3b0e3675", optional=True,
           note="without it the official w2v-BERT 2.0 dimensions are assumed"),
    _exact("w2vbert.preprocessor", "facebook/w2v-bert-2.0", "preprocessor_config.json", _W2V_REV, 275,
           ("speech", "face"), "8e6281aad64f97e40534135a59dcc5d33571efae376f2a25adf5551951897ab4"),
    _exact("maskgct.semantic_codec", "amphion/MaskGCT", "semantic_codec/model.safetensors", _MASKGCT_REV,
           177_183_712, ("speech", "face"), "ec947271175d8cad75ec37e83aa487e27c97a0f72a303393772da5ffa84bddf2"),
    _exact("campplus.model", "funasr/campplus", "campplus_cn_common.bin", _CAMPPLUS_REV, 28_036_335,
           ("speech", "face"), "3388cf5fd3493c9ac9c69851d8e7a8badcfb4f3dc631020c4961371646d5ada8"),
    _exact("bigvgan.generator", "nvidia/bigvgan_v2_22khz_80band_256x", "bigvgan_generator.pt", _BIGVGAN_REV,
           449_228_171, ("speech",), "e95ba25972d3de0628d99cd156e9315a9c018899bf739988959ebe3544080ced"),
    _exact("bigvgan.config", "nvidia/bigvgan_v2_22khz_80band_256x", "config.json", _BIGVGAN_REV, 1405,
           ("speech",), "88a1f47acf747db0b21e97a389d838566147f7a5464583ff5c8d819d870f03ee"),
    ModelFile("unitaf.projector", "ATA-space/UniTAF", f"{_A2F_RUN}/audio_feature_projector.pt", _UNITAF_REV,
              int(3.7 * MB), ("face",), note="file path inferred from the UniTAF code; UNVERIFIED"),
    ModelFile("unitaf.a2f", "ATA-space/UniTAF", f"{_A2F_RUN}/a2f_model.pt", _UNITAF_REV, int(4.9 * MB),
              ("face",), note="file path inferred from the UniTAF code; UNVERIFIED"),
    # Emotion from text (IndexTTS2's Qwen3-0.6B fine-tune, one safetensors file, lm_head tied).
    # tokenizer.json holds the vocabulary, merges and added tokens, so vocab.json, merges.txt,
    # added_tokens.json, special_tokens_map.json and the Ollama Modelfile are not fetched. The
    # prompt is rendered from chat_template.jinja (a custom 550 B template) with the special tokens
    # of tokenizer_config.json, as transformers does; without them the stock Qwen3 rendering is used.
    _exact("qwen_emo.config", _ITTS, f"{_QWEN}/config.json", _ITTS_REV, 727, ("emotion-text",)),
    _exact("qwen_emo.generation_config", _ITTS, f"{_QWEN}/generation_config.json", _ITTS_REV, 117,
           ("emotion-text",)),
    _exact("qwen_emo.model", _ITTS, f"{_QWEN}/model.safetensors", _ITTS_REV, 1_192_135_096, ("emotion-text",),
           "11293257a8df593c154a8ecd5fc039f3076de35411e35f06d41b471e136f6641"),
    _exact("qwen_emo.tokenizer", _ITTS, f"{_QWEN}/tokenizer.json", _ITTS_REV, 11_422_654, ("emotion-text",),
           "aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4",
           note="size and sha256 probable (the stock Qwen3 tokenizer.json)"),
    _exact("qwen_emo.chat_template", _ITTS, f"{_QWEN}/chat_template.jinja", _ITTS_REV, 550, ("emotion-text",),
           optional=True, note="without it the prompt falls back to the stock Qwen3 rendering"),
    ModelFile("qwen_emo.tokenizer_config", _ITTS, f"{_QWEN}/tokenizer_config.json", _ITTS_REV, 5430,
              ("emotion-text",), optional=True, note="special tokens for the chat template; size approximate"),
)


# Every file carries its repository's licence (shown before any download).
MODEL_FILES = tuple(replace(f, licence=LICENCES[f.repo_id]) for f in _FILES)
