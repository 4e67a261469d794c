"""'Install neural runtime': PyTorch + PyYAML + huggingface_hub + Jinja2, and every package they
need, exactly as locked (runtime_lock.py: versions, sha256 hashes and one index per package),
into a folder of our own.

Torch is far too big for the extension zip (the CPU wheel alone is ~190 MB, CUDA builds are GBs),
so it is pip-installed on request into a folder the caller gives (in Blender: the extension's
user folder), never into Blender's own Python. The install goes to a staging folder that is
renamed into place only when pip succeeded, so a cancelled or failed install leaves nothing
half-written. `activate(folder)` puts an installed runtime on sys.path.

Each section of the lock is installed by one pip run from its own index (`--index-url` only)
with `--no-deps --require-hashes`, and pip ignores the user's pip configuration and PIP_*
variables (a configured extra index would mix indexes again). 'cuda' is the CUDA build the lock
has for this platform (PyPI's own where it is one: CUDA 13.0 on Linux), and a CUDA install is
refused before any download when the NVIDIA driver is known to be too old for it (gpu_driver.py).

No torch and no bpy here: this module must work before torch exists.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Optional

from .. import Cancelled, EngineError
from . import gpu_driver, runtime_lock

TORCH_VERSION = "2.13.0"
# the top of the lock (scripts/lock_runtime.py resolves their dependencies); the versions the
# tests run with. Jinja2 renders the text-emotion model's chat template.
EXTRA_PACKAGES = ("PyYAML==6.0.4", "huggingface_hub==2.4.0", "Jinja2==3.1.6")
TORCH_INDEX = "https://download.pytorch.org/whl"
PYPI_INDEX = "https://pypi.org/simple"
# torch 2.13.0's CUDA builds on the PyTorch index (CUDA 12.8 left its release matrix at 2.12)
CUDA_FLAVOURS = ("cu126", "cu130", "cu132")
# The build PyPI itself publishes on each target: its Linux wheels are the CUDA 13.0 build (they
# require cuda-toolkit 13.0.3 and the nvidia-*-cu13 libraries), its Windows and macOS wheels the
# CPU build. These are locked from PyPI alone; the other builds come from the PyTorch index.
PYPI_BUILDS = {"linux-x86_64": "cu130", "linux-aarch64": "cu130", "windows-x86_64": "cpu", "macos-arm64": "cpu"}
FLAVOURS = ("cpu", "cuda") + CUDA_FLAVOURS
MARKER = "unitaf_runtime.json"

_OFFLINE_SIGNS = ("Failed to establish a new connection", "Temporary failure in name resolution",
                  "Name or service not known", "nodename nor servname", "Network is unreachable",
                  "Could not fetch URL", "NewConnectionError", "Max retries exceeded", "getaddrinfo failed",
                  "ConnectTimeoutError", "No route to host", "Connection refused")


def is_pypi_build(flavour: str, target: str) -> bool:
    """`flavour` is the build PyPI itself publishes for `target` (locked from PyPI alone)."""
    return PYPI_BUILDS.get(target) == flavour


def cuda_flavour(where: Optional[tuple] = None, lock: Optional[str] = None) -> Optional[str]:
    """The CUDA flavour 'cuda' installs on `where` ((target, python), default this interpreter's):
    PyPI's own build when it is a locked CUDA build, else the newest locked one; None if none is."""
    target, py = where or runtime_lock.this_target()
    return cuda_flavour_among(target, runtime_lock.flavours_for(target, py, lock))


def cuda_flavour_among(target: str, locked: list) -> Optional[str]:
    """cuda_flavour for a target whose locked flavours (sorted, as flavours_for has them) are known."""
    cuda = [f for f in locked if f in CUDA_FLAVOURS]
    if not cuda:
        return None
    return PYPI_BUILDS.get(target) if PYPI_BUILDS.get(target) in cuda else cuda[-1]


def _flavour(flavour: str, where: Optional[tuple] = None, lock: Optional[str] = None) -> str:
    f = (flavour or "cpu").strip().lower()
    if f not in FLAVOURS:
        raise EngineError(f"Unknown runtime flavour '{flavour}'; choose one of {', '.join(FLAVOURS)}.")
    target, _ = where or runtime_lock.this_target()
    if f != "cpu" and target.startswith("macos"):
        raise EngineError("There is no CUDA PyTorch for macOS; choose the 'cpu' flavour (it uses Apple Metal/MPS).")
    if f == "cuda":
        f = cuda_flavour(where, lock) or f      # none locked: refused by build_commands, naming 'cuda'
    return f


def _not_locked(f: str, target: str, py: str, lock: Optional[str]) -> str:
    """The refusal for a flavour the lock has nothing for here: what is locked, and what to run."""
    def python(tag):
        return f"Python {tag[2]}.{tag[3:]}"
    here = runtime_lock.flavours_for(target, py, lock)
    text = f"No locked neural runtime for the '{f}' flavour on {target} with {python(py)}"
    other_pythons = sorted({s.python for s in runtime_lock.read(lock) if s.target == target})
    if here:
        text += f"; locked there: {', '.join(here)}."
        cuda = [c for c in here if c in CUDA_FLAVOURS]
        if f == "cpu" and cuda:
            text += (f" The {cuda[-1]} build also runs without an NVIDIA GPU, on the CPU (a bigger download): "
                     f"choose '{cuda[-1]}'.")
    elif other_pythons:
        text += f"; {target} is locked for {', '.join(map(python, other_pythons))} only."
    else:
        text += f"; nothing is locked for {target}."
    if target not in PYPI_BUILDS:
        return text + f" scripts/lock_runtime.py does not lock PyTorch {TORCH_VERSION} for {target}."
    wanted = CUDA_FLAVOURS if f == "cuda" else (f,)
    reach = "pypi.org" if all(is_pypi_build(w, target) for w in wanted) else "pypi.org and download.pytorch.org"
    return text + (f" To lock it, run `python scripts/lock_runtime.py --update --flavours {' '.join(wanted)} "
                   f"--targets {target} --pythons {py}` where {reach} can be reached.")


def build_commands(target_dir, flavour: str = "cpu", python: Optional[str] = None,
                   lock: Optional[str] = None, where: Optional[tuple] = None) -> list:
    """[(pip command, requirements text)] installing the locked runtime into `target_dir` (a
    staging folder), one per section of the lock: the command reads the text from the file
    given after its last argument (`-r FILE`). `where`: (target, python) of the lock, default
    this interpreter's. EngineError when the lock has nothing for this flavour and platform."""
    f = _flavour(flavour, where, lock)
    target, py = where or runtime_lock.this_target()
    sections = runtime_lock.sections_for(f, target, py, lock)
    if not sections:
        raise EngineError(_not_locked(f, target, py, lock))
    out = []
    for section in sections:
        cmd = [python or sys.executable, "-m", "pip", "--isolated", "install", "--target", os.fspath(target_dir),
               "--no-input", "--disable-pip-version-check", "--no-warn-script-location", "--progress-bar", "off",
               "--upgrade", "--no-deps", "--require-hashes", "--only-binary=:all:", "--index-url", section.index, "-r"]
        out.append((cmd, "\n".join(section.lines) + "\n"))
    return out


def lock_digest(lock: Optional[str] = None) -> str:
    try:
        with open(lock or runtime_lock.LOCK_FILE, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return ""


def installed_info(target_dir) -> Optional[dict]:
    """The marker written by a finished install ({'torch': ..., 'flavour': ...}), or None."""
    try:
        with open(os.path.join(os.fspath(target_dir), MARKER), encoding="utf-8") as f:
            info = json.load(f)
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and os.path.isdir(os.path.join(os.fspath(target_dir), "torch")) else None


def activate(target_dir) -> bool:
    """Put an installed runtime on sys.path (first, so it wins over a stray torch). False if none."""
    target_dir = os.path.abspath(os.fspath(target_dir))
    if installed_info(target_dir) is None:
        return False
    if target_dir not in sys.path:
        sys.path.insert(0, target_dir)
    return True


def _classify_failure(lines: list, returncode: int) -> EngineError:
    text = "\n".join(lines)
    tail = "\n".join(lines[-6:])
    if any(sign in text for sign in _OFFLINE_SIGNS):
        return EngineError("Cannot reach the package index: this computer looks offline (or a proxy/firewall "
                           "blocks pypi.org and download.pytorch.org). Connect to the internet (in Blender also "
                           "allow online access in Preferences > System > Network) and try again.\n" + tail)
    if "DO NOT MATCH THE HASHES" in text:
        return EngineError("A downloaded package does not match the sha256 the runtime lock gives for it, so nothing "
                           "was installed (a changed upstream file, or a proxy altering downloads).\n" + tail)
    if "No matching distribution found" in text:
        return EngineError(f"pip found no PyTorch {TORCH_VERSION} build for this Python "
                           f"({sys.version_info.major}.{sys.version_info.minor}) and platform with that flavour; "
                           "try the 'cpu' flavour or another CUDA flavour.\n" + tail)
    if "No space left on device" in text:
        return EngineError("The disk is full: PyTorch needs about 1 GB (CPU) to 5 GB (CUDA) free.\n" + tail)
    return EngineError(f"Installing the neural runtime failed (pip exit code {returncode}):\n{tail}")


def _progress_from(line: str, state: dict) -> Optional[tuple]:
    """(fraction, message) for pip lines that mean progress; fractions only grow."""
    s = line.strip()
    if s.startswith("Collecting "):
        state["collect"] += 1
        frac = 0.05 + min(0.25, 0.02 * state["collect"])
    elif s.startswith("Downloading ") or s.startswith("Using cached "):
        state["download"] += 1
        frac = 0.3 + min(0.55, 0.05 * state["download"])
    elif s.startswith("Installing collected packages"):
        frac = 0.88
    elif s.startswith("Successfully installed"):
        frac = 0.97
    else:
        return None
    state["frac"] = max(state["frac"], frac)
    return state["frac"], s[:160]


def install(target_dir, flavour: str = "cpu", progress: Optional[Callable[[float, str], None]] = None,
            cancel=None, python: Optional[str] = None, allow_network: bool = True, timeout: float = 3600.0,
            lock: Optional[str] = None) -> dict:
    """Install the locked runtime into `target_dir` (replacing an older one only on success).
    progress(fraction, line) gets pip's lines; `cancel` (threading.Event) stops pip and cleans up.
    Returns the installed info. Raises EngineError (offline, no build, pip failure) or Cancelled."""
    if not allow_network:
        raise EngineError("Installing the neural runtime needs the internet, and online access is off "
                          "(Blender: Preferences > System > Network > Allow Online Access).")
    f = _flavour(flavour, lock=lock)
    target_dir = os.path.abspath(os.fspath(target_dir))
    parent = os.path.dirname(target_dir)
    staging = f"{target_dir}.partial-{os.getpid()}"
    commands = build_commands(staging, f, python, lock)      # no lock for this platform: refused here
    target, py = runtime_lock.this_target()
    gpu_driver.check(f, alternatives=runtime_lock.flavours_for(target, py, lock),   # a too old driver: here
                     system=target.split("-")[0])
    os.makedirs(parent, exist_ok=True)
    shutil.rmtree(staging, ignore_errors=True)

    def report(frac, msg):
        if progress is not None:
            progress(frac, msg)

    report(0.0, f"installing PyTorch {TORCH_VERSION} ({f}) into {target_dir}")
    # no pip configuration and no PIP_* variables: the lock alone says what comes from where
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(PYTHONNOUSERSITE="1", PIP_NO_INPUT="1", PIP_CONFIG_FILE=os.devnull)
    try:
        for step, (cmd, requirements) in enumerate(commands):
            req = os.path.join(staging + ".req", f"section{step}.txt")
            os.makedirs(os.path.dirname(req), exist_ok=True)
            with open(req, "w", encoding="utf-8") as fh:
                fh.write(requirements)
            low, width = step / len(commands), 1 / len(commands)
            _run_pip(cmd + [req], env, lambda frac, msg, low=low, width=width: report(low + frac * width, msg),
                     cancel, timeout)
        if not os.path.isdir(os.path.join(staging, "torch")):
            raise EngineError("pip finished but no 'torch' package was installed.")
        info = {"torch": TORCH_VERSION, "flavour": f, "python": f"{sys.version_info.major}.{sys.version_info.minor}",
                "lock": lock_digest(lock)}
        with open(os.path.join(staging, MARKER), "w", encoding="utf-8") as fh:
            json.dump(info, fh)
        old = f"{target_dir}.old-{os.getpid()}"
        if os.path.exists(target_dir):
            os.replace(target_dir, old)
        os.replace(staging, target_dir)
        shutil.rmtree(old, ignore_errors=True)
        report(1.0, f"PyTorch {TORCH_VERSION} ({f}) installed; restart Blender if torch was already imported")
        return info
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(staging + ".req", ignore_errors=True)


def _run_pip(cmd, env, report, cancel, timeout):
    """One pip run, its lines turned into progress; raises on failure or cancel (pip stopped)."""
    try:
        # Its own process group (POSIX): a cancel must stop pip's children too, or one of them
        # could still write into the staging folder after it was removed.
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8", errors="replace", env=env,
                                start_new_session=os.name == "posix")
    except OSError as exc:
        raise EngineError(f"Cannot run pip with {cmd[0]}: {exc}") from exc
    lines, q = [], queue.Queue()

    def pump():
        for line in proc.stdout:
            q.put(line.rstrip("\n"))
        q.put(None)
    threading.Thread(target=pump, daemon=True).start()
    state = {"collect": 0, "download": 0, "frac": 0.0}
    waited = 0.0
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            try:
                line = q.get(timeout=0.2)
            except queue.Empty:
                waited += 0.2
                if waited > timeout:
                    raise EngineError(
                        f"Installing the neural runtime took longer than {timeout:.0f} s; stopped.") from None
                continue
            if line is None:
                break
            lines.append(line)
            step = _progress_from(line, state)
            if step is not None:
                report(*step)
        code = proc.wait()
        if code != 0:
            raise _classify_failure(lines, code)
    finally:
        _stop(proc)


def _stop(proc):
    """End pip and, on POSIX, every process it started; return once they are gone."""
    if os.name != "posix":
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10.0
    while time.monotonic() < deadline:     # the group's other members may outlive the leader
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.02)
