"""The take's audio as a Video Sequencer sound strip.

Where the WAV goes is the caller's choice, never a guess from the open file (a take must not
write beside a .blend the user only opened, e.g. inside an asset library):
* no `audio_dir` (the panel): the audio is packed into the .blend;
* `audio_dir` + `StagedFiles` (the CLI): the WAV is written under a temporary name in
  `audio_dir` and moved to `<audio_dir>/<take>.wav` only when the whole command succeeded;
  the CLI then points the sound at the final file, relative (`//...`) to the saved .blend;
* `audio_dir` alone (scripts): written straight to `<audio_dir>/<take>.wav`.
"""
import math
import os
import tempfile

import bpy

from ..core.audio_io import write_wav
from . import compat

MAX_CHANNEL = 128


def audio_folder(audio_dir=None):
    """Where take WAVs go: `audio_dir` as an absolute path, or None (= pack into the .blend)."""
    return os.path.abspath(bpy.path.abspath(audio_dir)) if audio_dir else None


def wav_path_for(take_name: str, audio_dir=None):
    folder = audio_folder(audio_dir)
    return None if folder is None else os.path.join(folder, bpy.path.clean_name(take_name) + ".wav")


def _busy_channels(sequence_editor, start, end, skip=None) -> set:
    """Channels with a strip (other than `skip`) overlapping [start, end)."""
    busy = set()
    for strip in compat.all_strips(sequence_editor):
        s0, s1 = compat.strip_range(strip)
        if strip != skip and s0 < end and start < s1:
            busy.add(strip.channel)
    return busy


def free_channel(sequence_editor, start: int, length: int) -> int:
    """Lowest channel with no strip overlapping [start, start + length)."""
    end = start + max(1, length)
    busy = _busy_channels(sequence_editor, start, end)
    for channel in range(1, MAX_CHANNEL + 1):
        if channel not in busy:
            return channel
    raise RuntimeError(f"no free sequencer channel at frames {start}-{end}")


def point_sound_at(sound, path):
    """Point `sound` at `path` (the take's WAV under its final name): relative to the saved
    .blend when there is one, absolute otherwise (save_blend makes it relative later)."""
    filepath = path
    if bpy.data.filepath:
        try:
            filepath = bpy.path.relpath(path)
        except ValueError:     # another drive on Windows: keep it absolute
            filepath = path
    sound.filepath = filepath


def relative_take_sounds(folder) -> int:
    """Make absolute sound paths inside `folder` (take WAVs beside a just-saved .blend)
    relative. Returns how many changed; other sounds are the artist's and stay as they are."""
    folder = os.path.normcase(os.path.abspath(folder)) + os.sep
    changed = 0
    for sound in bpy.data.sounds:
        path = sound.filepath
        if path and not path.startswith("//") and sound.packed_file is None \
                and os.path.normcase(os.path.abspath(path)).startswith(folder):
            point_sound_at(sound, path)
            changed += 1
    return changed


class SoundPlacement:
    """Writes the WAV and adds the strip; `undo()` removes whatever it created."""

    def __init__(self):
        self.strip = None
        self.sound = None
        self.wav_path = None        # the take's WAV under its final name (written by the staging)
        self.sound_name = None      # the sound's own name (Blender adds .001 while a replaced take's exists)
        self._tmp_path = None       # temporary file used for packing (always removed)
        self._made_editor = False

    def place(self, scene, take_name: str, audio, sample_rate: int, start: int, fps: float,
              audio_dir=None, staged=None):
        folder = audio_folder(audio_dir)
        if folder is None:
            fd, self._tmp_path = tempfile.mkstemp(prefix="unitaf_", suffix=".wav")
            os.close(fd)
            path = self._tmp_path
        else:
            self.wav_path = wav_path_for(take_name, audio_dir)
            path = staged.path_for(self.wav_path)   # the staging removes it if the take fails
        write_wav(path, audio, sample_rate)
        if not os.path.isfile(path):   # new_sound silently accepts a missing file
            raise RuntimeError(f"could not write audio file {path}")

        se = scene.sequence_editor
        if se is None:
            se = scene.sequence_editor_create()
            self._made_editor = True
        length = int(math.ceil(len(audio) / sample_rate * fps)) + 1
        channel = free_channel(se, start, length)
        self.strip = compat.new_sound_strip(se, take_name, path, channel, start)
        self.sound = self.strip.sound
        self.sound_name = os.path.basename(wav_path_for(take_name, "."))   # not the temporary file's name
        self.sound.name = self.sound_name
        if self._tmp_path is not None:
            self.sound.pack()
            # A packed sound keeps its path only as the "unpack to" target: make it sensible.
            self.sound.filepath = "//" + os.path.basename(wav_path_for(take_name, "."))
            self._remove_tmp()
        return self.strip

    def reference(self, scene, take_name: str, path: str, start: int, length: int):
        """A strip playing an existing recording in place (never copied): lip-sync takes."""
        se = scene.sequence_editor
        if se is None:
            se = scene.sequence_editor_create()
            self._made_editor = True
        channel = free_channel(se, start, length)
        self.strip = compat.new_sound_strip(se, take_name, path, channel, start)
        self.sound = self.strip.sound
        self.sound_name = bpy.path.basename(path)
        return self.strip

    def settle(self, scene, channel=None):
        """Once the take this one replaces is gone: the strip moves to that take's `channel`
        where it is free there, and the sound gets its own name back."""
        strip = self.strip
        if channel is not None and channel != strip.channel:
            start, end = compat.strip_range(strip)
            if channel not in _busy_channels(scene.sequence_editor, start, end, skip=strip):
                strip.channel = channel
        if self.sound is not None and self.sound_name and self.sound.name != self.sound_name:
            self.sound.name = self.sound_name

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
        self.strip = self.sound = self.sound_name = None
        if self._made_editor and scene.sequence_editor is not None:
            scene.sequence_editor_clear()
        self._made_editor = False
        self._remove_tmp()
        self.wav_path = None
