"""Blinks like a person's: when they come, how long they last, how deep they close.

When. People talking blink about 10-30 times a minute (Bentivoglio et al. 1997: ~26/min in
conversation), faster when aroused, slower when calm or attentive. Blinks are not a clock:
they cluster where the speaker starts a phrase or pauses, go with large gaze shifts
(Evinger et al. 1994), and seldom fall on a stressed syllable. So:

1. anchors: a phrase start (probability 0.55, up to 0.2 s before its onset), the middle of a
   pause longer than 0.5 s (0.5), a large gaze shift (0.4, with the saccade);
2. between anchors a renewal process fills in (gamma intervals, shape 3, mean 60 /
   BLINKS_PER_MINUTE s scaled by the emotion); an anchor that comes first pre-empts it;
3. a blink that would peak on a pitch accent moves to the quietest moment within 0.3 s.
   Blinks stay MIN_BLINK_GAP_S apart except double blinks; a take of ALWAYS_BLINK_S or more that
   drew none gets one (at an anchor when there is one).

How long. Closing 60-100 ms, a closed hold (mostly under 40 ms, 30 % 40-120 ms, 6 % long
blinks of 200-400 ms), opening slower (lognormal, median 190 ms); 7 % are double blinks. The
closure peaks on a frame, so a 30 fps track never misses it. No blink starts in the first
or ends in the last BLINK_FREE_EDGE_S of a take, so a take's first and last frames stay open-eyed.

The random draws come from the caller's generator (seeded by seed and line, upper_face.py).
"""
import numpy as np

from .signal import gesture

BLINKS_PER_MINUTE = 11.0
MIN_BLINK_GAP_S = 0.6
BLINK_FREE_EDGE_S = 0.2
P_PHRASE_START, P_PAUSE, P_GAZE = 0.6, 0.5, 0.3
LONG_PAUSE_S = 0.5
BIG_SACCADE = 0.05         # radians of gaze change that count as a large shift
P_DOUBLE, P_LONG = 0.07, 0.06
ALWAYS_BLINK_S = 2.5       # a take at least this long has a blink


def blink_times(duration, rate_factor, fps, rng, cues=None, gaze_shifts=()):
    """Peak times (s) of the blinks of a take of `duration` s; rate_factor [T] scales the rate."""
    n = len(rate_factor)
    anchors = []
    if cues is not None:
        for i, ph in enumerate(cues.phrases):
            if rng.random() < P_PHRASE_START:
                anchors.append(ph.start / fps - rng.uniform(0.0, 0.2))
            if i + 1 < len(cues.phrases):
                gap = (cues.phrases[i + 1].start - ph.end) / fps
                if gap > LONG_PAUSE_S and rng.random() < P_PAUSE:
                    anchors.append((ph.end / fps + cues.phrases[i + 1].start / fps) / 2 + rng.normal(0, 0.08))
    for frame, size in gaze_shifts:
        if size > BIG_SACCADE and rng.random() < P_GAZE:
            anchors.append(frame / fps + rng.uniform(-0.03, 0.05))
    anchors = sorted(anchors)
    mean_s = 60.0 / BLINKS_PER_MINUTE
    peaks, last = [], -rng.uniform(0.0, mean_s)      # the previous blink fell before the take
    while True:
        f = rate_factor[min(max(int(round(last * fps)), 0), n - 1)] if n else 1.0
        nxt = last + max(MIN_BLINK_GAP_S, rng.gamma(3.0, mean_s / 3.0) / f)
        early = [a for a in anchors if last + MIN_BLINK_GAP_S <= a <= nxt]
        t = early[0] if early else nxt
        if t > duration:
            break
        peaks.append(t)
        last = t
    lo, hi = BLINK_FREE_EDGE_S + 0.1, duration - BLINK_FREE_EDGE_S - 0.4
    peaks = [t for t in peaks if lo <= t <= hi]
    if not peaks and duration >= ALWAYS_BLINK_S:   # a face on screen this long blinks once at least
        inside = [a for a in anchors if lo <= a <= hi]
        peaks = [inside[rng.integers(len(inside))] if inside else rng.uniform(lo, hi)]
    if cues is not None and len(cues.accents):
        peaks = [_off_accent(t, cues.accents, fps, rng) for t in peaks]
    return [t for t in peaks if lo <= t <= hi]


def _off_accent(t, accents, fps, rng):
    """A blink peaking on an accent moves to a quiet frame within 0.3 s, drawn with a preference
    for near ones: always the quietest frame would put every line's first blink on the same
    frame before its first accent (a cut dialogue blinking in step)."""
    k = int(round(t * fps))
    if not 0 <= k < len(accents) or accents[k] <= 0.5:
        return t
    r = int(0.3 * fps)
    lo, hi = max(k - r, 0), min(k + r + 1, len(accents))
    quiet = np.flatnonzero(accents[lo:hi] <= 0.5) + lo
    if not len(quiet):
        return (lo + int(np.argmin(accents[lo:hi]))) / fps
    near = np.exp(-np.abs(quiet - k) / (0.1 * fps))
    return int(rng.choice(quiet, p=near / near.sum())) / fps


def blink_track(emotions, rate_multipliers, fps, rng, cues=None, gaze_shifts=()):
    """Blinks [T] in [0, 1] (1 = closed). emotions [T, 8]; rate_multipliers [8] at full intensity."""
    n = len(emotions)
    out = np.zeros(n, np.float64)
    if n == 0:
        return out
    factor = np.clip(1.0 + emotions @ (np.asarray(rate_multipliers) - 1.0), 0.3, 3.0)
    duration = (n - 1) / fps
    peaks = []
    for t in blink_times(duration, factor, fps, rng, cues, gaze_shifts):
        peaks.append(t)
        if rng.random() < P_DOUBLE:
            peaks.append(t + rng.uniform(0.25, 0.4))
    limit = duration - BLINK_FREE_EDGE_S
    for peak in peaks:
        _add_blink(out, peak, fps, rng, limit)
    return out


def _add_blink(out, peak, fps, rng, limit):
    """One blink peaking at `peak` s, eyes open again by `limit` s (or no blink)."""
    close_s = rng.uniform(0.06, 0.1)
    u = rng.random()
    hold_s = rng.uniform(0.2, 0.4) if u < P_LONG else rng.uniform(0.04, 0.12) if u < 0.36 else rng.uniform(0, 0.04)
    open_s = float(np.clip(rng.lognormal(np.log(0.19), 0.3), 0.12, 0.4))
    if peak + open_s > limit:
        return
    hold_s = min(hold_s, limit - peak - open_s)
    depth = rng.uniform(0.92, 1.0)
    peak_frame = int(round(peak * fps))       # the closure peaks on a frame
    np.maximum(out, gesture(len(out), fps, [peak_frame], [depth], lead_s=close_s, hold_s=hold_s, release_s=open_s),
               out=out)
