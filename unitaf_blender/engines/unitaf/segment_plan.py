"""A recorded line for the ground-truth-token path, without torch: the aligner's segments checked,
pauses, and the plan of segments (audio span + transcript text) the GPT is teacher-forced on one
at a time (the recording itself is checked by core.recording).

Why segments: the GPT has a fixed number of code and text positions (1815 codes = 36 s in the
official model), so a long recording is cut at pauses, at least `min_gap_s` of speech apart,
and the transcript is split to match: by the integrator's aligner when it gives
`options["segments"]`, else in proportion to the voiced time, at sentence or phrase punctuation.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ...core.emotion import parse_script
from ...core.signal import true_runs

HOP_S = 0.01                               # energy frames of the pause detector
STOP_CLOSURE_S = 0.08                      # a gap shorter than a stop closure is not a pause
EDGE_MARGIN_S = 0.2                        # speech kept around the trimmed leading/trailing silence
MIN_GAP_S = 2.0                            # cuts at least this much speech apart
PUNCT_PULL_S = 0.6                         # how far (speech time) a cut moves to reach punctuation
MAX_SEGMENT_S = 20.0                       # default cap; the GPT's code limit may lower it
_PUNCT = ".!?;:,…。！？；：，、"
_CJK = re.compile(r"[\u1100-\u11ff\u2e80-\ua4cf\ua840-\ud7af\uf900-\ufaff\ufe30-\ufe4f\uff65-\uffdc]")


# ------------------------------------------------------------------------------- checks

@dataclass
class GivenSegment:
    start: float        # seconds from the recording's first sample
    end: float
    text: str


def check_segments(value, duration: float) -> Optional[list]:
    """options["segments"] (list of (start_s, end_s, text), e.g. from an aligner) -> [GivenSegment]
    sorted, inside the recording and not overlapping; None when absent. ValueError otherwise."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("option segments must be a non-empty list of (start_s, end_s, text)")
    out = []
    for i, item in enumerate(value):
        try:
            start, end, text = item
            start, end = float(start), float(end)
        except (TypeError, ValueError):
            raise ValueError(f"segments[{i}] must be (start_s, end_s, text), got {item!r}") from None
        if not isinstance(text, str) or not any(c.isalnum() for c in text):
            raise ValueError(f"segments[{i}] has no speakable text: {text!r}")
        if not (math.isfinite(start) and math.isfinite(end) and 0.0 <= start < end):
            raise ValueError(f"segments[{i}] must have 0 <= start < end, got {start}..{end}")
        if start >= duration:
            raise ValueError(f"segments[{i}] starts at {start:.2f} s, after the recording's end ({duration:.2f} s)")
        out.append(GivenSegment(start, min(end, duration), text))
    out.sort(key=lambda s: s.start)
    for a, b in zip(out, out[1:]):
        if b.start < a.end - 1e-3:
            raise ValueError(f"segments overlap: {a.start:.2f}..{a.end:.2f} s and {b.start:.2f}..{b.end:.2f} s")
    return out


# ------------------------------------------------------------------------------- pauses

@dataclass
class Activity:
    """Voiced/silent 10 ms frames of a recording (energy threshold)."""
    voiced: np.ndarray      # bool [F]
    level_db: np.ndarray    # float [F] frame energy
    hop: int                # samples per frame
    n_samples: int
    sample_rate: int


