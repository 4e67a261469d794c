"""Forced alignment of a transcript to a recording, by warping espeak's own rendering.

Method (pure numpy, no acoustic model):
1. espeak speaks the transcript (`speech.synthesize_script`, the voice/language rules of
   `generate`); its phoneme and word timeline is sample-exact.
2. Both signals become 100 fps feature frames on the same clock (features.py: log-mel
   cepstra normalised over each signal's own speech frames, plus deltas), so speaker,
   channel and loudness differences mostly cancel.
3. Dynamic time warping finds the cheapest monotone path between the two frame sequences.
   Steps are diagonal (one frame each), vertical (the recording advances: it is slower or
   pauses) or horizontal (espeak advances: the recording is faster or skips espeak's
   pause). Off-diagonal steps cost a penalty, lower on silent frames, so pauses are
   absorbed where they really are; a Sakoe-Chiba band bounds the search.
   Long recordings are aligned window by window (WINDOW_S): each window's path is
   open-ended on espeak's side and committed only up to a pause in the recording, where the
   next window starts; times stay absolute.
4. Every espeak boundary is mapped through the path, then refined on the recording's
   energy: phonemes are trimmed out of the recording's pauses (which become "_" segments),
   and a boundary may move by up to REFINE_FRAMES to the strongest spectral change nearby
   when espeak has a change of its own there.

Word onsets on a different voice at 0.7x and 1.4x speed with inserted pauses: see
bench/eval_alignment.py for the measured errors.
"""
from dataclasses import dataclass

import numpy as np

from ...core.performance import TimedLabel
from ...core.signal import true_runs
from .. import check_cancel
from . import features as F

PAUSE = "_"
REF_PAD_S = 0.4           # silence added around espeak's rendering
WINDOW_S = 40.0            # longest stretch aligned by one DTW (memory: frames^2 bytes)
BAND_MIN_S = 3.0           # the band is at least this wide each side of the diagonal...
BAND_FRACTION = 0.35       # ...or this share of the longer sequence
STEP_PENALTY = 0.6         # extra cost of a vertical/horizontal step on a speech frame
SILENT_STEP_PENALTY = 0.05  # ...and on a silent one (pauses are stretched for free)
REST_PAUSE_S = 0.12         # a silence at least this long in the recording becomes "_"
MIN_PHONEME_S = 0.012      # a phoneme squeezed by the path keeps at least this much
BLIP_FRAMES = 5            # speech shorter than this inside a pause is a click or noise
REFINE_FRAMES = 1          # a boundary moves at most this many frames to a spectral change
FIT_WINDOW_S = 50.0        # the transcript's fit is measured on the first this-many seconds
# Above this fit ratio the transcript does not fit the recording. Measured on real speech
# (bench/eval_transcript_fit.py, bench/README.md): the words said 0.86 on clean speech, up to
# 0.93 at 10 dB SNR or telephone band; another sentence or language 0.95-1.03.
MISFIT_RATIO = 0.935


@dataclass
class Alignment:
    phonemes: list            # [TimedLabel] on the recording's clock, contiguous, pauses "_"
    words: list               # [TimedLabel]
    emotion_times: np.ndarray  # float32 [K], espeak's emotion keys mapped to the recording
    emotion_vectors: np.ndarray
    path: np.ndarray          # int [L, 2] (recording frame, espeak frame)
    reference: object         # the espeak Speech that was warped
    fit: float = 0.0          # transcript_fit: ~0.85 for the words said, ~1 for unrelated ones


