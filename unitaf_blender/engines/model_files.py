"""A downloadable model file as the engines declare it (repository, path, pinned revision, size,
sha256, licence, the features that need it), the size format used in every message and the
download total they show.
Data only: no I/O. Each engine keeps its own catalogue of these (unitaf/catalog.py,
embedded/voice_catalog.py); the shared model store (model_store.py) finds and fetches them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

GB, MB, KB = 1000 ** 3, 1000 ** 2, 1000


@dataclass(frozen=True)
class ModelFile:
    id: str                       # stable id used by the engine: store.path("indextts2.gpt")
    repo_id: str
    filename: str                 # path inside the repository
    revision: str                 # a commit hash, or a branch name where no commit could be verified
    approx_size: int              # bytes, for messages; exact when `size` is set
    features: tuple
    size: Optional[int] = None    # exact byte count when known (checked on status)
    sha256: Optional[str] = None  # from the official file page (checked on download/verify)
    note: str = ""
    optional: bool = False        # downloaded with its features, but the engine works without it
    licence: str = "unknown"      # the licence of the file's repository, shown before a download

    @property
    def expected_size(self) -> int:
        """Bytes to expect: exact when known, else the approximate size."""
        return self.approx_size if self.size is None else self.size

    @property
    def revision_verified(self) -> bool:
        return bool(re.fullmatch(r"[0-9a-f]{40}", self.revision))

    @property
    def display(self) -> str:
        return f"{self.repo_id}/{self.filename}"


def human_size(n: Optional[int]) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GB", GB), ("MB", MB), ("kB", KB)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GB" else f"{n / scale:.1f} {unit}"
    return f"{n} B"


def download_size(statuses) -> int:
    """Bytes to download for these files (model_store.FileStatus): the one sum every message,
    listing and download progress shows."""
    return sum(st.spec.expected_size for st in statuses)
