"""The locked neural runtime: which exact packages Install Neural Runtime installs, with their
sha256 hashes and the one index each comes from (runtime.lock beside this file, written by
scripts/lock_runtime.py).

The lock has one section per flavour, platform, Python and index:

    [cpu linux-x86_64 cp311 https://download.pytorch.org/whl/cpu]
    torch==2.13.0+cpu --hash=sha256:... --hash=sha256:...

Each section is installed by its own pip run from that index alone (`--index-url`, never
`--extra-index-url`), with `--no-deps --require-hashes`: every package is named with its version,
and a file whose hash is not listed is refused. A name on one index can therefore never shadow
the same name meant to come from another. Torch-free, no network.
"""
from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass, field
from typing import Optional

LOCK_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.lock")


@dataclass
class Section:
    flavour: str
    target: str            # e.g. linux-x86_64
    python: str            # e.g. cp311
    index: str             # the index every line of the section comes from
    lines: list = field(default_factory=list)   # requirement lines: name==version --hash=sha256:...

    @property
    def key(self):
        return self.flavour, self.target, self.python


def this_target() -> tuple:
    """(target, python) of the running interpreter, in the lock's spelling."""
    machine = platform.machine().lower()
    machine = {"amd64": "x86_64", "arm64": "arm64" if sys.platform == "darwin" else "aarch64"}.get(machine, machine)
    system = {"win32": "windows", "darwin": "macos"}.get(sys.platform, sys.platform)
    return f"{system}-{machine}", f"cp{sys.version_info.major}{sys.version_info.minor}"


def parse(text: str) -> list:
    """Sections of a lock file's text; ValueError naming the line for anything malformed."""
    sections, current = [], None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            head = line.strip("[]").split()
            if len(head) != 4 or not line.endswith("]"):
                raise ValueError(f"runtime lock line {number}: expected [flavour target python index], got {raw!r}")
            current = Section(*head)
            sections.append(current)
            continue
        if current is None or "==" not in line or "--hash=sha256:" not in line:
            raise ValueError(f"runtime lock line {number}: expected 'name==version --hash=sha256:...' in a section")
        current.lines.append(line)
    return sections


_parsed = {}     # path -> (text, sections): the panel asks on every redraw; reading is cheap, parsing less so


def read(path: Optional[str] = None) -> list:
    path = path or LOCK_FILE
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return []
    if path not in _parsed or _parsed[path][0] != text:
        _parsed[path] = (text, parse(text))
    return _parsed[path][1]


def sections_for(flavour: str, target: str, python: str, path: Optional[str] = None) -> list:
    """The sections to install for a flavour on a target, in the lock's order (torch's index first)."""
    return [s for s in read(path) if s.key == (flavour, target, python) and s.lines]


def flavours_for(target: str, python: str, path: Optional[str] = None) -> list:
    """The flavours locked for a target and Python, sorted (cpu, then the CUDA ones oldest first)."""
    return sorted({s.flavour for s in read(path) if (s.target, s.python) == (target, python) and s.lines})


def available(path: Optional[str] = None) -> list:
    """'flavour target python' of every locked combination, for messages."""
    return sorted({" ".join(s.key) for s in read(path)})
