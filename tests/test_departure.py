"""A departed tab leaves nothing behind: the reaper's and the tab-gone hook's release drop every model.

The real server's memory is measured in tests/test_server_memory.py; these tests check the references
themselves: once released (and after one garbage collection), a weak reference to the trained MLP,
to the trainer's live model and to the session's cached view is dead.
"""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.caching.cache_resource_api import clear_session_cache
from streamlit.testing.v1 import AppTest

from lab import reaper, settings
from lab.limiter import RunLimiter
from lab.reclaim import reclaim_memory
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.events import RunState
from tests.test_app_pages import synthetic_app

APP = str(Path(__file__).resolve().parents[1] / "app.py")
APPTEST_SESSION = "test session id"  # the session id AppTest's script runner uses


@pytest.fixture(autouse=True)
def stop_threads():
    yield
    reaper.stop_all()
    for leaver in reaper.watched():  # nothing of one test may be released during the next
        reaper._LEAVERS.pop(id(leaver), None)


def tiny_run() -> TrainingRun:
    rng = np.random.default_rng(0)
    labels = (np.arange(300) % 10).astype(np.uint8)
    images = rng.integers(0, 255, (300, 28, 28), dtype=np.uint8)
    config = TrainConfig(model=ModelConfig(hidden=(16,)), batch_size=25, epochs=2, val_size=50)
    run = TrainingRun(config, images, labels, limiter=RunLimiter(1)).start()
    assert run.join(timeout=30) and run.phase == RunState.FINISHED.value
    return run


def test_a_released_run_keeps_no_model_alive() -> None:
    run = tiny_run()
    copy, _ = run.model_copy()
    refs = [weakref.ref(run.trainer), weakref.ref(run.trainer.model), weakref.ref(copy)]
    del copy
    run.release()
    gc.collect()
    assert [r() for r in refs] == [None, None, None]
    assert run.model_copy()[0] is None
    assert run.snapshot().epochs_done == 2  # the record stays: a page that still shows the run can


class _Leaver:
    def __init__(self, left_at: float | None) -> None:
        self.left_at = left_at
        self.released = 0

    def release(self) -> None:
        self.released += 1


def test_the_reaper_releases_a_departed_tab_after_the_grace_period_and_forgets_one_that_came_back(
        monkeypatch) -> None:
    monkeypatch.setattr(settings, "TAB_GONE_GRACE_S", 20.0)
    now = time.monotonic()
    gone, back = _Leaver(now), _Leaver(now)
    reaper.watch(gone)
    reaper.watch(back)
    assert reaper.reap_leavers(now + 5) == 0 and gone.released == 0  # a reconnect may still come
    back.left_at = None  # ...and this one did
    assert reaper.reap_leavers(now + 21) == 1
    assert (gone.released, back.released) == (1, 0)
    assert reaper.watched() == []  # released once, and the one that came back is no longer watched


def test_reclaim_memory_collects_unreachable_cycles() -> None:
    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    reclaim_memory()
    assert ref() is None


@pytest.fixture
def app():
    with synthetic_app(n_train=2000, n_test=500) as make:
        yield make


def trained_app(app) -> tuple[AppTest, object]:
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="k_subset").set_value(500)
    at.select_slider(key="k_val_size").set_value(1000)
    at.slider(key="k_epochs").set_value(1)
    at.run()
    at.button(key="btn_start").click().run()
    data = at.session_state["_mnist_session"]
    assert data.run.join(timeout=30) and data.run.phase == RunState.FINISHED.value
    at.switch_page("app_pages/evaluate.py").run()  # builds the session's cached model view
    assert not at.exception, at.exception
    assert data._view is not None
    return at, data


def test_the_tab_gone_hook_and_the_reaper_release_every_model_the_session_held(app, monkeypatch) -> None:
    _at, data = trained_app(app)  # (the AppTest stays alive: its session state holds the data too)
    run = data.run
    refs = {"live model": weakref.ref(run.trainer.model), "trainer": weakref.ref(run.trainer),
            "view's model": weakref.ref(data._view.model), "view": weakref.ref(data._view)}
    clear_session_cache(APPTEST_SESSION)  # what Streamlit does when the tab's connection closes
    assert data.left_at is not None and data._view is None  # the cheap caches go at once
    [guard] = [g for g in reaper.watched() if getattr(g, "data", None) is data]
    monkeypatch.setattr(settings, "TAB_GONE_GRACE_S", 0.0)
    reaper.reap(time.monotonic() + 1)
    gc.collect()
    assert data.run is None and data.uploaded is None
    alive = [name for name, ref in refs.items() if ref() is not None]
    assert alive == [], f"still referenced after the release: {alive}"
    assert guard not in reaper.watched()


def test_a_tab_that_comes_back_within_the_grace_period_keeps_its_model(app, monkeypatch) -> None:
    at, data = trained_app(app)
    model = weakref.ref(data.run.trainer.model)
    clear_session_cache(APPTEST_SESSION)
    assert data.left_at is not None
    at.run()  # the tab reconnected and its page ran again: a new guard, nothing to release
    assert data.left_at is None
    monkeypatch.setattr(settings, "TAB_GONE_GRACE_S", 0.0)
    reaper.reap(time.monotonic() + 1)
    gc.collect()
    assert data.run is not None and data.run.trainer is not None and model() is not None
    assert not at.exception
