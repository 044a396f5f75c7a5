"""A class of N students on one server, simulated with protocol-level clients (no browsers).

Each client speaks Streamlit's own websocket protocol (the protobuf BackMsg/ForwardMsg a browser tab
sends and receives): it joins the class (opens the Train page with the Quick preset's link), presses
Start, reloads the page every 2 s like a watching student until its run ends, opens the Class page's
leaderboard, and leaves. Browsers are not used on purpose: on this 2-core machine 20 local browsers take
most of the CPU, so their latency would measure the browsers, not the server.

The server runs in a child process of this script with one patch: it appends the wall time of every
script run (full runs and fragment runs) to a file, so the latencies printed are the server's own.
``MNIST_MAX_TRAININGS`` is left at its default. Printed: script-run latency p50/p95/max during the class,
queue waits (each run's wait for a training slot, timed in the server), the server's idle, peak and
after-the-class RSS, and errors (exceptions shown on a page, runs that failed or never finished).

    python bench/class_leaderboard_load.py [--students 30] [--settle 120]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


# ----- the server, in a child process ------------------------------------------------------------------
def serve(port: int, timings: str) -> None:
    """Run the app with every script run's duration appended to ``timings`` (seconds, one per line), and
    every run's wait for a training slot to ``timings + ".queue"``."""
    from streamlit.runtime.scriptrunner import script_runner

    from lab.limiter import RunLimiter

    acquire = RunLimiter.acquire

    def timed_acquire(self, run_id, cancelled, poll_s=0.1):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        try:
            return acquire(self, run_id, cancelled, poll_s)
        finally:
            with open(timings + ".queue", "a") as fh:
                fh.write(f"{time.perf_counter() - start:.6f}\n")

    RunLimiter.acquire = timed_acquire

    original = script_runner.ScriptRunner._run_script
    lock = threading.Lock()

    def timed(self, rerun_data):  # noqa: ANN001, ANN202
        start = time.perf_counter()
        try:
            return original(self, rerun_data)
        finally:
            with lock, open(timings, "a") as fh:
                fh.write(f"{time.perf_counter() - start:.6f}\n")

    script_runner.ScriptRunner._run_script = timed
    from streamlit.web import cli

    sys.argv = ["streamlit", "run", str(ROOT / "app.py"), "--server.headless", "true", "--server.port", str(port),
                "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                "--server.fileWatcherType", "none"]
    cli.main()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemoryWatch(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.25)


# ----- one student --------------------------------------------------------------------------------------
@dataclass
class Student:
    index: int
    errors: list[str] = field(default_factory=list)
    run_seconds: float | None = None
    done: bool = False


class Tab:
    """One browser tab's worth of protocol: a websocket session that reruns pages and reads what they drew."""

    def __init__(self, ws) -> None:  # noqa: ANN001
        self.ws = ws

    async def rerun(self, page: str, query: str = "", triggers: tuple[str, ...] = ()) -> list:
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        msg = BackMsg()
        msg.rerun_script.query_string = query
        msg.rerun_script.page_name = page
        for widget_id in triggers:
            state = msg.rerun_script.widget_states.widgets.add()
            state.id = widget_id
            state.trigger_value = True
        await self.ws.send(msg.SerializeToString())
        elements = []
        while True:
            raw = await asyncio.wait_for(self.ws.recv(), timeout=120)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                elements.append(fwd.delta.new_element)
            elif kind == "script_finished":
                if fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return elements
                elements = []  # the page asked for a rerun (st.rerun): what counts is the next run


def _texts(elements: list) -> str:
    return " ".join(e.markdown.body for e in elements if e.WhichOneof("type") == "markdown")


def _exceptions(elements: list) -> list[str]:
    return [e.exception.message for e in elements if e.WhichOneof("type") == "exception"]


async def student(s: Student, url: str, query: str, deadline: float) -> None:
    import websockets

    try:
        async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"],
                                      max_size=64 * 2**20) as ws:
            tab = Tab(ws)
            page = await tab.rerun("train", query)
            s.errors += _exceptions(page)
            start = next((e.button.id for e in page if e.WhichOneof("type") == "button" and e.button.label == "Start"),
                         None)
            if start is None:
                s.errors.append("no Start button on the Train page")
                return
            clicked = time.monotonic()
            page = await tab.rerun("train", query, (start,))
            while time.monotonic() < deadline:
                text = _texts(page)
                if any(word in text for word in ("finished", "failed", "diverged", "stopped")):
                    s.run_seconds = time.monotonic() - clicked
                    if "finished" not in text:
                        s.errors.append(f"run ended: {text[:120]}")
                    break
                await asyncio.sleep(2.0)
                page = await tab.rerun("train", query)
                s.errors += _exceptions(page)
            else:
                s.errors.append("the run did not end in time")
            board = await tab.rerun("classroom")
            s.errors += _exceptions(board)
            if not any(e.WhichOneof("type") == "dataframe" for e in board):
                s.errors.append("no leaderboard on the Class page: " + ",".join(sorted({e.WhichOneof("type") for e in board})))
            s.done = True
    except Exception as exc:  # noqa: BLE001 (counted and printed, the class goes on)
        s.errors.append(f"{type(exc).__name__}: {exc}")


