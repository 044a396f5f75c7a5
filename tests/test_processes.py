"""The process team (nn/engine/processes.py) and the trainer's use of it.

A process team forks, which is only safe from a process with a single thread; the test
runner may have others (the app's tests leave some). So each test that forks runs its
scenario in a fresh interpreter and checks what that prints.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from nn.engine.processes import ProcessTeam, processes_available, shared_zeros

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, timeout: float = 120) -> dict:
    """Run ``script`` in a fresh interpreter; it prints one JSON line last, returned here."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_shared_zeros_is_a_zero_array_of_the_given_shape_and_type() -> None:
    a = shared_zeros((3, 4), np.float32)
    assert a.shape == (3, 4) and a.dtype == np.float32 and not a.any()
    a[1, 2] = 5
    assert a.sum() == 5
    assert shared_zeros(0).shape == (0,)


def test_a_process_team_runs_each_share_in_its_own_process_and_returns_their_results() -> None:
    out = _run("""
        import json, os
        import numpy as np
        from nn.engine.processes import ProcessTeam, shared_zeros
        data = shared_zeros((2, 3), np.float64)
        def job(k, scale, count, flag):
            data[k] = [k * scale, count, os.getpid()]  # written in each member's process
            return (k + 0.5, float(isinstance(count, int) and isinstance(flag, bool)))
        team = ProcessTeam(2, [job])
        results = team.run(job, 2.0, 7, True)
        print(json.dumps({"results": results, "data": data.tolist(), "me": os.getpid()}))
        team.close()
    """)
    assert out["results"] == [[0.5, 1.0], [1.5, 1.0]]  # argument types survive the trip
    (s0, c0, pid0), (s1, c1, pid1) = out["data"]
    assert (s0, s1, c0, c1) == (0.0, 2.0, 7.0, 7.0)
    assert pid0 == out["me"] and pid1 != out["me"]  # the second share ran in another process


def test_errors_in_a_worker_are_raised_by_run_and_the_team_keeps_working() -> None:
    out = _run("""
        import json
        from nn.engine.processes import ProcessTeam, WorkerError
        def job(k, fail):
            if fail and k == 1:
                raise ArithmeticError("share 1 cannot")
            return (k,)
        team = ProcessTeam(2, [job])
        try:
            team.run(job, True)
            message = None
        except WorkerError as exc:
            message = str(exc)
        after = team.run(job, False)
        try:
            team.run(print)
        except ValueError as exc:
            unregistered = str(exc)
        try:
            team.run(job, "text")
        except ValueError as exc:
            not_a_number = str(exc)
        team.close()
        team.close()
        try:
            team.run(job, False)
        except RuntimeError as exc:
            closed = str(exc)
        print(json.dumps({"message": message, "after": after, "unregistered": unregistered,
                          "not_a_number": not_a_number, "closed": closed}))
    """)
    assert out["message"] == "worker 1 failed: ArithmeticError: share 1 cannot"
    assert out["after"] == [[0], [1.0]]
    assert "not registered" in out["unregistered"]
    assert "numbers" in out["not_a_number"] and "'text'" in out["not_a_number"]
    assert "closed" in out["closed"]


def test_a_phased_job_waits_for_every_member_between_phases_and_a_failed_phase_stops_the_rest() -> None:
    out = _run("""
        import json, os, time
        import numpy as np
        from nn.engine.processes import ProcessTeam, WorkerError, shared_zeros
        seen = shared_zeros((2, 2), np.float64)  # per member: what phase 2 saw of the other's phase 1
        marks = shared_zeros((2,), np.float64)
        def first(k, slow, fail):
            if fail == k:
                raise ArithmeticError(f"member {k} failed")
            if k == slow:
                time.sleep(0.05)  # the other member must wait for this one
            marks[k] = 1.0
            return (10.0 + k,)
        def second(k, slow, fail):
            seen[k] = (marks[1 - k], 1.0)
        job = (first, second)
        team = ProcessTeam(2, [job])
        results = {}
        for slow in (0, 1):
            marks[:] = 0
            seen[:] = 0
            results[f"slow {slow}"] = [team.run(job, slow, -1), seen.tolist()]
        for fail in (0, 1):
            seen[:] = 0
            try:
                team.run(job, -1, fail)
                results[f"fail {fail}"] = "no error"
            except (ArithmeticError, WorkerError) as exc:
                results[f"fail {fail}"] = [type(exc).__name__, str(exc), seen.tolist()]
        results["after"] = team.run(job, -1, -1)
        team.close()
        print(json.dumps(results))
    """)
    for slow in (0, 1):
        results, seen = out[f"slow {slow}"]
        assert results == [[10.0], [11.0]]  # the last result that was not None
        assert seen == [[1.0, 1.0], [1.0, 1.0]]  # phase 2 saw the other member's phase 1 done
    assert out["fail 0"] == ["ArithmeticError", "member 0 failed", [[0, 0], [0, 0]]]
    assert out["fail 1"] == ["WorkerError", "worker 1 failed: ArithmeticError: member 1 failed", [[0, 0], [0, 0]]]
    assert out["after"] == [[10.0], [11.0]]


