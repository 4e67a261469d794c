"""Recorded performances from files: a Live Link Face CSV or our own .npz (+ .wav beside it).

One loader for the CLI's `import-performance` and the panel's Import button; every problem
with the file is a ValueError whose message names the file.
"""
import os

from .livelink import read_livelink_csv
from .performance import Performance

PERFORMANCE_EXTENSIONS = (".csv", ".npz")


def load_performance(path, timecode_fps=None) -> Performance:
    """The performance in `path` (.csv: Live Link Face, timecode rate inferred unless given;
    .npz: a UniTAF performance)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"File not found: {path}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in PERFORMANCE_EXTENSIONS:
        raise ValueError(f"{path}: expected a Live Link Face .csv or a UniTAF .npz")
    try:
        if ext == ".csv":
            return read_livelink_csv(path, timecode_fps=timecode_fps)
        return Performance.load(path)
    except ValueError:
        raise
    except (OSError, KeyError, EOFError) as e:
        raise ValueError(f"Cannot read {path}: {e}") from None