# ----- the class ------------------------------------------------------------------------------------------
def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                return
        except OSError:
            time.sleep(0.25)
    raise SystemExit("the server did not become healthy")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def quick_query() -> str:
    from lab.params import config_to_knobs, knobs_to_query
    from nn.presets import PRESETS

    return urllib.parse.urlencode(knobs_to_query(config_to_knobs(PRESETS["quick"])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--stagger", type=float, default=0.5, help="seconds between two students joining")
    parser.add_argument("--settle", type=float, default=120, help="seconds to watch memory after they leave")
    parser.add_argument("--serve", nargs=2, metavar=("PORT", "TIMINGS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(int(args.serve[0]), args.serve[1])
        return
    from nn.data import load_mnist

    load_mnist()  # verified and cached before the server needs it
    from tests.browser import free_port

    port, work = free_port(), Path(tempfile.mkdtemp(prefix="class-load-"))
    timings = work / "script-runs.txt"
    env = {**os.environ, "MNIST_CLASS": "1", "MNIST_CLASS_KEY": os.urandom(8).hex(), "MNIST_DATA_DIR": str(work)}
    env.pop("MNIST_MAX_TRAININGS", None)
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(timings)], cwd=ROOT, env=env,
                            stdout=open(work / "server.log", "w"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        warm = Student(-1)
        asyncio.run(student(warm, url, quick_query(), time.monotonic() + 120))  # loads the data, imports pages
        time.sleep(5)
        idle = statistics.mean(rss_mb(proc.pid) for _ in range(8) if not time.sleep(0.25))
        timings.write_text("")
        queue = Path(str(timings) + ".queue")
        queue.write_text("")
        watch = MemoryWatch(proc.pid)
        watch.start()
        students = [Student(i) for i in range(args.students)]

        async def run_class() -> None:
            deadline = time.monotonic() + 900
            tasks = []
            for s in students:
                tasks.append(asyncio.create_task(student(s, url, quick_query(), deadline)))
                await asyncio.sleep(args.stagger)
            await asyncio.gather(*tasks)

        began = time.monotonic()
        asyncio.run(run_class())
        wall = time.monotonic() - began
        watch.stopped.set()
        runs = [float(x) for x in timings.read_text().split()]
        after = {}
        left = time.monotonic()
        for mark in sorted({10.0, 30.0, 60.0, args.settle}):
            time.sleep(max(0.0, left + mark - time.monotonic()))
            after[mark] = rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    waits = [float(x) for x in queue.read_text().split()]
    errors = [f"student {s.index}: {e}" for s in students for e in s.errors] + [f"warm-up: {e}" for e in warm.errors]
    print(f"class of {args.students} protocol-level clients (Streamlit websocket, no browser), one server, "
          f"MNIST_MAX_TRAININGS default; students joined {args.stagger:g} s apart; all done in {wall:.0f} s")
    print(f"server script runs during the class: {len(runs)}; latency p50 {pct(runs, 0.5):.3f} s, "
          f"p95 {pct(runs, 0.95):.3f} s, max {max(runs, default=float('nan')):.3f} s")
    print(f"queue wait for a training slot (server-side, {len(waits)} runs): p50 {pct(waits, 0.5):.2f} s, "
          f"p95 {pct(waits, 0.95):.2f} s, max {max(waits, default=float('nan')):.2f} s")
    print(f"server RSS: idle {idle:.0f} MB, peak {watch.peak:.0f} MB, after the class left: "
          + ", ".join(f"{mark:g} s {mb:.0f} MB ({100 * (mb / idle - 1):+.0f}%)" for mark, mb in after.items()))
    print(f"students who finished every step: {sum(s.done and not s.errors for s in students)} of {len(students)}; "
          f"errors: {len(errors)}")
    for line in errors[:20]:
        print("  " + line)


if __name__ == "__main__":
    main()
