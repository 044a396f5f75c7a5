"""A class on one server: N students open the app, train the Quick preset, and leave. What does the server feel?

    python bench/class_load.py                      # 20 students on a fresh local server
    python bench/class_load.py --students 10 --settle 60
    python bench/class_load.py --class --students 30   # a class: every student opens the leaderboard too
    python bench/class_load.py --url http://host:8501 --pid 1234   # a server already running on this machine

Each student is a protocol-level client over Streamlit's websocket (tests/st_protocol.py), not a
browser: it asks for Home, then Train, presses Quick and Start, and reruns the page's timed fragments
at their intervals (the live charts twice a second, the sidebar every 2 s) as a browser tab does,
until its run has finished; with ``--class`` (the server started with MNIST_CLASS=1, a random teacher
key and a fresh class store) it then opens the Class page and checks the leaderboard is there. Then it
closes the connection as a closed tab does. A browser's own
rendering cost is not part of this: it measures the server.

Printed:
- latency as the students saw it: request to ``script_finished`` for page loads, clicks and fragment
  reruns (p50 / p95 / max), and each student's time from Start to a finished run (waiting for a
  training slot included), and the wait for a slot alone (Start until the page no longer says
  "waiting", seen by the client at its fragments' 0.5 s ticks);
- server-side page runs (p50 / p95 / max) from the app's timing log (``MNIST_TIMING_LOG``, set on the
  server this script starts; with ``--url`` only if that server was started with it: ``--timing-log``);
- the server process's resident memory (/proc/<pid>/status): idle (after one student's walk, once it
  was released), peak, right after the class left, and over ``--settle`` seconds after; when it came back
  within idle + 10% (issue 19's target);
- errors: runs that did not finish, exceptions shown on a page, connections that failed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser import streamlit_server
from tests.st_protocol import AppClient, rss_bytes, server_pid, student

MB = 2**20
BOUND = 1.10  # "back to idle" means within idle + 10% (issue 19's target)


@dataclass
class ClassResult:
    clients: list[AppClient] = field(default_factory=list)
    train_seconds: list[float] = field(default_factory=list)  # Start clicked -> run finished, per student
    queue_seconds: list[float] = field(default_factory=list)  # Start clicked -> no longer waiting for a slot
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def one_student(url: str, index: int, result: ClassResult, class_page: bool) -> None:
    try:
        client = student(url, class_page=class_page, timeout=600.0)
    except Exception as exc:  # noqa: BLE001 (counted and printed, the class goes on)
        with result.lock:
            result.errors.append(f"student {index}: {type(exc).__name__}: {str(exc)[:200]}")
        return
    start_click = next((e for e in client.exchanges if e.what == "click:btn_start"), None)
    with result.lock:
        result.clients.append(client)
        if client.queue_seconds is not None:
            result.queue_seconds.append(client.queue_seconds)
        if "finished" not in client.text():
            result.errors.append(f"student {index}: the run ended without finishing")
        if start_click is not None:  # to the end of the exchange that saw the run finished
            last = client.exchanges[-1]
            result.train_seconds.append(last.started + last.seconds - start_click.started)


class Sampler:
    """The server's RSS every 0.2 s in a thread: ``peak`` since ``reset()``."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.peak = rss_bytes(self.pid)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes(self.pid))
            time.sleep(0.2)


def quantiles(values: list[float]) -> str:
    if not values:
        return "n/a"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"p50 {1000 * statistics.median(ordered):7.0f} ms   p95 {1000 * p95:7.0f} ms   "
            f"max {1000 * ordered[-1]:7.0f} ms   (n={len(ordered)})")


def server_runs(log: Path | None, since: float) -> list[float]:
    if log is None or not log.exists():
        return []
    runs = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("t", 0) >= since:
            runs.append(float(entry["seconds"]))
    return runs


def idle_rss(url: str, pid: int, grace: float, class_page: bool) -> int:
    """RSS after one student's walk, once the reaper released it: what any used server keeps counts as idle."""
    student(url, class_page=class_page)
    time.sleep(grace + 4)
    samples = []
    for _ in range(5):
        samples.append(rss_bytes(pid))
        time.sleep(0.2)
    return min(samples)


def run_students(url: str, pid: int, students: int, stagger: float, class_page: bool) -> tuple[ClassResult, int]:
    """The class, students arriving ``stagger`` seconds apart; returns what they saw and the peak RSS."""
    result = ClassResult()
    sampler = Sampler(pid)
    sampler.start()
    threads = [threading.Thread(target=one_student, args=(url, i, result, class_page)) for i in range(students)]
    for t in threads:
        t.start()
        time.sleep(stagger)
    for t in threads:
        t.join()
    sampler.stop()
    return result, sampler.peak


def settle(pid: int, idle: int, seconds: float) -> tuple[list[tuple[float, int]], float | None]:
    """RSS once a second for ``seconds`` after the class left, and when it first came within idle + 10%."""
    left, trace, back_at = time.monotonic(), [], None
    while time.monotonic() - left < seconds:
        rss = rss_bytes(pid)
        trace.append((time.monotonic() - left, rss))
        if back_at is None and rss <= idle * BOUND:
            back_at = trace[-1][0]
        time.sleep(1.0)
    return trace, back_at


