"""Downloading model files from the Hugging Face Hub into its cache, with progress and cancel.

`ModelStore.download()` decides what is missing and whether the network may be used; `fetch()`
here does the transfer: one `huggingface_hub.hf_hub_download` per file (atomic rename into place,
Range resume of dropped connections, HF_ENDPOINT mirrors), a tqdm stand-in that forwards byte
counts and honours cancel, and removal of a downloaded file that does not check out, so nothing
bad is ever left looking complete. huggingface_hub is imported only when a download starts.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Optional

from ..core.errors import first_line
from . import Cancelled, EngineError, check_cancel
from .model_files import ModelFile, download_size


class DownloadError(EngineError):
    """A download failed or produced a file that does not check out; nothing was kept."""


@dataclass
class DownloadProgress:
    file: str            # repo_id/filename being downloaded
    file_done: int
    file_total: Optional[int]
    done: int            # bytes of this whole download session, including finished files
    total: int           # expected bytes of the session (approximate where sizes are unknown)
    index: int           # 1-based index of the file in this session
    count: int


def env_offline() -> bool:
    """The Hub's own offline switches (HF_HUB_OFFLINE, TRANSFORMERS_OFFLINE) are set."""
    return any(os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def fetch(missing, cache_dir: str, check: Callable[[ModelFile, str], str], endpoint: Optional[str] = None,
          token=None, progress: Optional[Callable[[DownloadProgress], None]] = None, cancel=None,
          revision_of: Callable[[ModelFile], str] = lambda spec: spec.revision,
          done: Optional[Callable[[ModelFile, str], None]] = None) -> None:
    """Download every file of `missing` (store FileStatus entries) into the HF cache at `cache_dir`.

    A present file of the wrong size is removed first (else the hub returns it as cached).
    `check(spec, path)` returns '' for a good file, else the problem; a file that fails is deleted
    and DownloadError raised; `done(spec, path)` is told of each good one. `revision_of(spec)` is
    the revision to ask for (a locked commit for an unpinned repository). Cancel stops between
    chunks; files finished before it are kept.
    """
    try:
        import huggingface_hub
    except ImportError as exc:
        raise DownloadError("Downloading models needs the 'huggingface_hub' package, which is not "
                            f"installed ({exc}).") from exc

    total = download_size(missing)
    session = {"done": 0}
    for index, st in enumerate(missing, 1):
        spec = st.spec
        check_cancel(cancel)
        if st.present:
            _remove_cached(st.path)
        bar = _progress_class(spec, index, len(missing), total, session, progress, cancel)
        revision = revision_of(spec)
        try:
            path = huggingface_hub.hf_hub_download(
                spec.repo_id, spec.filename, revision=revision, cache_dir=cache_dir,
                endpoint=endpoint or os.environ.get("HF_ENDPOINT") or None, token=token, tqdm_class=bar)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001 - every hub/network error becomes one clear message
            raise DownloadError(f"Could not download {spec.display} @ {revision}: "
                                f"{type(exc).__name__}: {first_line(exc)}") from exc
        # Not cancellable: a complete file must be verified before it may stay in the cache.
        problem = check(spec, path)
        if problem:
            _remove_cached(path)
            raise DownloadError(f"Downloaded {spec.display} does not check out ({problem}); the file was "
                                "deleted. Try again; if it persists the upstream file changed.")
        if done is not None:
            done(spec, path)
        session["done"] += os.path.getsize(path)


def _remove_cached(path: str) -> None:
    """Remove a snapshot entry and, in the HF cache, the blob it points to."""
    real = os.path.realpath(path)
    for p in {path, real}:
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _progress_class(spec, index, count, total, session, callback, cancel):
    """A tqdm stand-in class for hf_hub_download: forwards byte counts and honours cancel.

    Works for both hub transports: plain HTTP (`update` per chunk) and hf_xet, which builds one
    bar from this class (because it has `update_transfer`) and also calls the postfix setters.
    """

    class _Bar:
        counted = 0  # bytes written for this file (class attribute: read after the download)

        def __init__(self, *args, total=None, initial=0, **kwargs):
            self.total = total
            self.n = initial
            _Bar.counted = initial
            self._report()

        def update(self, n=1):
            self._check_cancel()
            self.n += n
            _Bar.counted = self.n
            self._report()

        def update_transfer(self, n=1):  # network bytes (hf_xet); written bytes come via update()
            self._check_cancel()

        def _check_cancel(self):
            check_cancel(cancel)

        def _report(self):
            if callback is not None:
                callback(DownloadProgress(spec.display, self.n, self.total, session["done"] + self.n,
                                          total, index, count))

        def set_postfix_str(self, *args, **kwargs):
            pass

        set_transfer_postfix_str = set_description = set_postfix_str

        def refresh(self, *args, **kwargs):
            pass

        close = clear = refresh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    return _Bar
