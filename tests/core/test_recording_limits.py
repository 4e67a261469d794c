"""core.recording: the one set of limits a recorded line is checked against, by every engine and
front end; the header-only check gives the same answers as the check of the samples."""
import numpy as np
import pytest

from unitaf_blender.core import recording as rec
from unitaf_blender.core.audio_io import wav_info, write_wav

SR = 16000


def test_check_recording_refuses_what_cannot_be_animated():
    ok = rec.check_recording(np.full(SR, 0.1, np.float32), SR)
    assert ok.dtype == np.float32 and ok.shape == (SR,)
    assert rec.check_recording(np.full((SR, 1), 0.1, np.float32), SR).shape == (SR,)   # (N, 1) is mono
    longest = int(rec.MAX_RECORDING_S + 60) * 8000
    for audio, rate, match in [(np.zeros(0, np.float32), SR, "empty"),
                               (np.zeros(SR, np.float32), SR, "silent"),
                               (np.full(SR, np.nan, np.float32), SR, "NaN"),
                               (np.full(100, 0.1, np.float32), SR, "at least"),
                               (np.full(SR, 0.1, np.float32), 1000, "sample rate"),
                               (np.full(SR, 0.1, np.float32), 22050.5, "sample rate"),
                               (np.full((2, SR), 0.1, np.float32), SR, "mono"),
                               (np.full(SR, 1000, np.int16), SR, "float"),
                               (np.full(longest, 0.1, np.float32), 8000, "minutes")]:
        with pytest.raises(ValueError, match=match):
            rec.check_recording(audio, rate)


@pytest.mark.parametrize("seconds, rate, match", [(0.0, SR, "empty"), (0.05, SR, "at least 100 ms"),
                                                  (31 * 60, 8000, "31.0 minutes long"), (1.0, 500, "sample rate")])
def test_the_header_check_gives_the_same_answers(seconds, rate, match):
    with pytest.raises(rec.RecordingError, match=match):
        rec.check_length(seconds, rate)
    with pytest.raises(rec.RecordingError, match=match):
        rec.check_recording(np.full(int(seconds * rate), 0.1, np.float32), rate)


def test_a_wav_header_gives_length_and_rate_without_the_samples(tmp_path):
    path = tmp_path / "line.wav"
    write_wav(path, np.full(int(2.5 * 22050), 0.1, np.float32), 22050)
    assert wav_info(path) == (pytest.approx(2.5), 22050)
    cut = tmp_path / "cut.wav"        # a copy cut short: the header's length is not believed
    cut.write_bytes(path.read_bytes()[:44 + 22050 * 2])
    assert wav_info(cut) == (pytest.approx(1.0), 22050)
