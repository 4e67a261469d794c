"""Performance save/load and our stdlib WAV I/O (cross-checked with soundfile)."""
import numpy as np
import pytest
import soundfile

from unitaf_blender.core.audio_io import WavError, read_wav, write_wav
from unitaf_blender.core.performance import Performance, TimedLabel


def make_perf(**kw):
    rng = np.random.default_rng(0)
    args = dict(audio=0.5 * np.sin(np.arange(22050) * 0.03), sample_rate=22050, fps=30.0,
                channels=("jawOpen", "eyeBlinkLeft", "mouthSmileLeft"),
                weights=rng.random((31, 3)), phonemes=[TimedLabel(0.0, 0.4, "h"), TimedLabel(0.4, 1.0, "'a")],
                words=[TimedLabel(0.0, 1.0, "ha")], emotion_times=[0.0, 1.0],
                emotion_vectors=np.eye(8)[[0, 2]], meta={"engine": "test", "seed": 3, "text": "ha"})
    args.update(kw)
    return Performance(**args)


def test_save_load_round_trip(tmp_path):
    perf = make_perf()
    npz, wav = perf.save(str(tmp_path / "take.npz"))
    back = Performance.load(npz)
    assert back.channels == perf.channels and back.fps == 30.0
    np.testing.assert_array_equal(back.weights, perf.weights)
    np.testing.assert_allclose(back.audio, perf.audio, atol=1 / 32767)
    assert back.phonemes == perf.phonemes and back.words == perf.words
    np.testing.assert_array_equal(back.emotion_vectors, perf.emotion_vectors)
    assert back.meta == perf.meta
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.npz", "take.wav"]


def test_wav_matches_soundfile(tmp_path):
    x = (0.8 * np.sin(np.arange(1000) * 0.1)).astype(np.float32)
    write_wav(tmp_path / "a.wav", x, 16000)
    y, sr = soundfile.read(tmp_path / "a.wav", dtype="float32")
    assert sr == 16000
    np.testing.assert_allclose(y, x, atol=1e-4)  # 16-bit: scale 32767 vs 32768 + rounding
    for subtype in ("PCM_24", "FLOAT", "PCM_U8", "PCM_32"):
        soundfile.write(tmp_path / "b.wav", np.stack([x, -x], 1), 8000, subtype=subtype)
        z, sr = read_wav(tmp_path / "b.wav")
        assert sr == 8000 and z.shape == x.shape
        np.testing.assert_allclose(z, 0.0, atol=1e-2)  # stereo x and -x average to silence
        soundfile.write(tmp_path / "c.wav", x, 8000, subtype=subtype)
        np.testing.assert_allclose(read_wav(tmp_path / "c.wav")[0], x, atol=1e-2)


def test_bad_wav_is_clear(tmp_path):
    p = tmp_path / "x.wav"
    p.write_bytes(b"not a wav at all")
    with pytest.raises(WavError, match="not a RIFF"):
        read_wav(p)


@pytest.mark.parametrize("kw,needle", [
    (dict(weights=np.zeros((5, 2))), "weights must be"),
    (dict(fps=0), "positive"),
    (dict(channels=("a", "a", "b")), "duplicate"),
    (dict(emotion_vectors=None), "together"),
    (dict(audio=np.full(10, np.nan)), "finite"),
])
def test_invalid_performance(kw, needle):
    with pytest.raises(ValueError, match=needle):
        make_perf(**kw)


def test_failed_save_leaves_no_file(tmp_path, monkeypatch):
    import unitaf_blender.core.performance as perf_mod

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(perf_mod, "write_wav", boom)
    with pytest.raises(OSError):
        make_perf().save(str(tmp_path / "take.npz"))
    assert list(tmp_path.iterdir()) == []
