"""Fundamental frequency (F0) of a voice, per 20 ms frame: a YIN tracker in plain numpy.

YIN (de Cheveigné & Kawahara 2002): the squared difference of a window with itself shifted by
a lag, divided by its running mean over smaller lags, dips below a threshold at the period.
It is written here rather than taken from a library because the extension ships numpy only
(librosa's pYIN pulls numba and scipy, binary wheels per Python version); the face needs the
contour, not studio accuracy. Works on clean synthetic speech and on ordinary recordings.
"""
import numpy as np

F0_HOP_S = 0.02             # one F0 value per 20 ms (a face frame is 33-42 ms)
F0_WINDOW_S = 0.04          # at least two periods of the lowest voice
F0_MIN, F0_MAX = 60.0, 500.0
THRESHOLD = 0.2          # YIN's absolute threshold on the normalised difference
VOICED_MAX = 0.35        # frames whose best dip stays above this are unvoiced
SILENCE_DB = -45.0       # frames this far under the loudest frame are unvoiced
BLOCK = 2000             # frames analysed at once
ANALYSIS_RATE = 4000     # Hz the audio is brought down to first


def f0_track(audio, sample_rate):
    """(f0 [N] in Hz with 0 where unvoiced, frame times [N] in s): frames every ~F0_HOP_S."""
    x, sr = decimated(audio, sample_rate)
    hop, width = max(1, int(round(F0_HOP_S * sr))), int(round(F0_WINDOW_S * sr))
    n = int(len(x) // hop) + 1 if len(x) else 0
    times = np.arange(n) * hop / sr
    if n == 0 or width < 8:
        return np.zeros(n), times
    x = x - x.mean()
    # level of each frame first: silent frames skip the analysis
    cs = np.concatenate(([0.0], np.cumsum(x * x)))
    centre = np.arange(n) * hop
    lo, hi = np.clip(centre - width // 2, 0, len(x)), np.clip(centre + width // 2, 0, len(x))
    level = 10 * np.log10((cs[hi] - cs[lo]) / width + 1e-12)
    loud = np.flatnonzero(level > level.max() + SILENCE_DB)
    best, lag = np.ones(n), np.ones(n)
    for k in range(0, len(loud), BLOCK):             # bounded memory on a 20-minute script
        rows = loud[k:k + BLOCK]
        best[rows], lag[rows] = _yin(_frames(x, width, hop, rows), sr)
    f0 = np.where(best < VOICED_MAX, sr / lag, 0.0)
    f0[(f0 < F0_MIN) | (f0 > F0_MAX)] = 0.0
    return _without_octave_slips(f0), times


def decimated(audio, sample_rate):
    """(audio brought down to about ANALYSIS_RATE, its rate): the mean of each block of
    round(rate / ANALYSIS_RATE) samples (a box low-pass, nulls at multiples of the new rate).
    F0 lives below 500 Hz, and the analysis costs a fifth of what it does at 22 kHz."""
    x = np.asarray(audio, np.float64).reshape(-1)
    factor = int(round(float(sample_rate) / ANALYSIS_RATE))
    if factor < 2:
        return x, float(sample_rate)
    n = len(x) // factor
    return x[:n * factor].reshape(n, factor).mean(1), float(sample_rate) / factor


def _frames(x, width, hop, rows):
    """The frames `rows` [len(rows), width], frame i centred on sample i * hop (zeros outside)."""
    start = np.asarray(rows)[:, None] * hop - width // 2 + np.arange(width)[None, :]
    inside = (start >= 0) & (start < len(x))
    return np.where(inside, x[np.clip(start, 0, len(x) - 1)], 0.0)


def _yin(frames, sr):
    """(best normalised dip [n], its lag in samples [n]) of each frame."""
    n, width = frames.shape
    lag_lo, lag_hi = max(2, int(sr / F0_MAX)), min(width - 1, int(np.ceil(sr / F0_MIN)))
    frames = frames - frames.mean(1, keepdims=True)
    size = 1 << int(np.ceil(np.log2(width + lag_hi + 1)))     # no circular wrap up to lag_hi
    spec = np.fft.rfft(frames, size)
    acf = np.fft.irfft(spec * np.conj(spec), size)[:, :lag_hi + 1]
    energy = np.concatenate((np.zeros((n, 1)), np.cumsum(frames ** 2, 1)), 1)
    lags = np.arange(lag_hi + 1)
    # d(tau) = sum over the overlap of (x_j - x_{j+tau})^2 = E[0:W-tau] + E[tau:W] - 2 r(tau)
    diff = energy[:, width - lags] + (energy[:, [width]] - energy[:, lags]) - 2.0 * acf
    diff = np.maximum(diff, 0.0)
    diff[:, 0] = 0.0
    running = np.cumsum(diff[:, 1:], 1) / lags[None, 1:]
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = diff[:, 1:] / np.maximum(running, 1e-12)
    band = cmnd[:, lag_lo:lag_hi]
    rows = np.arange(n)
    below = band < THRESHOLD
    # the first dip under the threshold, followed down to its own minimum; else the global minimum
    k = np.where(below.any(1), below.argmax(1), band.argmin(1))
    last = band.shape[1] - 1
    for _ in range(last):
        step = (k < last) & (band[rows, np.minimum(k + 1, last)] < band[rows, k])
        if not step.any():
            break
        k += step
    best = band[rows, k]
    lag = (k + lag_lo).astype(np.float64)
    # parabolic interpolation around the dip for a sub-sample lag
    a, c = band[rows, np.maximum(k - 1, 0)], band[rows, np.minimum(k + 1, last)]
    den = a - 2 * best + c
    inner = (k > 0) & (k < last) & (np.abs(den) > 1e-12)
    lag += np.where(inner, 0.5 * (a - c) / np.where(inner, den, 1.0), 0.0)
    return best, lag


def _without_octave_slips(f0):
    """A median over 5 voiced frames replaces values an octave off their neighbours."""
    out = f0.copy()
    v = np.flatnonzero(f0 > 0)
    if len(v) < 5:
        return out
    vals = f0[v]
    padded = np.pad(vals, 2, mode="edge")
    med = np.median(np.lib.stride_tricks.sliding_window_view(padded, 5), 1)
    slip = np.abs(np.log2(vals / med)) > 0.6
    out[v[slip]] = med[slip]
    return out
