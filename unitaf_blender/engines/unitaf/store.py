"""Model store: every weight file the UniTAF engine needs, where it lives, and how to get it.

No torch and no bpy here, and huggingface_hub is imported only when downloading, so
`models status` works on a bare Python. Two layouts are supported:

* cache mode (default): the Hugging Face cache layout
  `<cache_dir>/models--<org>--<name>/snapshots/<commit>/<filename>`; `cache_dir` is the
  explicit argument, else HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub.
  Downloads go through `huggingface_hub.hf_hub_download` (atomic rename into place, Range
  resume of dropped connections, HF_ENDPOINT mirrors, HF_HUB_OFFLINE).
* model-dir mode (`model_dir=...`): a plain folder laid out as `<model_dir>/<repo_id>/<filename>`
  (e.g. `DIR/IndexTeam/IndexTTS-2/gpt.pth`). Nothing is downloaded; files are trusted as given
  (size/sha256 are only checked by `verify()`), so test folders built from small fixtures work.
  `build_model_dir()` lays such a folder out from existing files. A file whose size is far from
  the catalogue's is reported (FileStatus.problem, `size_report()`), not refused.

Integrity: the size is checked whenever it is known exactly; `verify()` and every download
check sha256 against the pinned value (taken from the official Hugging Face file page) or, for
Git-LFS files without a pinned value, against the content hash the Hub sent as ETag (the blob
name in the cache). A file that fails is deleted, never left looking complete.
"""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import os
import re
import shutil
from typing import Callable, Iterable, Optional

from .. import Cancelled, EngineError, EngineUnavailable, check_cancel
from ...core.errors import first_line

GB, MB, KB = 1000 ** 3, 1000 ** 2, 1000

# ------------------------------------------------------------------------------------ catalogue

LICENCES = {
    "IndexTeam/IndexTTS-2": "bilibili Model Use License Agreement (custom: royalty-free; separate licence above "
                            "100 M MAU / RMB 1 bn revenue; keep notices; no use to improve other AI models)",
    "facebook/w2v-bert-2.0": "MIT",
    "amphion/MaskGCT": "CC-BY-NC-4.0 (NON-COMMERCIAL use only)",
    "funasr/campplus": "FunASR Model Open Source License v1.1 (attribution, keep model names)",
    "nvidia/bigvgan_v2_22khz_80band_256x": "MIT",
    "ATA-space/UniTAF": "not stated; derivative of IndexTTS2 (bilibili licence) and UniTalker (Apache-2.0)",
}

FEATURES = {
    "speech": "text -> speech (IndexTTS2 GPT, S2Mel, w2v-BERT, semantic codec, CAMPPlus, BigVGAN)",
    "emotion-vector": "emotion from an 8-value vector / emotion names (IndexTTS2 speaker/emotion matrices)",
    "face": "speech features -> 61 face channels (UniTAF projector + UniTalker decoder)",
    "emotion-text": "emotion from free text (optional Qwen3-0.6B fine-tune)",
}
DEFAULT_FEATURES = ("speech", "emotion-vector", "face")

_A2F_RUN = ("UniTAF-A2F(口型状态顶点空间加权loss_加权仅作用于嘴部顶点)-加载Adapter预训练权重"
            "(约束AudioFeature_step_74140)_260109/checkpoint-74140")


@dataclass(frozen=True)
class ModelFile:
    id: str                       # stable id used by the engine: store.path("indextts2.gpt")
    repo_id: str
    filename: str                 # path inside the repository
    revision: str                 # a commit hash, or a branch name where no commit could be verified
    approx_size: int              # bytes, for messages; exact when `size` is set
    features: tuple
    size: Optional[int] = None    # exact byte count when known (checked on status)
    sha256: Optional[str] = None  # from the official HF file page (checked on download/verify)
    note: str = ""
    optional: bool = False        # downloaded with its features, but the engine works without it

    @property
    def expected_size(self) -> int:
        """Bytes to expect: exact when known, else the approximate size."""
        return self.approx_size if self.size is None else self.size

    @property
    def revision_verified(self) -> bool:
        return bool(re.fullmatch(r"[0-9a-f]{40}", self.revision))

    @property
    def licence(self) -> str:
        return LICENCES.get(self.repo_id, "unknown")

    @property
    def display(self) -> str:
        return f"{self.repo_id}/{self.filename}"


