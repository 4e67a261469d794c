"""The commands about the engines and what they download or install: `engines`, `voices`
(+ `voices download`), `models status|download` and `install-runtime`. The files, sizes,
licences and installers come from what the engines declare (engines/assets.py: "models",
"voices", "runtime"); this module prints them."""
import os
import sys

from ..engines.assets import find_assets
from .errors import EXIT_FAIL, EXIT_OK, BadInput
from .scene_commands import print_progress


def cmd_engines(args):
    from ..engines import list_engines
    for engine_id, label, description in list_engines():
        print(f"{engine_id:10s} {label} - {description}")
    return EXIT_OK


def cmd_voices(args):
    from ..engines import get_engine
    if getattr(args, "voices_command", None) == "download":
        return cli_voice_download(args)
    for voice_id, label in get_engine(args.engine).voices():
        print(f"{voice_id:24s} {label}")
    return EXIT_OK


def cmd_models(args):
    if args.models_command == "status":
        return cli_status(args)
    if args.models_command == "download":
        return cli_download(args)
    if args.models_command == "licence":
        return cli_licence(args)
    raise BadInput("models: choose an action: status, download or licence")


def cmd_install_runtime(args):
    """`install-runtime --target DIR [--flavour cpu|cuda|cu126|cu130|cu132] [--dry-run]`."""
    from ..engines import Cancelled, EngineError
    runtime = _declared("runtime")
    target = getattr(args, "target", None)
    flavour = getattr(args, "flavour", None) or "cpu"
    if not target:
        print("install-runtime: give --target DIR (the folder to install PyTorch into)", file=sys.stderr)
        return 2
    try:
        commands = runtime.commands(os.path.abspath(target) + ".partial", flavour)
        if getattr(args, "dry_run", False):
            for cmd, requirements in commands:     # one pip run per index, each reading its lock section
                print(" ".join(cmd) + " <section>\n" + "".join(f"    {line}\n" for line in requirements.splitlines()))
            return 0
        runtime.install(target, flavour, print_progress)
    except EngineError as exc:
        print(f"install-runtime: {exc}", file=sys.stderr)
        return 1
    except Cancelled:
        print("install-runtime: cancelled", file=sys.stderr)
        return 1
    print(f"{runtime.label} installed in {os.path.abspath(target)}")
    return 0


def _declared(asset_id, options=None):
    """The asset group an engine of this build declares under `asset_id`; BadInput when none does."""
    group = find_assets(asset_id, options)
    if group is None:
        raise BadInput(f"no engine of this build declares {asset_id} to download or install")
    return group


# ----------------------------------------------------------------------------- `models` printing
# (the store looks files up, the CLI prints them)

