import math

import numpy as np
import pytest
from helpers import csv_without_columns

from shared_paths import ASSETS, need
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.core.livelink import (
    LiveLinkError,
    parse_timecode,
    read_livelink_csv,
    split_timecode,
    timecode_seconds,
)

PERF = ASSETS / "performances"


@pytest.mark.parametrize("name,fps,duration,jaw_peak,blink_peak,rows", [
    ("MySlate_3_Jason_Millers_iPhone.csv", 60.0, 5.45, 0.82, 0.89, 328),
    ("alex_rom_3.csv", 30.0, 134.4, 0.95, 0.99, 4030),
])
def test_real_takes(name, fps, duration, jaw_peak, blink_peak, rows):
    path = need(PERF / name)
    p = read_livelink_csv(path)
    assert p.fps == fps
    assert p.channels == ARKIT_52 + HEAD_EYE_ROTATIONS
    assert p.weights.dtype == np.float32 and p.weights.shape == (p.n_frames, 61)
    assert p.duration == pytest.approx(duration, abs=0.05)
    assert p.channel("jawOpen").max() == pytest.approx(jaw_peak, abs=0.01)
    assert p.channel("eyeBlinkLeft").max() == pytest.approx(blink_peak, abs=0.01)
    assert len(p.audio) == 0 and p.sample_rate == 48000
    assert p.meta["engine"] == "livelink_csv" and p.meta["source"] == str(path)
    assert p.meta["rows"] == rows
    # the grid covers the timecode span: first row at frame 0, last row at the last frame
    first, last = _first_last_timecodes(path)
    assert p.meta["timecode_start"] == first
    span = parse_timecode(last) - parse_timecode(first)
    assert p.n_frames == round(span * fps) + 1
    raw = _raw_column(path, "JawOpen")
    assert p.channel("jawOpen")[0] == pytest.approx(raw[0], abs=1e-6)
    # the last frame is within half a frame of the last row (phone clocks drift sub-frame)
    lo, hi = sorted(raw[-2:])
    assert lo - 1e-6 <= p.channel("jawOpen")[-1] <= hi + 1e-6


def test_alex_rom_gaps_are_filled_at_30fps():
    p = read_livelink_csv(need(PERF / "alex_rom_3.csv"))
    assert p.meta["frames_filled"] == 3        # 3 timecode gaps of 4 (60 fps) = 3 missing 30 fps rows
    assert p.n_frames == 4032
    assert p.channel("leftEyeYaw").min() == pytest.approx(-0.6, abs=0.02)  # rotations keep their sign


def _first_last_timecodes(path):
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    return lines[1].split(",")[0], lines[-1].split(",")[0]


def _raw_column(path, column):
    lines = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
    i = lines[0].index(column)
    return [float(r[i]) for r in lines[1:]]


# --- synthetic files ---

HEADER = ["Timecode", "BlendShapeCount"] + [c[0].upper() + c[1:] for c in ARKIT_52] + \
         [c[0].upper() + c[1:] for c in HEAD_EYE_ROTATIONS]


