"""Edits of a neural voice's predicted vocoder parameters, made before the waveform exists.

hibari predicts, per 12.5 ms frame, F0 and a spectrum in five parts (`lh`, `theta`, `ln`,
`lr`, `phi`, each [601 bins, F]); its numpy DSP turns them into audio. Changing them first
gives clean prosody and voice changes with no re-analysis of audio:

* F0 level, range and declination (emotion): in log-F0, per sentence. The range scales each
  voiced frame's distance from the sentence's median; declination adds a straight fall (or
  rise) across the sentence's voiced frames, centred so the median stays put.
* energy (emotion): a gain on the three magnitude parts (`exp(lh)`, `exp(ln)`, `exp(lr)`). The
  synthesis is linear in them, so the same factor is applied to the waveform (`synthesize`):
  adding log(gain) to the parts themselves would run into the DSP's clamp of each part at
  exp(7) in the loudest bins.
* a voice character (cast): F0 scaling plus a frequency warp of the whole spectral envelope
  (vocal-tract length: a longer tract puts every formant lower).
"""
from dataclasses import dataclass

import numpy as np

VOICED_HZ = 40.0                  # hibari's DSP treats f0 below this as unvoiced
F0_MIN_HZ, F0_MAX_HZ = 50.0, 800.0
SPECTRAL_PARTS = ("lh", "theta", "ln", "lr", "phi")


@dataclass(frozen=True)
class VoiceEdit:
    pitch: float = 1.0         # F0 level factor
    pitch_range: float = 1.0   # factor on log-F0 distance from the sentence median (0 = monotone)
    declination: float = 0.0   # semitones of extra fall from the sentence's first to last voiced frame
    gain: float = 1.0          # amplitude factor
    formant: float = 1.0       # spectral envelope frequency factor (< 1: longer vocal tract, deeper)

    def then(self, other: "VoiceEdit") -> "VoiceEdit":
        """Both edits at once (factors multiply, declinations add)."""
        return VoiceEdit(self.pitch * other.pitch, self.pitch_range * other.pitch_range,
                         self.declination + other.declination, self.gain * other.gain,
                         self.formant * other.formant)


def edit_f0(f0, pitch=1.0, pitch_range=1.0, declination=0.0):
    """New float32 F0 [F]: unvoiced frames stay 0, voiced ones stay within F0_MIN..F0_MAX Hz."""
    f0 = np.asarray(f0, np.float32)
    voiced = f0 > VOICED_HZ
    if not voiced.any():
        return f0.copy()
    log_f0 = np.log(f0[voiced].astype(np.float64))
    centre = np.median(log_f0)
    edited = centre + np.log(pitch) + pitch_range * (log_f0 - centre)
    if declination and voiced.sum() > 1:
        where = np.flatnonzero(voiced).astype(np.float64)
        position = (where - where[0]) / (where[-1] - where[0]) - 0.5     # -0.5 .. 0.5
        edited -= declination / 12.0 * np.log(2.0) * position
    out = np.zeros_like(f0)
    out[voiced] = np.clip(np.exp(edited), F0_MIN_HZ, F0_MAX_HZ)
    return out


def warp_envelope(part, factor):
    """A [bins, F] spectral part with its frequency axis scaled: bin k takes the value at
    k / factor (linear interpolation, the top bin held beyond the edge)."""
    part = np.asarray(part, np.float32)
    if factor == 1.0:
        return part
    bins = part.shape[0]
    source = np.minimum(np.arange(bins) / factor, bins - 1)
    lo = np.floor(source).astype(np.int64)
    hi = np.minimum(lo + 1, bins - 1)
    frac = (source - lo).astype(np.float32)[:, None]
    return part[lo] * (1.0 - frac) + part[hi] * frac


def apply_edit(params: dict, edit: VoiceEdit) -> dict:
    """The vocoder parameters (`f0` [F] and the five [bins, F] parts) with `edit`'s pitch and
    envelope changes applied (its gain is applied by `synthesize`)."""
    out = dict(params)
    out["f0"] = edit_f0(params["f0"], edit.pitch, edit.pitch_range, edit.declination)
    if edit.formant != 1.0:
        for name in SPECTRAL_PARTS:
            out[name] = warp_envelope(params[name], edit.formant)
    return out


def synthesize(params: dict, edit: VoiceEdit, rng) -> np.ndarray:
    """hibari's DSP on the edited parameters -> float32 audio, the edit's gain included."""
    from hibari import dsp
    edited = apply_edit(params, edit)
    audio = dsp.synth(*(edited[name] for name in SPECTRAL_PARTS), edited["f0"], rng)
    if edit.gain != 1.0:
        audio *= np.float32(edit.gain)
    return audio
