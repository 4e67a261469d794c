"""segment_plan.py (no torch): the aligner's segments checked, the pause detector and the segment
plan the ground-truth-token path runs the GPT on."""
import numpy as np
import pytest

from unitaf_blender.core.signal import true_runs
from unitaf_blender.engines.unitaf import segment_plan as rec

SR = 16000


def bursts(seconds, gap=0.5, sr=SR, seed=0):
    """Noise bursts (speech stand-ins) of the given lengths separated by `gap` s of near-silence;
    -> (audio, [(start, end) samples of each burst])."""
    rng = np.random.default_rng(seed)
    parts, spans, pos = [], [], 0
    for i, s in enumerate(seconds):
        if i:
            parts.append(rng.normal(0, 1e-5, int(gap * sr)))
            pos += int(gap * sr)
        n = int(s * sr)
        parts.append(0.3 * rng.normal(0, 1, n) * (0.6 + 0.4 * np.sin(np.arange(n) / sr * 2 * np.pi * 4)))
        spans.append((pos, pos + n))
        pos += n
    return np.concatenate(parts).astype(np.float32), spans


def test_check_segments():
    got = rec.check_segments([(3.0, 5.0, "later"), (0.0, 2.0, "first"), (5.0, 99.0, "end")], 10.0)
    assert [(g.start, g.end, g.text) for g in got] == [(0.0, 2.0, "first"), (3.0, 5.0, "later"), (5.0, 10.0, "end")]
    assert rec.check_segments(None, 10.0) is None
    for bad, match in [([], "non-empty"), ([(0, 1)], "start_s, end_s, text"), ([(2, 1, "a")], "start < end"),
                       ([(0, 1, "...")], "speakable"), ([(11, 12, "a")], "after the recording"),
                       ([(0, 2, "a"), (1, 3, "b")], "overlap")]:
        with pytest.raises(ValueError, match=match):
            rec.check_segments(bad, 10.0)


def test_pauses_and_trimmed_edges():
    audio, spans = bursts([1.0, 1.5, 1.0], gap=0.4)
    audio = np.concatenate([np.zeros(SR, np.float32), audio, np.zeros(SR, np.float32)])
    act = rec.speech_activity(audio, SR)
    pauses = [(a * act.hop / SR, b * act.hop / SR) for a, b in true_runs(~act.voiced)]
    inner = [p for p in pauses if 0 < p[0] and p[1] < len(audio) / SR - 0.05]
    assert [round(b - a, 1) for a, b in inner] == [0.4, 0.4]
    a, b = rec.voiced_span(act)
    assert abs(a / SR - (1.0 - rec.EDGE_MARGIN_S)) < 0.02 and abs(b / SR - (len(audio) / SR - 1.0 + rec.EDGE_MARGIN_S)) < 0.02
    assert abs(rec.voiced_seconds(act, 0, len(audio)) - 3.5) < 0.05


def test_long_recording_is_cut_at_pauses_within_the_cap():
    audio, spans = bursts([2.5, 2.5, 1.0, 2.5, 2.5], gap=0.5)
    text = "One two three, four five six. Seven, eight nine ten. Eleven twelve."
    t = rec.parse_transcript(text, None)
    plan = rec.plan_segments(audio, SR, t, max_seconds=6.0)
    assert len(plan) >= 3
    assert plan[0].start == 0 or plan[0].start < spans[0][0] + rec.EDGE_MARGIN_S * SR
    for a, b in zip(plan, plan[1:]):
        assert a.end == b.start
        # every cut lies in a pause between two bursts, and cuts are >= MIN_GAP_S apart
        assert any(e <= a.end <= s for (_, e), (s, _) in zip(spans, spans[1:])), a.end / SR
    for seg in plan:
        assert (seg.end - seg.start) / SR <= 6.0
        assert seg.text and seg.text == t.text[seg.char_start:seg.char_end]
    assert all((b.start - a.start) / SR >= rec.MIN_GAP_S for a, b in zip(plan, plan[1:]))
    assert " ".join(s.text for s in plan) == t.text          # nothing lost, nothing repeated
    # a short recording is one segment holding the whole transcript
    one = rec.plan_segments(audio[:3 * SR], SR, t, max_seconds=6.0)
    assert len(one) == 1 and one[0].text == t.text


def test_split_text_prefers_punctuation_near_the_target():
    text = "Alpha beta gamma, delta epsilon zeta eta theta iota kappa lambda."
    (a0, a1), (b0, b1) = rec.split_text(text, [1, 3], tolerance=0.1)
    assert text[a0:a1] == "Alpha beta gamma,"                        # 17/64 of the letters ~ 1/4
    (a0, a1), _ = rec.split_text(text, [1, 1], tolerance=0.1)
    assert text[a0:a1].strip() in ("Alpha beta gamma, delta epsilon zeta", "Alpha beta gamma, delta epsilon")
    zh = "你好世界。我们走吧"
    assert [zh[a:b].strip() for a, b in rec.split_text(zh, [1, 1])] == ["你好世界。", "我们走吧"]
    assert len(rec.split_text("a b c", [1, 1, 1])) == 3
    with pytest.raises(ValueError, match="too few words"):
        rec.split_text("Hello", [1, 1])


def test_given_segments_take_the_transcripts_emotions():
    audio, _ = bursts([2.0, 2.0], gap=0.5)
    t = rec.parse_transcript("[happy] Good morning everyone. [sad] I have news.", "calm:0.5")
    given = rec.check_segments([(0.0, 2.1, "good  morning everyone."), (2.4, 4.5, "I have news.")], len(audio) / SR)
    plan = rec.plan_segments(audio, SR, t, given)
    assert [p.text for p in plan] == ["good morning everyone.", "I have news."]
    assert plan[0].emotion[0] == 1.0 and plan[1].emotion[2] == 1.0          # happy, then sad
    assert plan[1].start == int(round(2.4 * SR))
    times, vectors = rec.emotion_timeline(plan, t, SR)
    np.testing.assert_allclose(times, [0.0, 2.4])
    # a tag inside one segment lands at the time its character falls on
    one = rec.plan_segments(audio, SR, t, max_seconds=30)
    times, vectors = rec.emotion_timeline(one, t, SR)
    assert len(times) == 2 and 0.5 < times[1] < 3.5 and vectors[1][2] == 1.0
