"""Where and how the UniTAF models run: device and precision choice, a process-wide model cache
(models load once per Blender session; a second Generate reloads nothing), memory release on
request, and out-of-memory errors turned into an actionable message with a CPU fallback.
"""
from __future__ import annotations

import contextlib
import gc
import sys
import threading
from dataclasses import dataclass
from typing import Callable, Iterable, Optional

import torch

from .. import EngineError
from .options import device_name, precision_name

# "int8": int8 weights for the GPT blocks (CPU only); everything else runs in auto's float type
DTYPES = {"auto": None, "fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "int8": None}
# CPU flags (Linux /proc/cpuinfo names) of native bf16 arithmetic: AVX512-BF16 or AMX
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


class OutOfMemory(EngineError):
    """The device ran out of memory. `fallback_device` is what the UI should offer to retry on."""

    fallback_device = "cpu"


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(pref: Optional[str] = None) -> torch.device:
    """'auto' (or None): CUDA, else Apple MPS, else CPU. An explicit device that is not there is an
    error, not a silent fallback, so the user knows why generation is slow."""
    pref = device_name(pref)
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise EngineError(f"Device '{pref}' was chosen but PyTorch sees no CUDA GPU (installed torch "
                              f"{torch.__version__}; a CPU-only build cannot use the GPU). Choose 'cpu' or 'auto', "
                              "or reinstall the neural runtime with the CUDA flavour.")
        return torch.device(pref if ":" in pref else "cuda")
    if pref == "mps":
        if not _mps_available():
            raise EngineError("Device 'mps' was chosen but Apple Metal (MPS) is not available here. "
                              "Choose 'cpu' or 'auto'.")
        return torch.device("mps")
    if pref == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def cpu_flags() -> frozenset:
    """This CPU's feature flags as Linux names them (/proc/cpuinfo); empty where they cannot be
    read (macOS and Windows: treated as no native bf16, the safe choice). The one place the CPU is
    read: the tests replace it to run precision=auto as on CPUs with and without native bf16."""
    if not sys.platform.startswith("linux"):
        return frozenset()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def native_bf16(flags: Optional[Iterable[str]] = None) -> bool:
    """True where the CPU does bf16 arithmetic natively (AVX512-BF16 or AMX). Without it torch
    converts bf16 to fp32 in software: large bf16 GEMMs then run ~4x slower than fp32 on the
    2-core AVX2 EPYC (prefill), so fp32 stays the default there. `flags`: a flag set to judge
    (tests), else this CPU's."""
    names = {f.lower() for f in (cpu_flags() if flags is None else flags)}
    return any(f in names for f in NATIVE_BF16_FLAGS)


@dataclass(frozen=True)
class Precision:
    """What a precision option resolves to on a device: the float type of the computation, whether
    the GPT blocks hold int8 weights, the name stored on the take and why it was chosen."""
    dtype: torch.dtype
    int8: bool
    name: str
    why: str


def _dtype_name(dtype: torch.dtype) -> str:
    return {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}.get(dtype, str(dtype))


def pick_precision(device: torch.device, pref: Optional[str] = None, flags: Optional[Iterable[str]] = None) -> Precision:
    """'auto': fp16 on CUDA (bf16 is chosen explicitly), fp32 on MPS, on CPU bf16 where the CPU has
    native bf16 (else fp32: the reference-exact path, and the faster one without AMX/AVX512-BF16).
    'int8': CPU only, int8 GPT block weights with auto's float type for the rest."""
    name = precision_name(pref)
    if name == "int8":
        if device.type != "cpu":
            raise EngineError("int8 is a CPU precision; on a GPU use fp16 or bf16 (or auto).")
        auto = pick_precision(device, "auto", flags)
        return Precision(auto.dtype, True, "int8", f"int8 GPT weights, {auto.name} elsewhere: {auto.why}")
    dtype = DTYPES[name]
    if dtype is None:
        if device.type == "cuda":
            return Precision(torch.float16, False, "fp16", "half precision on the GPU")
        if device.type == "cpu" and native_bf16(flags):
            return Precision(torch.bfloat16, False, "bf16", "native bf16 on this CPU")
        why = "no native bf16 on this CPU" if device.type == "cpu" else f"full precision on {device.type}"
        return Precision(torch.float32, False, "fp32", why)
    if dtype == torch.float16 and device.type == "cpu":
        raise EngineError("fp16 is not supported on the CPU; use fp32 (or bf16 on CPUs with AMX/AVX512-BF16).")
    return Precision(dtype, False, _dtype_name(dtype), "as chosen")


def pick_dtype(device: torch.device, pref: Optional[str] = None) -> torch.dtype:
    """The compute float type of `pick_precision` (int8 computes in auto's float type)."""
    return pick_precision(device, pref).dtype


# ------------------------------------------------------------------------------ model cache

_lock = threading.RLock()
_cache: dict = {}


def get_or_load(key, loader: Callable[[], object]):
    """The cached object for `key`, loading it once with `loader()`. Other keys stay cached until
    `release()` (a second model folder or device keeps the first one: the UI offers release)."""
    with _lock:
        if key in _cache:
            return _cache[key]
        value = loader()
        _cache[key] = value
        return value


def cached_keys() -> list:
    with _lock:
        return list(_cache)


def release(key=None) -> int:
    """Drop cached models (all, or one key) and return freed GPU memory to the driver.
    Returns how many cache entries were dropped."""
    with _lock:
        keys = list(_cache) if key is None else [k for k in _cache if k == key]
        for k in keys:
            del _cache[k]
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and _mps_available() and hasattr(mps, "empty_cache"):
        mps.empty_cache()
    return len(keys)


def _is_oom(exc: BaseException) -> bool:
    oom_types = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),
                                  getattr(torch.cuda, "OutOfMemoryError", None)) if t is not None)
    if oom_types and isinstance(exc, oom_types):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("out of memory" in text.lower() or "MPS backend out of memory" in text)


@contextlib.contextmanager
def oom_guard(device: torch.device):
    """Turn a device out-of-memory error into OutOfMemory (after releasing the cached models, so a
    retry on the CPU or with fewer apps open starts clean)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - only OOM is translated; everything else re-raises unchanged
        if not _is_oom(exc):
            raise
        release()
        where = {"cuda": "GPU", "mps": "Apple GPU"}.get(device.type, "computer")
        raise OutOfMemory(
            f"The {where} ran out of memory while generating with UniTAF ({type(exc).__name__}). "
            "The models were unloaded. Close other programs that use the GPU and try again, split the "
            "script into shorter lines, or switch the UniTAF device to CPU (slower, but needs only RAM)."
        ) from exc


def describe(device: torch.device, dtype: torch.dtype, int8: bool = False) -> str:
    name = device.type
    if device.type == "cuda":
        name = f"cuda ({torch.cuda.get_device_name(device)})"
    return f"{name}, {str(dtype).replace('torch.', '')}" + (" (int8 GPT weights)" if int8 else "")