def print_latency(result: ClassResult, log: Path | None, since: float) -> None:
    exchanges = [e for c in result.clients for e in c.exchanges]
    by_kind = {
        "page loads": [e.seconds for e in exchanges if e.what.startswith("page:")],
        "clicks": [e.seconds for e in exchanges if e.what.startswith("click:")],
        "fragment reruns": [e.seconds for e in exchanges if e.what == "fragment"],
    }
    print("latency seen by the students (request -> script_finished):")
    for kind, values in by_kind.items():
        print(f"  {kind:16s} {quantiles(values)}")
    print(f"  {'Start -> done':16s} {quantiles(result.train_seconds)}   (waiting for a slot included)")
    print(f"  {'queue wait':16s} {quantiles(result.queue_seconds)}   (Start -> no longer waiting for a slot)")
    runs = server_runs(log, since)
    print("server-side page runs (MNIST_TIMING_LOG):")
    print(f"  {'full page runs':16s} {quantiles(runs)}" if runs else "  not measured (no timing log)")


def print_memory(idle: int, peak: int, trace: list[tuple[float, int]], back_at: float | None,
                 seconds: float) -> None:
    print("server memory (RSS):")
    at_leaving = trace[0][1] if trace else peak
    print(f"  idle {idle / MB:6.0f} MB   peak {peak / MB:6.0f} MB   when the last student left {at_leaving / MB:6.0f} MB")
    for mark in (10, 30, 60, 90, 120, 150):
        if trace and mark < seconds:
            rss = min(trace, key=lambda p: abs(p[0] - mark))[1]
            print(f"  {mark:3d} s after: {rss / MB:6.0f} MB ({100 * (rss / idle - 1):+.0f}% of idle)")
    final = trace[-1][1] if trace else at_leaving
    came_back = f"back within idle + 10% after {back_at:.0f} s" if back_at is not None else "not back within idle + 10%"
    print(f"  after {seconds:.0f} s: {final / MB:.0f} MB ({100 * (final / idle - 1):+.0f}% of idle); {came_back}")


def run_class(url: str, pid: int, args: argparse.Namespace, log: Path | None) -> None:
    print(f"server {url} (pid {pid}); {args.students} students, one every {args.stagger} s, protocol-level "
          f"clients over the websocket; load average at start {os.getloadavg()[0]:.2f}")
    idle = idle_rss(url, pid, args.grace, args.with_class)
    print(f"idle RSS after one student's walk: {idle / MB:.0f} MB")
    since = time.time()
    result, peak = run_students(url, pid, args.students, args.stagger, args.with_class)
    trace, back_at = settle(pid, idle, args.settle)
    print()
    print_latency(result, log, since)
    print()
    print_memory(idle, max(peak, *(rss for _, rss in trace[:1])), trace, back_at, args.settle)
    exceptions = [x for c in result.clients for x in c.state.exceptions]
    print()
    print(f"errors: {len(result.errors)} of {args.students} students; exceptions on pages: {len(exceptions)}")
    for line in result.errors[:10] + exceptions[:5]:
        print(f"  {line}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--students", type=int, default=20, help="students in the class (default 20)")
    p.add_argument("--stagger", type=float, default=0.5, help="seconds between two students arriving (default 0.5)")
    p.add_argument("--settle", type=float, default=150.0,
                   help="seconds to watch the memory after the class left (default 150)")
    p.add_argument("--grace", type=float, default=20.0,
                   help="MNIST_TAB_GONE_GRACE of the server this script starts (default 20, the app's)")
    p.add_argument("--class", dest="with_class", action="store_true",
                   help="a class: the server has MNIST_CLASS=1 and every student opens the leaderboard after training")
    p.add_argument("--url", help="an app already running on this machine, instead of starting one")
    p.add_argument("--pid", type=int, help="with --url: the server's process id (default: found from the port)")
    p.add_argument("--timing-log", type=Path, help="with --url: the MNIST_TIMING_LOG that server writes")
    args = p.parse_args(argv)
    if args.students < 1:
        p.error("--students must be at least 1")
    if args.url:
        pid = args.pid or server_pid(urllib.parse.urlsplit(args.url).port or 80)
        if pid is None:
            p.error(f"cannot find the server process for {args.url}; pass --pid")
        run_class(args.url, pid, args, args.timing_log)
        return 0
    from nn.data import load_mnist

    load_mnist()  # fetched and cached once per machine: the server then starts from the cache
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "timing.jsonl"
        env = {"MNIST_TIMING_LOG": str(log), "MNIST_TAB_GONE_GRACE": str(args.grace)}
        if args.with_class:  # a fresh class store in the temporary directory, a key nobody needs
            env |= {"MNIST_CLASS": "1", "MNIST_CLASS_KEY": os.urandom(16).hex(), "MNIST_DATA_DIR": tmp}
        with streamlit_server(env=env) as url:
            pid = server_pid(urllib.parse.urlsplit(url).port)
            if pid is None:
                raise SystemExit("cannot find the server's process")
            run_class(url, pid, args, log)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
