"""A recorded line's audio: the one set of limits every engine and front end checks it against.

`check_length` needs only what a file's header says (length, sample rate), so a batch of many
recorded lines is checked without decoding them; `check_recording` checks the samples too.
"""
import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np

MIN_RECORDING_S = 0.1             # shorter than a syllable: nothing to animate
MAX_RECORDING_S = 30 * 60         # one take; a longer session is cut into scenes or paragraphs
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 8000, 384000    # telephone .. high-resolution studio files
SILENT_DBFS = -70.0               # a recording whose peak is under this holds no speech


class RecordingError(ValueError):
    """A recording that cannot be animated; the message says why and what to do."""


@dataclass(frozen=True)
class RecordingInfo:
    """What a recording's header says, before its samples are read."""
    seconds: float
    sample_rate: int


class RecordingSource(Protocol):
    """A recorded line as the request path takes it: `info()` is read when the request is
    checked, `read()` -> (float32 mono samples, sample rate) when it is prepared."""
    source: str                      # where it came from (a path, a strip's name), for the take's metadata

    def info(self) -> RecordingInfo: ...

    def read(self) -> tuple: ...


@dataclass
class RecordedSamples:
    """A recording already in memory (a sound strip's, a script's)."""
    audio: np.ndarray
    sample_rate: int
    source: str = ""

    def info(self) -> RecordingInfo:
        rate = self.sample_rate
        return RecordingInfo(len(self.audio) / rate if rate else 0.0, rate)

    def read(self) -> tuple:
        return self.audio, self.sample_rate


def check_sample_rate(sample_rate) -> int:
    """The sample rate as a whole number of Hz within the limits, else RecordingError."""
    try:
        rate = float(sample_rate)
    except (TypeError, ValueError):
        raise RecordingError(f"The recording's sample rate must be a number, got {sample_rate!r}.") from None
    if not (math.isfinite(rate) and MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE and rate == int(rate)):
        raise RecordingError(f"The recording's sample rate must be a whole number of Hz between "
                             f"{MIN_SAMPLE_RATE} and {MAX_SAMPLE_RATE}, got {sample_rate!r}.")
    return int(rate)


def check_length(seconds, sample_rate) -> RecordingInfo:
    """The checks a header allows: the sample rate and the length."""
    rate = check_sample_rate(sample_rate)
    if seconds <= 0:
        raise RecordingError("The recording is empty: there is no audio to lip-sync.")
    if seconds < MIN_RECORDING_S:
        raise RecordingError(f"The recording is {seconds * 1000:.0f} ms long; lip-sync needs at least "
                             f"{MIN_RECORDING_S * 1000:.0f} ms of audio.")
    if seconds > MAX_RECORDING_S:
        raise RecordingError(f"The recording is {seconds / 60:.1f} minutes long; a take lip-syncs at most "
                             f"{MAX_RECORDING_S // 60} minutes. Cut it into several takes (one per scene or "
                             "paragraph).")
    return RecordingInfo(float(seconds), rate)


def check_recording(audio, sample_rate) -> np.ndarray:
    """The recording as float32 mono samples [N], or RecordingError: mono float samples, a usable
    sample rate and length, every sample finite, and not silent."""
    rate = check_sample_rate(sample_rate)
    try:
        x = np.asarray(audio)
    except (TypeError, ValueError):
        raise RecordingError("The recording must be an array of audio samples.") from None
    if x.ndim == 2 and 1 in x.shape:
        x = x.reshape(-1)
    if x.ndim != 1:
        raise RecordingError(f"The recording must be mono (one channel); got samples of shape {x.shape}. "
                             "Mix it down to mono first.")
    if len(x) and not np.issubdtype(x.dtype, np.floating):
        raise RecordingError(f"The recording must be float samples in [-1, 1], got {x.dtype}.")
    x = x.astype(np.float32, copy=False)
    check_length(len(x) / rate, rate)
    if not np.all(np.isfinite(x)):
        raise RecordingError("The recording has invalid samples (NaN or infinity); re-export it.")
    if float(np.abs(x).max()) < 10 ** (SILENT_DBFS / 20):
        raise RecordingError(f"The recording is silent (its peak is below {SILENT_DBFS:.0f} dBFS): there is no "
                             "speech to lip-sync. Check the file or its volume.")
    return x


def check_given(audio, sample_rate, seconds=None) -> tuple:
    """(float32 mono samples or None, length in seconds) of a recording given as samples, or by its
    length alone while its samples are not read (`audio` None): check_recording or check_length."""
    if audio is None:
        return None, check_length(seconds or 0.0, sample_rate).seconds
    audio = check_recording(audio, sample_rate)
    return audio, len(audio) / int(sample_rate)
