"""Audio part of ../shared/parity/frontend: the prompt resamplers (torchaudio `Resample` defaults, and
librosa's soxr_hq for the emotion prompt) and prompt loading (22 050 Hz + 16 kHz paths, 15 s cut).
The fbank front ends are checked against `semantic` and `campplus` in their own test files; the
prompt front end of `end_to_end` (speaker + emotion features and embeddings) is checked here too."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from shared_paths import PARITY, need
from unitaf_blender.engines.unitaf.audio import (
    PROMPT_MAX_SECONDS,
    Resampler,
    SoxrHQResampler,
    emotion_prompt_from_array,
    load_emotion_prompt,
    load_speaker_prompt,
    resample,
    resample_hq,
    speaker_prompt_from_array,
)
from unitaf_blender.engines.unitaf.fbank import FbankConfig, kaldi_fbank, kaldi_mel_banks

FE = PARITY / "frontend"
RESAMPLES = [("resample_22050_to_16000", "wav22", 22050, 16000),
             ("resample_24000_to_22050", "wav24", 24000, 22050),
             ("resample_24000_to_16000", "wav24", 24000, 16000),
             ("librosa_soxr_hq_22050_to_16000", "wav22", 22050, 16000)]


def _load():
    return np.load(need(FE / "audio_inputs.npz")), np.load(need(FE / "audio_expected.npz"))


@pytest.mark.parametrize("key,src,orig,new", RESAMPLES, ids=[f"frontend-{r[0]}" for r in RESAMPLES])
def test_parity(key, src, orig, new):
    """torchaudio.transforms.Resample (sinc_interp_hann, width 6, rolloff 0.99) and librosa's soxr_hq,
    each reproduced by our own resampler to float32 rounding."""
    inputs, want = _load()
    fn = resample_hq if key.startswith("librosa_soxr") else resample
    got = fn(torch.from_numpy(inputs[src]), orig, new)
    assert got.shape == want[key].shape and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), want[key], atol=1e-6, rtol=0)


def test_the_two_resamplers_differ():
    """The reference really uses two different 16 kHz signals (emotion vs speaker path): the filters'
    transition bands differ by ~39 dB SNR, so swapping them would be a visible bug."""
    inputs, want = _load()
    sinc = resample(torch.from_numpy(inputs["wav22"]), 22050, 16000).numpy()
    assert np.abs(sinc - want["librosa_soxr_hq_22050_to_16000"]).max() > 1e-3


@pytest.mark.parametrize("orig,new,stages", [
    (22050, 16000, [(2, 1), (160, 441)]), (44100, 16000, [(1, 1), (160, 441)]), (48000, 16000, [(1, 3)]),
    (24000, 16000, [(2, 3)]), (44100, 22050, [(1, 2)]), (48000, 22050, [(1, 1), (147, 320)]),
    (16000, 22050, [(2, 1), (882, 1280)])])
def test_soxr_plans(orig, new, stages):
    """libsoxr's HQ stage plans for the usual prompt rates (checked sample-exact against soxr 1.1.0
    during development: max |diff| < 1e-6 for each of these pairs)."""
    r = SoxrHQResampler(orig, new)
    assert r.exact and r.stages == stages
    x = torch.sin(torch.arange(orig, dtype=torch.float32) * (2 * torch.pi * 440 / orig))
    y = r(x[None])
    assert y.shape == (1, new)
    assert abs(float(y[0, new // 4:3 * new // 4].abs().max()) - 1.0) < 1e-3   # unit gain at 440 Hz


def test_soxr_unsupported_ratio_falls_back():
    """Ratios of 4:1 and more use soxr half-band stages we do not reproduce: the sinc filter stands in."""
    r = SoxrHQResampler(96000, 16000)
    assert not r.exact and r.fallback is not None
    assert r(torch.zeros(1, 9600)).shape == (1, 1600)


def test_end_to_end_prompt_front_end():
    """`end_to_end` prompt: the speaker path (torchaudio) and the emotion path (soxr) give the reference's
    w2v-BERT inputs and normalised layer-17 embeddings (spk_cond_emb, emo_cond_emb)."""
    from unitaf_blender.engines.unitaf.fbank import w2v_bert_features
    from unitaf_blender.engines.unitaf.semantic import load_semantic_stats, load_w2v_bert, semantic_embedding
    e2e = need(PARITY / "end_to_end")
    want = np.load(e2e / "expected.npz")
    wav = e2e / "spk_prompt_22050.wav"
    spk, emo = load_speaker_prompt(wav), load_emotion_prompt(wav)
    np.testing.assert_array_equal(spk.audio_22k.numpy(), want["audio_22k"])
    w2v = load_w2v_bert(need(PARITY / "semantic" / "w2v-bert-2.0"))
    stats = load_semantic_stats(PARITY / "semantic" / "wav2vec2bert_stats.pt")
    for tag, audio in (("spk", spk.audio_16k), ("emo", emo)):
        feats, mask = w2v_bert_features(audio)
        np.testing.assert_allclose(feats.numpy(), want[f"{tag}_input_features"], atol=1e-4, rtol=1e-4)
        np.testing.assert_array_equal(mask.numpy(), want[f"{tag}_attention_mask"])
        np.testing.assert_allclose(semantic_embedding(w2v, stats, audio).numpy(), want[f"{tag}_cond_emb"],
                                   atol=1e-4, rtol=1e-4)


def test_speaker_and_emotion_prompt_from_wav(tmp_path):
    """File -> audio_22k (as librosa.load at 22 050 Hz reads a float WAV) -> audio_16k via the
    torchaudio-equivalent resampler, exactly as the fixture's reference."""
    sf = pytest.importorskip("soundfile")
    inputs, want = _load()
    path = tmp_path / "spk.wav"
    sf.write(path, inputs["wav22"][0], 22050, subtype="FLOAT")
    prompt = load_speaker_prompt(path)
    np.testing.assert_array_equal(prompt.audio_22k.numpy(), inputs["wav22"])
    np.testing.assert_allclose(prompt.audio_16k.numpy(), want["resample_22050_to_16000"], atol=1e-6, rtol=0)
    emo = load_emotion_prompt(path)
    np.testing.assert_allclose(emo.numpy(), want["librosa_soxr_hq_22050_to_16000"], atol=1e-6, rtol=0)

    stereo = tmp_path / "stereo.wav"   # channels are averaged, as librosa's mono=True does
    sf.write(stereo, np.stack([inputs["wav22"][0], np.zeros_like(inputs["wav22"][0])], 1), 22050, subtype="FLOAT")
    np.testing.assert_allclose(load_speaker_prompt(stereo).audio_22k.numpy(), inputs["wav22"] / 2, atol=1e-7)


