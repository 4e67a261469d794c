"""Import a Live Link Face CSV (Epic's iOS app) as a face-only `Performance`.

Layout: `Timecode,BlendShapeCount,<52 PascalCase ARKit columns>,<9 head/eye rotations>`.
Timecode is `HH:MM:SS:FF.fff` (drop-frame: `HH:MM:SS;FF.fff`) where FF counts frames of
the timecode rate with a sub-frame fraction. That rate is 60 in the app by default but
follows the timecode source (24, 25, 29.97, 30...), so unless given it is inferred from
the largest frame field in the file (`infer_timecode_fps`). The data rate is not always
the timecode rate (some takes are 30 fps data on a 60 fps timecode, or 60 fps data on a
24 fps one), so it is derived from the median row-to-row delta (rows that merely repeat
the previous row are left out and counted as `held_rows`), and each frame of a uniform
grid at that rate is interpolated linearly in time from the rows around it (placed by
their timecode): dropped rows become in-between frames and the duration matches the real
recording. Sizes from the file are bounded (core.performance.MAX_FRAMES, MIN/MAX_FPS)
before anything is allocated.

The result has no audio; `sample_rate` is a 48000 placeholder (Performance needs one).
"""
import csv
import io
import math
import os

import numpy as np

from .channels import ARKIT_52, HEAD_EYE_ROTATIONS, canonical
from .mapping import _pascal
from .performance import MAX_FPS, MAX_FRAMES, MIN_FPS, Performance

PLACEHOLDER_SAMPLE_RATE = 48000
_DAY = 24 * 3600.0


class LiveLinkError(ValueError):
    pass


# Timecode rates, smallest first: a timecode's rate is the smallest one above its largest
# frame field. 29.97/59.94 are only told apart from 30/60 by drop-frame labels (';').
TIMECODE_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0)
DEFAULT_TIMECODE_FPS = 60.0   # Live Link Face's own timecode
_DROP_FRAME = {30.0: 30000 / 1001, 60.0: 60000 / 1001}


def split_timecode(text):
    """`HH:MM:SS:FF.fff` (or drop-frame `HH:MM:SS;FF.fff`) -> (h, m, s, frame, drop_frame),
    without a rate. Raises ValueError for anything else."""
    raw = text.strip()
    parts = raw.replace(";", ":").split(":")
    if len(parts) != 4:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.fff")
    try:
        h, m, s = int(parts[0]), int(parts[1]), int(parts[2])
        frame = float(parts[3])
    except ValueError:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.fff") from None
    if not (0 <= m < 60 and 0 <= s < 60 and h >= 0 and 0 <= frame < 1000):  # also rejects NaN
        raise ValueError(f"timecode {text!r} is out of range")
    return h, m, s, frame, ";" in raw


