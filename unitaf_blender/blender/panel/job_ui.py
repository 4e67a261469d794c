"""The Blender side of long jobs (jobs.py): start one from an operator, follow it with a modal
handler or a timer, show progress, let Esc cancel, report the outcome."""
import functools

import bpy

from . import jobs


def redraw(context, area_type=None):
    """Ask every area (or every area of `area_type`) to redraw: progress bars and panels."""
    for window in context.window_manager.windows:
        for area in window.screen.areas:
            if area_type is None or area.type == area_type:
                area.tag_redraw()


class JobWatcher:
    """Modal part shared by every threaded operator: a 0.1 s timer polls the job (which applies
    its result on this, the main thread), updates the progress and redraws; Esc cancels."""
    _job = None
    _timer = None

    def watch(self, context, job):
        self._job = job
        wm = context.window_manager
        wm.progress_begin(0, 100)
        self._timer = wm.event_timer_add(0.1, window=context.window)
        wm.modal_handler_add(self)
        return {'RUNNING_MODAL'}

    def modal(self, context, event):
        job = self._job
        if event.type == 'ESC' and event.value == 'PRESS':
            job.request_cancel()
            return {'RUNNING_MODAL'}
        if event.type != 'TIMER':
            return {'PASS_THROUGH'}
        job.poll()
        context.window_manager.progress_update(int(job.progress * 100))
        redraw(context, 'VIEW_3D')
        if not job.finished:
            return {'PASS_THROUGH'}
        wm = context.window_manager
        wm.event_timer_remove(self._timer)
        wm.progress_end()
        return self.finished(job)

    def finished(self, job):
        """Report the outcome; the return value ends the operator."""
        if job.state == jobs.DONE:
            self.report_done(job)
            return {'FINISHED'}
        if job.state == jobs.FAILED:
            self.report({'ERROR'}, job.error)
        else:
            self.report({'INFO'}, f"UniTAF: {job.label.lower()} cancelled; nothing was changed.")
        return {'CANCELLED'}

    def report_done(self, job):
        if isinstance(job.result, str) and job.result:
            self.report({'INFO'}, job.result)


def job_busy(op):
    job = jobs.current()
    if job is not None and not job.finished:
        op.report({'ERROR'}, f"A UniTAF job is already running ({job.label}; Esc or Cancel stops it).")
        return True
    return False


def runs_threaded(op) -> bool:
    """bl_pkg's rule for one execute path: a worker thread when the operator was invoked from
    the UI, synchronous from scripts and in background mode (no timers or modal handlers)."""
    return op.options.is_invoke and not bpy.app.background


def run_job(op, context, job):
    """Start `job`: on a worker thread watched by `op`'s own modal handler (op is a JobWatcher),
    or synchronously (see runs_threaded)."""
    jobs.set_current(job)
    if not runs_threaded(op):
        job.run_sync()
        return op.finished(job)
    job.start()
    return op.watch(context, job)


def run_job_watched(op, context, job, watcher_idname, on_finish=None):
    """Start `job` from an operator that cannot go modal itself (the execute of a dialog):
    the operator `watcher_idname` follows it, or a timer where no window can run a modal
    handler; synchronous where runs_threaded says so."""
    if not runs_threaded(op):
        return run_job(op, context, job)
    jobs.set_current(job)
    job.start()
    module, name = watcher_idname.split(".")
    try:
        watched = 'RUNNING_MODAL' in getattr(getattr(bpy.ops, module), name)('INVOKE_DEFAULT')
    except RuntimeError:
        watched = False
    if not watched:
        bpy.app.timers.register(functools.partial(poll_from_timer, job, on_finish), first_interval=0.1)
    op.report({'INFO'}, f"UniTAF: {job.label.lower()} started (Esc or Cancel stops it)")
    return {'FINISHED'}


def poll_from_timer(job, on_finish=None):
    """Timer callback: poll the job and redraw until it ends (returns the next interval)."""
    job.poll()
    redraw(bpy.context)
    if job.finished:
        if on_finish is not None:
            on_finish()
        return None
    return 0.2