def test_close_ends_a_worker_left_waiting_between_two_phases() -> None:
    out = _run("""
        import json, os, signal, time
        from nn.engine.processes import ProcessTeam
        def first(k):
            if k == 1:
                time.sleep(0.3)  # the parent is interrupted while it waits for this phase to end
        def second(k):
            pass
        team = ProcessTeam(2, [(first, second)])
        worker = team._pids[0]
        def interrupt(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.1)
        try:
            team.run((first, second))
            interrupted = False
        except KeyboardInterrupt:
            interrupted = True
        time.sleep(0.4)  # the worker has finished its first phase and waits for the others
        team.close()
        try:
            os.kill(worker, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        print(json.dumps({"interrupted": interrupted, "alive": alive}))
    """, timeout=30)
    assert out == {"interrupted": True, "alive": False}


def test_close_ends_the_workers_and_a_dead_worker_is_reported_instead_of_waited_for() -> None:
    out = _run("""
        import json, os, signal, time
        from nn.engine.processes import ProcessTeam, WorkerError
        def pid(k):
            return (os.getpid(),)
        def sleep(k):
            time.sleep(0.3 if k else 0)
        team = ProcessTeam(2, [pid, sleep])
        worker = int(team.run(pid)[1][0])
        team.close()
        try:
            os.waitpid(worker, os.WNOHANG)
            reaped = False
        except ChildProcessError:
            reaped = True  # close() already collected it
        team = ProcessTeam(2, [pid, sleep])
        worker = int(team.run(pid)[1][0])
        os.kill(worker, signal.SIGKILL)
        start = time.perf_counter()
        try:
            team.run(sleep)
            error = None
        except WorkerError as exc:
            error = str(exc)
        print(json.dumps({"reaped": reaped, "error": error, "seconds": time.perf_counter() - start}))
    """)
    assert out["reaped"]
    assert out["error"] == "a worker process of the team has died"
    assert out["seconds"] < 10


_ABANDONING_PARENT = """
import os
from nn.engine.processes import ProcessTeam
def pid(k):
    return (os.getpid(),)
team = ProcessTeam(2, [pid])
print(int(team.run(pid)[1][0]), flush=True)
os._exit(0)  # no close, no cleanup
"""


def test_a_worker_ends_when_its_parent_dies_without_closing_the_team() -> None:
    out = _run(f"""
        import json, subprocess, sys, time
        child = subprocess.run([sys.executable, "-c", {_ABANDONING_PARENT!r}], capture_output=True, text=True,
                               timeout=60)
        worker = int(child.stdout.strip())
        def running(pid):
            try:
                with open(f"/proc/{{pid}}/status") as f:
                    return "State:\\tZ" not in f.read()  # a zombie has ended
            except FileNotFoundError:
                return False
        deadline = time.time() + 10
        while running(worker) and time.time() < deadline:
            time.sleep(0.1)
        print(json.dumps({{"still_running": running(worker)}}))
    """)
    assert not out["still_running"]


def test_a_process_team_refuses_to_fork_a_process_with_other_threads() -> None:
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)
    other.start()
    try:
        assert not processes_available()
        with pytest.raises(RuntimeError, match="single thread"):
            ProcessTeam(2, [print])
    finally:
        stop.set()
        other.join()


def test_training_with_processes_gives_the_same_bits_as_with_threads_and_leaves_no_process() -> None:
    out = _run("""
        import json, os, threading
        import numpy as np
        from nn.config import ModelConfig, TrainConfig
        from nn.trainer import Trainer
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (700, 784), dtype=np.uint8)
        labels = rng.integers(0, 10, 700)
        def train(processes, dropout):
            # 128 x 784 x 400 multiply-adds per batch: enough for a team of threads as well
            config = TrainConfig(model=ModelConfig(hidden=(400, 30), dropout=dropout), batch_size=128,
                                 epochs=2, val_size=100, seed=3, optimizer="adamw", weight_decay=0.01)
            trainer = Trainer(config, images, labels, threads=2, processes=processes)
            result = trainer.run()
            return trainer, result
        same, shared_by = [], []
        for dropout in (0.0, 0.2):
            a, ra = train(True, dropout)
            b, rb = train(False, dropout)
            timing = ["seconds", "samples_per_sec"]
            same.append(all(np.array_equal(p, q) for p, q in zip(a.model.parameters(), b.model.parameters()))
                        and a.history().drop(columns=timing).equals(b.history().drop(columns=timing)))
            shared_by.append([ra.shared_by, rb.shared_by])
        children = []  # processes whose parent is this one (zombies included)
        for entry in os.listdir("/proc"):
            try:
                with open(f"/proc/{entry}/stat") as f:
                    state, ppid = f.read().rsplit(")", 1)[1].split()[:2]
            except (OSError, ValueError):
                continue
            if int(ppid) == os.getpid():
                children.append([entry, state])
        print(json.dumps({"same": same, "shared_by": shared_by, "children": children,
                          "threads": threading.active_count()}))
    """, timeout=300)
    assert out["shared_by"] == [["2 processes", "2 threads"]] * 2
    assert out["same"] == [True, True]  # the same shares of the same arithmetic, with or without dropout
    assert out["children"] == []  # the workers ended and were collected
    assert out["threads"] == 1


def test_the_trainer_falls_back_to_threads_where_it_cannot_fork() -> None:
    from nn.config import ModelConfig, TrainConfig
    from nn.trainer import Trainer

    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (300, 784), dtype=np.uint8), rng.integers(0, 10, 300)
    config = TrainConfig(model=ModelConfig(hidden=(400,)), batch_size=128, epochs=1, val_size=0, seed=0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, daemon=True)  # a second thread: forking is unsafe now
    other.start()
    try:
        result = Trainer(config, images, labels, threads=2, processes=True).run()
    finally:
        stop.set()
        other.join()
    assert result.shared_by == "2 threads"
    assert result.epochs_done == 1
