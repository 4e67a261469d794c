"""The voice's prosody on the face's frames, and the cues the upper face reads from it.

`VoiceProsody` holds a per-frame F0 (Hz, 0 where unvoiced) and loudness. Any voice can give
one: `from_audio` measures it from the sound (espeak's rendering, a recording, a neural
voice's output), and `from_frames` takes a voice's own predicted F0/energy at its own frame
rate (a TTS model that predicts them needs no re-measuring).

`cues()` turns it into what a listener's eye follows (Cavé et al. 1996, Krahmer & Swerts 2007:
brow raises go with pitch accents; heads nod and turn at phrase boundaries):

* phrases: speech runs between pauses of at least PAUSE_S;
* accents [T] in [0, 1]: F0 peaks above the phrase's own declining pitch line, shaped as a
  gesture that starts a little before the peak and fades after it;
* questions [T] in [0, 1]: a final rise in a phrase's last voiced stretch, held to its end;
* emphasis [T] in [0, 1]: loudness onsets (stressed syllables), as before;
* activity [T] in [0, 1]: eased speech/pause state (expressions breathe with it).

Everything is pure numpy and engine-neutral.
"""
import zlib
from dataclasses import dataclass

import numpy as np

from .pitch import F0_HOP_S, decimated, f0_track
from .signal import emphasis_curve, gesture, loudness_envelope, smooth, true_runs, windowed_rms

SPEECH_LEVEL = 0.12      # loudness (1 ~ loud vowel) above which a frame is speech
ACTIVITY_HOP_S = 0.01
ACTIVITY_DB = -35.0      # 10 ms frames this close to the loud ones are speech ...
RMS_NOISE_MARGIN_DB = 8.0    # ... and this far above the noise floor (the quietest 5 %)
ACTIVITY_SHARE = 0.02    # ... for a voice's own energy track: this share of its loud level
PAUSE_S = 0.11           # a silence this long ends a phrase (espeak commas ~0.13-0.15 s; stops shorter)
MIN_PHRASE_S = 0.15
ACCENT_ST = 1.0          # semitones above the phrase's pitch line before a peak counts
ACCENT_FULL_ST = 3.0     # ... and where it counts fully
ACCENT_SPACING_S = 0.3
QUESTION_SLOPE = 6.0     # semitones per second over the last voiced 0.4 s


@dataclass(frozen=True)
class Phrase:
    start: int               # first speech frame
    end: int                 # last speech frame
    question: float          # 0..1: how clearly its pitch rises at the end


@dataclass(frozen=True, eq=False)
class ProsodyCues:
    phrases: tuple           # (Phrase, ...)
    accents: np.ndarray      # [T] 0..1
    questions: np.ndarray    # [T] 0..1
    emphasis: np.ndarray     # [T] 0..1
    activity: np.ndarray     # [T] 0..1
    accent_frames: tuple     # frames of the accent peaks


