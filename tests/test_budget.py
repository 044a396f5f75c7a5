"""The server's time budget per run: configured from the environment, counted in training time, enforced."""

from __future__ import annotations

import time

import numpy as np
import pytest

from lab import reaper
from lab.budget import OVER_BUDGET, SHARED_DEFAULT_SECONDS, RunBudget, fmt_budget, is_remote, run_budget
from lab.limiter import RunLimiter
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.events import RunState
from tests.test_app_pages import run_until_done, synthetic_app
from tests.test_runner import wait_until


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    monkeypatch.delenv("MNIST_RUN_MAX_SECONDS", raising=False)
    monkeypatch.delenv("MNIST_SHARED", raising=False)
    yield
    reaper.stop_all()


@pytest.mark.parametrize("shared, limit, remote, expected", [
    (None, None, False, None),  # your own machine: no limit
    (None, None, True, SHARED_DEFAULT_SECONDS),  # a visitor from another machine: the shared default
    ("1", None, False, SHARED_DEFAULT_SECONDS),  # behind a proxy everyone looks local: the host says shared
    ("0", None, True, None),
    (None, "30", False, 30.0),  # the host's own budget applies to everyone
    (None, "30", True, 30.0),
    ("1", "0", True, None),  # 0: no limit
])
def test_the_budget_follows_the_hosts_settings_and_where_the_visitor_is(monkeypatch, shared, limit, remote,
                                                                       expected) -> None:
    if shared is not None:
        monkeypatch.setenv("MNIST_SHARED", shared)
    if limit is not None:
        monkeypatch.setenv("MNIST_RUN_MAX_SECONDS", limit)
    budget = run_budget(remote_visitor=remote)
    assert budget.max_seconds == expected and budget.notice is None


@pytest.mark.parametrize("raw", ["abc", "-5", "inf", "nan", "1e999", "x" * 500])
def test_a_bad_limit_falls_back_to_the_default_with_one_line_saying_why(monkeypatch, raw) -> None:
    monkeypatch.setenv("MNIST_RUN_MAX_SECONDS", raw)
    shared, local = run_budget(remote_visitor=True), run_budget(remote_visitor=False)
    assert shared.max_seconds == SHARED_DEFAULT_SECONDS and local.max_seconds is None
    assert "MNIST_RUN_MAX_SECONDS" in shared.notice and "\n" not in shared.notice and len(shared.notice) < 160
    assert "no limit" in local.notice


def test_a_bad_shared_setting_is_named_and_the_visitor_decides(monkeypatch) -> None:
    monkeypatch.setenv("MNIST_SHARED", "maybe")
    assert run_budget(remote_visitor=True).max_seconds == SHARED_DEFAULT_SECONDS
    budget = run_budget(remote_visitor=False)
    assert budget.max_seconds is None and "'maybe'" in budget.notice


def test_budgets_read_as_a_person_says_them() -> None:
    assert [fmt_budget(s) for s in (0.5, 45, 119, 600, 900, 3600, 5400)] == [
        "0.5 s", "45 s", "119 s", "10 min", "15 min", "1 h", "1 h 30 min"]
    assert "15 min" in RunBudget(900.0).describe() and "pauses do not count" in RunBudget(900.0).describe()
    assert RunBudget(900.0).stop_reason().startswith(OVER_BUDGET)


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    labels = (np.arange(300) % 10).astype(np.uint8)
    return rng.integers(0, 255, (300, 28, 28), dtype=np.uint8), labels


def long_config() -> TrainConfig:
    return TrainConfig(model=ModelConfig(hidden=(32,)), batch_size=1, epochs=500, val_size=50)


def test_a_run_that_uses_its_budget_stops_with_the_reason_and_keeps_its_model() -> None:
    run = TrainingRun(long_config(), *data(), limiter=RunLimiter(1), budget=RunBudget(0.5)).start()
    assert run.join(timeout=60), "the budget did not stop the run"
    snap = run.snapshot()
    assert snap.phase == RunState.STOPPED.value and snap.over_budget
    assert snap.reason.startswith(OVER_BUDGET) and "0.5 s" in snap.reason
    assert snap.elapsed_seconds >= 0.5  # it trained its whole budget, then stopped
    assert snap.epochs_done < 500 and snap.step > 0
    assert run.model_copy()[0] is not None  # the model trained so far is kept


def test_pauses_do_not_count_against_the_budget() -> None:
    run = TrainingRun(long_config(), *data(), limiter=RunLimiter(1), budget=RunBudget(0.5),
                      start_paused=True).start()
    wait_until(lambda: run.phase == RunState.PAUSED.value)
    time.sleep(1.0)  # paused twice as long as the budget
    run.step_batch()
    wait_until(lambda: run.snapshot().step == 1 and run.phase == RunState.PAUSED.value)
    snap = run.snapshot()
    assert not snap.over_budget
    run.resume()
    assert run.join(timeout=60)
    assert run.snapshot().over_budget


def test_a_run_within_its_budget_finishes_as_usual() -> None:
    config = TrainConfig(model=ModelConfig(hidden=(8,)), batch_size=50, epochs=1, val_size=50)
    run = TrainingRun(config, *data(), limiter=RunLimiter(1), budget=RunBudget(3600.0)).start()
    assert run.join(timeout=60)
    snap = run.snapshot()
    assert snap.phase == RunState.FINISHED.value and not snap.over_budget and OVER_BUDGET not in snap.reason


@pytest.fixture
def app():
    with synthetic_app(n_train=6000, n_test=200) as make:
        yield make


def test_the_train_page_says_the_budget_before_start_and_why_a_run_stopped(app, monkeypatch) -> None:
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    assert not any("stops a run" in c.value for c in at.caption)  # a local server: no limit, nothing said
    monkeypatch.setenv("MNIST_RUN_MAX_SECONDS", "0.5")
    at.run()
    assert any("stops a run after 0.5 s of training" in c.value for c in at.caption)
    at.select_slider(key="k_val_size").set_value(1000)
    at.slider(key="k_epochs").set_value(50)
    at.run()
    at.button(key="btn_start").click().run()
    run_until_done(at)
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("Stopped: over the server's budget (0.5 s of training per run)") for w in warnings), warnings
    assert not at.exception


@pytest.mark.parametrize(("ip", "remote"), [
    (None, False), ("127.0.0.1", False), ("::1", False), ("::ffff:127.0.0.1", False), ("127.0.0.2", False),
    ("192.0.2.7", True), ("::ffff:192.0.2.7", True), ("2001:db8::1", True), ("fe80::1%eth0", True),
    ("not an address", True),
])
def test_a_browser_on_the_server_itself_is_local_however_the_server_sees_it(ip, remote) -> None:
    assert is_remote(ip) is remote
