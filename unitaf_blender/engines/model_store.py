"""Model store: where each catalogue file (model_files.ModelFile) lives on this computer, and
whether it is usable: lookup, status, what is missing, `require()`, the user-facing messages and
size reports. Shared by the engines: each passes its own catalogue, features and wording
(UniTAF's weights: unitaf/store.py; the embedded engine's natural voices: embedded/voice_catalog.py).

No torch and no bpy here, and huggingface_hub is imported only when downloading (model_download.py), so
`models status` works on a bare Python. Two layouts are supported:

* cache mode (default): the Hugging Face cache layout
  `<cache_dir>/models--<org>--<name>/snapshots/<commit>/<filename>`; `cache_dir` is the
  explicit argument, else HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub.
  `ModelStore.download()` decides what to fetch and whether the network may be used
  (HF_HUB_OFFLINE, Blender's online access), then hands the transfer to `model_download.fetch`.
* model-dir mode (`model_dir=...`): a plain folder laid out as `<model_dir>/<repo_id>/<filename>`
  (e.g. `DIR/IndexTeam/IndexTTS-2/gpt.pth`). Nothing is downloaded; files are trusted as given
  (size/sha256 are only checked by `verify()`), so test folders built from small fixtures work.
  `build_model_dir()` lays such a folder out from existing files. A file whose size is far from
  the catalogue's is reported (FileStatus.problem, `size_report()`), not refused.

Integrity: the size is checked whenever it is known exactly; `verify()` and every download
check sha256 against the pinned value (the engine's catalogue) or, for a file without one, against
the hash the lock file recorded (model_lock.py: the commit each download of an unpinned repository
resolved), else for Git-LFS files against the content hash the Hub sent as ETag (the blob name
in the cache). A file that fails is deleted, never left looking complete.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

from . import EngineUnavailable, check_cancel, model_lock
from .model_download import DownloadProgress, env_offline, fetch
from .model_files import ModelFile, download_size, human_size

# ------------------------------------------------------------------------------------ errors

class ModelsMissing(EngineUnavailable):
    """Some model files are not present; the message lists them with the total download size."""

    def __init__(self, message: str, missing=()):
        super().__init__(message)
        self.missing = list(missing)


# ------------------------------------------------------------------------------------ status

@dataclass
class FileStatus:
    spec: ModelFile
    path: Optional[str]          # where the file is (or would be, in model-dir mode)
    present: bool
    size: Optional[int] = None   # bytes on disk
    size_ok: Optional[bool] = None  # None = not checked (unknown exact size, or model-dir mode)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.present and self.size_ok is not False

    @property
    def needed(self) -> bool:
        """Blocks the engine: required and not ok, or present with a bad size (optional or not)."""
        return not self.ok and (self.present or not self.spec.optional)


def default_cache_dir() -> str:
    """The Hugging Face hub cache as huggingface_hub resolves it (HF_HUB_CACHE > HF_HOME/hub)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return os.path.expanduser(os.path.expandvars(env))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return os.path.join(os.path.expanduser(os.path.expandvars(home)), "hub")