_ITTS = "IndexTeam/IndexTTS-2"
_ITTS_REV = "main"  # UNVERIFIED: no full commit hash found; content is pinned by sha256 below
_W2V_REV = "da985ba0987f70aaeb84a80f2851cfac8c697a7b"     # main after "Upload model (#12)", 2024-01-25
_MASKGCT_REV = "630cca57634b477ee7ccfd3baa2c6adc922b93bc"  # a commit holding semantic_codec/model.safetensors
_CAMPPLUS_REV = "fb71fe990cbf6031ae6987a2d76fe64f94377b7e"  # head of main ("add", 2024-02-01)
_BIGVGAN_REV = "633ff708ed5b74903e86ff1298cf4a98e921c513"   # head of main (after v2.4, 2024-09-05)
_UNITAF_REV = "main"  # UNVERIFIED: the ATA-space/UniTAF listing could not be read

MODEL_FILES = (
    ModelFile("indextts2.gpt", _ITTS, "gpt.pth", _ITTS_REV, int(3.48 * GB), ("speech", "face"),
              sha256="baaaeb8b56328da81731dc540a85a7dee32eca9da28f174b05757cb651c602a4"),
    ModelFile("indextts2.s2mel", _ITTS, "s2mel.pth", _ITTS_REV, int(1.2 * GB), ("speech", "face"),
              sha256="aae1bb12017cbb47e7a5ce537fc82f40b6b1deb71acdb9b8f25686f32714b636"),
    ModelFile("indextts2.bpe", _ITTS, "bpe.model", _ITTS_REV, 476 * KB, ("speech", "face"),
              note="sha256 b2a5ce80... per a mirror page only; not pinned"),
    ModelFile("indextts2.w2v_stats", _ITTS, "wav2vec2bert_stats.pt", _ITTS_REV, 9343, ("speech", "face"),
              size=9343, sha256="c9c176c2b8850ab2e3ba828bbfa969deaf4566ce55db5f2687b8430b87526ad2"),
    ModelFile("indextts2.config", _ITTS, "config.yaml", _ITTS_REV, 3 * KB, ("speech", "face")),
    ModelFile("indextts2.feat1", _ITTS, "feat1.pt", _ITTS_REV, 57170, ("emotion-vector",),
              size=57170, sha256="f219cb447d80216ba615666da2ff8d63ac544eee26657f3a7b278692bf7a67c4"),
    ModelFile("indextts2.feat2", _ITTS, "feat2.pt", _ITTS_REV, 374866, ("emotion-vector",),
              size=374866, note="sha256 9c4292e9... per a mirror page only; not pinned"),
    ModelFile("w2vbert.model", "facebook/w2v-bert-2.0", "model.safetensors", _W2V_REV, int(2.32 * GB),
              ("speech", "face"), sha256="eb890c9660ed6e3414b6812e27257b8ce5454365d5490d3ad581ea60b93be043"),
    ModelFile("w2vbert.config", "facebook/w2v-bert-2.0", "config.json", _W2V_REV, 1870, ("speech", "face"),
              optional=True, note="1.87 kB per the Hub listing at this revision (approximate; not enforced); "
                                  "without it the official w2v-BERT 2.0 dimensions are assumed"),
    ModelFile("w2vbert.preprocessor", "facebook/w2v-bert-2.0", "preprocessor_config.json", _W2V_REV, 1 * KB,
              ("speech", "face")),
    ModelFile("maskgct.semantic_codec", "amphion/MaskGCT", "semantic_codec/model.safetensors", _MASKGCT_REV,
              177 * MB, ("speech", "face"),
              sha256="ec947271175d8cad75ec37e83aa487e27c97a0f72a303393772da5ffa84bddf2"),
    ModelFile("campplus.model", "funasr/campplus", "campplus_cn_common.bin", _CAMPPLUS_REV, 28036335,
              ("speech", "face"), note="size 28,036,335 B per a mirror commit; not enforced"),
    ModelFile("bigvgan.generator", "nvidia/bigvgan_v2_22khz_80band_256x", "bigvgan_generator.pt", _BIGVGAN_REV,
              449 * MB, ("speech",)),
    ModelFile("bigvgan.config", "nvidia/bigvgan_v2_22khz_80band_256x", "config.json", _BIGVGAN_REV, 2 * KB,
              ("speech",)),
    ModelFile("unitaf.projector", "ATA-space/UniTAF", f"{_A2F_RUN}/audio_feature_projector.pt", _UNITAF_REV,
              int(3.7 * MB), ("face",), note="file path inferred from the UniTAF code; UNVERIFIED"),
    ModelFile("unitaf.a2f", "ATA-space/UniTAF", f"{_A2F_RUN}/a2f_model.pt", _UNITAF_REV, int(4.9 * MB),
              ("face",), note="file path inferred from the UniTAF code; UNVERIFIED"),
) + tuple(
    ModelFile(f"qwen_emo.{name.split('.')[0]}", _ITTS, f"qwen0.6bemo4-merge/{name}", _ITTS_REV, size,
              ("emotion-text",), note="UNVERIFIED file list and sizes")
    for name, size in (("config.json", 1 * KB), ("generation_config.json", 1 * KB),
                       ("model.safetensors", int(1.19 * GB)), ("tokenizer.json", int(11.4 * MB)),
                       ("tokenizer_config.json", 10 * KB), ("vocab.json", int(2.8 * MB)),
                       ("merges.txt", int(1.7 * MB)))
)


