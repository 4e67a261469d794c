"""Frame features of speech for alignment and the signal-only mouth: our own numpy STFT.

Frames are centred at k * HOP_S seconds (k = 0, 1, ...) whatever the sample rate, so two
signals at different rates (espeak's 22.05 kHz, a 16 kHz or 48 kHz recording) give frames
on the same clock and no resampling is needed: every band edge is in Hz, and the band
limit is the lower Nyquist of the two signals (`common_top_hz`).

`spectra()` gives the power spectrum of every frame; `log_mel()` the log mel bands floored
at FLOOR_DB below the utterance's loud frames (a recording's noise floor and espeak's
digital silence then both sit at the floor and look alike); `cepstra()` the speaker- and
channel-normalised cepstra plus deltas used by the DTW.
"""
import numpy as np

HOP_S = 0.010          # 100 frames per second: word onsets are wanted to ~10 ms
WIN_S = 0.025
N_MELS = 30
N_CEPS = 13            # c0..c12; c0 (loudness) is kept, scaled down (see cepstra)
LOW_HZ = 80.0
TOP_HZ = 7600.0
FLOOR_DB = 55.0        # log-mel floor below the 95th-percentile frame...
MEL_NOISE_MARGIN_DB = 6.0  # ...or this far above the 10th-percentile frame (the noise floor)


def n_frames(n_samples, sample_rate):
    return int(np.floor(n_samples / sample_rate / HOP_S)) + 1


def common_top_hz(*sample_rates):
    return min([TOP_HZ] + [0.95 * sr / 2 for sr in sample_rates])


def spectra(audio, sample_rate):
    """(power [T, F], bin frequencies [F]) of Hann-windowed frames centred at k * HOP_S."""
    x = np.asarray(audio, np.float64).reshape(-1)
    win = int(round(WIN_S * sample_rate))
    n_fft = 1 << int(np.ceil(np.log2(max(win, 16))))
    t = n_frames(len(x), sample_rate)
    starts = np.round(np.arange(t) * HOP_S * sample_rate).astype(np.int64) - win // 2
    pad = np.concatenate((np.zeros(win), x, np.zeros(win)))
    idx = starts[:, None] + win + np.arange(win)[None, :]
    frames = pad[idx] * np.hanning(win)[None, :]
    power = np.abs(np.fft.rfft(frames, n_fft, axis=1)) ** 2
    return power, np.fft.rfftfreq(n_fft, 1.0 / sample_rate)


def mel_filters(freqs, top_hz, n_mels=N_MELS, low_hz=LOW_HZ):
    """Triangular filters [n_mels, F] evenly spaced on the mel scale from low_hz to top_hz."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)
    edges = 700.0 * (10 ** (np.linspace(mel(low_hz), mel(top_hz), n_mels + 2) / 2595.0) - 1.0)
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    f = freqs[None, :]
    tri = np.maximum(0.0, np.minimum((f - lo) / (mid - lo), (hi - f) / (hi - mid)))
    return tri / np.maximum(tri.sum(1, keepdims=True), 1e-12)


def log_mel(power, freqs, top_hz):
    """Log mel energies [T, N_MELS], floored FLOOR_DB below the loud frames."""
    mel = power @ mel_filters(freqs, top_hz).T
    total = mel.sum(1)
    loud = np.percentile(total, 95) if len(total) else 0.0
    noise = np.percentile(total, 10) if len(total) else 0.0
    # at least MEL_NOISE_MARGIN_DB over the noise floor: a noisy pause then looks as flat as
    # espeak's digital silence, instead of a random spectrum the DTW would try to match
    floor = max(loud * 10 ** (-FLOOR_DB / 10), noise * 10 ** (MEL_NOISE_MARGIN_DB / 10), 1e-20) / mel.shape[1]
    return np.log(mel + floor)


def frame_db(power):
    """Frame energy in dB [T] (relative: only differences matter)."""
    return 10 * np.log10(power.sum(1) + 1e-20)


def speech_mask(db, min_gap_db=12.0):
    """Frames louder than a threshold between the noise floor and the speech level.

    The floor is the 5th percentile and the speech level the 95th; the threshold sits a
    third of the way up, at least `min_gap_db` above the floor (a recording with no pause
    has no floor to measure, and its quiet consonants must still count as speech)."""
    if len(db) == 0:
        return np.zeros(0, bool)
    floor, level = np.percentile(db, 5), np.percentile(db, 95)
    threshold = max(floor + min(min_gap_db, 0.5 * (level - floor)), floor + (level - floor) / 3)
    threshold = min(threshold, level - 25.0) if level - floor > 40 else threshold
    return db > threshold


def deltas(x, width=2):
    """Regression deltas along time over +-width frames."""
    pad = np.pad(x, ((width, width), (0, 0)), mode="edge")
    num = sum(k * (pad[width + k:len(pad) - width + k] - pad[width - k:len(pad) - width - k])
              for k in range(1, width + 1))
    return num / (2 * sum(k * k for k in range(1, width + 1)))


def cepstra(logmel, speech):
    """Normalised cepstra + deltas [T, 2 * N_CEPS] for DTW.

    Mean and variance come from the speech frames only, so the long pauses of a recording
    do not shift its normalisation away from espeak's (which has few); c0 is scaled down
    so loudness helps find pauses without dominating the spectral shape."""
    n = logmel.shape[1]
    k = np.arange(N_CEPS)[:, None]
    dct = np.cos(np.pi * k * (np.arange(n)[None, :] + 0.5) / n)
    c = logmel @ dct.T
    ref = c[speech] if speech.sum() >= 10 else c
    c = (c - ref.mean(0)) / (ref.std(0) + 1e-8)
    c[:, 0] *= 0.6
    return np.hstack((c, deltas(c)))
