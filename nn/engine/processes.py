"""A team of processes: like nn/engine/threads.py's thread team, without the GIL between its members.

Why processes: the threads of a :class:`nn.engine.threads.Team` share one interpreter lock. A big
matrix product releases it, so two threads multiply at the same time; but a step also has
dozens of small NumPy calls (the loss, bias sums, the optimizer on a small layer), which hold
the lock, and two threads making them at once take turns, paying a wake-up for each turn. A
forked worker process has its own interpreter: both halves of the batch run every call at
once. It also waits for work by spinning for a moment instead of sleeping, which a thread
cannot do without holding the lock the other thread needs: a hand-off costs microseconds
instead of the wake-up of a sleeping thread (measurements: docs/PERFORMANCE.md).

How the work is shared: the worker is forked after everything a job touches is allocated in
memory that both processes map (:func:`shared_zeros`): weights, gradients, optimizer state,
the batch and its workspaces. At the fork, the worker inherits the Python objects that hold
those arrays, and the jobs registered with the team (bound methods). A job call sends only
numbers: which job, and its scalar arguments (a batch size, a learning rate). So a job
works on shared arrays only and must not rely on Python state that changes after the fork,
except through its arguments.

Requires Linux's ``os.fork``: :func:`processes_available` says whether this process can use a
process team. Fork only from a process with a single thread: a lock that another thread holds
at the fork stays locked forever in the child.
"""

from __future__ import annotations

import functools
import math
import mmap
import multiprocessing
import os
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence

import numpy as np

from nn.engine.threads import check_team_size

SPIN_SECONDS = 0.002  # how long a waiting member polls before it sleeps (a batch's serial work is ~0.3 ms)
MAX_ARGS = 8  # scalar arguments per job
MAX_RESULTS = 4  # numbers a job's share may return
_ERROR_BYTES = 2000
_EXIT = -1.0
_FAILED = -1
_NUMBERS = (int, float, np.integer, np.floating, np.bool_)
_TYPES = (float, int, bool)  # arguments travel as float64 and come back as their own type


def _kinds_code(args: Sequence[object]) -> int:
    """Each argument's type (an index into _TYPES) as one number: a digit in base 3 per argument."""
    code = 0
    for i, a in enumerate(args):
        kind = 2 if isinstance(a, (bool, np.bool_)) else 1 if isinstance(a, (int, np.integer)) else 0
        code += kind * 3**i
    return code


