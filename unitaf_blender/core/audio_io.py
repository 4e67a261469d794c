"""WAV read/write with the standard library and numpy only.

The extension must not ship per-Python-ABI binaries (Blender 4.2-5.0 run Python 3.11, 5.1+
run 3.13), so we avoid soundfile/cffi here; tests cross-check against soundfile.
Writes 16-bit PCM (what every sequencer and DAW reads); reads PCM 8/16/24/32 and float32.
"""
import os
import struct

import numpy as np

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE


class WavError(ValueError):
    pass


def write_wav(path, audio, sample_rate):
    """Write mono float audio in [-1, 1] as 16-bit PCM (clipped, rounded)."""
    audio = np.asarray(audio, dtype=np.float32).reshape(-1)
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype("<i2").tobytes()
    sample_rate = int(sample_rate)
    header = b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVE"
    fmt = struct.pack("<HHIIHH", _PCM, 1, sample_rate, sample_rate * 2, 2, 16)
    with open(path, "wb") as f:
        f.write(header + b"fmt " + struct.pack("<I", len(fmt)) + fmt)
        f.write(b"data" + struct.pack("<I", len(pcm)) + pcm)


def wav_info(path):
    """(seconds, sample_rate) from a WAV file's header, without reading its samples."""
    with open(path, "rb") as f:
        head = f.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            raise WavError(f"{path}: not a RIFF/WAVE file")
        fmt, data_size = None, None
        while fmt is None or data_size is None:
            chunk = f.read(8)
            if len(chunk) < 8:
                break
            cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"fmt ":
                fmt = f.read(size)
                f.seek(size & 1, 1)
            else:
                if cid == b"data":   # a truncated file holds fewer samples than its header says
                    data_size = min(size, os.fstat(f.fileno()).st_size - f.tell())
                f.seek(size + (size & 1), 1)
    if fmt is None or data_size is None or len(fmt) < 16:
        raise WavError(f"{path}: missing fmt or data chunk")
    _, channels, rate, _, block, _ = struct.unpack("<HHIIHH", fmt[:16])
    if channels < 1 or block < 1 or rate < 1:
        raise WavError(f"{path}: bad WAV header")
    return data_size // block / rate, int(rate)


def read_wav(path):
    """Read a WAV file -> (float32 mono audio, sample_rate). Multi-channel input is averaged."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise WavError(f"{path}: not a RIFF/WAVE file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            pcm = body
        pos += 8 + size + (size & 1)  # chunks are word aligned
    if fmt is None or pcm is None or len(fmt) < 16:
        raise WavError(f"{path}: missing fmt or data chunk")
    tag, channels, rate, _, block, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    if channels < 1 or block < 1:
        raise WavError(f"{path}: bad WAV header")
    pcm = pcm[: len(pcm) - len(pcm) % block]
    if tag == _FLOAT and bits == 32:
        x = np.frombuffer(pcm, "<f4").astype(np.float32)
    elif tag == _PCM and bits == 16:
        x = np.frombuffer(pcm, "<i2").astype(np.float32) / 32768.0
    elif tag == _PCM and bits == 32:
        x = (np.frombuffer(pcm, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    elif tag == _PCM and bits == 8:
        x = (np.frombuffer(pcm, "u1").astype(np.float32) - 128.0) / 128.0
    elif tag == _PCM and bits == 24:
        b = np.frombuffer(pcm, "u1").reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        v = np.where(v >= 1 << 23, v - (1 << 24), v)
        x = v.astype(np.float32) / float(1 << 23)
    else:
        raise WavError(f"{path}: unsupported WAV encoding (format {tag}, {bits} bit)")
    if channels > 1:
        x = x.reshape(-1, channels).mean(axis=1)
    return np.ascontiguousarray(x, dtype=np.float32), int(rate)