def format_status(store, features=None) -> str:
    """The `models status` report: every file with its state and size, revisions, licences."""
    from ..engines.model_files import human_size
    from ..engines.model_store import download_size
    feats = tuple(store.features) if features is None else features
    rows = store.status(feats)
    default_features, licences = store.default_features, {st.spec.repo_id: st.spec.licence for st in rows}
    where = f"model folder {store.model_dir}" if store.model_dir else f"cache {store.cache_dir}"
    lines = [f"{store.title} files ({where})"]
    for st in rows:
        spec = st.spec
        if not st.present:
            state = "optional" if spec.optional else "MISSING"
        elif st.size_ok is False:
            state = f"BAD ({st.problem})"
        elif st.problem:   # model folder: trusted, but the size is far from the official file's
            state = f"SIZE? ({st.problem})"
        else:
            state = "present"
        size = human_size(st.size if st.present else spec.approx_size)
        flag = "  [UNVERIFIED path]" if "path inferred" in spec.note else ""
        feats = "all" if set(spec.features) == set(store.features) else ",".join(spec.features)
        lines.append(f"  {state:<8} {size:>9}  {feats:<22} {spec.display}{flag}")
        lines.append(f"{'':11}{_pin_text(store, spec)}")
    lines.append("Revisions:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        spec = next(s.spec for s in rows if s.spec.repo_id == repo)
        lines.append(f"  {repo} @ {_revision_text(store, spec)}")
    lines.append("Licences:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        lines.append(f"  {repo}: {licences.get(repo, 'unknown')}")
    for st in _licence_texts(rows):
        where = st.path if st.present else "not downloaded yet (`models download` fetches it)"
        lines.append(f"  full text of {st.spec.repo_id}'s licence: {where}"
                     + (" (print it: `models licence`)" if st.present else ""))
    default = [st for st in rows if set(st.spec.features) & set(default_features)]
    need = [st for st in default if st.needed]
    extra = [st for st in default if not st.ok and not st.needed]
    if need:
        total = download_size(need)
        lines.append(f"Missing for the default features ({', '.join(default_features)}): {len(need)} file(s), "
                     f"{human_size(total)} to download.")
    else:
        lines.append("All files for the default features are present.")
    if extra:
        lines.append(f"Optional, not present ({len(extra)}): " + ", ".join(st.spec.display for st in extra)
                     + " (fetched by `models download`; defaults are used without them).")
    return "\n".join(lines)


def _licence_texts(rows) -> list:
    """The statuses of the licence texts among `rows` (LICENSE.txt downloaded with the weights)."""
    return [st for st in rows if st.spec.filename.rsplit("/", 1)[-1].upper().startswith("LICENSE")]


def _pin_text(store, spec) -> str:
    """What a file is checked against: its exact size and sha256, as far as they are known."""
    size = f"exactly {spec.size:,} B" if spec.size is not None else "size not pinned"
    if spec.sha256:
        digest = f"sha256 {spec.sha256}"
    elif store.locked_commit(spec):
        digest = "sha256 as recorded in the lock file"
    else:
        digest = "sha256 not pinned (checked against the Hub's content hash where it sends one)"
    probable = " (probable)" if "probable" in spec.note else ""
    return f"{size}, {digest}{probable}"


def _revision_text(store, spec) -> str:
    """The pinned commit, or the branch with the commit this cache's lock file recorded."""
    if spec.revision_verified:
        return spec.revision
    locked = store.locked_commit(spec)
    if locked:
        from ..engines.model_lock import lock_path
        return (f"{spec.revision}, locked to {locked} (the commit downloaded; recorded in "
                f"{lock_path(store.cache_dir)})")
    return f"{spec.revision} (UNVERIFIED revision: no public commit to pin; a download records the commit it got)"


def cli_licence(args) -> int:
    """`models licence`: print the licence texts downloaded with the weights."""
    store = _store_from_args(args)
    shown = 0
    for st in _licence_texts(store.status(getattr(args, "features", None) or None)):
        if not st.present:
            print(f"{st.spec.display}: not downloaded yet (`models download` fetches it with the weights)",
                  file=sys.stderr)
            continue
        with open(st.path, encoding="utf-8", errors="replace") as f:
            print(f"===== {st.spec.display} ({st.path}) =====\n{f.read().rstrip()}\n")
        shown += 1
    return EXIT_OK if shown else EXIT_FAIL


def _store_from_args(args):
    options = {"cache_dir": getattr(args, "cache_dir", None), "model_dir": getattr(args, "model_dir", None)}
    return _declared("models", options).store


def cli_status(args) -> int:
    """`models status`: print files, sizes, revisions, licences. Exit 0 whenever it could report
    (missing files are information); with --check, exit 1 when a needed file is missing."""
    store = _store_from_args(args)
    features = getattr(args, "features", None) or None
    print(format_status(store, features))
    return EXIT_FAIL if getattr(args, "check", False) and store.missing(features) else EXIT_OK


def cli_download(args) -> int:
    """`models download [--feature F ...] [--offline]`: fetch what is missing, with a progress line."""
    return _download(_store_from_args(args), getattr(args, "features", None) or None, getattr(args, "offline", False))


def cli_voice_download(args) -> int:
    """`voices download NAME... [--offline]`: natural voices through the same model store."""
    voices = _declared("voices", {"cache_dir": getattr(args, "cache_dir", None)})
    names = [n.strip().lower().removeprefix("hibari:") for n in args.names]
    unknown = [n for n in names if n not in voices.features]
    if unknown:
        raise BadInput(f"voices download: no downloadable voice named {', '.join(unknown)}; choose from "
                       f"{', '.join(voices.features)} (heart is built in)")
    return _download(voices.store, names, getattr(args, "offline", False))


def _download(store, features, offline) -> int:
    from ..engines.model_download import DownloadError, DownloadProgress
    from ..engines.model_files import human_size
    from ..engines.model_store import ModelsMissing
    last = {"pct": -1, "file": None}

    def report(p: DownloadProgress):
        pct = int(100 * p.done / p.total) if p.total else 0
        if p.file != last["file"]:
            print(f"[{p.index}/{p.count}] {p.file}", file=sys.stderr)
            last["file"] = p.file
        if pct != last["pct"]:
            last["pct"] = pct
            print(f"\r  {human_size(p.done)} / {human_size(p.total)} ({pct}%)", end="", file=sys.stderr)

    specs = store.specs(features)
    print("Licences of what will be downloaded:", file=sys.stderr)
    for repo, licence in dict.fromkeys((s.repo_id, s.licence) for s in specs):
        print(f"  {repo}: {licence}", file=sys.stderr)
    try:
        store.download(features, progress=report, offline=True if offline else None)
    except (ModelsMissing, DownloadError) as exc:
        print(f"\n{exc}", file=sys.stderr)
        return EXIT_FAIL
    print(f"\nAll files present in {store.model_dir or store.cache_dir}.", file=sys.stderr)
    return EXIT_OK