@functools.lru_cache(maxsize=64)
def _converters(code: int, count: int) -> tuple[type, ...]:
    return tuple(_TYPES[(code // 3**i) % 3] for i in range(count))


def shared_zeros(shape: int | tuple[int, ...], dtype: np.dtype | type = np.float32) -> np.ndarray:
    """A zero-filled array in memory that processes forked later share (an anonymous shared mapping).

    It behaves like any NumPy array; the memory is released when the last array viewing it is.
    """
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    dtype = np.dtype(dtype)
    count = math.prod(shape)
    memory = mmap.mmap(-1, max(1, count * dtype.itemsize))  # fresh anonymous pages are zero
    return np.frombuffer(memory, dtype, count).reshape(shape)


def processes_available() -> bool:
    """Whether this process may fork a worker: Linux, and no other thread runs.

    Linux only: on macOS, system libraries NumPy may use for its products (Accelerate) are
    not safe to use in a child forked without exec.
    """
    return sys.platform.startswith("linux") and hasattr(os, "fork") and threading.active_count() == 1


class WorkerError(RuntimeError):
    """A job failed in a worker process (the message names the original exception)."""


def _wait(lock, spin_seconds: float, alive: Callable[[], bool]) -> None:
    """Acquire ``lock``: poll it for a moment (cheap when the other side is about to release it),
    then sleep on it, waking up now and then to check that the other side is still ``alive``."""
    if lock.acquire(False):
        return
    end = time.perf_counter() + spin_seconds
    while time.perf_counter() < end:
        for _ in range(64):
            if lock.acquire(False):
                return
    while not lock.acquire(timeout=0.5):
        if not alive():
            raise WorkerError("a worker process of the team has died")


class ProcessTeam:
    """The calling process plus ``size - 1`` forked workers that run registered jobs.

    ``jobs``: the callables a run may name, fixed at construction (the workers get their own
    copies at the fork). ``team.run(job, *args)`` calls ``job(k, *args)`` for k = 0 .. size-1 at
    the same time, ``job(0, ...)`` in this process, and returns the list of the k results. The
    arguments must be numbers (``int``, ``float``, ``bool``); a result is ``None`` or a tuple of
    at most ``MAX_RESULTS`` numbers, returned as floats. An exception in a worker is raised
    from ``run`` as :class:`WorkerError`. Call :meth:`close` when done; the workers also end
    when this process does.

    A job may also be a tuple of callables, its phases: every member runs phase 1, waits
    until all have finished it, runs phase 2, and so on (a barrier between phases, which
    costs a few microseconds instead of a second hand-off through this process). Each
    member's result is the last one its phases returned that was not ``None``. When a phase
    fails in any member, no member starts the next one.
    """

    def __init__(self, size: int, jobs: Sequence[Callable[..., object] | tuple[Callable[..., object], ...]],
                 name: str = "nn-team") -> None:
        self.size = check_team_size(size)
        self._jobs = list(jobs)
        if not self._jobs or not all(_is_job(j) for j in self._jobs):
            raise ValueError("a process team needs a list of jobs to run: callables, or tuples of them (phases)")
        # Bound methods hash and compare by their function and object: a fresh `model.forward_share`
        # finds the index of the one registered.
        self._index = {job: i for i, job in enumerate(self._jobs)}
        if size > 1 and not processes_available():
            raise RuntimeError("a process team needs Linux's os.fork and a process with a single thread")
        workers = max(size - 1, 1)
        # Per worker, one row each, written with one NumPy call per hand-off (they are on the
        # critical path): the order [job index or _EXIT, number of args, their types, args...]
        # and the result [number of values or _FAILED, values...]; and an error's text.
        self._orders = shared_zeros((workers, 3 + MAX_ARGS), np.float64)
        self._results = shared_zeros((size, 1 + MAX_RESULTS), np.float64)
        self._messages = shared_zeros((workers, _ERROR_BYTES), np.uint8)
        context = multiprocessing.get_context("fork")  # a semaphore that a forked child can use as is
        self._go = [context.Semaphore(0) for _ in range(size - 1)]
        self._done = [context.Semaphore(0) for _ in range(size - 1)]
        # The barrier between a phased job's phases: each worker says it has arrived, this process
        # waits for all of them and lets them go on (or, when a phase failed, tells them to stop).
        self._arrive = [context.Semaphore(0) for _ in range(size - 1)]
        self._leave = [context.Semaphore(0) for _ in range(size - 1)]
        self._abort = shared_zeros((1,), np.float64)
        self._lock = threading.Lock()
        self._pids: list[int] | None = []
        self._parent = os.getpid()
        for k in range(1, size):
            pid = os.fork()
            if pid == 0:  # the worker: never returns
                self._serve(k)
            self._pids.append(pid)
        self._finalizer = weakref.finalize(self, ProcessTeam._stop, self._orders, self._go, self._leave,
                                           self._abort, list(self._pids))

    # ------------------------------------------------------------------ in the worker

    def _serve(self, k: int) -> None:
        code = 0
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
            order, result, go, done = self._orders[k - 1], self._results[k], self._go[k - 1], self._done[k - 1]
            arrive, leave = self._arrive[k - 1], self._leave[k - 1]
            parent_alive = lambda: os.getppid() == self._parent  # noqa: E731
            while True:
                try:
                    _wait(go, SPIN_SECONDS, parent_alive)
                except WorkerError:
                    break  # the parent is gone
                row = order.tolist()
                if row[0] == _EXIT:
                    break
                count = int(row[1])
                args = [convert(value) for convert, value in zip(_converters(int(row[2]), count), row[3 : 3 + count])]
                job = self._jobs[int(row[0])]
                phases = job if isinstance(job, tuple) else (job,)
                result[0] = 0
                values: tuple = ()
                failed = False
                for p, phase in enumerate(phases):
                    try:
                        out = phase(k, *args)
                        if out is not None:
                            values = tuple(out)
                    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
                        self._fail(k, exc)
                        failed = True
                    if p == len(phases) - 1:
                        break
                    arrive.release()
                    _wait(leave, SPIN_SECONDS, parent_alive)
                    if failed or self._abort[0]:
                        break
                if not failed:
                    if len(values) > MAX_RESULTS:
                        self._fail(k, ValueError(f"a job may return at most {MAX_RESULTS} numbers, got {len(values)}"))
                    else:
                        result[: 1 + len(values)] = (len(values), *values)
                done.release()
        except BaseException:  # noqa: BLE001
            code = 1
        finally:
            os._exit(code)  # never run the parent's cleanup code (atexit, finally blocks) in the child

    def _fail(self, k: int, exc: BaseException) -> None:
        """Leave ``exc`` for the parent: worker k's result says it failed, its message says why."""
        text = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[:_ERROR_BYTES]
        self._messages[k - 1] = 0
        self._messages[k - 1, : len(text)] = np.frombuffer(text, np.uint8)
        self._results[k, 0] = _FAILED

    # ------------------------------------------------------------------ in the parent

    def run(self, job: Callable[..., object] | tuple[Callable[..., object], ...],
            *args: float) -> list[tuple[float, ...] | None]:
        """``job(k, *args)`` for every member k at once (each phase in turn for a tuple); the members' results in order."""
        if self._pids is None:
            raise RuntimeError("this team has been closed")
        index = self._index.get(job)
        if index is None:
            raise ValueError(f"{job!r} was not registered with this process team")
        if len(args) > MAX_ARGS or not all(isinstance(a, _NUMBERS) for a in args):
            raise ValueError(f"a process team passes at most {MAX_ARGS} numbers to a job, got {args!r}")
        phases = job if isinstance(job, tuple) else (job,)
        row = [index, len(args), _kinds_code(args), *args]
        with self._lock:
            for w, go in enumerate(self._go):
                self._orders[w, : len(row)] = row
                go.release()
            error: BaseException | None = None
            first: object = None
            for p, phase in enumerate(phases):
                if error is None:
                    try:
                        out = phase(0, *args)
                        if out is not None:
                            first = out
                    except BaseException as exc:
                        error = exc
                if p == len(phases) - 1:
                    break
                try:
                    for arrive, pid in zip(self._arrive, self._pids):
                        _wait(arrive, SPIN_SECONDS, lambda pid=pid: _alive(pid))
                except WorkerError as exc:
                    error = error or exc
                # Plain scalar reads (not an array comparison): this is on every step's critical path.
                failed = error is not None or any(self._results.item(k, 0) == _FAILED for k in range(1, self.size))
                self._abort[0] = failed
                for leave in self._leave:
                    leave.release()
                if failed:
                    break
            for done, pid in zip(self._done, self._pids):  # always wait: the workers write into shared arrays
                _wait(done, SPIN_SECONDS, lambda pid=pid: _alive(pid))
            rows = self._results.tolist()
            results: list[tuple[float, ...] | None] = [None if first is None else tuple(first)]
            for k in range(1, self.size):
                count = int(rows[k][0])
                if count == _FAILED:
                    message = bytes(self._messages[k - 1]).rstrip(b"\0").decode("utf-8", "replace")
                    error = error or WorkerError(f"worker {k} failed: {message}")
                results.append(tuple(rows[k][1 : 1 + count]) if count > 0 else None)
            if error is not None:
                raise error
            return results

    def close(self) -> None:
        """End the workers (idempotent)."""
        if self._pids is not None:
            self._finalizer()
            self._pids = None

    @property
    def closed(self) -> bool:
        return self._pids is None

    @staticmethod
    def _stop(orders: np.ndarray, go: list, leave: list, abort: np.ndarray, pids: list[int]) -> None:
        abort[0] = 1  # a worker left waiting between two phases (the parent was interrupted) stops there
        for w, pid in enumerate(pids):
            orders[w, 0] = _EXIT
            go[w].release()
            leave[w].release()
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _is_job(job: object) -> bool:
    return callable(job) or (isinstance(job, tuple) and len(job) > 0 and all(callable(p) for p in job))


def _alive(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == 0