@dataclass(frozen=True, eq=False)
class VoiceProsody:
    f0: np.ndarray           # [T] Hz, 0 where unvoiced
    energy: np.ndarray       # [T] loudness, about 1 on loud vowels (signal.loudness_envelope's scale)
    fps: float
    speech: np.ndarray = None  # [T] 0..1: share of the frame that is speech (None: energy > SPEECH_LEVEL)

    def __post_init__(self):
        if np.shape(self.f0) != np.shape(self.energy) or np.ndim(self.f0) != 1:
            raise ValueError(f"f0 and energy must both be [T], got {np.shape(self.f0)} and "
                             f"{np.shape(self.energy)}")
        if not (np.all(np.isfinite(self.f0)) and np.all(np.isfinite(self.energy))):
            raise ValueError("f0/energy contain NaN or inf")
        if not self.fps or self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.speech is None:
            object.__setattr__(self, "speech", (np.asarray(self.energy) > SPEECH_LEVEL).astype(np.float64))
        elif np.shape(self.speech) != np.shape(self.f0):
            raise ValueError(f"speech must be [T] like f0, got {np.shape(self.speech)}")

    @property
    def n_frames(self):
        return len(self.f0)

    @classmethod
    def from_audio(cls, audio, sample_rate, n_frames, fps, energy=None):
        """Measure F0 (YIN, core/pitch.py) and loudness from the sound itself."""
        if energy is None:
            energy = loudness_envelope(audio, sample_rate, n_frames, fps)
        low, rate = decimated(audio, sample_rate)          # both analyses at ~4 kHz
        f0, times = f0_track(low, rate)
        active, active_times = _voice_activity(low, rate)
        return cls(_on_frames(f0, times, n_frames, fps), np.asarray(energy, np.float64), float(fps),
                   _share(active, active_times, n_frames, fps))

    @classmethod
    def from_frames(cls, f0, energy, frame_rate, n_frames, fps):
        """A voice's own per-frame F0 (Hz, 0 or NaN unvoiced) and energy (any positive scale,
        normalised here) at `frame_rate`, put on the face's `n_frames` at `fps`."""
        f0 = np.nan_to_num(np.asarray(f0, np.float64).reshape(-1), nan=0.0)
        energy = np.nan_to_num(np.asarray(energy, np.float64).reshape(-1), nan=0.0)
        if len(f0) != len(energy):
            raise ValueError(f"f0 has {len(f0)} frames and energy {len(energy)}")
        if not frame_rate or not np.isfinite(frame_rate) or frame_rate <= 0:
            raise ValueError(f"frame_rate must be positive, got {frame_rate}")
        times = np.arange(len(f0)) / float(frame_rate)
        t = np.arange(int(n_frames)) / fps
        level = np.interp(t, times, energy) if len(energy) else np.zeros(len(t))
        peak = level.max(initial=0.0)
        if peak > 1e-9:
            level = np.clip(level / np.percentile(level[level > 0.1 * peak], 90), 0.0, 1.3)
        top = np.percentile(energy, 95) if len(energy) else 0.0
        active = energy > ACTIVITY_SHARE * top if top > 0 else np.zeros(len(energy), bool)
        return cls(_on_frames(f0, times, int(n_frames), fps), level, float(fps),
                   _share(active, times, int(n_frames), fps))

    def fingerprint(self) -> int:
        """A number that differs between lines (coarse, so float noise does not change it):
        the idle motion of two lines with the same seed is then not the same."""
        coarse = np.concatenate((np.round(self.energy * 20), np.round(self.f0 / 10))).astype(np.int16)
        return zlib.crc32(coarse.tobytes()) ^ len(self.f0)

    def cues(self) -> ProsodyCues:
        return _cues(self)


def _on_frames(f0, times, n_frames, fps):
    """F0 per face frame: the value of the nearest F0 frame (0 where that one is unvoiced)."""
    if len(f0) == 0:
        return np.zeros(n_frames)
    step = times[1] - times[0] if len(times) > 1 else F0_HOP_S
    k = np.clip(np.round(np.arange(n_frames) / fps / step).astype(np.int64), 0, len(f0) - 1)
    return np.where(f0[k] > 0, f0[k], 0.0)


