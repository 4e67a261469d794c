"""Nothing a headless run puts in the system temp folder outlives it, whether it succeeds, fails
or is stopped. The run gets a temporary folder of its own that Python's `tempfile` (espeak's voice
files, packed sounds...) and torch's compile cache (torch makes it as soon as a model is built)
use while the run lasts, removed after it: a temporary file whose own cleanup a Ctrl-C cut short
goes with it. The bpy module's session folder, whose cleanup is part of the interpreter teardown
that `python -m unitaf_blender` skips, is removed on the way out."""
import contextlib
import os
import shutil
import sys
import tempfile

TORCH_CACHE_VARIABLE = "TORCHINDUCTOR_CACHE_DIR"


@contextlib.contextmanager
def run_scratch():
    """The block's temporary folder: tempfile's default folder while it runs, and torch's compile
    cache unless the user chose a place for it (TORCHINDUCTOR_CACHE_DIR). None where no temp
    folder is writable: the command then runs as it would without."""
    try:
        scratch = tempfile.TemporaryDirectory(prefix="unitaf-run-")
    except OSError:
        yield None
        return
    with scratch as folder:
        previous = tempfile.tempdir
        own_cache = not os.environ.get(TORCH_CACHE_VARIABLE)
        tempfile.tempdir = folder
        if own_cache:
            os.environ[TORCH_CACHE_VARIABLE] = os.path.join(folder, "torch")
        try:
            yield folder
        finally:
            tempfile.tempdir = previous
            if own_cache:
                os.environ.pop(TORCH_CACHE_VARIABLE, None)


def remove_blender_session_folder():
    """The bpy module's `<temp>/blender_XXXXXX`, for a process that leaves without teardown. Only
    a folder of that name: where Blender could not make one, its temp path is the system temp
    folder itself."""
    bpy = sys.modules.get("bpy")
    folder = os.path.normpath(getattr(getattr(bpy, "app", None), "tempdir", "") or ".")
    if bpy is not None and os.path.basename(folder).startswith("blender_") and os.path.isdir(folder):
        shutil.rmtree(folder, ignore_errors=True)
