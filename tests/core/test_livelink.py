import numpy as np
import pytest

from shared_paths import ASSETS, need
from unitaf_blender.core.channels import ARKIT_52, HEAD_EYE_ROTATIONS
from unitaf_blender.core.livelink import parse_timecode, read_livelink_csv

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
    for label, (path, match) in cases.items():
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
