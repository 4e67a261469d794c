"""Write the neural runtime lock (unitaf_blender/engines/unitaf/runtime.lock): every package that
Install Neural Runtime installs, per flavour, platform and Python, with its exact version, the one
index it comes from and the sha256 of every file of that version on that index.

uv (`uv pip compile`, pinned in requirements-test.txt; it resolves for another platform with that
platform's markers, which pip cannot) resolves torch with PyYAML, huggingface_hub and Jinja2
(torch_install.EXTRA_PACKAGES) and writes the index each package came from and its hashes. The
build PyPI itself publishes on a target (torch_install.PYPI_BUILDS: CUDA 13.0 on Linux, CPU on
Windows and macOS) is resolved from PyPI alone, torch pinned without a local version and checked
to be that build (its CUDA runtime's version, or none). Every other build is resolved at the
flavour's local version (e.g. 2.13.0+cu126) from the flavour's PyTorch index and PyPI, each
package taken from the index with its best version. The lock then sections the packages by
index, and the installer fetches each from there alone with --require-hashes. A combination that
does not resolve (no build of that flavour for it, or its index unreachable) is not locked, and
the installer refuses it with a clear message.

    python scripts/lock_runtime.py [--flavours cpu cu126 cu130 cu132] [--targets linux-x86_64 ...]
        [--pythons cp311 cp313] [--update] [--torch-index URL] [--torch-files MIRROR] [--pypi-index URL]
        [--out FILE]

`--update` re-resolves only the flavours, targets and Pythons named and keeps every other section
of the existing lock as it is (a combination that does not resolve keeps its old sections too):
e.g. `--update --flavours cu130 --targets linux-x86_64 linux-aarch64` needs PyPI only.
Needs the network, or local indexes (file:// URLs with PEP 503 pages, as the tests use);
`--torch-files` reads the PyTorch index's pages from a mirror while the lock names the real one.
A mirror served over loopback HTTP may list a wheel it does not hold by its published sha256 (the
anchor's `#sha256=`) with the release's metadata beside it (PEP 658 `data-core-metadata`): uv
resolves from the metadata and the lock takes the published hash, which pip checks at install.
uv's and pip's configuration files and variables are ignored: only the indexes named here are read.
"""
from __future__ import annotations

import argparse
import datetime
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from unitaf_blender.engines.unitaf import gpu_driver, runtime_lock, torch_install  # noqa: E402

TORCH_INDEX = torch_install.TORCH_INDEX
PYPI_INDEX = torch_install.PYPI_INDEX
FLAVOURS = ("cpu",) + torch_install.CUDA_FLAVOURS
# uv's name for each target platform; the Pythons of the Blender releases the extension supports
# (4.2-5.0: 3.11, 5.1-5.2: 3.13). torch 2.13's macOS wheels need macOS 14.
TARGETS = {"linux-x86_64": "x86_64-manylinux_2_28", "linux-aarch64": "aarch64-manylinux_2_28",
           "windows-x86_64": "x86_64-pc-windows-msvc", "macos-arm64": "aarch64-apple-darwin"}
PYTHONS = ("cp311", "cp313")


def resolve(uv: list, flavour: str, target: str, python: str, pins: list, indexes: list) -> list:
    """[(name, version, [sha256...], index)] for `pins` on that target, or [] when it does not resolve.
    `indexes`: the PyPI index first, then the PyTorch one (or none)."""
    with tempfile.TemporaryDirectory() as tmp:
        requirements = os.path.join(tmp, "in.txt")
        with open(requirements, "w", encoding="utf-8") as f:
            f.write("\n".join(pins) + "\n")
        cmd = uv + ["pip", "compile", "--no-config", requirements, "--python-platform", TARGETS[target],
                    "--python-version", f"{python[2]}.{python[3:]}", "--generate-hashes", "--emit-index-annotation",
                    "--no-header", "--no-annotate", "--only-binary", ":all:", "--index-url", indexes[0],
                    "--index-strategy", "unsafe-best-match", "--quiet"]
        for extra in indexes[1:]:
            cmd += ["--extra-index-url", extra]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
        env.update(MACOSX_DEPLOYMENT_TARGET="14.0", UV_NO_CONFIG="1", UV_CACHE_DIR=os.path.join(tmp, "cache"))
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        why = [ln for ln in (done.stderr or done.stdout).splitlines() if ln.strip()][:2]
        print(f"  {flavour} {target} {python}: not resolved ({' '.join(why)[:200]})", file=sys.stderr)
        return []
    return parse_compiled(done.stdout)


