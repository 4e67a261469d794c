"""Recorded dialogue as samples: an audio file or an existing sound strip -> float32 mono.

WAV is read with our own reader (core.audio_io), everywhere. FLAC, OGG, MP3 and the other
formats Blender plays are decoded with Blender's own audio library (`aud`, Audaspace), so the
extension ships no decoder of its own: that works in Blender 4.2-5.2 and in the bpy 4.5+
modules; the bpy 4.2 module is built without Audaspace and reads WAV only.
"""
import os
import tempfile

import bpy
import numpy as np

from ..core.audio_io import WavError, read_wav, wav_info
from ..core.recording import RecordedSamples, RecordingError, RecordingInfo, check_length
from . import compat


class RecordingFile:
    """A recorded line in a file, for the request path (core.recording.RecordingSource): its
    header is read when the request is checked, its samples when it is prepared."""

    def __init__(self, path):
        self.path = os.path.abspath(bpy.path.abspath(os.fspath(path)))
        self.source = self.path

    def info(self) -> RecordingInfo:
        """Length and sample rate from the header alone (the whole file is not decoded)."""
        if not os.path.isfile(self.path):
            raise RecordingError(f"Audio file not found: {self.path}")
        if os.path.splitext(self.path)[1].lower() == ".wav":
            try:
                seconds, rate = wav_info(self.path)
            except (OSError, WavError) as e:
                raise RecordingError(f"{self.path}: {e}") from None
            return RecordingInfo(seconds, rate)
        sound = _aud_sound(self.path)
        try:
            rate = int(round(sound.specs[0]))
            return RecordingInfo(sound.length / rate, rate)
        except Exception as e:   # aud raises plain exceptions for unreadable files
            raise RecordingError(f"{self.path}: Blender cannot decode this audio file ({e}).") from None

    def read(self):
        return _read_file(self.path)


def _aud_sound(path):
    try:
        import aud
    except ImportError:
        raise RecordingError(
            f"{os.path.basename(path)}: this Blender build has no audio library (Audaspace), so only "
            ".wav files can be read here; convert the recording to WAV.") from None
    try:
        return aud.Sound(path)
    except Exception as e:   # aud raises plain exceptions for unreadable files
        raise RecordingError(f"{path}: Blender cannot decode this audio file ({e}).") from None


def _decode_with_aud(path):
    sound = _aud_sound(path)
    try:
        rate, channels = sound.specs
        samples = np.asarray(sound.data(), np.float32)
    except Exception as e:   # aud raises plain exceptions for unreadable files
        raise RecordingError(f"{path}: Blender cannot decode this audio file ({e}).") from None
    if samples.ndim == 2:
        samples = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    return np.ascontiguousarray(samples, np.float32), int(round(rate))


def read_recording(path):
    """(float32 mono samples, sample rate) of an audio file; RecordingError when unreadable."""
    return _read_file(os.path.abspath(bpy.path.abspath(os.fspath(path))))


def _read_file(path):
    """read_recording of an absolute path, without bpy (a job's worker thread reads it)."""
    if not os.path.isfile(path):
        raise RecordingError(f"Audio file not found: {path}")
    if os.path.splitext(path)[1].lower() == ".wav":
        try:
            audio, rate = read_wav(path)
        except ValueError as e:
            raise RecordingError(f"{path}: {e}") from None
        audio = np.asarray(audio, np.float32)
        if audio.ndim == 2:
            audio = audio.mean(axis=1)
    else:
        audio, rate = _decode_with_aud(path)
    try:    # the samples, not the header: a file may hold fewer or more than its header says
        check_length(len(audio) / rate if rate else 0.0, rate)
    except RecordingError as e:
        raise RecordingError(f"{path}: {e}") from None
    return audio, rate


def find_sound_strip(scene, name):
    """The scene's sound strip called `name`; RecordingError naming the sound strips there are."""
    se = scene.sequence_editor
    strips = [s for s in compat.all_strips(se)] if se is not None else []
    for strip in strips:
        if strip.name == name:
            if strip.type != 'SOUND':
                raise RecordingError(f"Strip '{name}' is a {strip.type.lower()} strip, not a sound strip.")
            return strip
    sounds = sorted(s.name for s in strips if s.type == 'SOUND')
    hint = f" Sound strips: {', '.join(sounds)}." if sounds else " The scene has no sound strips."
    raise RecordingError(f"No strip named '{name}'.{hint}")


def strip_recording(strip):
    """(the strip's recording read into memory (bpy data is read on the main thread only), the
    frame its first sample plays at)."""
    audio, rate, first = read_strip(strip)
    return RecordedSamples(audio, rate, strip.name), first


def read_strip(strip):
    """(samples, rate, first frame) of a sound strip's recording (file or packed), from the
    start of its sound; the first frame is where the sound's first sample plays."""
    sound = strip.sound
    if sound is None:
        raise RecordingError(f"Sound strip '{strip.name}' has no sound.")
    if sound.packed_file is not None:
        ext = os.path.splitext(sound.filepath)[1] or ".wav"
        fd, tmp = tempfile.mkstemp(prefix="unitaf_strip_", suffix=ext)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(sound.packed_file.data)
            audio, rate = read_recording(tmp)
        finally:
            os.remove(tmp)
    else:
        audio, rate = read_recording(bpy.path.abspath(sound.filepath, library=sound.library))
    return audio, rate, int(round(compat.strip_content_start(strip)))
