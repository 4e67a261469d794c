"""The text <-> time split of a long recorded line, for engines that work segment by segment.

The UniTAF engine teacher-forces its GPT on each stretch of a recording with the words said in
it, so a long recording must be cut at pauses with the transcript cut to match. The embedded
engine's forced aligner knows where every word is, so it gives that split (an engine never
imports another: this module asks the registry for the embedded engine). Without it the
UniTAF engine falls back to splitting the transcript in proportion to the voiced time.
"""
from dataclasses import replace

from ..core.markup import without_markup
from . import EngineUnavailable, LipsyncRequest, get_engine

SPLIT_ABOVE_S = 15.0      # shorter lines are one segment anyway
WORD_GAP_S = 0.25         # a gap between words this long is a place to cut
SHORTEST_CUT_S = 2.0      # never cut a segment shorter than this
LONGEST_CUT_S = 15.0      # ... and always cut before it grows past this


def with_segments(engine, request: LipsyncRequest, cancel=None) -> LipsyncRequest:
    """`request` with options["segments"] from the aligner when `engine` works segment by
    segment (it says so with `wants_segments`) and the line is long; else unchanged."""
    if not getattr(engine, "wants_segments", False) or "segments" in request.options:
        return request
    segments = aligned_segments(request, cancel)
    if segments is None:
        return request
    return replace(request, options=dict(request.options, segments=segments))


def aligned_segments(request: LipsyncRequest, cancel=None):
    """[(start_s, end_s, text)] covering the transcript, cut at pauses between aligned words,
    or None when the line is short, has no transcript, or the aligner is not installed."""
    seconds = len(request.audio) / request.sample_rate
    if not request.transcript or seconds <= SPLIT_ABOVE_S:
        return None
    try:
        aligner = get_engine("embedded")
    except EngineUnavailable:
        return None
    checked = aligner.check_lipsync(LipsyncRequest(
        audio=request.audio, sample_rate=request.sample_rate, transcript=request.transcript,
        language=request.language, source=request.source))
    words = aligner.lipsync(checked.request, None, cancel).words
    if not words:
        return None
    # the segments are read as text: the SSML markup must not reach them (a recording needs no pauses)
    return split_at_pauses(without_markup(request.transcript), words)


def split_at_pauses(transcript, words):
    """Group aligned words (TimedLabel) into segments cut at pauses; each segment's text is the
    transcript's own slice (tags and punctuation kept), so nothing is lost or repeated."""
    positions, cursor, lower = [], 0, transcript.lower()
    for word in words:   # where each word starts in the transcript, in order
        found = lower.find(word.label.lower(), cursor)
        positions.append(found if found >= 0 else cursor)
        cursor = positions[-1] + (len(word.label) if found >= 0 else 0)
    groups, first = [], 0
    for k in range(1, len(words) + 1):
        at_end = k == len(words)
        length = words[k - 1].end - words[first].start
        pause = not at_end and words[k].start - words[k - 1].end >= WORD_GAP_S
        too_long = not at_end and words[k].end - words[first].start > LONGEST_CUT_S
        if at_end or (pause and length >= SHORTEST_CUT_S) or too_long:
            groups.append((first, k))
            first = k
    segments = []
    for n, (a, b) in enumerate(groups):
        start_char = 0 if n == 0 else positions[a]
        end_char = len(transcript) if n == len(groups) - 1 else positions[b]
        text = transcript[start_char:end_char].strip()
        if text:
            segments.append((float(words[a].start), float(words[b - 1].end), text))
    return segments
