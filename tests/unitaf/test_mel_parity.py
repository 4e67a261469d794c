"""Mel spectrogram parity (the mel part of ../shared/parity/frontend): IndexTTS2's `mel_fn`
(22.05 kHz, n_fft 1024, hop 256, 80 Slaney mels, fmax None) without librosa."""
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.mel import MelConfig, MelSpectrogram, hz_to_mel, mel_filterbank

FE = PARITY / "frontend"


def _config_from_fixture() -> MelConfig:
    c = json.loads(need(FE / "mel_config.json").read_text())["s2mel_mel_fn"]
    assert c["center"] is False
    return MelConfig(sample_rate=c["sampling_rate"], n_fft=c["n_fft"], win_size=c["win_size"], hop_size=c["hop_size"],
                     n_mels=c["num_mels"], fmin=c["fmin"], fmax=c["fmax"])


@pytest.mark.parametrize("key", ["mel_s2mel_from_wav22"], ids=lambda k: f"frontend-{k}")
def test_parity(key):
    wav = torch.from_numpy(np.load(need(FE / "audio_inputs.npz"))["wav22"])
    want = np.load(need(FE / "audio_expected.npz"))[key]
    cfg = _config_from_fixture()
    assert cfg == MelConfig()      # the defaults are the reference's mel_fn
    got = MelSpectrogram(cfg)(wav)
    assert got.shape == want.shape == (1, 80, wav.shape[-1] // 256)
    np.testing.assert_allclose(got.numpy(), want, atol=1e-4, rtol=1e-4)


def test_config_readers_agree():
    s2 = MelConfig.from_s2mel_config({"sr": 22050, "spect_params": {"n_fft": 1024, "win_length": 1024,
                                      "hop_length": 256, "n_mels": 80, "fmin": 0, "fmax": "None"}})
    bv = MelConfig.from_bigvgan_config(json.loads(need(PARITY / "bigvgan" / "config.json").read_text()))
    assert s2 == bv == MelConfig()


def test_slaney_filterbank_properties():
    fb = mel_filterbank(22050, 1024, 80)
    assert fb.shape == (80, 513) and fb.dtype == torch.float32 and (fb >= 0).all()
    # Slaney area norm: each triangle integrates (in Hz) to ~1
    bin_hz = 22050 / 1024
    assert torch.allclose(fb.sum(1) * bin_hz, torch.ones(80), atol=0.15)
    # triangle peaks are increasing and the scale is linear below 1 kHz
    peaks = fb.argmax(1)
    assert (peaks[1:] >= peaks[:-1]).all()
    assert hz_to_mel(500.0) == pytest.approx(7.5) and hz_to_mel(1000.0) == pytest.approx(15.0)


def test_htk_filterbank_and_bad_args():
    htk = mel_filterbank(16000, 512, 40, fmin=20, fmax=7600, htk=True, norm=None)
    assert htk.shape == (40, 257) and float(htk.max()) <= 1.0 + 1e-6
    assert hz_to_mel(700.0, htk=True) == pytest.approx(2595.0 * np.log10(2.0))
    with pytest.raises(ValueError, match="fmin"):
        mel_filterbank(22050, 1024, 80, fmin=12000)
    with pytest.raises(ValueError, match="too short"):
        MelSpectrogram()(torch.zeros(100))