def _tc(frame60):
    """Timecode string for a (fractional) 60 fps frame count since 01:00:00:00."""
    seconds, ff = divmod(frame60, 60)
    s = int(seconds)
    return "01:%02d:%02d:%06.3f" % (s // 60, s % 60, ff)


def _write(tmp_path, rows, header=HEADER, name="take.csv"):
    path = tmp_path / name
    path.write_text("\n".join([",".join(header)] + [",".join(map(str, r)) for r in rows]) + "\n")
    return path


def _row(frame60, jaw):
    values = [0.0] * 61
    values[HEADER.index("JawOpen") - 2] = jaw
    return [_tc(frame60), 61] + values


def test_synthetic_rate_detection_and_gap_fill(tmp_path):
    # 30 fps data on a 60 fps timecode; the row for 30 fps frame 3 is missing
    frames = [0, 1, 2, 4, 5]
    path = _write(tmp_path, [_row(2 * f, 0.1 * f) for f in frames])
    p = read_livelink_csv(path)
    assert p.fps == 30.0 and p.n_frames == 6
    assert np.allclose(p.channel("jawOpen"), [0, 0.1, 0.2, 0.3, 0.4, 0.5], atol=1e-6)
    assert p.meta["frames_filled"] == 1
    # 60 fps data with a slightly drifting sub-frame clock still reads as 60
    path = _write(tmp_path, [_row(7.867 + 1.0006 * i, 0.0) for i in range(50)], name="b.csv")
    assert read_livelink_csv(path).fps == 60.0


def test_timecode_over_midnight(tmp_path):
    rows = [["23:59:59:58.000", 61] + [0.0] * 61, ["23:59:59:59.000", 61] + [0.5] * 61,
            ["00:00:00:00.000", 61] + [1.0] * 61]
    p = read_livelink_csv(_write(tmp_path, rows))
    assert p.fps == 60.0 and p.n_frames == 3
    assert np.allclose(p.channel("jawOpen"), [0, 0.5, 1])


def test_parse_timecode():
    assert parse_timecode("00:00:01:30.000") == pytest.approx(1.5)
    assert parse_timecode("01:02:03:06.500") == pytest.approx(3723 + 6.5 / 60)
    for bad in ("1:2:3", "aa:00:00:00.0", "00:00:00:61.0", "00:61:00:00.0"):
        with pytest.raises(ValueError, match="timecode"):
            parse_timecode(bad)


def test_malformed_files(tmp_path):
    good = [_row(0, 0.1), _row(1, 0.2)]
    cases = {
        "missing": (tmp_path / "nope.csv", "no such"),
        "empty": (_write_bytes(tmp_path, "empty.csv", b""), "empty"),
        "blank": (_write_bytes(tmp_path, "blank.csv", b"\n \n"), "empty"),
        "no_timecode": (_write(tmp_path, [r[1:] for r in good], HEADER[1:], "nt.csv"), "Timecode"),
        "not_numeric": (_write(tmp_path, [good[0], good[1][:5] + ["abc"] + good[1][6:]], name="nn.csv"),
                        r"line 3, column EyeLookOutLeft: 'abc'"),
        "nan": (_write(tmp_path, [good[0], good[1][:5] + ["nan"] + good[1][6:]], name="nan.csv"),
                "not a finite number"),
        "one_row": (_write(tmp_path, good[:1], name="one.csv"), "at least 2 data rows"),
        "header_only": (_write(tmp_path, [], name="h.csv"), "at least 2 data rows"),
        "short_row": (_write(tmp_path, [good[0], good[1][:10]], name="short.csv"), "line 3"),
        "bad_timecode": (_write(tmp_path, [good[0], ["12:00"] + good[1][1:]], name="tc.csv"),
                         "line 3: timecode"),
        "backwards": (_write(tmp_path, [good[1], good[0]], name="back.csv"), "does not increase"),
        "no_channels": (_write(tmp_path, [["00:00:00:00.0", 1], ["00:00:00:01.0", 1]],
                               ["Timecode", "Foo"], "nc.csv"), "no ARKit"),
        "binary": (_write_bytes(tmp_path, "bin.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00IHDR" * 10), "binary"),
        "latin1": (_write_bytes(tmp_path, "l1.csv", b"Timecode,Jaw\xe9\n"), "UTF-8"),
    }
    for path, match in cases.values():
        with pytest.raises(ValueError, match=match):
            read_livelink_csv(path)


def _write_bytes(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_extra_columns_are_ignored_and_reported(tmp_path):
    header = ["Timecode", "BlendShapeCount", "JawOpen", "Custom"]
    path = _write(tmp_path, [["00:00:00:00.0", 1, 0.2, 9], ["00:00:00:01.0", 1, 0.4, 9]], header)
    p = read_livelink_csv(path)
    assert p.channels == ("jawOpen",) and p.meta["ignored_columns"] == ["Custom"]
    assert np.allclose(p.channel("jawOpen"), [0.2, 0.4])


# --- timecode rate inference, drop-frame, held rows, size bounds (issue 10, items 3 and 8) ---

MYSLATE = "MySlate_3_Jason_Millers_iPhone.csv"


def _label(t, rate, drop=False):
    """Timecode label of real time t (seconds since midnight) at `rate`; drop-frame labels
    (29.97/59.94) skip 2/4 frame numbers at each minute except every tenth."""
    n = round(rate)
    whole_f = t * rate
    whole = math.floor(whole_f)
    frac = whole_f - whole
    if drop:
        d = round(n / 15)
        per10, per1 = n * 600 - 9 * d, n * 60 - d
        tens, rest = divmod(whole, per10)
        whole += 9 * d * tens + (d * ((rest - d) // per1) if rest >= d else 0)
    secs, ff = divmod(whole, n)
    return "%02d:%02d:%02d%s%06.3f" % (secs // 3600, secs // 60 % 60, secs % 60,
                                       ";" if drop else ":", ff + frac)


def _restamp(tmp_path, rate, drop=False, shift=0.0, name="restamped.csv", rows=None):
    """The real MySlate take (60 fps data) with its timecodes rewritten at `rate`."""
    lines = need(PERF / MYSLATE).read_text().splitlines()
    header, body = lines[0], [line.split(",") for line in lines[1:] if line.strip()]
    out = []
    for row in (rows(body) if rows else body):
        t = parse_timecode(row[0]) + shift
        out.append(",".join([_label(t, rate, drop)] + row[1:]))
    path = tmp_path / name
    path.write_text("\n".join([header] + out) + "\n")
    return path


def test_drop_frame_labels_round_trip():
    for rate in (30000 / 1001, 60000 / 1001):
        for t in (0.0, 59.9, 60.0, 60.05, 61.0, 599.97, 600.0, 3601.5, 86000.123):
            h, m, s, f, drop = split_timecode(_label(t, rate, True))
            assert drop and timecode_seconds(h, m, s, f, rate, drop) == pytest.approx(t, abs=2e-5)


@pytest.mark.parametrize("rate, drop, largest", [
    (30.0, False, 29), (25.0, False, 24), (24.0, False, 23), (30000 / 1001, True, 29),
    (60000 / 1001, True, 59), (50.0, False, 49), (48.0, False, 47)])
def test_timecode_rate_is_inferred(tmp_path, rate, drop, largest):
    ref = read_livelink_csv(need(PERF / MYSLATE))
    # shift to 00:00:58 so the take crosses a minute start, where drop-frame labels skip
    shift = 58.0 - parse_timecode(ref.meta["timecode_start"])
    p = read_livelink_csv(_restamp(tmp_path, rate, drop, shift))
    assert p.meta["timecode_fps"] == pytest.approx(rate)
    assert p.meta["timecode_fps_source"].startswith(f"inferred from the largest frame field ({largest})")
    assert ("drop-frame" in p.meta["timecode_fps_source"]) == drop
    assert p.fps == pytest.approx(60, rel=0.002)          # the phone still captured at 60
    assert p.duration == pytest.approx(ref.duration, abs=1.5 / 60)
    assert p.n_frames == pytest.approx(ref.n_frames, abs=1)
    assert p.meta["frames_filled"] <= 1 and p.meta["held_rows"] == 0
    np.testing.assert_allclose(p.channel("jawOpen")[:100], ref.channel("jawOpen")[:100], atol=0.02)


def test_explicit_timecode_rate_overrides(tmp_path):
    path = _restamp(tmp_path, 30.0)
    p = read_livelink_csv(path, timecode_fps=30)
    assert p.meta["timecode_fps"] == 30.0 and p.meta["timecode_fps_source"] == "given"
    assert p.duration == pytest.approx(5.45, abs=0.05)
    # the old fixed 60: every second squeezed into its first half, the rest interpolated
    # (what issue 10 item 8 reported)
    wrong = read_livelink_csv(path, timecode_fps=60)
    assert wrong.meta["frames_filled"] > 0.4 * wrong.n_frames
    with pytest.raises(LiveLinkError, match=r"line \d+: timecode .* out of range \(frames at 24 fps\)"):
        read_livelink_csv(path, timecode_fps=24)
    for bad in (0, -5, 1e9, float("nan"), "fast"):
        with pytest.raises(LiveLinkError, match="timecode_fps must be"):
            read_livelink_csv(path, timecode_fps=bad)


def test_a_take_within_one_second_uses_live_link_default(tmp_path):
    rows = [_row(f, 0.1 * (f % 5)) for f in range(10, 40)]
    p = read_livelink_csv(_write(tmp_path, rows))
    assert p.meta["timecode_fps"] == 60.0 and "no second boundary" in p.meta["timecode_fps_source"]


def test_frame_field_above_every_rate_asks_for_the_rate(tmp_path):
    rows = [[f"00:00:0{s}:{ff}.000", 61] + [0.1 * ff] * 61 for s in (0, 1) for ff in (0, 70, 110)]
    with pytest.raises(LiveLinkError, match="frame field reaches 110.*timecode_fps"):
        read_livelink_csv(_write(tmp_path, rows))
    assert read_livelink_csv(_write(tmp_path, rows, name="b.csv"), timecode_fps=120).meta[
        "timecode_fps"] == 120


def test_held_rows_are_counted_and_left_out_of_the_rate(tmp_path):
    # every second row repeats the one before: 30 new frames a second on 60 rows a second
    def repeat_odd(body):
        return [row if i % 2 == 0 else [row[0]] + body[i - 1][1:] for i, row in enumerate(body)]
    p = read_livelink_csv(_restamp(tmp_path, 60.0, rows=repeat_odd))
    assert p.meta["held_rows"] == 164 and p.fps == 30.0
    assert p.duration == pytest.approx(5.45, abs=0.05)

    # a few repeats: still 60 fps, counted for a warning
    def repeat_some(body):
        return [body[i - 1][:0] + [row[0]] + body[i - 1][1:] if i in (50, 51, 200) else row
                for i, row in enumerate(body)]
    p = read_livelink_csv(_restamp(tmp_path, 60.0, rows=repeat_some, name="b.csv"))
    assert p.meta["held_rows"] == 2 and p.fps == 60.0   # row 51 repeats 50, which is new


def test_sizes_from_the_file_are_bounded_before_allocating(tmp_path):
    ten_days = [_row(f, 0.01 * f) for f in range(10)] + [["241:00:00:00.000", 61] + [0.2] * 61]
    with pytest.raises(LiveLinkError, match=r"span 10 days 0:00:00, 51,840,001 frames at 60 fps, "
                                            r"more than the limit of 10,368,000"):
        read_livelink_csv(_write(tmp_path, ten_days), timecode_fps=60)
    crowded = [[f"00:00:{s:02d}:{ff:.3f}", 61] + [ff] * 61 for s in (0, 1)
               for ff in np.arange(0, 59.9, 0.01)]
    with pytest.raises(LiveLinkError, match=r"6000 fps\), outside 1..1000 fps"):
        read_livelink_csv(_write(tmp_path, crowded, name="crowded.csv"))


def test_missing_blendshape_columns_are_named_in_a_warning(tmp_path):
    """Issue 19, item 7: a CSV without JawOpen/MouthClose/EyeBlink keys nothing for them: say so."""
    names = ["JawOpen", "MouthClose", "EyeBlinkLeft", "EyeBlinkRight"]      # the real MySlate take, trimmed
    p = read_livelink_csv(csv_without_columns(need(PERF / MYSLATE), names, tmp_path / "cut.csv"))
    assert p.meta["missing_columns"] == ["EyeBlinkLeft", "EyeBlinkRight", "JawOpen", "MouthClose"]
    (warning,) = p.meta["warnings"]
    assert "no column for 4 blendshape(s)" in warning
    assert all(name in warning for name in ("JawOpen", "MouthClose", "EyeBlinkLeft", "EyeBlinkRight"))
    full = read_livelink_csv(need(PERF / MYSLATE))
    assert "missing_columns" not in full.meta and "warnings" not in full.meta
