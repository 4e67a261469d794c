"""Run long work (generation, model download, runtime install) off the main thread; hand its
result to Blender on the main thread.

Blender's Python API is not thread safe, so the worker thread only calls
`work(progress, cancel)` (for generation: the request path's prepare and perform, plain data in,
a Performance out) and posts messages on a queue. `poll()`, called from the main
thread (a modal operator's timer), drains the queue and, when the result is ready, calls
`apply(result)`, the only step that touches bpy. A cancelled or failed job therefore never
changes the scene. `run_sync()` does the same on the calling thread (background mode, where
timers and modal operators never run).
"""
import queue
import threading

from ...core.errors import full_message
from ...engines import Cancelled
from ...engines.request_path import perform, prepare

PENDING, RUNNING, DONE, FAILED, CANCELLED = "PENDING", "RUNNING", "DONE", "FAILED", "CANCELLED"
FINISHED_STATES = (DONE, FAILED, CANCELLED)

_current = None   # the job shown in the panel (one at a time)


def current():
    return _current


def set_current(job):
    global _current
    _current = job


class Job:
    """One piece of long work: `work(progress, cancel) -> value`, then `apply(value)` on the main thread."""

    label = "Job"

    def __init__(self, work, apply=None, label=None):
        self.work, self.apply = work, apply or (lambda value: value)
        if label:
            self.label = label
        self.cancel_event = threading.Event()
        self.state = PENDING
        self.progress = 0.0
        self.stage = "Waiting"
        self.result = None        # whatever apply() returned (a TakeResult)
        self.error = None         # message for the user when FAILED
        self.exception = None     # the exception behind `error` (e.g. OutOfMemory offers a CPU retry)
        self._queue = queue.Queue()
        self._thread = None

    # worker side (no bpy here) ----------------------------------------------------------------
    def _report(self, fraction, stage):
        self._queue.put(("progress", float(fraction), str(stage)))

    def _run(self):
        try:
            value = self.work(self._report, self.cancel_event)
        except Cancelled:
            self._queue.put(("cancelled", None))
        except BaseException as e:   # surfaced to the user on the main thread
            self._queue.put(("failed", e))
        else:
            self._queue.put(("done", value))

    # main-thread side ------------------------------------------------------------------------
    def start(self):
        if self.state != PENDING:
            raise RuntimeError("job already started")
        self.state = RUNNING
        self.stage = "Starting"
        self._thread = threading.Thread(target=self._run, name=f"UniTAF {self.label}", daemon=True)
        self._thread.start()

    def run_sync(self):
        """Do the work on this thread and apply it (background mode, CLI, tests). Returns the state."""
        if self.state != PENDING:
            raise RuntimeError("job already started")
        self.state = RUNNING
        self._run()
        return self.poll()

    def request_cancel(self):
        self.cancel_event.set()

    @property
    def finished(self):
        return self.state in FINISHED_STATES

    def poll(self):
        """Drain the queue; apply a finished performance. Returns the state."""
        while not self.finished:
            try:
                msg = self._queue.get_nowait()
            except queue.Empty:
                break
            kind = msg[0]
            if kind == "progress":
                self.progress = min(max(msg[1], 0.0), 1.0)
                self.stage = msg[2]
            elif kind == "cancelled":
                self._finish(CANCELLED, "Cancelled")
            elif kind == "failed":
                self.exception, self.error = msg[1], full_message(msg[1])
                self._finish(FAILED, "Failed")
            elif kind == "done":
                if self.cancel_event.is_set():   # Esc came after the worker finished
                    self._finish(CANCELLED, "Cancelled")
                    break
                try:
                    self.result = self.apply(msg[1])
                except Exception as e:       # apply_take already rolled the scene back
                    self.exception, self.error = e, full_message(e)
                    self._finish(FAILED, "Failed")
                else:
                    self.progress = 1.0
                    self._finish(DONE, "Done")
        return self.state

    def _finish(self, state, stage):
        self.state, self.stage = state, stage
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def wait(self, timeout=None):
        """Block until the worker thread ends (tests, shutdown)."""
        if self._thread is not None:
            self._thread.join(timeout)


class GenerateJob(Job):
    """A checked request (engines/request_path.py) prepared and performed on the worker: the
    recording read, emotion 'auto' read from the words and a long recording split there, off the
    UI thread, then the engine's generate or lipsync."""

    label = "Generate"

    def __init__(self, checked, apply):
        def work(progress, cancel):
            return perform(prepare(checked, progress, cancel), progress, cancel)
        super().__init__(work, apply)
        self.checked = checked

    @property
    def fallback_device(self):
        """The device a failed run may be retried on (set by out-of-memory errors), else None."""
        if self.state != FAILED:
            return None
        return getattr(self.exception, "fallback_device", None)

