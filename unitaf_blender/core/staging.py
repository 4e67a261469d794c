"""Output files that appear together, or not at all.

A command (generate, batch, import) writes several files: take WAVs beside the output .blend,
an exported .npz + .wav, the .blend itself. Each is first written under a hidden temporary
name in its final folder (`.<name>.unitaf-<random><ext>`, same disk, so the final move is an
atomic rename; it gets the mode a new file gets under the user's umask, as the .blend does,
not the 0600 of a temporary file). `commit()` moves them all into place when the whole command succeeded; a file
that already existed under a final name is kept aside until `finish()`, so `restore()` can put
everything back if a later step (saving the .blend) fails. `discard()` removes every
temporary file and the folders the stage created. A stage never moves a file onto one of the
command's inputs (`protect`). Nothing here imports bpy.
"""
import os
import shutil
import tempfile

# Free space kept in reserve beyond what a command is expected to write.
SPACE_MARGIN_BYTES = 16 * 1024 * 1024


def new_file_mode() -> int:
    """The mode `open()` gives a new file under the process umask.

    Linux shows the umask in /proc (reading it changes nothing, so no other thread creates a
    file under a wrong mask meanwhile); elsewhere it is set to the common 022 for a moment and
    put back."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


class OutputError(ValueError):
    """An output cannot be written (folder missing or read-only, no space); shown as is."""


def check_writable_folder(folder: str, what: str) -> None:
    """Raise OutputError unless files can be created in `folder` (tried, not guessed: ACLs,
    read-only mounts and root-squashed shares defeat os.access)."""
    if not os.path.isdir(folder):
        raise OutputError(f"{what}: folder '{folder}' does not exist.")
    try:
        fd, probe = tempfile.mkstemp(prefix=".unitaf-write-test-", dir=folder)
    except OSError as e:
        raise OutputError(f"{what}: cannot write into '{folder}' ({e.strerror or e}).") from None
    os.close(fd)
    os.remove(probe)


def check_free_space(folder: str, needed_bytes: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed_bytes + SPACE_MARGIN_BYTES:
        raise OutputError(f"{what}: only {free / 1e6:.0f} MB free in '{folder}', "
                          f"about {(needed_bytes + SPACE_MARGIN_BYTES) / 1e6:.0f} MB needed.")


def same_file(a: str, b: str) -> bool:
    """Whether two paths name one file: links and relative parts resolved (realpath), and
    for files that exist, the same file on disk (hard links, case-insensitive disks)."""
    a, b = os.path.abspath(a), os.path.abspath(b)
    if os.path.normcase(os.path.realpath(a)) == os.path.normcase(os.path.realpath(b)):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:          # one of them does not exist (yet)
        return False


class StagedFiles:
    """Temporary files waiting to be moved onto their final names together.

    `protect` names files that must never be replaced (a command's inputs: the recording, the
    CSV, ...): staging an output onto one of them raises OutputError."""

    def __init__(self, protect=()):
        self._moves = []          # [(temporary path, final path)] in the order they were staged
        self._made_dirs = []      # folders this stage created (removed again by discard)
        self._backups = []        # [(backup path, final path)] of files commit() replaced
        self._committed = []      # final paths commit() wrote
        self._protected = [os.path.abspath(p) for p in protect]

    def protects(self, path: str) -> bool:
        """Whether `path` is one of the protected files (an input of the command)."""
        return any(same_file(path, p) for p in self._protected)

    def _check_final(self, final_path):
        if self.protects(final_path):
            raise OutputError(f"the output '{final_path}' is an input of this command: an input is never "
                              "overwritten. Choose another output name.")
        if any(same_file(final_path, f) for f in self.finals):
            raise OutputError(f"two outputs of this command would be the same file '{final_path}'.")

    def path_for(self, final_path: str) -> str:
        """A new temporary path for `final_path` (its folder is created if needed)."""
        final_path = os.path.abspath(final_path)
        self._check_final(final_path)
        folder, name = os.path.split(final_path)
        self._make_dirs(folder)
        stem, ext = os.path.splitext(name)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.unitaf-", suffix=ext, dir=folder)
        os.close(fd)
        self._moves.append((tmp, final_path))
        return tmp

    def add(self, temporary_path: str, final_path: str) -> None:
        """Adopt a temporary file written by someone else (e.g. the .wav beside an .npz)."""
        self._check_final(os.path.abspath(final_path))
        self._moves.append((os.path.abspath(temporary_path), os.path.abspath(final_path)))


    @property
    def finals(self) -> list:
        return [final for _, final in self._moves]

    def commit(self) -> None:
        """Move every temporary file onto its final name; on any failure undo the moves made."""
        mode = new_file_mode()
        try:
            for tmp, final in self._moves:
                if not os.path.exists(tmp):
                    raise OutputError(f"internal: staged file {tmp} for {final} is missing")
                os.chmod(tmp, mode)
                if os.path.exists(final):
                    backup = self._backup_name(final)
                    os.replace(final, backup)
                    self._backups.append((backup, final))
                os.replace(tmp, final)
                self._committed.append(final)
        except BaseException:
            self.restore()
            raise
        self._moves = []

    def restore(self) -> None:
        """Undo commit(): remove the files it wrote and put replaced files back."""
        for final in reversed(self._committed):
            if os.path.exists(final):
                os.remove(final)
        for backup, final in reversed(self._backups):
            os.replace(backup, final)
        self._committed, self._backups = [], []
        self.discard()

    def finish(self) -> None:
        """The command succeeded: drop the copies of replaced files."""
        for backup, _ in self._backups:
            if os.path.exists(backup):
                os.remove(backup)
        self._committed, self._backups = [], []

    def discard(self) -> None:
        """Remove every temporary file and the folders this stage created (if left empty)."""
        for tmp, _ in self._moves:
            if os.path.exists(tmp):
                os.remove(tmp)
        self._moves = []
        for folder in reversed(self._made_dirs):
            if os.path.isdir(folder) and not os.listdir(folder):
                os.rmdir(folder)
        self._made_dirs = []

    def _make_dirs(self, folder):
        missing = []
        while not os.path.isdir(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        for path in reversed(missing):
            os.mkdir(path)
            self._made_dirs.append(path)

    @staticmethod
    def _backup_name(final):
        folder, name = os.path.split(final)
        fd, backup = tempfile.mkstemp(prefix=f".{name}.unitaf-old-", dir=folder)
        os.close(fd)
        return backup
