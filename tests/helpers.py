"""Small helpers shared by tests in several folders (import from here, like shared_paths)."""
import threading

import numpy as np

from unitaf_blender.core.performance import EMOTIONS


def neutral():
    """An emotion timeline (times, vectors) that stays neutral."""
    return np.array([0.0]), np.zeros((1, 8))


def emotion(name, value=1.0):
    """An emotion timeline (times, vectors) holding one emotion from time 0."""
    v = np.zeros((1, 8))
    v[0, EMOTIONS.index(name)] = value
    return np.array([0.0]), v


def in_threads(work, n=2):
    """Run work(0) ... work(n - 1) on n threads at once and wait for all of them."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def f0_yin(audio, sr, fmin=60.0, fmax=500.0, threshold=0.15):
    """Median F0 (Hz) of the louder 40 ms frames by YIN (the first dip of the cumulative-mean-
    normalised difference below `threshold`), a measure independent of any voice's internals.
    YIN rather than the autocorrelation peak: a low voice with a strong second harmonic fools
    the peak by an octave."""
    n, hop = int(0.04 * sr), int(0.02 * sr)
    lo, hi = int(sr / fmax), int(sr / fmin)
    starts = range(0, len(audio) - n - hi, hop)
    energy = np.array([np.sqrt(np.mean(audio[i:i + n] ** 2)) for i in starts])
    out = []
    for i, e in zip(starts, energy):
        if e < 0.2 * energy.max():
            continue
        x = audio[i:i + n].astype(np.float64)
        diff = np.array([np.sum((x - audio[i + tau:i + tau + n]) ** 2) for tau in range(1, hi + 1)])
        cmnd = diff * np.arange(1, hi + 1) / np.maximum(np.cumsum(diff), 1e-12)
        below = np.flatnonzero(cmnd[lo - 1:] < threshold)
        if len(below):
            k = below[0] + lo - 1
            while k + 1 < len(cmnd) and cmnd[k + 1] < cmnd[k]:
                k += 1
            out.append(sr / (k + 1))
    assert len(out) > 10, "too few voiced frames"
    return float(np.median(out))


def spectral_centroid(audio, sr):
    """Mean spectral centroid (Hz) of the louder 40 ms frames."""
    n = int(0.04 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(audio, n)[::n // 2]
    energy = np.sqrt(np.mean(frames ** 2, axis=1))
    loud = frames[energy > 0.2 * energy.max()] * np.hanning(n)
    power = np.abs(np.fft.rfft(loud, axis=1)) ** 2
    freqs = np.fft.rfftfreq(n, 1.0 / sr)
    return float(np.mean(power @ freqs / np.maximum(power.sum(1), 1e-12)))


def rms(audio):
    return float(np.sqrt(np.mean(np.asarray(audio, np.float64) ** 2)))