def parse_compiled(text: str) -> list:
    """uv's `name==version \\ --hash=... # from INDEX` blocks -> [(name, version, hashes, index)]."""
    out = []
    for block in re.split(r"\n(?=\S)", text.strip()):
        head = re.match(r"([A-Za-z0-9._-]+)==(\S+)", block)
        index = re.search(r"# from (\S+)", block)
        if head and index:
            out.append((head[1], head[2], sorted(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)), index[1]))
    return out


def sources(flavour: str, target: str, pypi_index: str, torch_files: str) -> list:
    """The indexes a combination is resolved from: PyPI alone for PyPI's own build, else PyPI
    then the flavour's PyTorch index (read at `torch_files`)."""
    if torch_install.is_pypi_build(flavour, target):
        return [pypi_index]
    return [pypi_index, f"{torch_files}/{flavour}"]


def check_pypi_build(flavour: str, target: str, resolved: list):
    """SystemExit unless what PyPI gave for `target` is the `flavour` build: a CUDA build's
    runtime (cuda-toolkit, nvidia-cuda-runtime) of that CUDA version, a CPU build none."""
    runtimes = {name: version for name, version, _, _ in resolved
                if name == "cuda-toolkit" or name.startswith("nvidia-cuda-runtime")}
    if flavour == "cpu":
        cuda = sorted(name for name, *_ in resolved if name.startswith(("nvidia-", "cuda-")))
        if cuda:
            raise SystemExit(f"PyPI's torch on {target} brings {', '.join(cuda)}: not the CPU build; not locked")
        return
    wanted = gpu_driver.cuda_version(flavour)
    if not runtimes or any(not version.startswith(wanted + ".") for version in runtimes.values()):
        found = ", ".join(f"{n}=={v}" for n, v in sorted(runtimes.items())) or "no CUDA runtime"
        raise SystemExit(f"PyPI's torch on {target} brings {found}: not the {flavour} (CUDA {wanted}) build; "
                         "not locked")


def lock_sections(uv, combinations, torch_index, pypi_index, pins_for, torch_files=None) -> tuple:
    """(sections, [combination that did not resolve]) for [(flavour, target, python)].
    `torch_files`: where the PyTorch index's pages are read (a mirror of it, e.g. local copies of
    its wheels); the lock still names `torch_index`."""
    torch_files = torch_files or torch_index
    sections, missing = [], []
    for flavour, target, python in combinations:
        pypi_only = torch_install.is_pypi_build(flavour, target)
        indexes = sources(flavour, target, pypi_index, torch_files)
        resolved = resolve(uv, flavour, target, python, pins_for(flavour, target), indexes)
        if not resolved:
            missing.append((flavour, target, python))
            continue
        if pypi_only:
            check_pypi_build(flavour, target, resolved)
        by_index = {}
        for name, version, hashes, index in resolved:
            index = index.rstrip("/").replace(torch_files, torch_index)
            if not hashes:
                raise SystemExit(f"{name} {version}: no hash from {index}; cannot lock {flavour} {target}")
            by_index.setdefault(index, []).append(
                f"{name}=={version} " + " ".join(f"--hash=sha256:{h}" for h in hashes))
        for index in sorted(by_index, key=lambda i: i == pypi_index):       # torch's index first
            sections.append(runtime_lock.Section(flavour, target, python, index,
                                                 sorted(by_index[index], key=str.lower)))
        print(f"  {flavour} {target} {python}: {len(resolved)} packages"
              f"{' (PyPI only)' if pypi_only else ''}", file=sys.stderr)
    return sections, missing


