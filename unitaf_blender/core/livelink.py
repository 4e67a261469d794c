"""Import a Live Link Face CSV (Epic's iOS app) as a face-only `Performance`.

Layout: `Timecode,BlendShapeCount,<52 PascalCase ARKit columns>,<9 head/eye rotations>`.
Timecode is `HH:MM:SS:FF.fff` where FF counts frames of the timecode rate (60 by default)
with a sub-frame fraction. The data rate is not always the timecode rate (some takes are
30 fps data on a 60 fps timecode), so it is derived from the median row-to-row delta, and
each frame of a uniform grid at that rate is interpolated linearly in time from the rows
around it (placed by their timecode): dropped rows become in-between frames and the
duration matches the real recording.

The result has no audio; `sample_rate` is a 48000 placeholder (Performance needs one).
"""
import csv
import io
import math
import os

import numpy as np

from .channels import ARKIT_52, HEAD_EYE_ROTATIONS, canonical
from .performance import Performance

PLACEHOLDER_SAMPLE_RATE = 48000
_DAY = 24 * 3600.0


class LiveLinkError(ValueError):
    pass


def parse_timecode(text, timecode_fps=60.0) -> float:
    """`HH:MM:SS:FF.fff` -> seconds since midnight (FF frames at `timecode_fps`)."""
    parts = text.strip().split(":")
    if len(parts) != 4:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.fff")
    try:
        h, m, s = int(parts[0]), int(parts[1]), int(parts[2])
        frame = float(parts[3])
    except ValueError:
        raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF.fff") from None
    if not (0 <= m < 60 and 0 <= s < 60 and 0 <= frame < timecode_fps and h >= 0):
        raise ValueError(f"timecode {text!r} is out of range (frames at {timecode_fps:g} fps)")
    return h * 3600.0 + m * 60.0 + s + frame / timecode_fps


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


def _data_fps(times, timecode_fps):
    """Capture rate from the median timecode delta, snapped to the timecode rate's
    multiples/divisors (phones drift by a fraction of a frame per minute)."""
    deltas = np.diff(times)
    step = float(np.median(deltas)) * timecode_fps  # in timecode frames
    if step <= 0:
        raise LiveLinkError("timecodes do not advance")
    if step >= 0.75:
        return timecode_fps / max(1, round(step))
    return timecode_fps * round(1.0 / step)


def read_livelink_csv(path, timecode_fps=60.0) -> Performance:
    """Read a Live Link Face CSV -> Performance (no audio; channels in ARKit order).

    Raises LiveLinkError (a ValueError) with the file and line for anything malformed.
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

    times = np.empty(len(body), np.float64)
    values = np.empty((len(body), len(channels)), np.float32)
    cols = [columns[c] for c in channels]
    for r, row in enumerate(body):
        line = r + 2
        if len(row) < len(header):
            raise LiveLinkError(f"{path}, line {line}: {len(row)} values, header has {len(header)}")
        try:
            times[r] = parse_timecode(row[tc_col], timecode_fps)
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

    # a take that runs over midnight wraps from 23:59:59 to 00:00:00
    deltas = np.diff(times)
    wraps = deltas < -_DAY / 2
    if wraps.any():
        times[1:] += np.cumsum(wraps) * _DAY
        deltas = np.diff(times)
    if (deltas <= 0).any():
        bad = int(np.argmax(deltas <= 0)) + 3
        raise LiveLinkError(f"{path}, line {bad}: timecode does not increase")

    fps = _data_fps(times, timecode_fps)
    weights, filled = _place_on_grid(times - times[0], values, fps)
    meta = {
        "engine": "livelink_csv", "source": path, "timecode_start": body[0][tc_col].strip(),
        "timecode_fps": float(timecode_fps), "rows": len(body), "frames_filled": filled,
    }
    if ignored:
        meta["ignored_columns"] = ignored
    return Performance(audio=np.zeros(0, np.float32), sample_rate=PLACEHOLDER_SAMPLE_RATE,
                       fps=fps, channels=tuple(channels), weights=weights, meta=meta)


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