def dtw(a, b, pen_a, pen_b, band=None, open_end=False, slope=None):
    """Cheapest monotone path between feature rows a [N, D] and b [M, D] -> int [L, 2].

    Cost of a cell: Euclidean distance. Entering it diagonally costs that; vertically
    (a advances alone) adds pen_a[i]; horizontally (b advances alone) adds pen_b[j]. The
    path starts at (0, 0) and ends at (N-1, M-1), or with open_end anywhere on the last row
    (the cheapest per step). `band`: cells farther than this from the straight line are
    forbidden; the line runs from (0, 0) to the last cell, or with the given `slope`
    (espeak frames per recording frame) when the end is open. Row by row: the horizontal
    recursion D[i,j] = min(B[j], D[i,j-1] + h[j]) is a running minimum over a cumulative
    sum, so each row is a few vector operations.
    """
    n, m = len(a), len(b)
    back = np.zeros((n, m), np.int8)          # 0 diagonal, 1 vertical, 2 horizontal
    bb = (b * b).sum(1)
    cols = np.arange(m)
    prev = None
    for i in range(n):
        lo, hi = 0, m
        if band is not None:
            centre = i * (slope if slope is not None else (m - 1) / max(n - 1, 1))
            lo, hi = max(int(np.ceil(centre - band)), 0), min(int(np.floor(centre + band)) + 1, m)
            if i == 0:
                lo = 0
        bs = b[lo:hi]
        c = np.sqrt(np.maximum((a[i] * a[i]).sum() + bb[lo:hi] - 2.0 * (bs @ a[i]), 0.0))
        if prev is None:
            start = np.full(hi - lo, np.inf)
            start[0] = c[0]
            from_above = np.zeros(hi - lo, bool)
        else:
            diag = prev[lo - 1:hi - 1] if lo > 0 else np.concatenate(([np.inf], prev[:hi - 1]))
            up = prev[lo:hi] + pen_a[i]
            from_above = up < diag
            start = c + np.minimum(diag, up)
        cum = np.cumsum(c + pen_b[lo:hi])
        key = start - cum
        run = np.minimum.accumulate(key)
        row = np.full(m, np.inf)
        row[lo:hi] = run + cum
        back[i, lo:hi] = np.where(key > run, 2, np.where(from_above, 1, 0))
        prev = row
    if open_end:
        j = int(np.argmin(prev / (n + cols + 1.0)))
    else:
        j = m - 1
    i, path = n - 1, []
    while True:
        path.append((i, j))
        if i == 0 and j == 0:
            break
        step = back[i, j] if i > 0 else 2
        if step == 0 and j > 0:
            i, j = i - 1, j - 1
        elif step == 1 or j == 0:
            i -= 1
        else:
            j -= 1
    return np.array(path[::-1], np.int64)


def _band(n, m):
    return max(BAND_MIN_S / F.HOP_S, BAND_FRACTION * max(n, m))


