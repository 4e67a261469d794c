"""`Performance`: the one result type every engine and importer returns.

Speech audio plus a face track (weights [T, C] at `fps`, channel names from
`core.channels`), optional timelines and metadata. Keying, sequencer, batch and export
only ever see this type, so engines are interchangeable.
"""
import json
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .audio_io import read_wav, write_wav

# Bounds on every size read from a file, checked before anything is allocated (a corrupt or
# hostile .npz/.csv must fail with a message, not exhaust memory):
MIN_FPS = 1.0            # below 1 fps a face track is not animation
MAX_FPS = 1000.0         # above every capture device (phones 60, mocap rigs <= 240..500)
MAX_CHANNELS = 256       # ARKit 52 + 9 rotations, or a rig's shape keys, with room to spare
# 24 hours at 120 fps (10,368,000 frames): longer than any take or day of capture at the
# rates cameras record faces; 61 float32 channels of it are 2.5 GB, the most one track needs.
MAX_FRAMES = 24 * 3600 * 120

EMOTIONS = ("happy", "angry", "sad", "afraid", "disgusted", "melancholic", "surprised", "calm")


@dataclass
class TimedLabel:
    """A labelled span of the timeline in seconds (a phoneme, a word, a viseme...)."""
    start: float
    end: float
    label: str


@dataclass
class Performance:
    audio: np.ndarray                 # float32 mono in [-1, 1]; may be empty (face-only capture)
    sample_rate: int
    fps: float                        # face frame rate; frame i is at time i / fps
    channels: tuple                   # channel names, len C
    weights: np.ndarray               # float32 [T, C]
    phonemes: list = field(default_factory=list)   # [TimedLabel]
    words: list = field(default_factory=list)      # [TimedLabel]
    emotion_times: np.ndarray = None  # float32 [K] seconds
    emotion_vectors: np.ndarray = None  # float32 [K, 8] in EMOTIONS order
    meta: dict = field(default_factory=dict)  # engine, text, emotion, seed, model_revision, warnings...

    def __post_init__(self):
        self.audio = np.ascontiguousarray(np.asarray(self.audio, dtype=np.float32).reshape(-1))
        self.weights = np.ascontiguousarray(np.asarray(self.weights, dtype=np.float32))
        self.channels = tuple(self.channels)
        self.sample_rate = int(self.sample_rate)
        self.fps = float(self.fps)
        if self.weights.ndim != 2 or self.weights.shape[1] != len(self.channels):
            raise ValueError(f"weights must be [T, {len(self.channels)}], got {self.weights.shape}")
        if self.fps <= 0 or self.sample_rate <= 0:
            raise ValueError("fps and sample_rate must be positive")
        if len(set(self.channels)) != len(self.channels):
            raise ValueError("duplicate channel names")
        if not np.all(np.isfinite(self.audio)) or not np.all(np.isfinite(self.weights)):
            raise ValueError("audio and weights must be finite (NaN or inf found)")
        if (self.emotion_times is None) != (self.emotion_vectors is None):
            raise ValueError("emotion_times and emotion_vectors must be given together")
        if self.emotion_times is not None:
            self.emotion_times = np.asarray(self.emotion_times, dtype=np.float32).reshape(-1)
            self.emotion_vectors = np.asarray(self.emotion_vectors, dtype=np.float32).reshape(-1, 8)
            if len(self.emotion_times) != len(self.emotion_vectors):
                raise ValueError("emotion_times and emotion_vectors differ in length")

    @property
    def n_frames(self) -> int:
        return int(self.weights.shape[0])

    @property
    def audio_seconds(self) -> float:
        return len(self.audio) / self.sample_rate

    @property
    def duration(self) -> float:
        """Length in seconds: the longer of the audio and the face track."""
        return max(self.audio_seconds, self.n_frames / self.fps)

    def channel(self, name: str) -> np.ndarray:
        return self.weights[:, self.channels.index(name)]

    # --- persistence: <stem>.npz (face + timelines + meta) beside <stem>.wav (audio) ---

    def save(self, npz_path: str) -> tuple:
        """Write `npz_path` and the audio beside it (same stem, .wav). Returns both paths.

        Files are written to temporary names and renamed, so a failure never leaves a
        half-written file under the final name.
        """
        stem = os.path.splitext(npz_path)[0]
        npz_path, wav_path = stem + ".npz", stem + ".wav"
        tmp_npz, tmp_wav = stem + ".tmp-npz", stem + ".tmp-wav"
        payload = {
            "weights": self.weights,
            "channels": np.array(self.channels, dtype=str),
            "fps": np.float64(self.fps),
            "sample_rate": np.int64(self.sample_rate),
            "n_samples": np.int64(len(self.audio)),
            "phonemes": _labels_to_array(self.phonemes),
            "phoneme_labels": np.array([p.label for p in self.phonemes], dtype=str),
            "words": _labels_to_array(self.words),
            "word_labels": np.array([w.label for w in self.words], dtype=str),
            "meta_json": np.array(json.dumps(self.meta, default=str)),
        }
        if self.emotion_times is not None:
            payload["emotion_times"] = self.emotion_times
            payload["emotion_vectors"] = self.emotion_vectors
        try:
            with open(tmp_npz, "wb") as f:
                np.savez_compressed(f, **payload)
            write_wav(tmp_wav, self.audio, self.sample_rate)
            os.replace(tmp_wav, wav_path)
            os.replace(tmp_npz, npz_path)
        finally:
            for p in (tmp_npz, tmp_wav):
                if os.path.exists(p):
                    os.remove(p)
        return npz_path, wav_path

    @classmethod
    def load(cls, npz_path: str) -> "Performance":
        """Load a Performance written by `save` (the .wav beside it is optional).

        Every size in the file (fps, frame and channel counts, array shapes) is checked
        against MIN_FPS..MAX_FPS, MAX_FRAMES, MAX_CHANNELS and the header before any array
        is read, so a corrupt file raises ValueError instead of exhausting memory."""
        stem = os.path.splitext(npz_path)[0]
        with np.load(stem + ".npz", allow_pickle=False) as z:
            for key in ("weights", "channels", "fps"):
                if key not in z:
                    raise ValueError(f"{npz_path}: not a UniTAF performance (no '{key}')")
            _check_sizes(z, npz_path)
            sample_rate = int(z["sample_rate"]) if "sample_rate" in z else 22050
            audio = np.zeros(0, np.float32)
            if os.path.isfile(stem + ".wav"):
                audio, sample_rate = read_wav(stem + ".wav")
            return cls(
                audio=audio, sample_rate=sample_rate, fps=float(z["fps"]),
                channels=tuple(str(c) for c in z["channels"]), weights=z["weights"],
                phonemes=_array_to_labels(z, "phonemes", "phoneme_labels"),
                words=_array_to_labels(z, "words", "word_labels"),
                emotion_times=z["emotion_times"] if "emotion_times" in z else None,
                emotion_vectors=z["emotion_vectors"] if "emotion_vectors" in z else None,
                meta=json.loads(str(z["meta_json"])) if "meta_json" in z else {},
            )


