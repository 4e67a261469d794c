"""CLI test helpers (imported by tests)."""
import hashlib
import pathlib


def listing(folder):
    """Every path under `folder`, relative and sorted: what a command left on disk."""
    return sorted(str(p.relative_to(folder)) for p in pathlib.Path(folder).rglob("*"))


def digest(path):
    """The file's sha256: an input the command must leave byte for byte as it was."""
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
