"""The NVIDIA driver a CUDA build of PyTorch needs, checked before an install downloads GBs.

A CUDA build runs on any driver of its CUDA major release family from that family's minimum on
(NVIDIA's "minor version compatibility"), so the minimum depends on the major version only.
The driver is read with `nvidia-smi`; where it is absent or fails the driver is unknown and the
install goes on (a computer without an NVIDIA GPU can still run a CUDA build on the CPU).

Torch-free, no network.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from typing import Optional

from .. import EngineError

# Minimum driver per CUDA major release, Linux and Windows. NVIDIA, CUDA Compatibility, "Minor
# Version Compatibility", Table 1 (docs.nvidia.com/deploy/cuda-compatibility/
# minor-version-compatibility.html): CUDA 13.x >= 580, CUDA 12.x >= 525; the CUDA Toolkit
# Release Notes' table "CUDA Toolkit and Minimum Required Driver Version for CUDA Minor Version
# Compatibility" gives 12.x exactly: >= 525.60.13 (Linux), >= 528.33 (Windows).
MINIMUM = {12: {"linux": (525, 60, 13), "windows": (528, 33)},
           13: {"linux": (580,), "windows": (580,)}}
_VERSION = re.compile(r"^\d+(\.\d+)*$")


def cuda_version(flavour: str) -> str:
    """'cu130' -> '13.0'."""
    return f"{int(flavour[2:-1])}.{flavour[-1]}"


def minimum(flavour: str, system: Optional[str] = None) -> Optional[tuple]:
    """The oldest driver that runs the flavour's build on `system` ('linux' or 'windows', default
    this one); None for the CPU flavour or a CUDA release this table does not know."""
    if not flavour.startswith("cu"):
        return None
    system = system or ("windows" if sys.platform == "win32" else "linux")
    return MINIMUM.get(int(cuda_version(flavour).split(".")[0]), {}).get(system)


def parse_version(text: str) -> Optional[tuple]:
    """nvidia-smi's driver version (one line per GPU: the first) as a tuple, or None."""
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return tuple(int(part) for part in line.split(".")) if _VERSION.match(line) else None
    return None


def installed_version(timeout: float = 15.0) -> Optional[tuple]:
    """This computer's NVIDIA driver version, or None where nvidia-smi is absent or fails."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        done = subprocess.run([smi, "--query-gpu=driver_version", "--format=csv,noheader"], capture_output=True,
                              text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_version(done.stdout) if done.returncode == 0 else None


def written(version: tuple) -> str:
    """A driver version as NVIDIA writes it: (570, 133, 7) -> '570.133.07'."""
    return ".".join([str(version[0])] + [f"{part:02d}" for part in version[1:]])


def supports(flavour: str, version: Optional[tuple], system: Optional[str] = None) -> bool:
    """False only when the driver is known and older than the flavour needs."""
    least = minimum(flavour, system)
    return version is None or least is None or version >= least


def check(flavour: str, version: Optional[tuple] = None, alternatives=(), system: Optional[str] = None):
    """Refuse (EngineError) a CUDA flavour this computer's driver is too old for. `version`:
    default read with nvidia-smi; `alternatives`: the other locked flavours, named when the
    driver runs one of them (the CPU flavour always does)."""
    if minimum(flavour, system) is None:
        return
    version = installed_version() if version is None else version
    if supports(flavour, version, system):
        return
    shown, least = written(version), written(minimum(flavour, system))
    fits = [f for f in alternatives if f != flavour and supports(f, version, system)]
    instead = f" or choose the {' or '.join(repr(f) for f in fits)} flavour" if fits else ""
    raise EngineError(f"This computer's NVIDIA driver is {shown}, and the {flavour} build of PyTorch "
                      f"(CUDA {cuda_version(flavour)}) needs driver {least} or newer, so nothing was downloaded. "
                      f"Update the NVIDIA driver{instead}.")
