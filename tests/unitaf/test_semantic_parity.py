"""Parity with ../shared/parity/semantic: SeamlessM4T features -> w2v-BERT 2.0 layer 17 -> stats
normalisation -> MaskGCT RepCodec (codes, embeddings, vq2emb). Tiny random weights, reference outputs."""
import json
import os
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
yaml = pytest.importorskip("yaml")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.checkpoint import CheckpointError
from unitaf_blender.engines.unitaf.fbank import W2vBertFeatureConfig, w2v_bert_features
from unitaf_blender.engines.unitaf.semantic import (
    SEMANTIC_LAYER,
    RepCodec,
    RepCodecDims,
    W2vBertDims,
    W2vBertEncoder,
    load_repcodec,
    load_semantic_stats,
    load_w2v_bert,
    semantic_embedding,
)

SEM = PARITY / "semantic"
TOL = dict(atol=1e-4, rtol=1e-4)
WAVS = ["wav_a", "wav_b"]   # 118 fbank frames (even) and 119 (odd: one padded frame, last mask 0)


@pytest.fixture(scope="module")
def models():
    d = need(SEM)
    cfg = yaml.safe_load((d / "config.yaml").read_text())
    w2v = load_w2v_bert(d / "w2v-bert-2.0")
    stats = load_semantic_stats(d / cfg["w2v_stat"], dim=w2v.dims.hidden)
    codec = load_repcodec(d / "semantic_codec" / "model.safetensors", RepCodecDims.from_config(cfg["semantic_codec"]))
    return w2v, stats, codec


@pytest.fixture(scope="module")
def data():
    return np.load(need(SEM / "inputs.npz")), np.load(need(SEM / "expected.npz"))


@pytest.mark.parametrize("name", WAVS, ids=lambda n: f"semantic-{n}")
def test_parity(name, models, data):
    """Every stage from the same inputs the reference saw, then the whole chain from the waveform."""
    w2v, stats, codec = models
    inputs, want = data
    pre = json.loads((SEM / "w2v-bert-2.0" / "preprocessor_config.json").read_text())
    feats, mask = w2v_bert_features(torch.from_numpy(inputs[name]), W2vBertFeatureConfig.from_preprocessor_config(pre))
    assert feats.dtype == torch.float32 and mask.dtype == torch.int32
    np.testing.assert_allclose(feats.numpy(), want[f"{name}_input_features"], **TOL)
    np.testing.assert_array_equal(mask.numpy(), want[f"{name}_attention_mask"])

    with torch.inference_mode():
        hidden = w2v(torch.from_numpy(want[f"{name}_input_features"]), torch.from_numpy(want[f"{name}_attention_mask"]))
        np.testing.assert_allclose(hidden.numpy(), want[f"{name}_hidden17"], **TOL)
        feat = stats(hidden)
        np.testing.assert_allclose(feat.numpy(), want[f"{name}_feat"], **TOL)
        codes, emb = codec.quantize(torch.from_numpy(want[f"{name}_feat"]))
        np.testing.assert_array_equal(codes.numpy(), want[f"{name}_codes"])
        np.testing.assert_allclose(emb.numpy(), want[f"{name}_S"], **TOL)
        vq = codec.vq2emb(torch.from_numpy(want[f"{name}_codes"]))
        np.testing.assert_allclose(vq.numpy(), want[f"{name}_vq2emb"], **TOL)

        # whole chain from the waveform: the codes are integer outputs and must be exact
        codes2, emb2 = codec.quantize(semantic_embedding(w2v, stats, torch.from_numpy(inputs[name])))
    np.testing.assert_array_equal(codes2.numpy(), want[f"{name}_codes"])
    np.testing.assert_allclose(emb2.numpy(), want[f"{name}_S"], **TOL)


def test_all_24_layers_match_last_hidden(data):
    """Building every layer reproduces `last_hidden_state`, so layers 17..23 load and run correctly too."""
    _, want = data
    w2v = load_w2v_bert(need(SEM / "w2v-bert-2.0"), used_layers=24)
    with torch.inference_mode():
        for name in WAVS:
            feats, mask = want[f"{name}_input_features"], want[f"{name}_attention_mask"]
            out = w2v(torch.from_numpy(feats), torch.from_numpy(mask))
            np.testing.assert_allclose(out.numpy(), want[f"{name}_last_hidden"], **TOL)