class ModelStore:
    """`files` with the `features` that group them ({name: description}); `default_features` are
    what a bare status/download covers. `title` names the files in messages ("UniTAF model"),
    `download_hint` says how to get missing ones."""

    def __init__(self, cache_dir=None, model_dir=None, files: Iterable[ModelFile] = (),
                 endpoint: Optional[str] = None, features: Optional[dict] = None,
                 default_features: Iterable[str] = (), title: str = "model",
                 download_hint: str = "get them with the CLI command `models download`"):
        self.model_dir = os.fspath(model_dir) if model_dir else None
        self.cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
        self.files = tuple(files)
        self.endpoint = endpoint
        self.features = dict(features) if features is not None else {
            f: f for spec in self.files for f in spec.features}
        self.default_features = tuple(default_features)
        self.title = title
        self.download_hint = download_hint
        self._by_id = {f.id: f for f in self.files}
        if len(self._by_id) != len(self.files):
            raise ValueError("duplicate model file ids")

    # -- lookup ------------------------------------------------------------------------

    def spec(self, spec_id: str) -> ModelFile:
        try:
            return self._by_id[spec_id]
        except KeyError:
            raise KeyError(f"unknown model file id {spec_id!r}; known: {', '.join(self._by_id)}") from None

    def specs(self, features=None) -> list:
        if features is None:
            features = self.default_features
        features = (features,) if isinstance(features, str) else tuple(features)
        unknown = [f for f in features if f not in self.features]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; choose from {', '.join(self.features)}")
        return [s for s in self.files if set(s.features) & set(features)]

    def model_dir_path(self, spec: ModelFile) -> str:
        return os.path.join(self.model_dir, *spec.repo_id.split("/"), *spec.filename.split("/"))

    def _lock_entry(self, spec: ModelFile) -> Optional[dict]:
        """The lock file's entry for an unpinned repository (cache mode only): its commit and files."""
        if self.model_dir or spec.revision_verified:
            return None
        return model_lock.read_lock(self.cache_dir).get(spec.repo_id)

    def locked_commit(self, spec: ModelFile) -> Optional[str]:
        """The commit the lock file records for an unpinned repository (cache mode only)."""
        entry = self._lock_entry(spec)
        return entry["commit"] if entry else None

    def revision_to_fetch(self, spec: ModelFile) -> str:
        return self.locked_commit(spec) or spec.revision

    def _cached_path(self, spec: ModelFile) -> Optional[str]:
        """Resolve a file in the HF cache without any network: the pinned commit, else the commit
        the lock file records, else refs/<branch> -> snapshot."""
        repo_dir = os.path.join(self.cache_dir, "models--" + spec.repo_id.replace("/", "--"))
        commit = self.revision_to_fetch(spec)
        if not spec.revision_verified and commit == spec.revision:
            try:
                with open(os.path.join(repo_dir, "refs", spec.revision), encoding="utf-8") as f:
                    commit = f.read().strip()
            except OSError:
                return None
        path = os.path.join(repo_dir, "snapshots", commit, *spec.filename.split("/"))
        return path if os.path.isfile(path) else None

    def locate(self, spec: ModelFile) -> Optional[str]:
        if self.model_dir:
            path = self.model_dir_path(spec)
            return path if os.path.isfile(path) else None
        return self._cached_path(spec)

    # -- status ------------------------------------------------------------------------

    def file_status(self, spec: ModelFile) -> FileStatus:
        path = self.locate(spec)
        if path is None:
            where = self.model_dir_path(spec) if self.model_dir else None
            return FileStatus(spec, where, False, problem="missing")
        size = os.path.getsize(path)
        if self.model_dir:   # trusted as given (test folders hold small fixtures); a size far off is reported
            return FileStatus(spec, path, True, size, None, _size_note(spec, size))
        if spec.size is None:
            return FileStatus(spec, path, True, size, None)
        ok = size == spec.size
        return FileStatus(spec, path, True, size, ok,
                          "" if ok else f"size {size} B, expected {spec.size} B (incomplete or changed file)")

    def status(self, features=None) -> list:
        return [self.file_status(s) for s in self.specs(features)]

    def missing(self, features=None) -> list:
        """Files the engine cannot run without (an absent optional file is not listed;
        `download()` still fetches it)."""
        return [st for st in self.status(features) if st.needed]

    def optional_path(self, spec_id: str) -> Optional[str]:
        """Path of an optional file when present and size-checked, else None (never raises)."""
        st = self.file_status(self.spec(spec_id))
        return st.path if st.ok else None

    def missing_message(self, missing, reason: str = "", how: str = "") -> str:
        """A self-contained message: the first line says what is missing and what to do (a caller
        that shows one line still tells the user how to fix it); the next lines list the files,
        then the folder they were looked for in. `how` replaces the download hint (e.g. for files
        outside the default features)."""
        total = download_size(missing)
        if self.model_dir and not os.path.isdir(self.model_dir):
            head = (f"{self.title} folder not found: {self.model_dir}. Choose an existing folder laid out as "
                    "<folder>/<repo_id>/<filename>, or no model folder to use the download cache.")
        elif self.model_dir:
            head = (f"{len(missing)} {self.title} file(s) missing in the model folder {self.model_dir}: copy them "
                    "there as <folder>/<repo_id>/<filename> (a model folder is never downloaded into).")
        elif reason:
            head = (f"{len(missing)} {self.title} file(s) missing ({human_size(total)} to download), but they "
                    f"cannot be downloaded now: {reason}.")
        else:
            head = (f"{len(missing)} {self.title} file(s) missing ({human_size(total)} to download): "
                    f"{how or self.download_hint}.")
        lines = [head]
        for st in missing:
            extra = f" [{st.problem}]" if st.problem and st.problem != "missing" else ""
            lines.append(f"  - {st.spec.display} ({human_size(st.spec.expected_size)}){extra}")
        lines.append(f"Model folder: {self.model_dir}" if self.model_dir else f"Cache folder: {self.cache_dir}")
        return "\n".join(lines)

    def require(self, features=None) -> None:
        missing = self.missing(features)
        if missing:
            raise ModelsMissing(self.missing_message(missing), missing)

    def size_report(self, features=None) -> str:
        """Lines naming present files whose size is far from the catalogue's ('' if none): a hint
        for a model folder whose file fails to load (wrong file, or a partial copy)."""
        odd = [st for st in self.status(features) if st.present and st.problem]
        return "\n".join(f"  - {st.spec.display}: {st.problem}" for st in odd)

    def path(self, spec_id: str) -> str:
        """Path of a present, size-checked file, or ModelsMissing naming it."""
        st = self.file_status(self.spec(spec_id))
        if not st.ok:
            raise ModelsMissing(self.missing_message([st]), [st])
        return st.path

    # -- integrity ---------------------------------------------------------------------

    def expected_sha256(self, spec: ModelFile, path: str) -> Optional[str]:
        """Pinned sha256, else the one the lock file recorded for this commit's file, else the
        Hub's content hash kept as the blob name (Git-LFS files only)."""
        if spec.sha256:
            return spec.sha256
        locked = self._lock_entry(spec)
        if locked and locked["commit"] == model_lock.commit_of_snapshot_path(path):
            entry = locked.get("files", {}).get(spec.filename)
            if isinstance(entry, dict) and re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256", ""))):
                return entry["sha256"]
        if os.path.islink(path):
            blob = os.path.basename(os.path.realpath(path))
            if re.fullmatch(r"[0-9a-f]{64}", blob):
                return blob
        return None

    def check_file(self, spec: ModelFile, path: str, cancel=None) -> str:
        """'' when the file checks out, else a message. Reads the whole file when a hash is known."""
        size = os.path.getsize(path)
        if spec.size is not None and size != spec.size:
            return f"size {size} B, expected {spec.size} B"
        want = self.expected_sha256(spec, path)
        if want:
            got = sha256_file(path, cancel)
            if got != want:
                return f"sha256 {got[:12]}..., expected {want[:12]}..."
        return ""

    def verify(self, features=None, cancel=None) -> list:
        """[(FileStatus, problem)] for present files; reads every byte (slow for 7 GB)."""
        out = []
        for st in self.status(features):
            if st.present:
                out.append((st, self.check_file(st.spec, st.path, cancel)))
        return out

    # -- download ----------------------------------------------------------------------

    def download(self, features=None, progress: Optional[Callable[[DownloadProgress], None]] = None,
                 cancel=None, allow_network: bool = True, offline: Optional[bool] = None,
                 token=None) -> list:
        """Fetch every missing file of `features` (optional ones too); return the paths of all of
        them (None for an optional file that could not be fetched).

        allow_network=False (e.g. Blender's online access is off) or offline mode (argument or
        HF_HUB_OFFLINE) never touches the network and raises ModelsMissing listing what is missing
        (only when a required file is missing: absent optional files are then left absent).
        """
        specs = self.specs(features)
        missing = [st for st in (self.file_status(s) for s in specs) if not st.ok]
        if not missing:
            return [self.locate(s) for s in specs]
        blocked = ""
        if self.model_dir:
            blocked = "a model folder is set, which is never downloaded into; copy the files there"
        elif not allow_network:
            blocked = ("network access is not allowed "
                       "(in Blender: Preferences > System > Network > Allow Online Access)")
        elif env_offline() if offline is None else offline:
            blocked = "offline mode (HF_HUB_OFFLINE) is on"
        if blocked:
            required = [st for st in missing if st.needed]
            if required:
                raise ModelsMissing(self.missing_message(required, blocked), required)
            return [self.locate(s) for s in specs]   # only optional files absent: fine without them
        fetch(missing, self.cache_dir, self.check_file, endpoint=self.endpoint, token=token,
              progress=progress, cancel=cancel, revision_of=self.revision_to_fetch, done=self._record)
        return [self.locate(s) for s in specs]

    def _record(self, spec: ModelFile, path: str) -> None:
        """Write a file of an unpinned repository into the lock, with the commit it came from."""
        if not spec.revision_verified:
            model_lock.record(self.cache_dir, spec, path,
                              self.expected_sha256(spec, path) or sha256_file(path))