def timecode_seconds(h, m, s, frame, timecode_fps, drop_frame=False):
    """Seconds since midnight of a split timecode at `timecode_fps`.

    Labels count frames at the nominal rate (30 for 29.97); at a fractional rate they are
    played at the real one, and drop-frame labels skip 2 (4 at 59.94) frame numbers each
    minute except every tenth, so the label stays near the clock. Works on numpy arrays."""
    nominal = round(timecode_fps)
    if nominal == timecode_fps:   # integer rates: exact seconds + a fraction
        return h * 3600.0 + m * 60.0 + s + frame / timecode_fps
    frames = ((h * 60.0 + m) * 60.0 + s) * nominal + frame
    minutes = h * 60 + m
    frames = frames - np.where(drop_frame, round(nominal / 15) * (minutes - minutes // 10), 0)
    return frames / timecode_fps


def parse_timecode(text, timecode_fps=DEFAULT_TIMECODE_FPS) -> float:
    """`HH:MM:SS:FF.fff` -> seconds since midnight (FF frames at `timecode_fps`)."""
    h, m, s, frame, drop = split_timecode(text)
    if frame >= round(timecode_fps):
        raise ValueError(f"timecode {text!r} is out of range (frames at {timecode_fps:g} fps)")
    return timecode_seconds(h, m, s, frame, timecode_fps, drop)


def infer_timecode_fps(frames, seconds, drop_frame):
    """(rate, how it was found) from the frame fields and whole seconds of every row.

    The rate is the smallest of TIMECODE_RATES above the largest frame field, made 29.97 or
    59.94 by drop-frame labels. That largest field only reaches the top of the range once
    the take crosses a second boundary; a shorter take gets Live Link Face's 60."""
    top = float(np.max(frames))
    if len(np.unique(seconds)) < 2:
        return DEFAULT_TIMECODE_FPS, "default of Live Link Face (the take spans no second boundary)"
    rate = next((r for r in TIMECODE_RATES if top < r), None)
    if rate is None:
        raise LiveLinkError(
            f"the timecode's frame field reaches {top:g}, above every timecode rate this reader "
            f"infers ({', '.join(f'{r:g}' for r in TIMECODE_RATES)}); give the rate explicitly "
            "(timecode_fps / --timecode-fps)")
    how = f"inferred from the largest frame field ({int(top)})"
    if drop_frame and rate in _DROP_FRAME:
        rate = _DROP_FRAME[rate]
        how += " and drop-frame labels (';')"
    return rate, how


def _read_text(path):
    if not os.path.isfile(path):
        raise LiveLinkError(f"{path}: no such Live Link Face CSV file")
    with open(path, "rb") as f:
        raw = f.read()
    if not raw.strip():
        raise LiveLinkError(f"{path}: the file is empty")
    if b"\x00" in raw[:4096]:
        raise LiveLinkError(f"{path}: binary data, not a Live Link Face CSV")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise LiveLinkError(f"{path}: not UTF-8 text, not a Live Link Face CSV") from None


# Rates cameras and phones capture faces at; the data rate snaps to one of these or to a
# multiple/divisor of the timecode rate (60 fps data on a 24 fps timecode is common).
CAPTURE_RATES = (24.0, 25.0, 30.0, 48.0, 50.0, 60.0, 90.0, 100.0, 120.0, 240.0)
_SNAP = 0.03   # relative: phones drift by a fraction of a frame per minute


def _data_fps(times, timecode_fps):
    """Capture rate from the median row-to-row delta in seconds, snapped to the nearest
    usual rate within 3 % (else the measured rate, to 6 digits)."""
    step = float(np.median(np.diff(times)))
    if step <= 0:
        raise LiveLinkError("timecodes do not advance")
    raw = 1.0 / step
    candidates = set(CAPTURE_RATES)
    for k in range(1, 9):
        candidates |= {timecode_fps * k, timecode_fps / k}
    best = min(candidates, key=lambda c: abs(math.log(c / raw)))
    return best if abs(math.log(best / raw)) < _SNAP else float(f"{raw:.6g}")


def held_rows(values) -> np.ndarray:
    """Bool mask of rows whose every value equals the row before: a phone that repeats its
    last frame (no new tracking data) at a new timecode."""
    held = np.zeros(len(values), bool)
    held[1:] = (values[1:] == values[:-1]).all(axis=1)
    return held


def read_livelink_csv(path, timecode_fps=None) -> Performance:
    """Read a Live Link Face CSV -> Performance (no audio; channels in ARKit order).

    `timecode_fps`: the rate the Timecode column counts frames at. None infers it from the
    data (`infer_timecode_fps`: largest frame field, drop-frame ';'); a number overrides.
    meta records "timecode_fps", "timecode_fps_source" (how it was found), "held_rows"
    (rows repeating the previous row's values, left out of the data-rate estimate; a
    front end should warn when it is not 0), "missing_columns" (the ARKit blendshapes the
    file has no column for, in its PascalCase) and "warnings" (sentences a front end shows,
    e.g. naming those columns).

    Raises LiveLinkError (a ValueError) with the file and line for anything malformed, and
    for a take whose frame count would exceed core.performance.MAX_FRAMES.
    """
    path = os.fspath(path)
    text = _read_text(path)
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise LiveLinkError(f"{path}: the file is empty")
    header = [h.strip() for h in rows[0]]
    if "Timecode" not in header:
        raise LiveLinkError(f"{path}: no 'Timecode' column in the header; not a Live Link Face CSV")
    tc_col = header.index("Timecode")
    columns = {}  # canonical channel -> column index
    ignored = []
    for i, name in enumerate(header):
        ch = canonical(name) if i != tc_col else None
        if ch is not None and ch not in columns:
            columns[ch] = i
        elif i != tc_col and name != "BlendShapeCount":
            ignored.append(name)
    channels = [c for c in ARKIT_52 + HEAD_EYE_ROTATIONS if c in columns]
    if not channels:
        raise LiveLinkError(f"{path}: no ARKit blendshape columns (EyeBlinkLeft, JawOpen, ...)")
    body = rows[1:]
    if len(body) < 2:
        raise LiveLinkError(f"{path}: needs at least 2 data rows, found {len(body)}")

    stamps = np.empty((len(body), 4), np.float64)   # h, m, s, frame
    drop = np.zeros(len(body), bool)
    values = np.empty((len(body), len(channels)), np.float32)
    cols = [columns[c] for c in channels]
    for r, row in enumerate(body):
        line = r + 2
        if len(row) < len(header):
            raise LiveLinkError(f"{path}, line {line}: {len(row)} values, header has {len(header)}")
        try:
            hh, mm, ss, ff, drop[r] = split_timecode(row[tc_col])
            stamps[r] = hh, mm, ss, ff
        except ValueError as e:
            raise LiveLinkError(f"{path}, line {line}: {e}") from None
        for j, c in enumerate(cols):
            try:
                v = float(row[c])
            except ValueError:
                raise LiveLinkError(f"{path}, line {line}, column {header[c]}: "
                                    f"{row[c]!r} is not a number") from None
            if not math.isfinite(v):
                raise LiveLinkError(f"{path}, line {line}, column {header[c]}: "
                                    f"{row[c]!r} is not a finite number")
            values[r, j] = v

    h, m, s, frame = stamps.T
    if timecode_fps is None:
        try:
            timecode_fps, how = infer_timecode_fps(frame, (h * 60 + m) * 60 + s, drop.any())
        except LiveLinkError as e:
            raise LiveLinkError(f"{path}: {e}") from None
    else:
        timecode_fps, how = _check_rate(timecode_fps, "timecode_fps"), "given"
        over = frame >= round(timecode_fps)
        if over.any():
            bad = int(np.argmax(over))
            raise LiveLinkError(f"{path}, line {bad + 2}: timecode {body[bad][tc_col].strip()!r} "
                                f"is out of range (frames at {timecode_fps:g} fps)")
    times = timecode_seconds(h, m, s, frame, timecode_fps, drop)

    # a take that runs over midnight wraps from 23:59:59 to 00:00:00
    deltas = np.diff(times)
    wraps = deltas < -_DAY / 2
    if wraps.any():
        times[1:] += np.cumsum(wraps) * _DAY
        deltas = np.diff(times)
    if (deltas <= 0).any():
        bad = int(np.argmax(deltas <= 0)) + 3
        raise LiveLinkError(f"{path}, line {bad}: timecode does not increase")

    held = held_rows(values)
    fresh = times[~held] if (~held).sum() >= 2 else times   # a still synthetic take: all rows
    fps = _data_fps(fresh, timecode_fps)
    if not MIN_FPS <= fps <= MAX_FPS:
        raise LiveLinkError(f"{path}: the rows are {1 / fps:.3g} s apart ({fps:g} fps), outside "
                            f"{MIN_FPS:g}..{MAX_FPS:g} fps; the timecodes are probably corrupt")
    span = times[-1] - times[0]
    n_frames = int(round(span * fps)) + 1
    if n_frames > MAX_FRAMES:
        raise LiveLinkError(
            f"{path}: the timecodes span {_duration_text(span)}, {n_frames:,} frames at {fps:g} fps, "
            f"more than the limit of {MAX_FRAMES:,} frames (24 hours at 120 fps); the timecodes "
            "are probably corrupt")
    weights, filled = _place_on_grid(times - times[0], values, fps)
    meta = {
        "engine": "livelink_csv", "source": path, "timecode_start": body[0][tc_col].strip(),
        "timecode_fps": float(timecode_fps), "timecode_fps_source": how,
        "rows": len(body), "frames_filled": filled, "held_rows": int(held.sum()),
    }
    if ignored:
        meta["ignored_columns"] = ignored
    missing = [_pascal(c) for c in ARKIT_52 if c not in columns]
    if missing:   # a cut-down export: those shape keys get no keys at all, which must be said
        meta["missing_columns"] = missing
        meta["warnings"] = [f"The CSV has no column for {len(missing)} blendshape(s), so their shape keys are "
                            f"not keyed: {', '.join(missing[:12])}{'...' if len(missing) > 12 else ''}"]
    return Performance(audio=np.zeros(0, np.float32), sample_rate=PLACEHOLDER_SAMPLE_RATE,
                       fps=fps, channels=tuple(channels), weights=weights, meta=meta)


def _check_rate(value, what):
    try:
        rate = float(value)
    except (TypeError, ValueError):
        raise LiveLinkError(f"{what} must be a number, got {value!r}") from None
    if not (math.isfinite(rate) and MIN_FPS <= rate <= MAX_FPS):
        raise LiveLinkError(f"{what} must be between {MIN_FPS:g} and {MAX_FPS:g}, got {value!r}")
    return rate


def _duration_text(seconds):
    days, rest = divmod(int(seconds), 86400)
    text = f"{rest // 3600}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    return f"{days} day{'s' if days != 1 else ''} {text}" if days else text


def _place_on_grid(t, values, fps):
    """Rows at times t (seconds from the first) -> frames k / fps, k = 0..round(t[-1] * fps).

    Each frame is interpolated linearly in time between the rows around it, so dropped
    rows become in-between frames and the phone's sub-frame clock drift never shifts the
    face against the timecode. Returns (weights, number of frames that had no row).
    """
    n = int(round(t[-1] * fps)) + 1
    grid_t = np.arange(n, dtype=np.float64) / fps
    out = np.empty((n, values.shape[1]), np.float32)
    for j in range(values.shape[1]):
        out[:, j] = np.interp(grid_t, t, values[:, j])
    filled = n - len(np.unique(np.rint(t * fps)))
    return out, filled