# ------------------------------------------------------------------------------------ errors

class ModelsMissing(EngineUnavailable):
    """Some model files are not present; the message lists them with the total download size."""

    def __init__(self, message: str, missing=()):
        super().__init__(message)
        self.missing = list(missing)


class DownloadError(EngineError):
    """A download failed or produced a file that does not check out; nothing was kept."""


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


@dataclass
class DownloadProgress:
    file: str            # repo_id/filename being downloaded
    file_done: int
    file_total: Optional[int]
    done: int            # bytes of this whole download session, including finished files
    total: int           # expected bytes of the session (approximate where sizes are unknown)
    index: int           # 1-based index of the file in this session
    count: int


def human_size(n: Optional[int]) -> str:
    if n is None:
        return "?"
    for unit, scale in (("GB", GB), ("MB", MB), ("kB", KB)):
        if n >= scale:
            return f"{n / scale:.2f} {unit}" if unit == "GB" else f"{n / scale:.1f} {unit}"
    return f"{n} B"


def default_cache_dir() -> str:
    """The Hugging Face hub cache as huggingface_hub resolves it (HF_HUB_CACHE > HF_HOME/hub)."""
    env = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if env:
        return os.path.expanduser(os.path.expandvars(env))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return os.path.join(os.path.expanduser(os.path.expandvars(home)), "hub")


