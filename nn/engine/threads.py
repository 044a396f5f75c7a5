"""Several cores on one batch: the calling thread and helper threads share a step's work.

Why our own threads rather than BLAS's: after each matrix product, OpenBLAS keeps its
worker threads spinning, waiting for the next product. In a training step the products
alternate with long elementwise passes, above all the optimizer's update: Adam on a
784 x 800 layer is ten NumPy passes over 627k numbers, about as long as the product that
formed the gradient. NumPy runs those passes on one core while BLAS's spinning worker holds
the other. With a single-threaded BLAS and a team whose members sleep between jobs, each
member instead takes a share of *everything* a step does (see nn/engine/step.py): its rows of the
batch through the forward pass, the loss and back, then one slice of the parameters, whose
gradient it forms and updates. That pays for wide layers only: waking a helper costs a
wake-up twice per batch, and the members' many small NumPy calls take turns holding the
interpreter lock, which a small layer does not earn back (measurements: docs/PERFORMANCE.md,
"Measurements moved out of docstrings"). So the trainer forms a team of threads only for networks with a layer of at least
``TEAM_MIN_MACS``. A team of processes (nn/engine/processes.py) has neither cost and pays from
``PROCESS_TEAM_MIN_MACS``; the command line uses it, the dashboard (a server with threads of
its own, which must not fork) this one.

The shares are disjoint and no member sums across another's rows, so a run is
reproducible for a given team size, and the same with threads or processes. A different
team size changes the last bits of some products (BLAS rounds a 64-row product differently
from a 128-row one), as changing BLAS's own thread count does.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache, partial

MAX_TEAM = 8
# A layer is split only when its product is this many multiply-adds or more (n x fan_in x fan_out):
# below it, waking a helper twice per split costs more than the split saves (docs/PERFORMANCE.md).
SPLIT_MIN_MACS = 1 << 24
# A training run forms a team of threads only when one layer's product per batch is at least this large
# (batch x fan_in x fan_out; 784-512-10 at batch 128 is 51M, 784-256-10 is 26M): below it, the
# hand-offs cost more than the second core saves, in the app too (docs/PERFORMANCE.md).
TEAM_MIN_MACS = 40_000_000
# A team of processes hands work over in microseconds and runs its members' small NumPy calls at the
# same time (nn/engine/processes.py), so it pays from far smaller layers; below a few million
# multiply-adds per batch a step is mostly Python and the hand-offs are not earned back.
PROCESS_TEAM_MIN_MACS = 4_000_000


def usable_cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def default_team_size() -> int:
    """One thread per usable core, at most two (the reference machine's count; more has not been measured)."""
    return min(2, usable_cores())


def team_pays(batch_size: int, weight_sizes: list[int], processes: bool = False) -> bool:
    """Whether a team pays for this network (``weight_sizes``: fan_in x fan_out per layer).

    Threads: only with a layer of ``TEAM_MIN_MACS`` per batch: against BLAS's own threads
    (the CLI), and also where BLAS is held to one thread (the dashboard), because there the
    hand-offs compete with the server and the browser for the same cores (measured, see
    ``TEAM_MIN_MACS``). Processes (nn/engine/processes.py) hand work over in microseconds, so
    they pay from ``PROCESS_TEAM_MIN_MACS``.
    """
    least = PROCESS_TEAM_MIN_MACS if processes else TEAM_MIN_MACS
    return batch_size * max(weight_sizes, default=0) >= least


def check_team_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_TEAM:
        raise ValueError(f"threads must be an integer from 1 to {MAX_TEAM}, got {size!r}")
    return size


@lru_cache(maxsize=256)  # asked for by every member at every step, with the same few arguments
def shares(n: int, parts: int) -> tuple[slice, ...]:
    """``range(n)`` cut into ``parts`` consecutive slices whose lengths differ by at most one."""
    base, extra = divmod(n, parts)
    cuts = [0]
    for k in range(parts):
        cuts.append(cuts[-1] + base + (1 if k < extra else 0))
    return tuple(slice(a, b) for a, b in zip(cuts[:-1], cuts[1:]))


def for_each_share(team: Team | None, n: int, macs: int, job: Callable[[slice], None]) -> None:
    """``job(rows)`` over ``range(n)``: one share per team thread when the work (``macs``
    multiply-adds) is worth the hand-offs (``SPLIT_MIN_MACS``), else all rows on this thread."""
    if team is None or team.size == 1 or n < team.size or macs < SPLIT_MIN_MACS:
        job(slice(0, n))
    else:
        parts = shares(n, team.size)
        team.run(lambda k: job(parts[k]))


class _Helper:
    """One helper thread: sleeps on a lock until handed a job, runs it, signals done."""

    def __init__(self, name: str) -> None:
        # Two plain locks used as binary semaphores: the cheapest hand-off CPython offers
        # (a Condition or a queue adds a second lock round-trip per job).
        self._go = threading.Lock()
        self._go.acquire()
        self._done = threading.Lock()
        self._done.acquire()
        self._job: Callable[..., object] | None = None
        self._args: tuple = ()
        self._index = 0
        self._result: object = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            self._go.acquire()
            job = self._job
            if job is None:  # closing
                return
            try:
                self._result = job(self._index, *self._args)
            except BaseException as exc:  # handed back to the caller of Team.run
                self._error = exc
            self._done.release()

    def start(self, job: Callable[..., object], index: int, args: tuple) -> None:
        self._job, self._index, self._args, self._result, self._error = job, index, args, None, None
        self._go.release()

    def wait(self) -> tuple[object, BaseException | None]:
        self._done.acquire()
        return self._result, self._error

    def close(self) -> None:
        self._job = None
        self._go.release()
        self._thread.join()


class Team:
    """The calling thread plus ``size - 1`` helper threads that run one job at a time.

    ``team.run(job, *args)`` calls ``job(k, *args)`` for k = 0 .. size-1 at the same time,
    ``job(0, ...)`` on the calling thread, and returns the list of their results when all
    have finished; an exception in any of them is raised from ``run``. A job should give
    each k its own rows (see :func:`shares`). The speed-up needs a single-threaded BLAS
    (see :func:`single_threaded_blas`); the results do not. Call :meth:`close` when done
    (helpers are daemon threads, so a forgotten team never blocks the interpreter's exit).
    nn/engine/processes.py has a team of processes with the same ``run``.

    A job may also be a tuple of callables, its phases: every member runs phase 1, waits
    until all have finished it, then runs phase 2, and so on. Each member's result is the
    last one its phases returned that was not ``None``. When a phase fails in any member,
    no member starts the next one.
    """

    def __init__(self, size: int, name: str = "nn-team") -> None:
        self.size = check_team_size(size)
        self._helpers = [_Helper(f"{name}-{k}") for k in range(1, size)]
        self._lock = threading.Lock()  # one job at a time, whoever calls
        self._barrier = threading.Barrier(self.size)

    def run(self, job: Callable[..., object] | tuple[Callable[..., object], ...], *args: object) -> list[object]:
        if self._helpers is None:
            raise RuntimeError("this team has been closed")
        if isinstance(job, tuple):
            job = partial(self._phases, job)
        with self._lock:
            if self._barrier.broken:
                self._barrier.reset()
            for k, helper in enumerate(self._helpers, start=1):
                helper.start(job, k, args)
            errors: list[BaseException] = []
            results: list[object] = [None]
            try:
                results[0] = job(0, *args)
            except BaseException as exc:
                errors.append(exc)
            for helper in self._helpers:  # always wait: the helpers are writing into shared buffers
                result, helper_error = helper.wait()
                results.append(result)
                if helper_error is not None:
                    errors.append(helper_error)
            if errors:
                # The failure itself, not the broken barrier it left the other members at.
                raise next((e for e in errors if not isinstance(e, threading.BrokenBarrierError)), errors[0])
            return results

    def _phases(self, phases: tuple[Callable[..., object], ...], k: int, *args: object) -> object:
        result = None
        for p, phase in enumerate(phases):
            try:
                out = phase(k, *args)
            except BaseException:
                self._barrier.abort()  # the members waiting for this one stop instead
                raise
            if out is not None:
                result = out
            if p < len(phases) - 1:
                self._barrier.wait()
        return result

    def close(self) -> None:
        """Stop the helper threads (idempotent)."""
        helpers, self._helpers = self._helpers, None
        for helper in helpers or []:
            helper.close()

    @property
    def closed(self) -> bool:
        return self._helpers is None


@contextmanager
def single_threaded_blas() -> Iterator[bool]:
    """Limit NumPy's BLAS to one thread for the duration; yields whether that was possible.

    Uses threadpoolctl (imported lazily: the network itself needs only NumPy). Without it the
    caller should not split work (a team on top of a multi-threaded BLAS oversubscribes the
    cores). The limit is process-wide and the previous one is restored on exit.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield True