# Any array in a performance file other than the weights (timelines, labels, meta) stays
# far below this; the weights are bounded by MAX_FRAMES x MAX_CHANNELS instead.
MAX_MEMBER_BYTES = 256 * 2 ** 20


def _npy_header(z, key):
    """(shape, dtype) of member `key` of an open .npz, read from its header only."""
    with z.zip.open(key + ".npy") as f:
        version = np.lib.format.read_magic(f)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read(f)
    return shape, dtype


def _check_sizes(z, path):
    headers = {key: _npy_header(z, key) for key in z.files}
    for key, (shape, dtype) in headers.items():
        if key != "weights" and int(np.prod(shape)) * dtype.itemsize > MAX_MEMBER_BYTES:
            raise ValueError(f"{path}: '{key}' has shape {shape}, far larger than any "
                             "performance needs; the file is corrupt")
    for key in ("fps", "sample_rate", "n_samples", "meta_json"):
        if key in headers and headers[key][0] not in ((), (1,)):
            raise ValueError(f"{path}: '{key}' must be a single value, got shape {headers[key][0]}")
    fps = float(np.asarray(z["fps"]).reshape(-1)[0])
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ValueError(f"{path}: frame rate {fps!r} is outside {MIN_FPS:g}..{MAX_FPS:g} fps; "
                         "the file is corrupt")
    channels = headers["channels"][0]
    weights, wtype = headers["weights"]
    if len(channels) != 1 or channels[0] > MAX_CHANNELS:
        raise ValueError(f"{path}: {channels} channels; a performance has at most "
                         f"{MAX_CHANNELS} in one list")
    if len(weights) != 2 or weights[1] != channels[0] or wtype.kind not in "fiu":
        raise ValueError(f"{path}: weights of shape {weights} ({wtype}) do not match the "
                         f"{channels[0]} channels in the header; expected numbers [frames, "
                         f"{channels[0]}]")
    if weights[0] > MAX_FRAMES:
        raise ValueError(f"{path}: {weights[0]:,} frames, more than the limit of "
                         f"{MAX_FRAMES:,} (24 hours at 120 fps); the file is corrupt")
    for times, labels, width in (("phonemes", "phoneme_labels", 2), ("words", "word_labels", 2),
                                 ("emotion_times", "emotion_vectors", None)):
        if times in headers and labels in headers:
            a, b = headers[times][0], headers[labels][0]
            expected = (a[:1] + (len(EMOTIONS),)) if width is None else a[:1]
            if (width is not None and a[1:] != (width,)) or b != expected:
                raise ValueError(f"{path}: '{times}' {a} and '{labels}' {b} do not match")


def _labels_to_array(labels):
    return np.array([[x.start, x.end] for x in labels], dtype=np.float64).reshape(-1, 2)


def _array_to_labels(z, times_key, labels_key):
    if times_key not in z:
        return []
    return [TimedLabel(float(a), float(b), str(label)) for (a, b), label in zip(z[times_key], z[labels_key])]
