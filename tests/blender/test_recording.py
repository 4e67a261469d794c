"""Recorded lines as samples (issue 13): WAV everywhere, FLAC/OGG/MP3 through Blender's own audio
library, sound strips from a file or packed; clear messages for what cannot be read."""
import numpy as np
import pytest

from shared_paths import LJ, need

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender import compat, recording
from unitaf_blender.core.audio_io import read_wav, write_wav


def _has_aud():
    try:
        import aud  # noqa: F401
    except ImportError:
        return False
    return True


def test_wav_reads_everywhere():
    audio, rate = recording.read_recording(need(LJ))
    ref, ref_rate = read_wav(str(LJ))
    assert rate == ref_rate == 22050 and audio.dtype == np.float32 and np.array_equal(audio, ref)


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_compressed_formats_decode_with_blenders_audio_library(tmp_path, fmt):
    sf = pytest.importorskip("soundfile")
    if not _has_aud():
        pytest.skip("this bpy module has no Audaspace (aud): WAV only")
    ref, rate = read_wav(str(need(LJ)))
    path = tmp_path / f"line.{fmt.lower()}"
    sf.write(str(path), ref, rate, format=fmt)
    audio, got_rate = recording.read_recording(path)
    assert got_rate == rate and abs(len(audio) - len(ref)) <= rate // 10   # MP3 pads a little
    n = min(len(audio), len(ref))
    if fmt == "FLAC":   # lossless: the same samples
        assert np.abs(audio[:n] - ref[:n]).max() < 1e-4


def test_unreadable_and_missing_files_say_so(tmp_path):
    with pytest.raises(recording.RecordingError, match="not found"):
        recording.read_recording(tmp_path / "missing.wav")
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    with pytest.raises(recording.RecordingError, match="bad.wav"):
        recording.read_recording(bad)
    if _has_aud():
        junk = tmp_path / "junk.mp3"
        junk.write_bytes(b"\x00" * 100)
        with pytest.raises(recording.RecordingError, match="junk.mp3"):
            recording.read_recording(junk)


@pytest.mark.parametrize("seconds, needle", [(0.0, "recording is empty"), (0.05, "recording is 50 ms long"),
                                             (31 * 60, "recording is 31.0 minutes long")])
def test_the_samples_read_meet_the_recording_limits_and_name_the_file(tmp_path, seconds, needle):
    """core.recording.check_length on what was read (not the header): the same limits and words
    as every other recording, with the file's path."""
    path = tmp_path / "line.wav"
    write_wav(str(path), np.zeros(int(seconds * 8000), np.float32), 8000)
    with pytest.raises(recording.RecordingError, match=rf"line\.wav: The {needle}"):
        recording.read_recording(path)


@pytest.mark.parametrize("packed", [False, True])
def test_a_sound_strip_gives_its_recording_and_start(clean_scene, packed):
    if not compat.has_audio():
        pytest.skip("this bpy build has no Audaspace (bpy 4.2 wheel): no sound strips")
    scene = bpy.context.scene
    se = scene.sequence_editor_create()
    strip = compat.new_sound_strip(se, "Line 3", str(need(LJ)), 2, 120)
    if packed:
        strip.sound.pack()
    audio, rate, first = recording.read_strip(recording.find_sound_strip(scene, "Line 3"))
    ref, _ = read_wav(str(LJ))
    assert first == 120 and rate == 22050 and np.array_equal(audio, ref)
    with pytest.raises(recording.RecordingError, match="Sound strips: Line 3"):
        recording.find_sound_strip(scene, "Line 4")