def align_paths(rec_feat, ref_feat, rec_silent, ref_silent, window_s=WINDOW_S, cancel=None):
    """The warping path of the whole recording, window by window for long ones."""
    pen_a = np.where(rec_silent, SILENT_STEP_PENALTY, STEP_PENALTY)
    pen_b = np.where(ref_silent, SILENT_STEP_PENALTY, STEP_PENALTY)
    n, m = len(rec_feat), len(ref_feat)
    window = int(round(window_s / F.HOP_S))
    pieces, i0, j0 = [], 0, 0
    while True:
        check_cancel(cancel)
        if n - i0 <= int(1.25 * window):
            p = dtw(rec_feat[i0:], ref_feat[j0:], pen_a[i0:], pen_b[j0:], band=_band(n - i0, m - j0))
            pieces.append(p + (i0, j0))
            break
        ratio = (m - j0) / (n - i0)
        j1 = min(m, j0 + int(window * ratio * 1.6) + int(2.0 / F.HOP_S))
        i1 = i0 + window
        p = dtw(rec_feat[i0:i1], ref_feat[j0:j1], pen_a[i0:i1], pen_b[j0:j1],
                band=_band(window, window * ratio), open_end=True, slope=ratio) + (i0, j0)
        cut = _cut_point(rec_silent, i0 + window // 2, i0 + int(0.9 * window))
        keep = p[:, 0] < cut
        pieces.append(p[keep])
        # restart on the path's cell at the cut: the middle of a pause in the recording
        i0, j0 = cut, int(p[~keep][0, 1])
    return np.concatenate(pieces)


def _cut_point(silent, lo, hi):
    """The middle of the longest silent run in [lo, hi), or hi when there is none."""
    best, best_len, k = hi, 0, lo
    while k < hi:
        if silent[k]:
            e = k
            while e < hi and silent[e]:
                e += 1
            if e - k > best_len:
                best, best_len = (k + e) // 2, e - k
            k = e
        else:
            k += 1
    return best


def _boundary_map(path):
    """Recording time (s) of a boundary placed before each espeak frame j: between the last
    recording frame matched to j-1 and the first matched to j (a pause held on one espeak
    frame thus ends the boundary at the pause's edge, not in its middle)."""
    m = int(path[-1, 1]) + 1
    first = np.full(m, np.iinfo(np.int64).max)
    last = np.full(m, -1)
    np.minimum.at(first, path[:, 1], path[:, 0])
    np.maximum.at(last, path[:, 1], path[:, 0])
    before = np.concatenate(([first[0]], last[:-1]))
    return 0.5 * (before + first) * F.HOP_S


def _map_times(times, bmap, ref_duration, rec_duration):
    """espeak times (s) -> recording times through the boundary map (linear inside a frame)."""
    x = np.asarray(times, np.float64) / F.HOP_S + 0.5     # boundary before frame ceil(t/hop)
    grid = np.arange(len(bmap) + 1, dtype=np.float64)
    values = np.concatenate((bmap, [rec_duration]))
    out = np.interp(x, grid, values)
    out[np.asarray(times) <= 0] = 0.0
    out[np.asarray(times) >= ref_duration - 1e-9] = rec_duration
    return np.clip(out, 0.0, rec_duration)


def _refine_on_flux(bounds, labels, rec_flux, ref_flux, ref_bounds):
    """Move a boundary by <= REFINE_FRAMES to the strongest spectral change of the
    recording, where espeak's own signal changes at that boundary too (between two similar
    sounds there is nothing to snap to)."""
    out = bounds.copy()
    strong = np.percentile(ref_flux, 60) if len(ref_flux) else 0.0
    for k in range(1, len(bounds) - 1):
        if labels[k - 1] == PAUSE or labels[k] == PAUSE:
            continue
        rj = int(round(ref_bounds[k] / F.HOP_S))
        if not (0 <= rj < len(ref_flux)) or ref_flux[max(rj - 1, 0):rj + 2].max() < strong:
            continue
        c = int(round(bounds[k] / F.HOP_S))
        lo, hi = max(c - REFINE_FRAMES, 1), min(c + REFINE_FRAMES + 1, len(rec_flux))
        if hi <= lo:
            continue
        j = lo + int(np.argmax(rec_flux[lo:hi]))
        t = j * F.HOP_S
        if out[k - 1] < t < bounds[k + 1]:
            out[k] = t
    return out


def _flux(logmel):
    """Positive spectral change per frame (onsets of sounds), [T]."""
    d = np.diff(logmel, axis=0, prepend=logmel[:1])
    return np.sqrt((np.maximum(np.abs(d), 0.0) ** 2).mean(1))


def align_transcript(audio, sample_rate, reference, window_s=WINDOW_S, cancel=None) -> Alignment:
    """Warp espeak's rendering `reference` (a speech.Speech of the transcript) onto the
    recording `audio` -> Alignment on the recording's clock."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    rec_duration = len(audio) / sample_rate
    ref_duration = reference.duration
    top = F.common_top_hz(sample_rate, reference.sample_rate)
    # espeak starts and ends without silence; a recording rarely does. Padding espeak with
    # silence gives the recording's lead-in and tail something to match besides speech.
    pad = int(round(REF_PAD_S * reference.sample_rate))
    ref_audio = np.concatenate((np.zeros(pad, np.float32), reference.audio, np.zeros(pad, np.float32)))
    shift = pad / reference.sample_rate
    ref_duration += 2 * shift
    rec_pow, rec_freqs = F.spectra(audio, sample_rate)
    ref_pow, ref_freqs = F.spectra(ref_audio, reference.sample_rate)
    rec_mel, ref_mel = F.log_mel(rec_pow, rec_freqs, top), F.log_mel(ref_pow, ref_freqs, top)
    rec_speech, ref_speech = F.speech_mask(F.frame_db(rec_pow)), F.speech_mask(F.frame_db(ref_pow))
    check_cancel(cancel)
    rec_feat, ref_feat = F.cepstra(rec_mel, rec_speech), F.cepstra(ref_mel, ref_speech)
    path = align_paths(rec_feat, ref_feat, ~rec_speech, ~ref_speech, window_s, cancel)
    fit = transcript_fit(rec_feat, ref_feat, rec_speech, ref_speech, path)
    bmap = _boundary_map(path)

    ref_ph = reference.phonemes
    ref_bounds = np.array([p.start for p in ref_ph] + [ref_ph[-1].end]) + shift
    starts = ref_bounds[:-1].copy()
    ref_bounds[0], ref_bounds[-1] = 0.0, ref_duration
    bounds = _map_times(ref_bounds, bmap, ref_duration, rec_duration)
    labels = [p.label for p in ref_ph]
    bounds = _refine_on_flux(bounds, labels, _flux(rec_mel), _flux(ref_mel), ref_bounds)
    bounds = np.maximum.accumulate(bounds)

    # words as index ranges of espeak's phonemes (their spans come from the phonemes)
    word_ranges = []
    for w in reference.words:
        lo = int(np.searchsorted(starts, w.start + shift - 1e-9))
        hi = int(np.searchsorted(starts, w.end + shift - 1e-9))
        word_ranges.append((lo, max(hi, lo + 1), w.label))
    word_of = np.full(len(labels), -1)
    for n, (lo, hi, _) in enumerate(word_ranges):
        word_of[lo:hi] = n

    segs = [[float(bounds[k]), float(bounds[k + 1]), labels[k], k] for k in range(len(labels))]
    segs = _carve_pauses(segs, rec_speech, rec_duration, word_of)
    phonemes, index_span = _finish(segs, rec_duration)
    words = []
    for lo, hi, text in word_ranges:
        inside = [index_span[k] for k in range(lo, hi) if k in index_span]
        if inside:
            words.append(TimedLabel(min(s for s, _ in inside), max(e for _, e in inside), text))
    emo_times = _map_times(np.asarray(reference.emotion_times, np.float64) + shift, bmap, ref_duration, rec_duration)
    emo_times = np.maximum.accumulate(emo_times).astype(np.float32)
    return Alignment(phonemes, words, emo_times, np.asarray(reference.emotion_vectors, np.float32),
                     path, reference, fit)


def _path_cost(rec_feat, ref_feat, rec_speech, ref_speech, path):
    """Mean feature distance along a path, over cells where both signals speak."""
    both = rec_speech[path[:, 0]] & ref_speech[path[:, 1]]
    if not both.any():
        return float("nan")
    rows, cols = path[both, 0], path[both, 1]
    return float(np.linalg.norm(rec_feat[rows] - ref_feat[cols], axis=1).mean())


def transcript_fit(rec_feat, ref_feat, rec_speech, ref_speech, path):
    """How well the transcript's rendering fits the recording: the cost of the alignment path
    divided by the cost of the best paths to the same rendering scrambled in time (played
    backwards, and rotated by half its length: same sounds, same voice, wrong order). Words
    that were said give about 0.86, words that were not about 1 (DTW finds some cheap path
    through any speech, so the cost alone says little). Measured on the first FIT_WINDOW_S
    seconds; nan without speech."""
    n = min(len(rec_feat), int(round(FIT_WINDOW_S / F.HOP_S)))
    path = path[path[:, 0] < n]
    m = int(path[:, 1].max()) + 1
    real = _path_cost(rec_feat, ref_feat, rec_speech, ref_speech, path)
    feat, speech = rec_feat[:n], rec_speech[:n]
    pen = np.where(speech, STEP_PENALTY, SILENT_STEP_PENALTY)
    nulls = []
    for order in (np.arange(m)[::-1], np.roll(np.arange(m), m // 2)):
        scrambled, silent = ref_feat[order], ref_speech[order]
        other = dtw(feat, scrambled, pen, np.where(silent, STEP_PENALTY, SILENT_STEP_PENALTY), band=_band(n, m))
        nulls.append(_path_cost(feat, scrambled, speech, silent, other))
    null = float(np.mean(nulls))
    return real / null if null > 0 else float("nan")


def _carve_pauses(segs, speech, duration, word_of):
    """Trim speech segments out of the recording's pauses (>= REST_PAUSE_S of non-speech):
    a phoneme starting inside a pause starts at its end, one ending inside ends at its
    start, one wholly inside goes to the edge where the rest of its word is (`word_of`:
    word index per segment, -1 for none). What is left between phonemes becomes "_" in
    `_finish`."""
    min_len = int(round(REST_PAUSE_S / F.HOP_S))
    speech = speech.copy()
    for s, e in true_runs(speech):          # clicks and noise blips do not interrupt a pause
        if e - s < BLIP_FRAMES:
            speech[s:e] = False
    pauses = [((s - 0.5) * F.HOP_S, (e - 0.5) * F.HOP_S) for s, e in true_runs(~speech) if e - s >= min_len]
    if not pauses:
        return segs
    by_word = {}
    for seg in segs:
        if seg[2] != PAUSE and word_of[seg[3]] >= 0:
            by_word.setdefault(word_of[seg[3]], []).append(seg)
    for seg in segs:
        if seg[2] == PAUSE:
            continue
        for ps, pe in pauses:
            if seg[1] <= ps or seg[0] >= pe:
                continue
            mates = [o for o in by_word.get(word_of[seg[3]], ()) if o is not seg]
            before = any(o[0] < ps for o in mates)
            after = any(o[1] > pe for o in mates)
            if seg[0] >= ps and seg[1] <= pe or before != after and (
                    seg[0] >= ps and not after or seg[1] <= pe and not before):
                # inside, or poking out on the side away from the rest of its word:
                # squeeze to the pause's edge next to its word
                if before != after:
                    t = ps if before else pe
                else:
                    t = pe if (pe - seg[1]) < (seg[0] - ps) else ps
                t = min(max(t, 0.0), duration)
                seg[0] = seg[1] = t
            elif seg[0] < ps and seg[1] > pe:       # spans the pause: keep its longer side
                if ps - seg[0] >= seg[1] - pe:
                    seg[1] = ps
                else:
                    seg[0] = pe
            elif seg[0] >= ps:
                seg[0] = pe
            elif seg[1] <= pe:
                seg[1] = ps
    return segs


def _finish(segs, duration):
    """Contiguous timeline: zero-length speech kept at MIN_PHONEME_S, gaps and espeak's
    own pauses as "_" (merged), starting at 0 and ending at `duration`.
    Returns (phonemes, {espeak phoneme index: (start, end)})."""
    speech = sorted((s for s in segs if s[2] != PAUSE), key=lambda s: (s[0], s[3]))
    t, out = 0.0, []
    for s in speech:                     # keep order and a minimum length
        start = max(s[0], t)
        end = max(s[1], start + MIN_PHONEME_S)
        out.append([start, end, s[2], s[3]])
        t = end
    if out and out[-1][1] > duration:    # pushed past the end: pull back from the end
        t = duration
        for s in reversed(out):
            s[1] = min(s[1], t)
            s[0] = min(s[0], s[1] - MIN_PHONEME_S)
            t = s[0]
    timeline, spans, t = [], {}, 0.0
    for start, end, label, k in out:
        if start - t > 1e-6:
            _add(timeline, t, start, PAUSE)
        _add(timeline, start, end, label)
        spans[k] = (start, end)
        t = end
    if duration - t > 1e-6 or not timeline:
        _add(timeline, t, duration, PAUSE)
    timeline[0].start = 0.0
    timeline[-1].end = duration
    return timeline, spans


def _add(timeline, start, end, label):
    if label == PAUSE and timeline and timeline[-1].label == PAUSE:
        timeline[-1].end = end
    else:
        timeline.append(TimedLabel(float(start), float(end), label))