def _voice_activity(audio, sample_rate):
    """(speech [N] bool, times [N]): 20 ms RMS every 10 ms within ACTIVITY_DB of the loud frames
    and above the noise floor (sharp enough to find a 150 ms pause that a face-rate loudness
    envelope smears)."""
    x = np.asarray(audio, np.float64).reshape(-1)
    hop, width = max(1, int(round(ACTIVITY_HOP_S * sample_rate))), max(2, int(round(0.02 * sample_rate)))
    n = len(x) // hop + 1 if len(x) else 0
    if n == 0:
        return np.zeros(0, bool), np.zeros(0)
    rms = windowed_rms(x, np.arange(n) * hop, width // 2)
    top = np.percentile(rms, 95)
    if top <= 0:
        return np.zeros(n, bool), np.arange(n) * hop / sample_rate
    floor = np.percentile(rms, 5) * 10 ** (RMS_NOISE_MARGIN_DB / 20)     # a noisy room's pauses
    return rms > max(top * 10 ** (ACTIVITY_DB / 20), floor), np.arange(n) * hop / sample_rate


def _share(active, times, n_frames, fps):
    """[T]: the share of `active` samples (at `times`) inside each face frame's interval; a
    frame holding no sample takes the nearest one."""
    if len(active) == 0:
        return np.zeros(n_frames)
    active = np.asarray(active, np.float64)
    cut = np.searchsorted(times, (np.arange(n_frames + 1) - 0.5) / fps)
    counts = np.diff(cut)
    sums = np.diff(np.concatenate(([0.0], np.cumsum(active)))[cut])
    nearest = active[np.clip(np.searchsorted(times, np.arange(n_frames) / fps), 0, len(active) - 1)]
    return np.where(counts > 0, sums / np.maximum(counts, 1), nearest)


def phrases_of(speech, fps):
    """Speech runs separated by pauses of at least PAUSE_S: [(first, last)] frames of a [T]
    speech share."""
    speech = np.asarray(speech) >= 0.5
    out = []
    for a, end in true_runs(speech):
        b = end - 1
        if out and a - out[-1][1] - 1 < max(1, round(PAUSE_S * fps)):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return [(a, b) for a, b in out if (b - a + 1) >= MIN_PHRASE_S * fps]


def _cues(p: VoiceProsody) -> ProsodyCues:
    n, fps = p.n_frames, p.fps
    voiced = (p.f0 > 0) & (p.energy > SPEECH_LEVEL)
    phrases = phrases_of(p.speech, fps)
    st = np.zeros(n)                     # semitones from the voice's median pitch
    if voiced.sum() >= 3:
        st = 12 * np.log2(np.where(voiced, p.f0, 1.0) / np.median(p.f0[voiced]))
    peaks, strengths, out_phrases, questions = [], [], [], np.zeros(n)
    for a, b in phrases:
        idx = np.arange(a, b + 1)
        v = idx[voiced[a:b + 1]]
        q = 0.0
        if len(v) >= max(3, int(0.15 * fps)):
            q = _final_rise(st, v, fps)
            # the rise itself is the question, not an accent
            until = b - int(0.5 * fps) if q > 0 else b
            for k, strength in _accents(st, voiced, idx, v, fps):
                if k <= until:
                    peaks.append(k)
                    strengths.append(strength)
        if q > 0:
            lead = max(min(0.5, (b - a) / fps), 1 / fps)
            questions = np.maximum(questions, gesture(n, fps, [b], [q], lead_s=lead, hold_s=0.2, release_s=0.5))
        out_phrases.append(Phrase(int(a), int(b), q))
    speech = np.zeros(n)
    for a, b in phrases:
        speech[a:b + 1] = 1.0
    activity = np.clip(smooth(speech, 0.12 * fps), 0.0, 1.0) if n else speech
    return ProsodyCues(tuple(out_phrases), gesture(n, fps, peaks, strengths), questions,
                       emphasis_curve(p.energy, fps), activity, tuple(sorted(peaks)))


def _accents(st, voiced, idx, v, fps):
    """[(frame, strength)] of a phrase's pitch peaks above its own declining line, strongest
    first and at least ACCENT_SPACING_S apart. idx: the phrase's frames; v: its voiced ones."""
    line = np.polyfit(v / fps, st[v], 1) if len(v) > 3 else (0.0, st[v].mean())
    contour = smooth(np.interp(idx, v, st[v]), 0.04 * fps)
    excess = contour - np.polyval(line, idx / fps)
    spacing = max(1, int(ACCENT_SPACING_S * fps))
    taken = []
    for j in np.argsort(-excess):
        if excess[j] < ACCENT_ST:
            break
        if not voiced[max(idx[j] - 1, 0):idx[j] + 2].any():
            continue
        if all(abs(j - k) >= spacing for k in taken):
            taken.append(j)
    return [(int(idx[j]), float(np.clip((excess[j] - ACCENT_ST) / (ACCENT_FULL_ST - ACCENT_ST), 0.3, 1.0)))
            for j in taken]


def _final_rise(st, v, fps):
    """0..1: how clearly the pitch of a phrase's last voiced 0.4 s climbs above its median."""
    tail = v[v >= v[-1] - int(0.4 * fps)]
    if len(tail) < max(3, int(0.15 * fps)):
        return 0.0
    slope = np.polyfit(tail / fps, st[tail], 1)[0]
    rise = st[tail[-3:]].mean() - np.median(st[v])
    return float(np.clip((slope - QUESTION_SLOPE) / QUESTION_SLOPE, 0, 1) * np.clip(rise / 2.0, 0, 1))