def test_prompts_cut_to_15_seconds():
    sec = PROMPT_MAX_SECONDS + 1
    t = np.arange(int(sec * 24000)) / 24000.0
    wav = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    p = speaker_prompt_from_array(wav, 24000)
    assert p.audio_22k.shape == (1, 15 * 22050)
    assert p.audio_16k.shape == (1, 15 * 16000)   # ceil(330750 * 320 / 441)
    short = speaker_prompt_from_array(wav[:24000], 24000)
    assert short.audio_22k.shape == (1, 22050) and short.audio_16k.shape == (1, 16000)
    assert emotion_prompt_from_array(wav, 24000).shape == (1, 15 * 16000)


def test_bad_prompts(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        load_speaker_prompt(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not a wav file at all")
    with pytest.raises(ValueError, match="cannot read prompt audio"):
        load_speaker_prompt(junk)
    with pytest.raises(ValueError, match="empty"):
        speaker_prompt_from_array(np.zeros(0, np.float32), 22050)
    with pytest.raises(ValueError, match="NaN"):
        speaker_prompt_from_array(np.full(100, np.nan, np.float32), 22050)
    with pytest.raises(ValueError, match="float"):
        speaker_prompt_from_array(np.zeros(100, np.int16), 22050)
    with pytest.raises(ValueError, match="positive"):
        Resampler(0, 16000)


def test_resampler_band_limit():
    """A tone well below the cutoff passes with unit gain; one beyond the (wide, 6-zero-crossing)
    transition band around 8 kHz is removed. 7 kHz is already at 0.81 in torchaudio's filter too."""
    t = torch.arange(44100, dtype=torch.float64) / 22050
    low = torch.sin(2 * torch.pi * 1000 * t).float()
    high = torch.sin(2 * torch.pi * 10500 * t).float()
    y_low, y_high = resample(low, 22050, 16000), resample(high, 22050, 16000)
    assert y_low.shape[-1] == 32000
    assert abs(float(y_low[1000:-1000].abs().max()) - 1.0) < 2e-3
    assert float(y_high[1000:-1000].abs().max()) < 1e-2


def test_kaldi_mel_banks_properties():
    banks = kaldi_mel_banks(FbankConfig())
    assert banks.shape == (80, 257) and float(banks[:, -1].abs().max()) == 0.0
    assert float(banks.max()) <= 1.0 and float(banks.min()) >= 0.0
    # first filter starts above 20 Hz (bin width 31.25 Hz), last ends at 8 kHz
    assert float(banks[0, 0]) == 0.0 and int(banks[-1].nonzero().max()) < 256
    with pytest.raises(ValueError, match="too short"):
        kaldi_fbank(torch.zeros(399))
    assert kaldi_fbank(torch.zeros(1, 400 + 160 * 9)).shape == (10, 80)
