"""Parity with ../shared/parity/campplus: Kaldi fbank (torchaudio.compliance.kaldi.fbank settings of the
reference) -> time-mean removal -> CAMPPlus -> 192-d style vector."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.campplus import (
    CAMPPlus,
    CAMPPlusDims,
    campplus_features,
    load_campplus,
    speaker_style,
)
from unitaf_blender.engines.unitaf.checkpoint import CheckpointError
from unitaf_blender.engines.unitaf.fbank import kaldi_fbank

CP = PARITY / "campplus"
TOL = dict(atol=1e-4, rtol=1e-4)


def _dims(key="CAMPPlus_kwargs"):
    return CAMPPlusDims.from_kwargs(json.loads(need(CP / "config.json").read_text())[key])


@pytest.fixture(scope="module")
def model():
    return load_campplus(need(CP / "campplus_cn_common.bin"), _dims())


@pytest.mark.parametrize("stage", ["fbank", "fbank_cmn", "style"], ids=lambda s: f"campplus-{s}")
def test_parity(stage, model):
    audio = torch.from_numpy(np.load(need(CP / "inputs.npz"))["audio_16k"])
    want = np.load(need(CP / "expected.npz"))
    if stage == "fbank":
        got = kaldi_fbank(audio)
    elif stage == "fbank_cmn":
        got = campplus_features(audio)
    else:
        got = speaker_style(model, audio)
        with torch.inference_mode():   # and from the reference's own CAMPPlus input
            alone = model(torch.from_numpy(want["fbank_cmn"]).unsqueeze(0))
        np.testing.assert_allclose(alone.numpy(), want["style"], **TOL)
    assert got.shape == want[stage].shape and got.dtype == torch.float32
    # low mel bins of near-silent frames sit at ~1e-7 energy, where float32 FFT rounding gives
    # ~2e-4 absolute on a log value of -15: inside rtol, as in the reference's own float32 maths
    np.testing.assert_allclose(got.numpy(), want[stage], **TOL)


def test_official_size_on_meta_device():
    with torch.device("meta"):
        m = CAMPPlus(_dims("official_kwargs"))
    assert m.dims == CAMPPlusDims()
    sd = m.state_dict()
    assert len(sd) == 937
    assert sum(t.numel() for t in sd.values()) == 6_930_842   # incl. BatchNorm buffers, as the spec counts
    assert tuple(sd["xvector.tdnn.linear.weight"].shape) == (128, 320, 5)
    assert tuple(sd["xvector.transit3.linear.weight"].shape) == (512, 1024, 1)
    assert tuple(sd["xvector.dense.linear.weight"].shape) == (192, 1024, 1)


def test_mismatched_checkpoint_names_file_and_first_bad_key():
    path = need(CP / "campplus_cn_common.bin")
    with pytest.raises(CheckpointError) as err:
        load_campplus(path)   # official dims, tiny file
    msg = str(err.value)
    assert str(path) in msg and "key 'xvector.tdnn.linear.weight'" in msg


def test_corrupt_checkpoint_fails_clearly(tmp_path):
    raw = need(CP / "campplus_cn_common.bin").read_bytes()
    bad = tmp_path / "campplus_cn_common.bin"
    bad.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(CheckpointError, match="campplus_cn_common.bin.*(corrupt|unreadable)"):
        load_campplus(bad, _dims())


def test_missing_key_is_named(tmp_path):
    from unitaf_blender.engines.unitaf.checkpoint import read_checkpoint
    state = read_checkpoint(need(CP / "campplus_cn_common.bin"))
    del state["xvector.block2.tdnnd3.cam_layer.linear2.bias"]
    bad = tmp_path / "cut.bin"
    torch.save(state, bad)
    with pytest.raises(CheckpointError, match=r"cut\.bin.*missing.*xvector\.block2\.tdnnd3\.cam_layer\.linear2\.bias"):
        load_campplus(bad, _dims())


def test_bad_input_shape(model):
    with pytest.raises(ValueError, match=r"\(B, T, 80\)"):
        model(torch.zeros(1, 80, 50))
