"""The class's SQLite store and what the server records: two processes writing at once, a restart, a corrupt
or locked file (one clear line), runs recorded by the run-end hook with the server's own test accuracy, and
the leaderboard's and challenges' rules."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lab.class_board import (
    INTERRUPTED, board_frame, csv_bytes, epochs_to_reach, make_challenge, settle, standings,
)
from lab.class_record import RunOwner, record_end, record_start, measure_test_accuracy
from lab.class_store import CachedSettings, ClassStore, ClassStoreError, RunRow
from lab.limiter import RunLimiter
from lab.run_hooks import add_end_hook, remove_end_hook
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from tests.test_app_pages import synthetic_mnist

ROOT = Path(__file__).resolve().parents[1]


def row(run_id: str, member: str = "m1", **changes) -> RunRow:
    base = RunRow(run_id=run_id, member_id=member, dataset="mnist", hidden="128", params=101_770,
                  epochs_planned=3, epochs_done=3, best_val_acc=0.95, test_acc=0.94, seconds=2.0,
                  state="finished", val_accs=(0.9, 0.93, 0.95), started=time.time(), finished=time.time(),
                  pid=1, host="h")
    return replace(base, **changes)


def test_runs_members_challenges_and_settings_round_trip(tmp_path: Path) -> None:
    store = ClassStore(tmp_path / "class.sqlite3")
    store.join("m1", "Ada")
    store.record_run(row("r1", state="waiting", test_acc=None, best_val_acc=None, val_accs=()))
    store.record_run(row("r1"))  # the same run, finished: updated, not duplicated
    store.join("m1", "Ada L.")
    (got,) = store.runs()
    assert got == row("r1", started=got.started, finished=got.finished, name="Ada L.")
    cid = store.add_challenge("fewest_epochs_to", 0.98)
    assert store.challenges() == [(cid, "fewest_epochs_to", 0.98)]
    store.remove_challenge(cid)
    assert store.challenges() == []
    store.set_setting("broadcast", {"text": "hi", "kind": "none"})
    assert store.settings() == {"broadcast": {"text": "hi", "kind": "none"}}
    with sqlite3.connect(tmp_path / "class.sqlite3") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


WRITER = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {root!r})
    from lab.class_store import ClassStore, RunRow
    store = ClassStore({path!r})
    tag = sys.argv[1]
    while time.time() < float(sys.argv[2]):  # start together
        time.sleep(0.001)
    for i in range(150):
        store.join(f"{{tag}}-m{{i % 5}}", f"name {{tag}} {{i}}")
        store.record_run(RunRow(f"{{tag}}-{{i}}", f"{{tag}}-m{{i % 5}}", "mnist", "32", 25450, 2, 2, 0.9, 0.9,
                                1.0, "finished", (0.8, 0.9), time.time(), time.time(), 1, "h"))
        store.set_setting("last", tag)
""")


def test_two_processes_writing_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "class.sqlite3"
    ClassStore(path)
    script = tmp_path / "writer.py"
    script.write_text(WRITER.format(root=str(ROOT), path=str(path)))
    start = str(time.time() + 1.5)
    procs = [subprocess.Popen([sys.executable, str(script), tag, start], stderr=subprocess.PIPE) for tag in "ab"]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    store = ClassStore(path)  # also: a restart of the server sees everything
    runs = store.runs()
    assert len(runs) == 300 and len({r.run_id for r in runs}) == 300
    assert store.settings()["last"] in ("a", "b")
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize("content", [b"not a database at all" * 100, b"\0" * 4096,
                                     b"SQLite format 3\0" + b"\xff" * 4000])
def test_a_corrupt_file_is_one_clear_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "class.sqlite3"
    path.write_bytes(content)
    with pytest.raises(ClassStoreError) as err:
        ClassStore(path).runs()
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert path.read_bytes() == content  # nothing overwritten: the teacher can still rescue it


