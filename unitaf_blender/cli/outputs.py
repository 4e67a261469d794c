"""The output guarantees of the scene commands: every input and output known before any work,
no output ever one of the inputs (links and relative paths resolved), the input .blend never
modified without --overwrite, room on the disk, and every file written under a temporary name and
moved into place only when the whole command succeeded (or none)."""
import contextlib
import os

from .. import interrupts
from .errors import BadInput


def audio_dir_for(save_path):
    """Takes' audio lives beside the OUTPUT .blend (<stem>_audio/), never beside the input."""
    stem = os.path.splitext(os.path.abspath(save_path))[0]
    return stem + "_audio"


# Upper bounds used for the free-space check before generating: 48 kHz 16-bit mono audio,
# and a speaking rate no slower than 8 characters a second.
_AUDIO_BYTES_PER_SECOND = 48000 * 2


_CHARS_PER_SECOND = 8.0


def files_read(args, extra=()):
    """[(what, path)] of every file the command reads besides the input .blend: the text,
    transcript, recording, CSV, .npz and its .wav, voice clip, batch file (+ `extra`, e.g.
    the recordings and voice clips of batch lines). None of them is ever written."""
    found = [(f"--{name.replace('_', '-')}", getattr(args, name, None))
             for name in ("text_file", "transcript_file", "audio", "csv", "npz", "voice")]
    if getattr(args, "npz", None):
        found.append(("the .wav of --npz", os.path.splitext(args.npz)[0] + ".wav"))
    if getattr(args, "lines", None):
        found.append(("the batch file", args.lines))
    found += list(extra)
    return [(what, os.path.abspath(path)) for what, path in found if path and os.path.exists(path)]


def files_written(args, take_names=()):
    """[(what, path)] of the files the command will write, as far as known before generating:
    --save, --export and its .wav, and the take audio of named takes."""
    save = os.path.abspath(args.save)
    found = [("--save", save)]
    export = getattr(args, "export", None)
    if export:
        npz = os.path.abspath(export)
        found += [("--export", npz), ("the .wav of --export", os.path.splitext(npz)[0] + ".wav")]
    names = list(take_names) + ([args.take] if getattr(args, "take", None) else [])
    folder = audio_dir_for(save)
    for name in names:
        path = os.path.join(folder, clean_name(name) + ".wav")
        found.append((f"the audio of take '{name}'", path))
    return found


def clean_name(name):
    import bpy
    return bpy.path.clean_name(name)


def check_not_inputs(args, inputs, take_names=()):
    """BadInput when an output would replace an input: links and relative paths resolved."""
    from ..core.staging import same_file
    for what_out, out in files_written(args, take_names):
        for what_in, path in inputs:
            if same_file(out, path):
                raise BadInput(f"{what_out} '{out}' is the input {what_in} ({path}): an input is never "
                               "overwritten. Choose another output name.")


def input_blend(args):
    """The .blend the command reads: --blend, or the file Blender opened before `-c`."""
    if getattr(args, "blend", None):
        return os.path.abspath(args.blend)
    import bpy
    return bpy.data.filepath or None


def check_outputs(args, seconds_of_audio=0.0, inputs=(), take_names=()):
    """Every output of a scene command, checked before any work: --save names a .blend in a
    writable folder and is not the input (unless --overwrite), --export likewise, no output is
    one of the `inputs` ([(what, path)]), and the disk has room for the take audio. Raises
    BadInput."""
    from ..core.staging import OutputError, check_free_space, check_writable_folder, same_file
    save = os.path.abspath(args.save)
    if not save.lower().endswith(".blend"):
        raise BadInput(f"--save must name a .blend file, got '{args.save}'")
    check_not_inputs(args, inputs, take_names)
    source = input_blend(args)
    if source and same_file(save, source) and not args.overwrite:
        raise BadInput(f"--save is the input file {source}: the input is never modified. Save to "
                       "another file, or pass --overwrite to replace the input.")
    if os.path.isdir(save):
        raise BadInput(f"--save: '{save}' is a folder")
    audio_dir = audio_dir_for(save)
    if os.path.exists(audio_dir) and not os.path.isdir(audio_dir):
        raise BadInput(f"the take audio folder '{audio_dir}' exists as a file: move it away or save elsewhere")
    try:
        check_writable_folder(os.path.dirname(save), "--save")
        if os.path.isdir(audio_dir):
            check_writable_folder(audio_dir, "take audio folder")
        export = getattr(args, "export", None)
        if export:
            if not export.lower().endswith(".npz"):
                raise BadInput(f"--export must name a .npz file, got '{export}'")
            check_writable_folder(os.path.dirname(os.path.abspath(export)), "--export")
        needed = int(seconds_of_audio * _AUDIO_BYTES_PER_SECOND) * (2 if export else 1)
        if source and os.path.isfile(source):
            needed += os.path.getsize(source)
        check_free_space(os.path.dirname(save), needed, "--save")
    except OutputError as e:
        raise BadInput(str(e)) from None


def speech_seconds(text):
    return len(text) / _CHARS_PER_SECOND


@contextlib.contextmanager
def staged_outputs(inputs=()):
    """StagedFiles that are discarded unless the block reached `write_outputs`; they never
    move an output onto one of the `inputs` ([(what, path)])."""
    from ..core.staging import StagedFiles
    staged = StagedFiles(protect=[path for _, path in inputs])
    try:
        yield staged
    except BaseException:
        staged.discard()
        raise


def write_outputs(staged, results, save_path):
    """The command succeeded: move the staged files into place, point the take sounds at
    them and save the .blend; if saving fails, every moved file is taken back."""
    from ..blender.sound import point_sound_at
    from ..blender.takes import save_blend
    interrupts.commit_point()
    staged.commit()
    try:
        for result in results:
            if result.strip is not None and result.audio_path:
                point_sound_at(result.strip.sound, result.audio_path)
        save_blend(os.path.abspath(save_path))
    except BaseException:
        staged.restore()
        raise
    staged.finish()


def export_performance(perf, path, staged):
    """Write `perf` as <path> (.npz) + the .wav beside it, both staged."""
    final_npz = os.path.abspath(path)
    final_wav = os.path.splitext(final_npz)[0] + ".wav"
    tmp_npz = staged.path_for(final_npz)
    tmp_wav = os.path.splitext(tmp_npz)[0] + ".wav"
    staged.add(tmp_wav, final_wav)
    perf.save(tmp_npz)
