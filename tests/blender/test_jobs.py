"""The threaded generation job, driven through poll() as the modal operator's timer does.

The engines here are test doubles defined in this file (no product code fakes an engine).
"""
import threading
import time

import pytest
from helpers import make_perf

bpy = pytest.importorskip("bpy")
from unitaf_blender.blender.panel import jobs
from unitaf_blender.blender.takes import TakeOptions, apply_take
from unitaf_blender.engines import Cancelled, CheckedRequest, EngineError, GenerateRequest, check_cancel
from unitaf_blender.engines.request_path import Checked


class SteppedEngine:
    """Reports progress in steps; each step waits until the test releases it."""

    def __init__(self, fail=None):
        self.step = threading.Semaphore(0)
        self.fail = fail
        self.thread_ids = set()

    def check(self, request):
        return CheckedRequest(request)

    def generate(self, request, progress, cancel):
        self.thread_ids.add(threading.get_ident())
        for i in range(3):
            self.step.acquire()
            check_cancel(cancel)
            progress((i + 1) / 4, f"stage {i + 1}")
        self.step.acquire()   # one more step before the result
        if self.fail:
            raise self.fail
        return make_perf(seconds=1.0)


def _poll_until(job, cond, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        job.poll()
        if cond():
            return
        time.sleep(0.005)
    raise AssertionError(f"timed out in state {job.state}")


def _n_actions():
    return len(bpy.data.actions)


def _job(face, engine):
    scene = bpy.context.scene
    apply = lambda perf: apply_take(scene, face, perf, TakeOptions(start_frame=1, add_sound=False))  # noqa: E731
    return jobs.GenerateJob(Checked(engine, GenerateRequest(text="hi")), apply)


def test_progress_then_result_applied_on_main_thread(face):
    engine = SteppedEngine()
    job = _job(face, engine)
    job.start()
    assert job.state == jobs.RUNNING
    seen = []
    for _ in range(3):
        engine.step.release()
        _poll_until(job, lambda: (job.progress, job.stage) not in seen[-1:] and job.progress > 0)
        seen.append((job.progress, job.stage))
    assert [p for p, _ in seen] == [0.25, 0.5, 0.75]
    assert seen[-1][1] == "stage 3" and not job.finished
    engine.step.release()
    _poll_until(job, lambda: job.finished)
    assert job.state == jobs.DONE and job.progress == 1.0
    assert job.result.action.name == "UniTAF_Face_take1"
    assert threading.get_ident() not in engine.thread_ids   # the engine ran on the worker


def test_cancel_leaves_no_trace(face):
    engine = SteppedEngine()
    job = _job(face, engine)
    before = _n_actions()
    job.start()
    engine.step.release()
    _poll_until(job, lambda: job.progress == 0.25)
    job.request_cancel()
    engine.step.release()
    engine.step.release()
    _poll_until(job, lambda: job.finished)
    assert job.state == jobs.CANCELLED and job.result is None
    assert _n_actions() == before and face.data.shape_keys.animation_data is None


def test_cancel_after_engine_finished_still_changes_nothing(face):
    engine = SteppedEngine()
    job = _job(face, engine)
    job.start()
    for _ in range(4):
        engine.step.release()
    job.wait(5.0)            # the worker is done and its result sits in the queue
    job.request_cancel()     # Esc pressed before the next timer tick
    assert job.poll() == jobs.CANCELLED
    assert _n_actions() == 0


@pytest.mark.parametrize("error,message", [
    (EngineError("espeak-ng is missing"), "espeak-ng is missing"),
    (RuntimeError("boom"), "boom"),
])
def test_engine_failure_leaves_no_trace(face, error, message):
    engine = SteppedEngine(fail=error)
    job = _job(face, engine)
    job.start()
    for _ in range(4):
        engine.step.release()
    _poll_until(job, lambda: job.finished)
    assert job.state == jobs.FAILED and job.error == message
    assert _n_actions() == 0


def test_apply_failure_is_reported_and_rolled_back(clean_scene):
    from helpers import make_face
    obj = make_face(bpy, keys=("NotArkit",))
    engine = SteppedEngine()
    job = jobs.GenerateJob(Checked(engine, GenerateRequest(text="hi")),
                           lambda perf: apply_take(bpy.context.scene, obj, perf, TakeOptions()))
    job.start()
    for _ in range(4):
        engine.step.release()
    _poll_until(job, lambda: job.finished)
    assert job.state == jobs.FAILED and "match an ARKit" in job.error
    assert _n_actions() == 0


def test_engine_cancelled_exception_maps_to_cancelled(face):
    class Quits(SteppedEngine):
        def generate(self, request, progress, cancel):
            raise Cancelled()
    job = _job(face, Quits())
    job.start()
    _poll_until(job, lambda: job.finished)
    assert job.state == jobs.CANCELLED
    with pytest.raises(RuntimeError):
        job.start()
