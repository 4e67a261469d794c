"""Safe checkpoint reading and strict, key-by-key loading.

Only two ways in: our own safetensors reader (no pickle at all) and
`torch.load(..., weights_only=True)` (PyTorch's restricted unpickler). Every failure becomes a
`CheckpointError` that names the file and, for shape problems, the first bad key with both shapes.
"""
from __future__ import annotations

import json
import os
import pickle
import re
import zipfile
from typing import Callable, Collection, Union

import torch

from ...core.errors import first_line

__all__ = ["CheckpointError", "read_safetensors", "read_checkpoint", "flatten", "load_into", "on_meta",
           "require_loaded", "load_on_meta"]


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, or does not fit the module it is loaded into."""


# safetensors dtype tag -> (torch dtype, bytes per element)
_ST_DTYPES = {
    "F64": (torch.float64, 8), "F32": (torch.float32, 4), "F16": (torch.float16, 2),
    "BF16": (torch.bfloat16, 2), "I64": (torch.int64, 8), "I32": (torch.int32, 4),
    "I16": (torch.int16, 2), "I8": (torch.int8, 1), "U8": (torch.uint8, 1), "BOOL": (torch.bool, 1),
}
_MAX_HEADER = 100 * 1024 * 1024  # the format caps the JSON header at 100 MB

KeyFilter = Union[Callable[[str], bool], Collection[str], None]


def _key_predicate(keys: KeyFilter) -> Callable[[str], bool]:
    if keys is None:
        return lambda name: True
    if callable(keys):
        return keys
    if isinstance(keys, str):
        raise TypeError("keys must be a predicate or a collection of names, not a single string")
    wanted = frozenset(keys)
    return wanted.__contains__


def read_safetensors(path, keys: KeyFilter = None) -> dict[str, torch.Tensor]:
    """Read a .safetensors file: u64 little-endian header size, JSON header, raw little-endian data.

    Each tensor is read (readinto) straight into its own final buffer, so peak memory is one copy
    of the tensors kept, not twice the file (w2v-BERT is 2.3 GB). An mmap + copy measured ~2x
    peak RSS instead: the mapped pages count until unmapped. `keys` (a predicate on the name, or
    a collection of names) selects tensors; the others are never read (the whole header is still
    checked). All Blender platforms are little-endian.
    """
    path = os.fspath(path)
    _require_file(path)
    wanted = _key_predicate(keys)
    try:
        with open(path, "rb") as f:
            file_size = os.fstat(f.fileno()).st_size
            header = _read_safetensors_header(f, path)
            data_start = f.tell()
            data_len = file_size - data_start
            entries = []
            for name, info in header.items():
                if name == "__metadata__":
                    continue
                entry = _check_entry(name, info, data_len, path)
                if wanted(name):
                    entries.append((name, *entry))
            out: dict[str, torch.Tensor] = {}
            for name, dtype, shape, start, end in sorted(entries, key=lambda e: e[3]):
                t = torch.empty(shape, dtype=dtype)
                if end > start:
                    f.seek(data_start + start)
                    view = memoryview(t.reshape(-1).view(torch.uint8).numpy())
                    if f.readinto(view) != end - start:
                        raise CheckpointError(f"{path}: truncated data for tensor {name!r}")
                out[name] = t
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read file ({exc})") from exc
    return out


def _read_safetensors_header(f, path: str) -> dict:
    raw_len = f.read(8)
    if len(raw_len) != 8:
        raise CheckpointError(f"{path}: not a safetensors file (shorter than 8 bytes)")
    header_len = int.from_bytes(raw_len, "little")
    if header_len <= 0 or header_len > _MAX_HEADER:
        raise CheckpointError(f"{path}: not a safetensors file (header size {header_len})")
    header_bytes = f.read(header_len)
    if len(header_bytes) != header_len:
        raise CheckpointError(f"{path}: truncated safetensors header")
    try:
        header = json.loads(header_bytes.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt safetensors header ({exc})") from exc
    if not isinstance(header, dict):
        raise CheckpointError(f"{path}: corrupt safetensors header (not a JSON object)")
    return header


def _check_entry(name, info, data_len: int, path: str):
    try:
        dtype_tag, shape, (start, end) = info["dtype"], [int(s) for s in info["shape"]], info["data_offsets"]
        start, end = int(start), int(end)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad header entry for {name!r}") from exc
    if dtype_tag not in _ST_DTYPES:
        raise CheckpointError(f"{path}: tensor {name!r} has unsupported dtype {dtype_tag}")
    dtype, itemsize = _ST_DTYPES[dtype_tag]
    count = 1
    for s in shape:
        if s < 0:
            raise CheckpointError(f"{path}: tensor {name!r} has a negative dimension {shape}")
        count *= s
    if not (0 <= start <= end <= data_len) or end - start != count * itemsize:
        raise CheckpointError(
            f"{path}: tensor {name!r} byte range [{start}, {end}) does not fit shape {shape} "
            f"{dtype_tag} in a {data_len}-byte data section (truncated or corrupt file)")
    return dtype, shape, start, end


def flatten(d: dict, sep: str = ".", prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten nested dicts of tensors into one flat dict: {'net': {'cfm': {'w': t}}} -> {'net.cfm.w': t}."""
    out: dict[str, torch.Tensor] = {}
    for key, value in d.items():
        name = f"{prefix}{sep}{key}" if prefix else str(key)
        if isinstance(value, dict):
            out.update(flatten(value, sep=sep, prefix=name))
        else:
            out[name] = value
    return out


