"""Engine-neutral signal helpers for face tracks: the frame-count formula, loudness and
speech-emphasis curves from audio, Gaussian smoothing along time and the runs of a mask. Pure numpy.
"""
import numpy as np

DEFAULT_FPS = 30.0


def n_frames_for(n_samples, sample_rate, fps=DEFAULT_FPS) -> int:
    """T = floor(duration * fps) + 1: frame k is at k / fps and the last one inside the audio.

    The one frame-count formula of the project (duration = n_samples / sample_rate; pass a
    duration in seconds with sample_rate=1.0). The 1e-9 keeps exact multiples of a frame.
    """
    return int(np.floor(n_samples * fps / sample_rate + 1e-9)) + 1


def true_runs(mask):
    """[(start, end)] of the True runs of a boolean array, end exclusive (plain ints)."""
    edges = np.diff(np.concatenate(([0], np.asarray(mask, bool).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def smooth(x, sigma_frames):
    """Gaussian smoothing along axis 0 with edge padding (x is [T] or [T, N])."""
    if sigma_frames <= 0 or len(x) < 2:
        return x
    r = int(3 * sigma_frames) + 1
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma_frames) ** 2)
    k /= k.sum()
    x2 = x.reshape(len(x), -1)
    pad = np.pad(x2, ((r, r), (0, 0)), mode="edge")
    out = np.stack([np.convolve(pad[:, j], k, mode="valid") for j in range(x2.shape[1])], 1)
    return out.reshape(x.shape)


def windowed_rms(x, centres, half):
    """RMS of x (float64 [N]) over [centre - half, centre + half) around each of `centres`
    (samples, rounded; windows cut at the ends): [len(centres)]."""
    cs = np.concatenate(([0.0], np.cumsum(x * x)))
    lo = np.clip(np.round(centres - half), 0, len(x)).astype(np.int64)
    hi = np.clip(np.round(centres + half), 0, len(x)).astype(np.int64)
    return np.sqrt(np.maximum(cs[hi] - cs[lo], 0.0) / np.maximum(hi - lo, 1))


def loudness_envelope(audio, sample_rate, n_frames, fps=DEFAULT_FPS):
    """RMS of the audio around each frame (66 ms window), smoothed and normalised per
    utterance so that loud vowels sit near 1: float64 [T] in [0, 1.3]. Silence -> zeros."""
    x = np.asarray(audio, np.float64).reshape(-1)
    if len(x) == 0:
        return np.zeros(n_frames)
    rms = windowed_rms(x, np.arange(n_frames) * (sample_rate / fps), sample_rate / fps)
    if n_frames >= 3:
        rms = np.convolve(np.pad(rms, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    peak = rms.max(initial=0.0)
    if peak <= 1e-6:
        return np.zeros(n_frames)
    ref = np.percentile(rms[rms > 0.1 * peak], 90)
    return np.clip(rms / ref, 0.0, 1.3)


def emphasis_curve(loudness, fps=DEFAULT_FPS):
    """Speech emphasis [T] in [0, 1]: loudness onsets, decaying over ~0.25 s (for nods/brows)."""
    if len(loudness) < 2:
        return np.zeros(len(loudness))
    rise = np.maximum(np.diff(loudness, prepend=loudness[0]), 0.0)
    ref = np.percentile(rise[rise > 0], 95) if np.any(rise > 0) else 1.0
    rise = np.clip(rise / max(ref, 1e-6), 0.0, 1.0)
    # peak-hold with exponential release: each onset decays unless a stronger one follows
    lags = np.arange(int(0.75 * fps) + 1)
    decay = np.exp(-lags / (0.25 * fps))
    padded = np.concatenate((np.zeros(len(lags) - 1), rise))
    held = np.stack([padded[len(lags) - 1 - j:len(padded) - j] * decay[j] for j in lags])
    return held.max(0)


def slow_noise(rng, n_frames, fps, n_signals, f_lo=0.05, f_hi=0.45, partials=3):
    """Smooth seeded noise [T, n_signals] in about [-1, 1]: a few sinusoids of random low frequency."""
    t = np.arange(n_frames) / fps
    f = rng.uniform(f_lo, f_hi, (n_signals, partials))
    phase = rng.uniform(0, 2 * np.pi, (n_signals, partials))
    amp = rng.uniform(0.5, 1.0, (n_signals, partials))
    amp /= amp.sum(1, keepdims=True)
    return np.einsum("sp,tsp->ts", amp, np.sin(2 * np.pi * f[None] * t[:, None, None] + phase[None]))


def gesture(n_frames, fps, peaks, strengths, lead_s=0.15, hold_s=0.1, release_s=0.4):
    """[T]: raised-cosine gestures, each rising over lead_s to its peak frame, held hold_s, then
    falling over release_s; overlapping gestures take the larger value."""
    n, lead_s, release_s = int(n_frames), max(lead_s, 1e-6), max(release_s, 1e-6)
    out = np.zeros(n)
    for k, s in zip(peaks, strengths):
        lo = max(int(np.floor((k / fps - lead_s) * fps)), 0)
        hi = min(int(np.ceil((k / fps + hold_s + release_s) * fps)) + 1, n)
        if lo >= hi:
            continue
        t = np.arange(lo, hi) / fps - k / fps
        up = np.clip((t + lead_s) / lead_s, 0, 1)
        down = np.clip(1 - (t - hold_s) / release_s, 0, 1)
        out[lo:hi] = np.maximum(out[lo:hi], s * (0.5 - 0.5 * np.cos(np.pi * np.minimum(up, down))))
    return out
