"""Short runs on the real MNIST: the network must actually learn to read digits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from nn.config import ModelConfig, TrainConfig
from nn.data import to_float
from nn.events import RunState
from nn.metrics import accuracy
from nn.engine.threads import usable_cores
from nn.trainer import Trainer

pytestmark = pytest.mark.realdata
ROOT = Path(__file__).resolve().parents[1]


def test_a_short_run_reaches_97_percent_on_the_test_set(mnist) -> None:
    config = TrainConfig(model=ModelConfig(hidden=(256,)), optimizer="adam", lr=2e-3, schedule="cosine",
                         batch_size=128, epochs=4, seed=0)
    trainer = Trainer(config, mnist.x_train, mnist.y_train)
    result = trainer.run()
    assert result.state == RunState.FINISHED
    test_acc = accuracy(np.asarray(mnist.y_test), trainer.model.predict(to_float(mnist.x_test)))
    assert test_acc >= 0.97, f"test accuracy {test_acc:.4f} after {result.seconds:.1f} s"
    history = trainer.history()
    assert history["val_loss"].iloc[-1] < history["val_loss"].iloc[0]
    assert history["val_acc"].iloc[-1] >= 0.97


def test_train_command_end_to_end(mnist) -> None:
    proc = subprocess.run([sys.executable, "-m", "nn", "train", "--preset", "quick", "--json", "--quiet"],
                          cwd=ROOT, check=False, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["state"] == "finished" and summary["test_accuracy"] > 0.9
    # the command line's default: one process per core (at most 2), where the system can fork
    assert summary["shared_by"] == ("2 processes" if usable_cores() >= 2 else "BLAS")


def test_train_command_with_threads_learns_the_same_as_with_processes(mnist) -> None:
    runs = {}
    for parallel in ("processes", "threads"):
        proc = subprocess.run([sys.executable, "-m", "nn", "train", "--preset", "quick", "--hidden", "400",
                               "--batch-size", "128", "--epochs", "1", "--threads", "2", "--json", "--quiet",
                               "--parallel", parallel],
                              cwd=ROOT, check=False, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        runs[parallel] = json.loads(proc.stdout)
    assert runs["processes"]["shared_by"] == "2 processes" and runs["threads"]["shared_by"] == "2 threads"
    # the same shares of the same arithmetic: the same network, bit for bit
    for key in ("test_accuracy", "test_loss", "val_loss", "steps"):
        assert runs["processes"][key] == runs["threads"][key]


def test_ctrl_c_stops_the_command_line_and_its_worker_process(mnist) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "nn", "train", "--preset", "default", "--epochs", "30"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        assert proc.stderr is not None
        first_epoch = proc.stderr.readline()  # the run (and its worker) is under way
        assert first_epoch.startswith("epoch"), first_epoch
        workers = _children(proc.pid)
        assert len(workers) == (1 if usable_cores() >= 2 else 0)  # the forked worker that shares each batch
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130 and err.strip().splitlines()[-1] == "interrupted"
    deadline = time.time() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(entry.name))
    return found
