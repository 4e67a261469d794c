"""The text <-> time split of a long recording for segment-wise engines (engines/segments.py),
from the embedded aligner's words, on a real recording made long."""
import numpy as np

from shared_paths import LJ, LJ_TEXT, need
from unitaf_blender.core.audio_io import read_wav
from unitaf_blender.core.performance import TimedLabel
from unitaf_blender.engines import LipsyncRequest
from unitaf_blender.engines.segments import split_at_pauses, with_segments


def test_split_keeps_the_transcript_whole_and_cuts_at_pauses():
    transcript = "[happy] One two, three. Four five six!"
    words = [TimedLabel(0.0, 0.5, "One"), TimedLabel(0.5, 2.1, "two"), TimedLabel(2.8, 3.2, "three"),
             TimedLabel(3.3, 3.6, "Four"), TimedLabel(3.6, 3.9, "five"), TimedLabel(3.9, 4.3, "six")]
    segments = split_at_pauses(transcript, words)
    assert [s[2] for s in segments] == ["[happy] One two,", "three. Four five six!"]
    assert segments[0][:2] == (0.0, 2.1) and segments[1][:2] == (2.8, 4.3)


class _Segmented:
    wants_segments = True


def test_a_long_recording_gets_the_aligners_segments():
    audio, rate = read_wav(str(need(LJ)))
    gap = np.zeros(3 * rate, np.float32)
    long_audio = np.concatenate([audio, gap, audio])
    transcript = LJ_TEXT + ". " + LJ_TEXT + "."
    request = with_segments(_Segmented(), LipsyncRequest(audio=long_audio, sample_rate=rate, transcript=transcript))
    segments = request.options["segments"]
    assert len(segments) >= 2
    joined = " ".join(text for _, _, text in segments)
    assert joined.split() == transcript.split()                    # nothing lost or repeated
    starts = [s for s, _, _ in segments]
    assert starts == sorted(starts) and segments[-1][1] <= len(long_audio) / rate
    second = len(audio) / rate + 3.0                               # the second copy starts here
    assert any(abs(s - second) < 0.3 for s in starts)              # a cut at the 3 s pause
    short = LipsyncRequest(audio=audio, sample_rate=rate, transcript=LJ_TEXT)
    assert "segments" not in with_segments(_Segmented(), short).options   # short lines: one segment
    assert "segments" not in with_segments(object(), request.__class__(
        audio=long_audio, sample_rate=rate, transcript=transcript)).options   # engines that do not ask


def test_without_a_transcript_there_is_nothing_to_split():
    audio = np.random.default_rng(0).normal(0, 0.1, 20 * 16000).astype(np.float32)
    assert with_segments(_Segmented(), LipsyncRequest(audio=audio, sample_rate=16000)).options == {}


def test_the_segments_of_a_marked_up_transcript_hold_words_only():
    """Issue 19, item 6: SSML in a transcript never reaches a segment's text (it is read as text)."""
    audio, rate = read_wav(str(need(LJ)))
    long_audio = np.concatenate([audio, np.zeros(3 * rate, np.float32), audio])
    transcript = f'<speak>{LJ_TEXT}. <break time="3s"/> {LJ_TEXT} &amp; more.</speak>'
    segments = with_segments(_Segmented(), LipsyncRequest(audio=long_audio, sample_rate=rate,
                                                          transcript=transcript)).options["segments"]
    joined = " ".join(text for _, _, text in segments)
    assert "<" not in joined and "&amp;" not in joined
    assert joined.split() == f"{LJ_TEXT}. {LJ_TEXT} & more.".split()