def read_checkpoint(path, container=None, keys: KeyFilter = None) -> dict[str, torch.Tensor]:
    """Read a state dict from .safetensors or a torch checkpoint (weights_only=True, on CPU).

    `container` selects a sub-dict: a key ("net", "model", "generator") or a dotted path
    ("net.cfm"). Nested dicts below it are flattened with "." so the result is always a flat
    {name: tensor} dict. Non-tensor leaves (e.g. an `iteration` int) are dropped.
    `keys` (a predicate or a collection of flat names) keeps only those tensors; safetensors skips
    reading the others, torch files are memory-mapped so the others are never paged in.
    """
    path = os.fspath(path)
    _require_file(path)
    wanted = _key_predicate(keys)
    if path.endswith(".safetensors"):
        obj = read_safetensors(path, keys=None if container else wanted)   # names are flat already
    else:
        obj = torch_load(path)
    if container:
        for part in str(container).split("."):
            if not isinstance(obj, dict) or part not in obj:
                have = sorted(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
                raise CheckpointError(f"{path}: no {part!r} entry (container {container!r}); top-level keys: {have}")
            obj = obj[part]
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict of tensors, found {type(obj).__name__}")
    flat = {k: v for k, v in flatten(obj).items() if isinstance(v, torch.Tensor) and wanted(k)}
    if not flat:
        raise CheckpointError(f"{path}: contains no tensors" + (f" under {container!r}" if container else "")
                              + (" matching the key filter" if keys is not None else ""))
    return flat


def _require_file(path: str) -> None:
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint is not a file: {path}")


def torch_load(path: str):
    """torch.load with weights_only=True (never anything else), mmap where the format allows."""
    try:
        try:
            # mmap: tensors are paged in from the file, so a 1.2 GB s2mel.pth holding optimizer
            # state costs memory only for what is used. Old-format (non-zip) files cannot mmap.
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses arbitrary classes/callables: never retry unsafely.
        found = (re.search(r"GLOBAL (\S+)", str(exc))
                 or re.search(r"Unsupported (?:global|class):? (\S+)", str(exc)))
        if found:
            raise CheckpointError(
                f"{path}: refused as unsafe (it contains Python objects, not just tensors: "
                f"{found.group(1)}); only plain tensors are ever loaded. Replace the "
                "file with the official one.") from exc
        raise CheckpointError(f"{path}: unreadable or corrupt checkpoint (not a valid torch file)") from exc
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: unreadable or corrupt checkpoint ({type(exc).__name__}: "
                              f"{torch_reason(exc)})") from exc


def torch_reason(exc: BaseException) -> str:
    """torch's error text, first line, without its advice to retry with weights_only=False:
    that advice would run code from the file, which we never do."""
    sentences = re.split(r"(?<=[.!?])\s+", first_line(exc))
    kept = [s for s in sentences if "weights_only" not in s and "trusted source" not in s]
    return " ".join(kept) or "the file could not be read"


def load_into(module: torch.nn.Module, state: dict, source: str, strip_prefix: str = "",
              rename=None, ignore=(), strict: bool = True, consume: bool = False) -> None:
    """Load `state` into `module`, checking every key and shape first with a readable error.

    strip_prefix: keep only keys starting with it and drop it ("module.", "net.cfm.").
    rename: a callable key -> key (or None to drop) or a dict of old->new key names, applied after stripping.
    ignore: key prefixes in the checkpoint that are expected and dropped (e.g. "inference_model.").
    strict: every module key must be present; unexpected keys are an error too.
    With strict=False only keys present in both are checked and loaded (missing ones keep their values).

    One tensor at a time: a parameter or buffer on the meta device takes the checkpoint tensor
    itself (cast to the module's dtype only where they differ), any other is copied into. With
    consume=True each loaded entry leaves `state` at once, so that nothing holds a second copy:
    a module built on the meta device then peaks at ~1x its weights (the full-size GPT: 6.78 GiB
    peak RSS for 3.25 GiB of weights through load_state_dict, see bench/README.md).
    """
    prepared: dict[str, str] = {}     # module key -> checkpoint key
    for key in state:
        name = key
        if strip_prefix:
            if not name.startswith(strip_prefix):
                continue
            name = name[len(strip_prefix):]
        if rename is not None:
            name = rename.get(name, name) if isinstance(rename, dict) else rename(name)
            if name is None:
                continue
        if any(name.startswith(p) for p in ignore):
            continue
        prepared[name] = key

    expected = module.state_dict(keep_vars=True)
    missing = [k for k in expected if k not in prepared]
    unexpected = [k for k in prepared if k not in expected]
    for key, want in expected.items():
        if key in prepared and tuple(state[prepared[key]].shape) != tuple(want.shape):
            raise CheckpointError(
                f"{source}: key {key!r} has shape {tuple(state[prepared[key]].shape)} in the checkpoint but "
                f"the model expects {tuple(want.shape)} ({len(missing)} missing, {len(unexpected)} unexpected keys)")
    if strict and (missing or unexpected):
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (first: {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (first: {unexpected[0]!r})")
        raise CheckpointError(f"{source}: checkpoint does not match the model: " + ", ".join(parts))
    with torch.no_grad():
        for key, target in expected.items():
            if key not in prepared:
                continue
            value = state.pop(prepared[key]) if consume else state[prepared[key]]
            owner_name, _, attr = key.rpartition(".")
            owner = module.get_submodule(owner_name)
            if not target.is_meta:        # already allocated: copy (tensors keep the module's dtype)
                target.copy_(value)
                del value
                continue
            # contiguous like the copy path's tensors (a no-op for ordinary checkpoints), so that
            # kernels see the same layout and outputs stay bit-identical
            value = value.to(target.dtype).contiguous()
            if attr in owner._parameters:
                owner._parameters[attr] = torch.nn.Parameter(value, requires_grad=target.requires_grad)
            else:
                owner._buffers[attr] = value
            del value


def on_meta(build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    """`build()` on the meta device: no storage and no random init, for `load_into` to fill with
    the checkpoint's own tensors (then `require_loaded`)."""
    with torch.device("meta"):
        return build()


def require_loaded(module: torch.nn.Module, source: str) -> torch.nn.Module:
    """Raise unless every parameter and buffer of a module built `on_meta` holds real data.
    A strict load fills every persistent tensor; a non-persistent buffer computed in __init__
    (a RoPE table, a window) stays on meta until its loader recomputes it, and must have been."""
    left = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:
        raise CheckpointError(f"{source}: {len(left)} tensors were not loaded (first: {left[0]!r})")
    return module


def load_on_meta(build: Callable[[], torch.nn.Module], state: dict, source: str, **load_kw) -> torch.nn.Module:
    """`build()` on the meta device, `state` loaded into it and consumed (`load_into` options in
    `load_kw`), every tensor checked loaded: peak memory ~1x the weights kept. For modules with
    no non-persistent buffer; the others use the three steps and recompute theirs in between."""
    module = on_meta(build)
    load_into(module, state, source, consume=True, **load_kw)
    return require_loaded(module, source)
