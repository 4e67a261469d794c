"""BigVGAN v2 parity against the reference fixture (../shared/parity/bigvgan), loading the tiny
`bigvgan_generator.pt` + `config.json` unchanged (weight norm folded on load)."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.checkpoint import CheckpointError, read_checkpoint
from unitaf_blender.engines.unitaf.vocoder import BigVGAN, BigVGANDims, kaiser_sinc_filter, to_int16_range

BV = PARITY / "bigvgan"


@pytest.fixture(scope="module")
def result():
    model = BigVGAN.from_pretrained(need(BV))
    mel = torch.from_numpy(np.load(need(BV / "inputs.npz"))["mel"])
    with torch.no_grad():
        wav = model(mel)
    return wav, np.load(need(BV / "expected.npz"))


@pytest.mark.parametrize("key", ["wav", "wav_int16_scaled"], ids=lambda k: f"bigvgan-{k}")
def test_parity(result, key):
    wav, exp = result
    if key == "wav":
        got, tol = wav, dict(atol=1e-3, rtol=1e-3)
    else:   # infer_generator: clamp(32767 · wav.squeeze().unsqueeze(0), ±32767)
        got, tol = to_int16_range(wav.squeeze().unsqueeze(0)), dict(atol=0.5, rtol=0)
    assert tuple(got.shape) == exp[key].shape
    np.testing.assert_allclose(got.numpy(), exp[key], **tol)


def test_filters_match_checkpoint_buffers():
    """Our Kaiser-sinc design equals the filters stored in the checkpoint."""
    sd = read_checkpoint(need(BV / "bigvgan_generator.pt"), container="generator")
    want = kaiser_sinc_filter(0.25, 0.3, 12)
    assert torch.allclose(sd["activation_post.upsample.filter"], want, atol=1e-7)
    assert torch.allclose(sd["resblocks.3.activations.1.downsample.lowpass.filter"], want, atol=1e-7)


def test_official_size_parameter_count():
    """Official config: 112 233 865 checkpoint elements (spec §5) = our folded weights + one g per row."""
    h = json.loads(need(BV / "config.json").read_text())
    h["upsample_initial_channel"] = 1536
    with torch.device("meta"):
        model = BigVGAN(BigVGANDims.from_config(h))
    n = sum(t.numel() for t in model.state_dict().values())
    n += sum(m.weight.shape[0] for m in model.modules() if isinstance(m, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)))
    assert n == 112_233_865
    assert model.dims.hop == 256


def _variant(tmp_path, edit):
    dst = tmp_path / "bv"
    dst.mkdir(exist_ok=True)
    (dst / "config.json").write_text(need(BV / "config.json").read_text())
    ckpt = torch.load(need(BV / "bigvgan_generator.pt"), map_location="cpu", weights_only=True)
    edit(ckpt["generator"])
    torch.save(ckpt, dst / "bigvgan_generator.pt")
    return dst


def test_mismatched_checkpoint_names_file_and_key(tmp_path):
    def widen(g):
        g["resblocks.4.convs2.1.weight_v"] = torch.zeros(16, 16, 9)
    d = _variant(tmp_path, widen)
    with pytest.raises(CheckpointError) as err:
        BigVGAN.from_pretrained(d)
    msg = str(err.value)
    assert str(d / "bigvgan_generator.pt") in msg and "resblocks.4.convs2.1.weight" in msg and "(16, 16, 9)" in msg

    def drop(g):
        del g["activation_post.act.beta"]
    with pytest.raises(CheckpointError, match=r"activation_post\.beta"):
        BigVGAN.from_pretrained(_variant(tmp_path, drop))


def test_corrupt_or_missing_files(tmp_path):
    d = _variant(tmp_path, lambda g: None)
    data = (d / "bigvgan_generator.pt").read_bytes()
    (d / "bigvgan_generator.pt").write_bytes(data[:1000])
    with pytest.raises(CheckpointError, match="bigvgan_generator.pt"):
        BigVGAN.from_pretrained(d)
    with pytest.raises(ValueError, match="config.json"):
        BigVGAN.from_pretrained(tmp_path / "nowhere")


def test_bad_input_shape(result):
    model = BigVGAN.from_pretrained(need(BV))
    with pytest.raises(ValueError, match="mel of shape"):
        model(torch.zeros(1, 81, 10))


def test_reduced_precision_convs_stay_close(result):
    """bf16 dense convs (the fast CPU option): activations stay fp32, output near the fp32 result."""
    wav, exp = result
    model = BigVGAN.from_pretrained(need(BV), dtype=torch.bfloat16)
    assert model.conv_pre.weight.dtype == torch.bfloat16
    assert model.activation_post.up_filter.dtype == torch.float32
    with torch.no_grad():
        got = model(torch.from_numpy(np.load(need(BV / "inputs.npz"))["mel"]))
    want = torch.from_numpy(exp["wav"])
    rel = float((got - want).pow(2).mean().sqrt() / want.pow(2).mean().sqrt())
    assert got.dtype == torch.float32 and 0 < rel < 0.1   # 5 % on this tiny random model