def combinations(flavours, targets, pythons) -> list:
    """Every (flavour, target, python) asked for that can exist (no CUDA on macOS)."""
    return [(f, t, p) for f in flavours for t in targets for p in pythons
            if f == "cpu" or not t.startswith("macos")]


def render(sections) -> str:
    """The lock's text: the sections in flavour, target and Python order (a combination's own
    sections as given: torch's index first), then what the full matrix leaves unlocked."""
    def order(section):
        return (FLAVOURS.index(section.flavour) if section.flavour in FLAVOURS else len(FLAVOURS),
                list(TARGETS).index(section.target) if section.target in TARGETS else len(TARGETS),
                section.python)
    lines = [f"# Neural runtime lock, written by scripts/lock_runtime.py on {datetime.date.today()}; do not edit.",
             "# [flavour target python index]: installed by one pip run from that index alone,",
             "# with --no-deps --require-hashes (engines/unitaf/runtime_lock.py).", ""]
    for section in sorted(sections, key=order):       # sorted() is stable: a combination keeps its order
        lines += [f"[{section.flavour} {section.target} {section.python} {section.index}]", *section.lines, ""]
    locked = {s.key for s in sections}
    missing = [" ".join(c) for c in combinations(FLAVOURS, TARGETS, PYTHONS) if c not in locked]
    if missing:
        lines.append("# not locked: " + "; ".join(missing))
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--flavours", nargs="+", default=list(FLAVOURS), choices=FLAVOURS)
    ap.add_argument("--targets", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    ap.add_argument("--pythons", nargs="+", default=list(PYTHONS))
    ap.add_argument("--update", action="store_true",
                    help="re-resolve only the flavours, targets and Pythons named; keep the rest of --out as it is")
    ap.add_argument("--torch-index", default=TORCH_INDEX, help="the PyTorch index root (flavour folders below it)")
    ap.add_argument("--torch-files", default=None,
                    help="read the PyTorch index's pages here instead (a mirror: file:// or URL; flavour folders below)")
    ap.add_argument("--pypi-index", default=PYPI_INDEX)
    ap.add_argument("--packages", nargs="+", default=list(torch_install.EXTRA_PACKAGES),
                    help="pins installed beside torch")
    ap.add_argument("--torch-version", default=torch_install.TORCH_VERSION)
    ap.add_argument("--out", default=runtime_lock.LOCK_FILE)
    ap.add_argument("--uv", default=None, help="the uv command (default: this Python's `-m uv`)")
    args = ap.parse_args(argv)
    uv = args.uv.split() if args.uv else [sys.executable, "-m", "uv"]

    def pins_for(flavour, target):
        local = "" if torch_install.is_pypi_build(flavour, target) else f"+{flavour}"
        return [f"torch=={args.torch_version}{local}", *args.packages]

    asked = combinations(args.flavours, args.targets, args.pythons)
    kept = []
    if args.update:
        if not os.path.isfile(args.out):
            raise SystemExit(f"--update: no lock at {args.out} to update")
        with open(args.out, encoding="utf-8") as f:
            kept = runtime_lock.parse(f.read())
    sections, missing = lock_sections(uv, asked, args.torch_index.rstrip("/"), args.pypi_index.rstrip("/"),
                                      pins_for, args.torch_files.rstrip("/") if args.torch_files else None)
    redone = {s.key for s in sections}      # an update keeps the old sections of what did not resolve
    text = render([s for s in kept if s.key not in redone] + sections)
    runtime_lock.parse(text)       # what the installer will read
    for combination in missing:
        print(f"  not locked: {' '.join(combination)}"
              f"{' (kept as it was)' if any(s.key == combination for s in kept) else ''}", file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
