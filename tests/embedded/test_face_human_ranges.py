"""The face moves like a person's: the team's bar, measured on whole face tracks with
../shared/tools/face_stats.py against the real iPhone capture in ../shared/assets/performances.

The takes are bench/face_takes.py's: four `generate` takes (two lines, neutral and angry) and two
`lipsync` takes (LJ001-0001, jfk), pooled as face_stats pools them (README, "Embedded engine")."""
import pathlib

import pytest
from helpers import load_script

from shared_paths import ROOT, SHARED, need


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    stats = load_script(need(SHARED / "tools" / "face_stats.py"))
    need(SHARED / "assets" / "audio" / "jfk.wav")
    takes = load_script(ROOT / "bench" / "face_takes.py")
    paths = takes.make_takes(tmp_path_factory.mktemp("takes"), seed=0, shared=SHARED)
    per_take = [stats.measure(stats.load_npz(str(p))) for p in paths]
    human = stats.measure(stats.load_livelink(str(need(pathlib.Path(stats.HUMAN)))))
    return human, stats.pool(per_take), per_take


def ratio(measured, group, metric):
    human, pooled, _ = measured
    return pooled["groups"][group][metric] / human["groups"][group][metric]


def test_lips_raise_and_lower_at_human_levels(measured):
    assert ratio(measured, "lip raise/lower", "p95") >= 0.5


def test_cheeks_and_squints_move_and_are_active(measured):
    assert ratio(measured, "squint/cheek", "speed") >= 0.3
    assert ratio(measured, "squint/cheek", "active") >= 0.5


def test_smile_frown_and_brows_move_with_speech(measured):
    assert ratio(measured, "smile/frown", "speed") >= 0.5
    assert ratio(measured, "brows", "speed") >= 0.6


def test_lips_seal_by_mouth_close_over_an_open_jaw_without_pinching(measured):
    _, pooled, per_take = measured
    closures = pooled["closures"]
    assert closures["close_p95"] >= 0.25
    assert closures["jaw_when_closed"] >= 0.1
    assert closures["press_p95"] <= 0.25
    bilabials = pooled["bilabials"]
    assert bilabials["n"] >= 30 and bilabials["closed"] == bilabials["n"]


def test_jaw_keeps_its_human_speed_and_follows_the_voice(measured):
    assert 0.7 <= ratio(measured, "jaw", "speed") <= 1.4
    assert measured[1]["jaw_audio"]["r"] >= 0.6


def test_blinks_vary_and_lines_do_not_blink_in_step(measured):
    _, pooled, per_take = measured
    durations = sorted(pooled["blinks"]["dur_ms"])
    assert len(durations) >= 12
    p10, p50, p90 = (durations[int(q * (len(durations) - 1))] for q in (0.1, 0.5, 0.9))
    assert p90 - p10 >= 60 and 100 <= p50 <= 400, durations
    assert 10 <= pooled["blinks"]["per_min"] <= 35
    # same seed, different lines: no two takes blink on the same beat
    times = [tuple(t for t, _ in take["blinks"]) for take in per_take]
    assert all(times) and len(set(times)) == len(times), times
    # in step = most blinks of one take within 2 frames of a blink of another (a shared phrase
    # onset may put one pair of blinks together; a clock puts them all together)
    for i, a in enumerate(times):
        for b in times[i + 1:]:
            together = sum(any(abs(t - u) <= 2 / 30 for u in b) for t in a)
            assert together <= len(a) / 2, (a, b)
    firsts = [take["blinks"][0][0] for take in per_take]
    assert len(set(firsts)) >= len(firsts) - 1, firsts