def test_a_locked_file_is_one_clear_line_and_works_again_when_released(tmp_path: Path) -> None:
    path = tmp_path / "class.sqlite3"
    store = ClassStore(path, timeout_s=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    with pytest.raises(ClassStoreError, match="locked"):
        store.record_run(row("r1"))
    holder.execute("ROLLBACK")
    holder.close()
    store.record_run(row("r1"))
    assert [r.run_id for r in store.runs()] == ["r1"]


def test_cached_settings_keep_the_last_good_value_when_the_store_fails(tmp_path: Path) -> None:
    store = ClassStore(tmp_path / "class.sqlite3", timeout_s=0.2)
    store.set_setting("paused", True)
    cached = CachedSettings(store, ttl_s=0.0)
    assert cached.get() == {"paused": True}
    holder = sqlite3.connect(tmp_path / "class.sqlite3", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        assert cached.get() == {"paused": True}
    finally:
        holder.execute("ROLLBACK")
        holder.close()


# ----- what the server records -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data():
    return synthetic_mnist(n_train=1200, n_test=500)


def test_a_finished_run_is_recorded_with_the_servers_test_accuracy_and_survives_a_restart(tmp_path, data) -> None:
    path = tmp_path / "class.sqlite3"
    store = ClassStore(path)
    store.join("m1", "Ada")
    config = TrainConfig(model=ModelConfig(hidden=(16,)), epochs=2, batch_size=64, val_size=200, lr=3e-3)
    run = TrainingRun(config, data.x_train, data.y_train, limiter=RunLimiter(1))
    run.owner = RunOwner("m1", "mnist", store, data.x_test, data.y_test)
    record_start(run)
    assert store.runs()[0].state == "waiting"
    add_end_hook(record_end)
    try:
        run.start()
        assert run.join(timeout=60)
    finally:
        remove_end_hook(record_end)
    model, _ = run.model_copy()
    expected = float(np.mean(model.predict(data.x_test.reshape(len(data.x_test), -1) / 255.0) == data.y_test))
    (got,) = ClassStore(path).runs()  # a new store object: what a restarted server reads
    assert got.state == "finished" and got.name == "Ada" and got.epochs_done == 2
    assert got.params == 784 * 16 + 16 + 16 * 10 + 10
    assert got.test_acc == pytest.approx(expected)
    assert got.best_val_acc == pytest.approx(max(e.val_acc for e in run.snapshot().epochs))
    assert len(got.val_accs) == 2 and got.finished is not None


def test_test_accuracy_in_chunks_equals_one_pass(data) -> None:
    class Threshold:  # predicts by the brightest row band, like the synthetic digits
        def predict(self, x):
            return ((x.reshape(len(x), 28, 28).sum(axis=2).argmax(axis=1) - 4) // 2).clip(0, 9)

    acc = measure_test_accuracy(Threshold(), data.x_test, data.y_test)
    assert acc == pytest.approx(np.mean(Threshold().predict(data.x_test / 255.0) == data.y_test))
    assert measure_test_accuracy(None, data.x_test, data.y_test) is None


# ----- leaderboard and challenges ----------------------------------------------------------------------
def test_settle_marks_runs_of_a_dead_process_and_prefers_live_numbers() -> None:
    rows = [row("a", state="running", pid=111), row("b", state="running", pid=222, host="other"),
            row("c", state="running", pid=333), row("d")]
    live = {"c": row("c", state="running", epochs_done=2, pid=333)}
    out = {r.run_id: r for r in settle(rows, live, alive=lambda pid: False, host="h")}
    assert out["a"].state == INTERRUPTED  # its server on this machine is gone
    assert out["b"].state == "running"  # another machine's process: not ours to judge
    assert out["c"].epochs_done == 2 and out["d"].state == "finished"


def test_the_leaderboard_puts_the_best_test_accuracy_first() -> None:
    frame = board_frame([row("a", test_acc=0.9, name="A"), row("b", test_acc=None, name="B", state="running"),
                         row("c", test_acc=0.97, name="C"), row("d", hidden="none", name="D", test_acc=0.91)])
    assert list(frame["Name"]) == ["C", "D", "A", "B"]
    assert list(frame["Architecture"])[:2] == ["784-128-10", "none"]
    assert list(frame["Test acc"])[-1] == ""


def test_challenges_are_judged_on_the_servers_numbers() -> None:
    rows = [row("small", params=19_000, test_acc=0.95, name="S", val_accs=(0.97, 0.981)),
            row("big", params=200_000, test_acc=0.98, name="B", val_accs=(0.982,)),
            row("tiny", params=8_000, test_acc=0.96, name="T", val_accs=(0.9, 0.95, 0.979)),
            row("live", params=8_000, test_acc=None, name="L", state="running", val_accs=(0.99,))]
    params = standings(rows, make_challenge(1, "best_test_max_params", 20_000))
    assert list(params["Name"]) == ["T", "S"] and list(params["Rank"]) == [1, 2]
    assert list(params["Result"]) == ["96.00%", "95.00%"]
    fast = standings(rows, make_challenge(2, "fewest_epochs_to", 0.98))
    assert list(fast["Name"]) == ["B", "S"] and list(fast["Result"]) == ["1 epoch(s)", "2 epoch(s)"]
    assert list(standings(rows, make_challenge(3, "best_test", 0))["Name"]) == ["B", "T", "S"]
    assert epochs_to_reach(rows[2], 0.98) is None
    assert make_challenge(4, "fewest_epochs_to", 0.98).title == "98.0% validation accuracy in the fewest epochs"
    for kind, target in [("fastest_claimed", 1), ("fewest_epochs_to", 1.5), ("best_test_max_params", math.nan),
                         ("best_test_max_params", 10)]:
        with pytest.raises(ValueError):
            make_challenge(5, kind, target)


def test_csv_download_does_not_let_a_name_become_a_formula() -> None:
    frame = board_frame([row("a", name="=HYPERLINK(\"http://x\")"), row("b", name="+1"), row("c", name="Ada")])
    text = csv_bytes(frame).decode()
    assert "'=HYPERLINK" in text and "'+1" in text and "\nAda," in text