def speech_activity(audio: np.ndarray, sample_rate: int) -> Activity:
    """Frame energy in dB against an adaptive threshold: 40 dB under the loud frames, or a third
    of the way from the noise floor to them when the floor is high (room tone, hiss)."""
    hop = max(1, int(round(HOP_S * sample_rate)))
    n = len(audio)
    frames = max(1, -(-n // hop))
    x = np.zeros(frames * hop, np.float64)
    x[:n] = audio
    energy = (x.reshape(frames, hop) ** 2).mean(1)
    db = 10 * np.log10(energy + 1e-12)
    loud, floor = np.percentile(db, 95), np.percentile(db, 5)
    threshold = max(loud - 40.0, floor + (loud - floor) / 3.0)
    voiced = db > threshold
    # bridge gaps shorter than a pause (plosive closures) so they are not cut at
    short = int(round(STOP_CLOSURE_S / HOP_S))
    runs = true_runs(~voiced)
    for a, b in runs:
        if b - a < short and a > 0 and b < frames:
            voiced[a:b] = True
    return Activity(voiced, db, hop, n, int(sample_rate))


def voiced_span(act: Activity) -> tuple:
    """(first, last) sample of the speech with EDGE_MARGIN_S kept around it."""
    idx = np.flatnonzero(act.voiced)
    if len(idx) == 0:
        return 0, act.n_samples
    margin = int(EDGE_MARGIN_S / HOP_S)
    a = max(0, idx[0] - margin) * act.hop
    b = min(len(act.voiced), idx[-1] + 1 + margin) * act.hop
    return int(a), int(min(b, act.n_samples))


def voiced_seconds(act: Activity, start: int, end: int) -> float:
    a, b = start // act.hop, -(-end // act.hop)
    return float(act.voiced[a:b].sum()) * act.hop / act.sample_rate


def _cut_points(act: Activity, start: int, end: int, max_len: int, min_gap: int) -> list:
    """Sample positions that cut [start, end) into pieces of at most `max_len`: greedily the
    longest pause (its middle) in the window [p + min_gap, p + max_len], later on ties; the
    quietest frame there when the window has no pause."""
    cuts, p = [], start
    pauses = [((a + b) // 2 * act.hop, b - a) for a, b in true_runs(~act.voiced)]
    while end - p > max_len:
        lo, hi = p + min(min_gap, max_len // 2), p + max_len
        inside = [(length, c) for c, length in pauses if lo <= c <= hi]
        if inside:
            cut = max(inside)[1]
        else:
            f0, f1 = lo // act.hop, max(lo // act.hop + 1, hi // act.hop)
            cut = (f0 + int(np.argmin(act.level_db[f0:f1]))) * act.hop
        cut = int(min(max(cut, p + 1), hi))
        cuts.append(cut)
        p = cut
    return cuts


# ------------------------------------------------------------------------------- transcript

@dataclass
class Transcript:
    """The transcript without its emotion tags (spans joined by one space) and the emotion of
    each character range: text[change[k]:] has emotions[k] until the next change."""
    text: str
    changes: list           # char offsets, ascending, first 0
    emotions: list          # float32 [8] each

    def emotion_at(self, char: int) -> np.ndarray:
        k = int(np.searchsorted(self.changes, char, side="right")) - 1
        return self.emotions[max(k, 0)]


def parse_transcript(transcript: str, default_emotion) -> Transcript:
    parts, changes, emotions, pos = [], [], [], 0
    for span in parse_script(transcript, default_emotion):
        text = " ".join(span.text.split())
        if parts:
            pos += 1
        changes.append(pos)
        emotions.append(np.asarray(span.emotion, np.float32))
        parts.append(text)
        pos += len(text)
    return Transcript(" ".join(parts), changes, emotions)


def _weight(text: str) -> float:
    """Speaking time of text, roughly: letters/digits, a CJK character as three letters."""
    return float(sum(3 if _CJK.match(c) else 1 for c in text if c.isalnum()))


def _boundaries(text: str) -> tuple:
    """Positions where the text may be cut: after punctuation (preferred), between words, and
    between CJK characters (no spaces there)."""
    punct, word = [], []
    for i in range(1, len(text)):
        a, b = text[i - 1], text[i]
        if a in _PUNCT and (b.isspace() or _CJK.match(b) or b in "'\"”’)"):
            punct.append(i)
        elif a.isspace() or _CJK.match(a) or _CJK.match(b):
            word.append(i)
    return punct, word


def split_text(text: str, shares: Sequence[float], tolerance: float = 0.1) -> list:
    """Cut `text` into len(shares) non-empty pieces whose speaking weights follow `shares`: each
    cut at the punctuation nearest its target if within `tolerance` of the whole, else at the
    nearest word. Returns char offsets [(start, end)]; ValueError if the text has too few words."""
    n = len(shares)
    if n == 1:
        return [(0, len(text))]
    punct, word = _boundaries(text)
    prefix = np.cumsum([0.0] + [_weight(c) for c in text])
    total = prefix[-1] or 1.0
    # one candidate per amount of text before it (punctuation preferred), so consecutive
    # candidates always have something to say between them
    by_weight = {}
    for c in sorted(word) + sorted(punct):
        if 0 < prefix[c] < total:
            by_weight[prefix[c]] = c
    cands = [by_weight[w] for w in sorted(by_weight)]
    is_punct = set(punct)
    if len(cands) < n - 1:
        raise ValueError(f"the transcript {text[:40]!r} has too few words for {n} segments")
    cum = np.cumsum(shares)[:-1] / float(np.sum(shares))
    cuts, lo = [], 0
    for k, f in enumerate(cum):
        ok = cands[lo:len(cands) - (n - 2 - k)]     # leave one candidate for each later cut
        dist = np.abs(prefix[ok] / total - f)
        best = int(np.argmin(dist))
        pun = [j for j, c in enumerate(ok) if c in is_punct]
        if pun:
            j = min(pun, key=lambda j: dist[j])
            if dist[j] <= tolerance:
                best = j
        cuts.append(ok[best])
        lo += best + 1
    edges = [0] + cuts + [len(text)]
    return [(a, b) for a, b in zip(edges, edges[1:])]


def _locate(plain: str, piece: str, cursor: int) -> Optional[tuple]:
    """Char range of `piece` in `plain` at or after `cursor` (case and spacing ignored)."""
    words = piece.split()
    if not words:
        return None
    pattern = r"\s+".join(re.escape(w) for w in words)
    m = re.compile(pattern, re.IGNORECASE).search(plain, cursor)
    return (m.start(), m.end()) if m else None


# ------------------------------------------------------------------------------- plan

@dataclass
class PlannedSegment:
    start: int              # first sample (recording rate)
    end: int                # one past the last sample
    text: str               # what the GPT is teacher-forced on
    emotion: np.ndarray     # float32 [8]
    char_start: int = -1    # range in Transcript.text (-1: given text not found in the transcript)
    char_end: int = -1


def plan_segments(audio: np.ndarray, sample_rate: int, transcript: Transcript, given=None,
                  max_seconds: float = MAX_SEGMENT_S, min_gap_s: float = MIN_GAP_S) -> list:
    """The segments of a recording: `given` (GivenSegment list, from an aligner) or the voiced
    span with the whole transcript; each longer than `max_seconds` cut at pauses, its text split
    in proportion to the voiced time of the pieces."""
    act = speech_activity(audio, sample_rate)
    spans = []
    if given:
        cursor = 0
        for g in given:
            where = _locate(transcript.text, g.text, cursor)
            if where:
                cursor = where[1]
            spans.append((int(round(g.start * sample_rate)), int(round(g.end * sample_rate)),
                          " ".join(g.text.split()), where))
    else:
        a, b = voiced_span(act)
        spans.append((a, b, transcript.text, (0, len(transcript.text))))
    max_len = max(1, int(max_seconds * sample_rate))
    out = []
    for start, end, text, where in spans:
        edges = [start] + _cut_points(act, start, end, max_len, int(min_gap_s * sample_rate)) + [end]
        shares = [max(voiced_seconds(act, a, b), 1e-3) for a, b in zip(edges, edges[1:])]
        # punctuation may pull a cut by about half a second of speech, not more
        pieces = split_text(text, shares, tolerance=min(0.1, PUNCT_PULL_S / sum(shares)))
        for (a, b), (c0, c1) in zip(zip(edges, edges[1:]), pieces):
            piece = text[c0:c1].strip()
            lead = len(text[c0:c1]) - len(text[c0:c1].lstrip())
            if where:
                cs = where[0] + c0 + lead
                out.append(PlannedSegment(a, b, piece, transcript.emotion_at(cs), cs, cs + len(piece)))
            else:
                emotion = transcript.emotion_at(out[-1].char_end if out and out[-1].char_end >= 0 else 0)
                out.append(PlannedSegment(a, b, piece, emotion))
    return out


def emotion_timeline(segments: Sequence[PlannedSegment], transcript: Transcript, sample_rate: int) -> tuple:
    """(times [K] s, vectors [K, 8]): each segment's emotion from its start (the first from 0),
    plus every tag inside a segment at the time its character falls on (proportional)."""
    times, vectors = [], []
    for i, seg in enumerate(segments):
        times.append(0.0 if i == 0 else seg.start / sample_rate)
        vectors.append(seg.emotion)
        if seg.char_start < 0:
            continue
        for c, emo in zip(transcript.changes, transcript.emotions):
            if seg.char_start < c < seg.char_end:
                frac = (c - seg.char_start) / max(1, seg.char_end - seg.char_start)
                times.append((seg.start + frac * (seg.end - seg.start)) / sample_rate)
                vectors.append(emo)
    return np.asarray(times, np.float32), np.asarray(vectors, np.float32).reshape(-1, 8)
