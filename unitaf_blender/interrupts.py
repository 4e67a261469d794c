"""Ctrl-C (SIGINT) and SIGTERM stop a headless command cleanly.

While a command runs, either signal raises `Interrupted` (a KeyboardInterrupt) where the work
is, so every staged output is discarded on the way out and the command exits 130 or 143, the
numbers shells report for the two signals. Once its outputs are being moved into place (the
commit point) a signal no longer stops it: the files appear complete and it exits 0. A second
signal ends the process at once (the signal's default action), as Blender's own Ctrl-C does.

Python runs signal handlers in the main thread only, so this works where the command runs on
it: `python -m unitaf_blender` and `blender -c unitaf`.
"""
import contextlib
import os
import signal
import threading

STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


class Interrupted(KeyboardInterrupt):
    """A stop signal arrived while a command ran."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class _Run:
    received = None        # the first stop signal
    committing = False     # outputs are being moved into place: signals wait


_run = None


def exit_code(exc: KeyboardInterrupt) -> int:
    """130 for Ctrl-C (a plain KeyboardInterrupt too), 143 for SIGTERM."""
    return exc.exit_code if isinstance(exc, Interrupted) else 128 + signal.SIGINT


def describe(exc: KeyboardInterrupt) -> str:
    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    return "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name


def _default_action_next():
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)


def _on_signal(signum, frame):
    run = _run
    if run is None:        # the command has returned: its caller's handlers are back any moment
        raise Interrupted(signum)
    _default_action_next()
    if run.received is None:
        run.received = signum
    if not run.committing:
        raise Interrupted(signum)


@contextlib.contextmanager
def stop_on_signals():
    """Stop signals raise Interrupted while the block runs; the previous handlers come back
    after (the default action where the previous one was not Python's, e.g. Blender's)."""
    global _run
    if threading.current_thread() is not threading.main_thread() or not STOP_SIGNALS:
        yield
        return
    previous = {signum: signal.signal(signum, _on_signal) for signum in STOP_SIGNALS}
    _run = _Run()
    try:
        yield
    finally:
        _run = None
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def commit_point():
    """Call just before the outputs are moved into place. Raises Interrupted if a stop signal
    arrived and was lost on the way (a C library that swallowed the exception); from here on
    a signal lets the command finish writing (a second one still ends the process)."""
    run = _run
    if run is None:
        return
    if run.received is not None:
        raise Interrupted(run.received)
    run.committing = True


def end_like_the_signal(code: int):
    """For a process about to exit with `code`: where that is 130/143 from a stop signal, end by
    the signal itself (POSIX), so a calling shell script sees it and stops too (a plain exit 130
    would let its loop go on). Returns where that is not possible."""
    signum = code - 128
    if os.name != "posix" or signum not in STOP_SIGNALS:
        return
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
