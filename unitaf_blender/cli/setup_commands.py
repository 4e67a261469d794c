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
    raise BadInput("models: choose an action: status or download")


def cmd_install_runtime(args):
    """`install-runtime --target DIR [--flavour cpu|cuda|cu126|cu128|cu130] [--dry-run]`."""
    from ..engines import Cancelled, EngineError
    runtime = _declared("runtime")
    target = getattr(args, "target", None)
    flavour = getattr(args, "flavour", None) or "cpu"
    if not target:
        print("install-runtime: give --target DIR (the folder to install PyTorch into)", file=sys.stderr)
        return 2
    try:
        cmd = runtime.command(os.path.abspath(target) + ".partial", flavour)
        if getattr(args, "dry_run", False):
            print(" ".join(cmd))
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
        lines.append(f"  {state:<8} {size:>9}  {','.join(spec.features):<22} {spec.display}{flag}")
    lines.append("Revisions:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        spec = next(s.spec for s in rows if s.spec.repo_id == repo)
        pin = spec.revision if spec.revision_verified else f"{spec.revision} (UNVERIFIED revision" + (
            "; content pinned by sha256)" if any(s.spec.sha256 for s in rows if s.spec.repo_id == repo) else ")")
        lines.append(f"  {repo} @ {pin}")
    lines.append("Licences:")
    for repo in dict.fromkeys(s.spec.repo_id for s in rows):
        lines.append(f"  {repo}: {licences.get(repo, 'unknown')}")
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
