"""CLI test helpers (imported by tests)."""
import pathlib


def listing(folder):
    """Every path under `folder`, relative and sorted: what a command left on disk."""
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))