def test_padding_mask_matters(models, data):
    """wav_b's last frame is padding: ignoring the mask must change the result (the mask path is live)."""
    w2v, _, _ = models
    _, want = data
    feats = torch.from_numpy(want["wav_b_input_features"])
    with torch.inference_mode():
        unmasked = w2v(feats, None)
    assert np.abs(unmasked.numpy() - want["wav_b_hidden17"]).max() > 1e-3


def test_official_sizes_on_meta_device():
    """Official dims give the parameter counts in the reference spec (w2v layers 0-16, codec enc+VQ)."""
    with torch.device("meta"):
        w2v = W2vBertEncoder(W2vBertDims(), SEMANTIC_LAYER)
        codec = RepCodec(RepCodecDims())
    n_w2v = sum(p.numel() for p in w2v.parameters())
    n_codec = sum(p.numel() for p in codec.parameters())
    assert round(n_w2v / 1e6, 1) == 411.2
    assert round(n_codec / 1e6, 1) == 22.2
    layer = dict(w2v.state_dict())
    assert tuple(layer["encoder.layers.16.self_attn.distance_embedding.weight"].shape) == (73, 64)
    assert tuple(layer["encoder.layers.0.conv_module.depthwise_conv.weight"].shape) == (1024, 1, 31)
    assert "encoder.layers.17.ffn1.intermediate_dense.weight" not in layer


def test_bad_configs():
    with pytest.raises(ValueError, match="1 quantizer"):
        RepCodecDims.from_config({"codebook_size": 64, "num_quantizers": 2})
    with pytest.raises(ValueError, match="used_layers"):
        W2vBertEncoder(W2vBertDims(hidden=64, heads=4, ffn=96), used_layers=25)
    with pytest.raises(ValueError, match="position_embeddings_type"):
        W2vBertDims.from_hf_config({"position_embeddings_type": "rotary"})


def test_vq2emb_rejects_bad_codes(models):
    _, _, codec = models
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        codec.vq2emb(torch.tensor([[0, 64]]))
    with pytest.raises(ValueError, match="codes must be"):
        codec.vq2emb(torch.tensor([1, 2]))


def test_mismatched_w2v_checkpoint_names_file_and_key(tmp_path):
    """config.json says a different FFN width than the weights: the error names the file and the key."""
    src = need(SEM / "w2v-bert-2.0")
    cfg = json.loads((src / "config.json").read_text())
    cfg["intermediate_size"] = 128
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    os.symlink(src / "model.safetensors", tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_w2v_bert(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "model.safetensors") in msg
    assert "encoder.layers.0.ffn1.intermediate_dense" in msg and "(96, 64)" in msg


def test_truncated_w2v_checkpoint_fails_clearly(tmp_path):
    src = need(SEM / "w2v-bert-2.0")
    shutil.copy(src / "config.json", tmp_path / "config.json")
    raw = (src / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors.*(truncated|corrupt)"):
        load_w2v_bert(tmp_path)


def test_codec_missing_key_names_it(tmp_path):
    """A codec file lacking one tensor: strict load reports the first missing key and the file."""
    from unitaf_blender.engines.unitaf.checkpoint import read_checkpoint
    state = read_checkpoint(need(SEM / "semantic_codec" / "model.safetensors"))
    del state["quantizer.quantizers.0.codebook.weight"]
    bad = tmp_path / "codec.pt"
    torch.save(state, bad)
    cfg = yaml.safe_load((SEM / "config.yaml").read_text())
    with pytest.raises(CheckpointError, match=r"codec\.pt.*missing.*quantizer\.quantizers\.0\.codebook\.weight"):
        load_repcodec(bad, RepCodecDims.from_config(cfg["semantic_codec"]))
    # official dims against the tiny file: a shape error, naming the first bad key
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*encoder\.0\.embed\.weight"):
        load_repcodec(SEM / "semantic_codec" / "model.safetensors")


def test_bad_stats_file(tmp_path):
    bad = tmp_path / "stats.pt"
    torch.save({"mean": torch.zeros(64)}, bad)
    with pytest.raises(CheckpointError, match=r"stats\.pt.*'var'"):
        load_semantic_stats(bad)
    with pytest.raises(CheckpointError, match="needs 1024"):
        load_semantic_stats(need(SEM / "wav2vec2bert_stats.pt"), dim=1024)


def test_features_reject_short_audio():
    with pytest.raises(ValueError, match="too short"):
        w2v_bert_features(torch.zeros(1, 300))