def _size_note(spec: ModelFile, size: int) -> str:
    """'expected 3.48 GB, found 1.0 MB' when a model-folder file's size is off: exact sizes must
    match; approximate ones must lie within a factor of two. '' when it looks right."""
    if spec.size is not None:
        off = size != spec.size
    else:
        off = not spec.approx_size / 2 <= size <= spec.approx_size * 2
    return f"expected {human_size(spec.expected_size)}, found {human_size(size)}" if off else ""


def sha256_file(path: str, cancel=None) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(8 * 1024 * 1024), b""):
            check_cancel(cancel)
            h.update(block)
    return h.hexdigest()


# ------------------------------------------------------------------------------------ model dirs

def build_model_dir(model_dir, sources: dict, files: Iterable[ModelFile], copy: bool = False) -> str:
    """Lay out `{spec_id: existing_file}` as a model folder (<dir>/<repo_id>/<filename>).

    Symlinks by default (falls back to copying where links are not allowed). Used by tests and
    by users who keep weights somewhere else.
    """
    store = ModelStore(model_dir=model_dir, files=files)
    for spec_id, src in sources.items():
        src = os.fspath(src)
        if not os.path.isfile(src):
            raise FileNotFoundError(f"{spec_id}: source file not found: {src}")
        dst = store.model_dir_path(store.spec(spec_id))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst):
            os.remove(dst)
        if copy:
            shutil.copyfile(src, dst)
        else:
            try:
                os.symlink(os.path.abspath(src), dst)
            except OSError:
                shutil.copyfile(src, dst)
    return os.fspath(model_dir)
