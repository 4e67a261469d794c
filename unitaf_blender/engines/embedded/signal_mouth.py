"""A mouth from the recording alone, when there is no transcript (less accurate).

No words are recognised. Each 10 ms frame of the recording is classed from its loudness
and spectral shape into a stand-in espeak phoneme, and the result is a phoneme timeline
that the embedded engine's own face model (face.py) animates exactly like a spoken one:
* silence (a pause of SIGNAL_PAUSE_S or more) -> "_" (lips at rest; face.py opens them a
  little for a breath before the next sound);
* a short gap or a sharp energy dip between voiced stretches (a stop or nasal closure,
  < SIGNAL_PAUSE_S) -> "p" (lips closed: the closure is enforced by the face model);
* a quiet frame dominated by energy above 3.5 kHz -> "s" (a fricative: teeth together);
* a voiced frame -> a vowel from the spectral centroid of 200-3500 Hz, z-scored against the
  speaker's own voiced frames: low -> rounded "u:" / "O:", middle -> open "A:", high ->
  spread "i:" (front vowels put energy high, back rounded vowels low).
The jaw then follows the recording's loudness, as it does for aligned speech.

This is a plausible mouth, not an accurate one: a transcript (forced alignment, align.py)
places real visemes at real times and should be preferred whenever the words are known.
"""
import numpy as np

from ...core.performance import TimedLabel
from . import features as F

SIGNAL_PAUSE_S = 0.15    # non-speech at least this long is a pause, shorter is a closure
DIP_DB = 9.0             # ...at least this far below the voiced level around it
FRICATIVE_HF = 0.45      # share of energy above 3.5 kHz that makes a frame a fricative
MIN_RUN_S = 0.04         # shorter label runs join a neighbour (no 10 ms flickers)
VOWELS = ("u:", "O:", "A:", "i:")
_Z_EDGES = (-0.9, -0.3, 0.7)   # centroid z-score edges between the four vowels


def _runs(labels):
    """[(start, end, label)] of equal-label runs."""
    out, s = [], 0
    for k in range(1, len(labels) + 1):
        if k == len(labels) or labels[k] != labels[s]:
            out.append([s, k, labels[s]])
            s = k
    return out


def frame_labels(audio, sample_rate):
    """A stand-in espeak phoneme per 10 ms frame (list of str)."""
    power, freqs = F.spectra(audio, sample_rate)
    db = F.frame_db(power)
    speech = F.speech_mask(db)
    n = len(db)
    band = (freqs >= 200) & (freqs <= 3500)
    e_band = power[:, band].sum(1) + 1e-20
    centroid = (power[:, band] * freqs[band]).sum(1) / e_band
    hf = power[:, freqs > 3500].sum(1) / (power[:, freqs > 80].sum(1) + 1e-20)

    voiced = speech & (hf < FRICATIVE_HF)
    level = np.percentile(db[voiced], 90) if voiced.sum() >= 5 else (db.max() if n else 0.0)
    labels = ["_"] * n
    cz = centroid[voiced]
    mu, sd = (np.median(cz), np.std(cz) + 1e-9) if len(cz) else (0.0, 1.0)
    for k in range(n):
        if not speech[k]:
            continue
        if hf[k] >= FRICATIVE_HF and db[k] < level - 6.0:
            labels[k] = "s"
        else:
            z = (centroid[k] - mu) / sd
            labels[k] = VOWELS[int(np.searchsorted(_Z_EDGES, z))]

    # energy dips inside speech: a local valley DIP_DB below the peaks on both sides
    half = int(round(0.06 / F.HOP_S))
    for k in range(1, n - 1):
        if labels[k] == "_" or not (db[k] <= db[k - 1] and db[k] <= db[k + 1]):
            continue
        left, right = db[max(k - half, 0):k].max(initial=-np.inf), db[k + 1:k + 1 + half].max(initial=-np.inf)
        if min(left, right) - db[k] >= DIP_DB:
            labels[k] = "p"
    # short gaps between voiced stretches are closures, long ones pauses
    runs = _runs(labels)
    for i, (s, e, lab) in enumerate(runs):
        if lab == "_" and 0 < i < len(runs) - 1 and (e - s) * F.HOP_S < SIGNAL_PAUSE_S:
            for k in range(s, e):
                labels[k] = "p"
    return labels


def signal_timeline(audio, sample_rate):
    """[TimedLabel] contiguous over the recording, from `frame_labels`: runs shorter than
    MIN_RUN_S join their longer neighbour (a closure "p" is kept: it is short on
    purpose), times on the recording's clock."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    duration = len(audio) / sample_rate
    labels = frame_labels(audio, sample_rate)
    min_len = int(round(MIN_RUN_S / F.HOP_S))
    runs = _runs(labels)
    merged = []
    for i, r in enumerate(runs):      # one pass: a short run joins its longer neighbour
        if r[1] - r[0] < min_len and r[2] != "p" and len(runs) > 1:
            nxt = runs[i + 1] if i + 1 < len(runs) else None
            if merged and (nxt is None or merged[-1][1] - merged[-1][0] >= nxt[1] - nxt[0]):
                merged[-1][1] = r[1]
                continue
            if nxt is not None:
                nxt[0] = r[0]
                continue
        if merged and merged[-1][2] == r[2]:
            merged[-1][1] = r[1]
        else:
            merged.append(r)
    out = []
    for s, e, lab in merged:
        start = max((s - 0.5) * F.HOP_S, 0.0)
        end = min((e - 0.5) * F.HOP_S, duration)
        if end > start:
            out.append(TimedLabel(start, end, lab))
    if not out:
        return [TimedLabel(0.0, duration, "_")]
    out[0].start, out[-1].end = 0.0, duration
    for a, b in zip(out, out[1:]):
        b.start = a.end
    return out
