"""The take's audio as a Video Sequencer sound strip.

The WAV lives beside the .blend in `<blend dir>/<blend stem>_audio/<take>.wav` and is
referenced with a relative path (`//...`), so the .blend and its audio folder can move
together. An unsaved .blend has no "beside", so the audio is packed into it instead.
"""
import math
import os
import tempfile

import bpy

from ..core.audio_io import write_wav
from . import compat

MAX_CHANNEL = 128


def audio_folder(audio_dir=None):
    """Where take WAVs go: the override, else beside the saved .blend, else None (= pack)."""
    if audio_dir:
        return os.path.abspath(bpy.path.abspath(audio_dir))
    if not bpy.data.filepath:
        return None
    blend_dir, blend_name = os.path.split(bpy.data.filepath)
    return os.path.join(blend_dir, os.path.splitext(blend_name)[0] + "_audio")


def wav_path_for(take_name: str, audio_dir=None):
    folder = audio_folder(audio_dir)
    return None if folder is None else os.path.join(folder, bpy.path.clean_name(take_name) + ".wav")


def free_channel(sequence_editor, start: int, length: int) -> int:
    """Lowest channel with no strip overlapping [start, start + length)."""
    end = start + max(1, length)
    busy = set()
    for strip in compat.all_strips(sequence_editor):
        s0, s1 = compat.strip_range(strip)
        if s0 < end and start < s1:
            busy.add(strip.channel)
    for channel in range(1, MAX_CHANNEL + 1):
        if channel not in busy:
            return channel
    raise RuntimeError(f"no free sequencer channel at frames {start}-{end}")


class SoundPlacement:
    """Writes the WAV and adds the strip; `undo()` removes whatever it created."""

    def __init__(self):
        self.strip = None
        self.sound = None
        self.wav_path = None        # final file we wrote (kept on success)
        self._tmp_path = None       # temporary file used for packing (always removed)
        self._made_dir = None
        self._made_editor = False

    def place(self, scene, take_name: str, audio, sample_rate: int, start: int, fps: float,
              audio_dir=None):
        folder = audio_folder(audio_dir)
        if folder is None:
            fd, self._tmp_path = tempfile.mkstemp(prefix="unitaf_", suffix=".wav")
            os.close(fd)
            path = self._tmp_path
        else:
            if not os.path.isdir(folder):
                os.makedirs(folder)
                self._made_dir = folder
            path = wav_path_for(take_name, audio_dir)
            self.wav_path = path
        write_wav(path, audio, sample_rate)
        if not os.path.isfile(path):   # new_sound silently accepts a missing file
            raise RuntimeError(f"could not write audio file {path}")

        se = scene.sequence_editor
        if se is None:
            se = scene.sequence_editor_create()
            self._made_editor = True
        length = int(math.ceil(len(audio) / sample_rate * fps)) + 1
        channel = free_channel(se, start, length)
        filepath = path
        if folder is not None and bpy.data.filepath:
            try:
                filepath = bpy.path.relpath(path)
            except ValueError:     # another drive on Windows: keep it absolute
                filepath = path
        self.strip = compat.new_sound_strip(se, take_name, filepath, channel, start)
        self.sound = self.strip.sound
        if self._tmp_path is not None:
            self.sound.pack()
            # A packed sound keeps its path only as the "unpack to" target: make it sensible.
            self.sound.filepath = "//" + os.path.basename(wav_path_for(take_name, "."))
            self._remove_tmp()
        return self.strip

    def _remove_tmp(self):
        if self._tmp_path and os.path.exists(self._tmp_path):
            os.remove(self._tmp_path)
        self._tmp_path = None

    def undo(self, scene):
        if self.strip is not None and scene.sequence_editor is not None:
            try:
                compat.remove_strip(scene.sequence_editor, self.strip)
            except (ReferenceError, RuntimeError):
                pass
        if self.sound is not None:
            try:
                if self.sound.users == 0:
                    bpy.data.sounds.remove(self.sound)
            except ReferenceError:
                pass
        self.strip = self.sound = None
        if self._made_editor and scene.sequence_editor is not None:
            scene.sequence_editor_clear()
        self._made_editor = False
        self._remove_tmp()
        if self.wav_path and os.path.exists(self.wav_path):
            os.remove(self.wav_path)
        self.wav_path = None
        if self._made_dir and os.path.isdir(self._made_dir) and not os.listdir(self._made_dir):
            os.rmdir(self._made_dir)
        self._made_dir = None