def env_offline() -> bool:
    return any(os.environ.get(v, "").strip().upper() in ("1", "ON", "YES", "TRUE")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


class ModelStore:
    def __init__(self, cache_dir=None, model_dir=None, files: Iterable[ModelFile] = MODEL_FILES,
                 endpoint: Optional[str] = None):
        self.model_dir = os.fspath(model_dir) if model_dir else None
        self.cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
        self.files = tuple(files)
        self.endpoint = endpoint
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
            features = DEFAULT_FEATURES
        features = (features,) if isinstance(features, str) else tuple(features)
        unknown = [f for f in features if f not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown}; choose from {', '.join(FEATURES)}")
        return [s for s in self.files if set(s.features) & set(features)]

    def model_dir_path(self, spec: ModelFile) -> str:
        return os.path.join(self.model_dir, *spec.repo_id.split("/"), *spec.filename.split("/"))

    def _cached_path(self, spec: ModelFile) -> Optional[str]:
        """Resolve a file in the HF cache without any network (refs/<branch> -> snapshot)."""
        repo_dir = os.path.join(self.cache_dir, "models--" + spec.repo_id.replace("/", "--"))
        commit = spec.revision
        if not spec.revision_verified:
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

    def missing_message(self, missing, reason: str = "") -> str:
        """A self-contained message: the first line says what is missing and what to do (a caller
        that shows one line still tells the user how to fix it); the next lines list the files,
        then the folder they were looked for in."""
        total = sum(st.spec.approx_size for st in missing)
        if self.model_dir and not os.path.isdir(self.model_dir):
            head = (f"UniTAF model folder not found: {self.model_dir}. Choose an existing folder laid out as "
                    "<folder>/<repo_id>/<filename>, or no model folder to use the download cache.")
        elif self.model_dir:
            head = (f"{len(missing)} UniTAF model file(s) missing in the model folder {self.model_dir}: copy them "
                    "there as <folder>/<repo_id>/<filename> (a model folder is never downloaded into).")
        elif reason:
            head = (f"{len(missing)} UniTAF model file(s) missing ({human_size(total)} to download), but they "
                    f"cannot be downloaded now: {reason}.")
        else:
            head = (f"{len(missing)} UniTAF model file(s) missing ({human_size(total)} to download): get them "
                    "with 'Download models' (add-on preferences) or the CLI command `models download`.")
        lines = [head]
        for st in missing:
            extra = f" [{st.problem}]" if st.problem and st.problem != "missing" else ""
            lines.append(f"  - {st.spec.display} ({human_size(st.spec.approx_size)}){extra}")
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

    @staticmethod
    def expected_sha256(spec: ModelFile, path: str) -> Optional[str]:
        """Pinned sha256, else the Hub's content hash kept as the blob name (Git-LFS files only)."""
        if spec.sha256:
            return spec.sha256
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
        try:
            import huggingface_hub
        except ImportError as exc:
            raise DownloadError("Downloading models needs the 'huggingface_hub' package, which is not "
                                f"installed ({exc}).") from exc

        total = sum(st.spec.expected_size for st in missing)
        session = {"done": 0}
        for index, st in enumerate(missing, 1):
            spec = st.spec
            check_cancel(cancel)
            if st.present:  # wrong size: remove so the hub does not return the bad file as cached
                _remove_cached(st.path)
            bar = _progress_class(spec, index, len(missing), total, session, progress, cancel)
            try:
                path = huggingface_hub.hf_hub_download(
                    spec.repo_id, spec.filename, revision=spec.revision, cache_dir=self.cache_dir,
                    endpoint=self.endpoint or os.environ.get("HF_ENDPOINT") or None, token=token,
                    tqdm_class=bar)
            except Cancelled:
                raise
            except Exception as exc:  # noqa: BLE001 - every hub/network error becomes one clear message
                raise DownloadError(f"Could not download {spec.display} @ {spec.revision}: "
                                    f"{type(exc).__name__}: {first_line(exc)}") from exc
            # Not cancellable: a complete file must be verified before it may stay in the cache.
            problem = self.check_file(spec, path)
            if problem:
                _remove_cached(path)
                raise DownloadError(f"Downloaded {spec.display} does not check out ({problem}); the file was "
                                    "deleted. Try again; if it persists the upstream file changed.")
            session["done"] += os.path.getsize(path)
        return [self.locate(s) for s in specs]


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


# ------------------------------------------------------------------------------------ model dirs

def build_model_dir(model_dir, sources: dict, files: Iterable[ModelFile] = MODEL_FILES, copy: bool = False) -> str:
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
