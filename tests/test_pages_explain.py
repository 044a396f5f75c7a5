"""The Evaluate and Inspect pages through AppTest, without a model and with one.

A small synthetic dataset stands in for MNIST (put into the app's shared dataset slot); a tiny MLP is
trained on it in the test and put into the session as the frame's ``ModelView``, exactly as an
uploaded or finished model would be.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data as dashboard_data
from dashboard.session import ModelView, SessionData
from lab import reaper
from lab.format import fmt_pct
from lab.layer_sample import sample_indices
from nn.config import ModelConfig, TrainConfig
from nn.data import MnistDataset
from nn.trainer import Trainer
from tests.page_sections import EVALUATE, EVALUATE_SECTIONS, INSPECT, INSPECT_SECTIONS, open_section

APP = str(Path(__file__).resolve().parents[1] / "app.py")
N_TEST = 600


def bars_dataset(n_train: int = 3000, n_test: int = N_TEST) -> MnistDataset:
    """Digit k is a bright bar on row 2k+4, over noise that sometimes hides it: learnable, not perfect."""
    rng = np.random.default_rng(0)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 120, (n, 28, 28)).astype(np.uint8)
        images[np.arange(n), 2 * labels + 4, 4:24] = rng.integers(90, 256, n)[:, None]
        for a in (images, labels):
            a.flags.writeable = False
        return images, labels

    (x_train, y_train), (x_test, y_test) = make(n_train), make(n_test)
    return MnistDataset(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                        source="synthetic bars", verified=False, cache_path=None)


@pytest.fixture(scope="module")
def dataset() -> MnistDataset:
    return bars_dataset()


@pytest.fixture(scope="module")
def trained(dataset):
    config = TrainConfig(model=ModelConfig(hidden=(24, 16)), epochs=3, batch_size=64, lr=3e-3, val_size=300, seed=1)
    trainer = Trainer(config, dataset.x_train, dataset.y_train)
    trainer.run()
    return trainer


@pytest.fixture
def app(dataset):
    st.cache_data.clear()
    st.cache_resource.clear()
    dashboard_data._holder().dataset = dataset
    yield lambda: AppTest.from_file(APP, default_timeout=60)
    reaper.stop_all()
    st.cache_resource.clear()


def with_view(at: AppTest, view: ModelView) -> AppTest:
    at.session_state["_mnist_session"] = SessionData(uploaded=view)
    return at


def trained_view(trainer: Trainer, version: str = "test:trained") -> ModelView:
    return ModelView(model=trainer.model, version=version, source="trained",
                     history=trainer.history(), snapshots=trainer.snapshots, val_idx=trainer.val_idx)


def decoded(value):
    """Plotly's JSON sends numpy arrays as base64 typed arrays: turn them back into arrays."""
    if isinstance(value, dict) and "bdata" in value and "dtype" in value:
        array = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        return array.reshape([int(n) for n in str(shape).split(",")]) if shape else array
    if isinstance(value, dict):
        return {k: decoded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def chart_specs(at: AppTest) -> list[dict]:
    """Every figure on the page: Streamlit's plotly charts, then the charts drawn in place (dashboard/live_charts.py)."""
    in_place = [text for e in at.get("component_instance") if e.proto.component_name.endswith("live_charts")
                for text in json.loads(e.proto.json_args)["figures"]]
    return [decoded(json.loads(spec)) for spec in [c.proto.spec for c in at.get("plotly_chart")] + in_place]


def chart_titled(at: AppTest, words: str) -> dict:
    matches = [s for s in chart_specs(at) if words in s["layout"]["title"]["text"]]
    assert matches, f"no chart titled with {words!r}"
    return matches[0]


@pytest.mark.parametrize("page", ["app_pages/evaluate.py", "app_pages/inspect.py"])
def test_without_a_model_the_page_says_so_and_links_to_train(app, page) -> None:
    at = app().run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert any("No model yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_evaluate_shows_the_models_numbers(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained))
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception

    X = dataset.x_test.reshape(N_TEST, -1).astype(np.float32) / 255
    pred = trained.model.predict(X)
    accuracy = float((pred == dataset.y_test).mean())
    assert 0.3 < accuracy < 1.0  # learned something, made mistakes: every view has content
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Test accuracy"] == fmt_pct(accuracy, 2)
    assert tiles["Mistakes"] == f"{int((pred != dataset.y_test).sum()):,}"

    cm = np.asarray(chart_titled(at, "Confusion matrix")["data"][0]["z"])
    assert cm.sum() == N_TEST and np.trace(cm) == int((pred == dataset.y_test).sum())

    # Choosing a cell with the selectors shows that cell's digits.
    t, p = np.unravel_index(np.argmax(cm - np.diag(np.diag(cm))), cm.shape)
    at.selectbox(key="ev_true").set_value(int(t))
    at.selectbox(key="ev_pred").set_value(int(p)).run()
    gallery = chart_titled(at, f"True {t}, predicted {p}")
    shown = list(next(tr for tr in gallery["data"] if tr.get("mode") == "markers")["customdata"])
    expected = np.flatnonzero((dataset.y_test == t) & (pred == p))
    assert set(shown) <= set(expected.tolist()) and len(shown) == min(len(expected), 30)

    # The abstention threshold: coverage is the share of digits answered.
    open_section(at, EVALUATE, "Confidence")
    at.slider(key="ev_threshold").set_value(0.6).run()
    proba = trained.model.predict_proba(X)
    coverage = float((proba.max(axis=1) >= 0.6).mean())
    assert {m.label: m.value for m in at.metric}["Coverage"] == fmt_pct(coverage, 1)

    # Filtering the misclassified digits by true class.
    open_section(at, EVALUATE, "Mistakes")
    at.multiselect(key="ev_mis_true").set_value([int(t)]).run()
    mistakes = chart_titled(at, "mistakes;")
    ids = list(next(tr for tr in mistakes["data"] if tr.get("mode") == "markers")["customdata"])
    assert ids and all(dataset.y_test[i] == t and pred[i] != t for i in ids)
    assert not at.exception


def test_evaluation_is_computed_once_per_model_version(app, trained, monkeypatch) -> None:
    at = with_view(app(), trained_view(trained, version="test:once"))
    at.switch_page("app_pages/evaluate.py").run()
    open_section(at, EVALUATE, "Confidence")
    calls = []
    original = trained.model.forward
    monkeypatch.setattr(trained.model, "forward", lambda *a, **k: calls.append(1) or original(*a, **k))
    at.slider(key="ev_threshold").set_value(0.5).run()
    at.run()
    assert calls == [] and not at.exception  # reruns reuse the cached predictions


def test_inspect_shows_every_section_for_a_trained_model(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained))
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception, at.exception
    titles = []
    for name in INSPECT_SECTIONS:
        open_section(at, INSPECT, name)
        assert not at.exception, f"{name}: {at.exception}"
        titles += [s["layout"]["title"]["text"] for s in chart_specs(at)]
    for words in ("First-layer filters", "its weight from each pixel", "pushes up or down", "after epoch",
                  "distribution per epoch", "Output probabilities", "Weight norm per layer",
                  "Gradient norm per layer", "Weight values now", "Gradient values now", "principal components"):
        assert any(words in t for t in titles), f"missing chart: {words}"

    # Choosing another filter and another digit.
    open_section(at, INSPECT, "Filters")
    at.number_input(key="in_unit_box").set_value(5).run()
    assert any("Unit 5" in t for t in [s["layout"]["title"]["text"] for s in chart_specs(at)])
    open_section(at, INSPECT, "Through the layers")
    at.number_input(key="in_digit_box").set_value(17).run()
    digit = chart_titled(at, "Test digit #17")
    np.testing.assert_array_equal(np.asarray(digit["data"][0]["z"]), dataset.x_test[17])
    proba = chart_titled(at, "Output probabilities")["data"][0]["y"]
    X = dataset.x_test[17:18].reshape(1, -1).astype(np.float32) / 255
    np.testing.assert_allclose(proba, trained.model.predict_proba(X)[0], rtol=1e-5)

    # Or pick one of the mistakes.
    all_proba = trained.model.predict_proba(dataset.x_test.reshape(N_TEST, -1).astype(np.float32) / 255)
    mistakes = np.flatnonzero(all_proba.argmax(axis=1) != dataset.y_test)
    wrong = int(mistakes[np.argmax(all_proba[mistakes].max(axis=1))])  # the most confident mistake
    at.selectbox(key="in_mistake").set_value(wrong).run()
    assert chart_titled(at, f"Test digit #{wrong} ")
    assert at.number_input(key="in_digit_box").value == wrong

    # The layer map for the first hidden layer covers the sample of test digits.
    open_section(at, INSPECT, "Layer map")
    at.selectbox(key="in_map_layer").set_value("hidden 1 (activations)").run()
    layer_map = chart_titled(at, "principal components")
    ids = [int(i) for tr in layer_map["data"] if "customdata" in tr for i in tr["customdata"]]
    assert sorted(ids) == sample_indices(N_TEST).tolist()
    open_section(at, INSPECT, "Weights and gradients")
    assert any(m.label.startswith("Hidden 1") for m in at.metric)
    assert not at.exception


def test_inspect_for_an_uploaded_model_without_history(app, trained) -> None:
    view = ModelView(model=trained.model, version="upload:abc", source="uploaded")
    at = with_view(app(), view)
    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception, at.exception
    infos = " ".join(i.value for i in at.info)
    open_section(at, INSPECT, "Weights and gradients")
    infos += " ".join(i.value for i in at.info)
    assert "An uploaded model has none" in infos and "no training history" in infos



def test_both_pages_work_for_softmax_regression(app) -> None:
    from nn.model import MLP

    SECTIONS = {"app_pages/evaluate.py": [(EVALUATE, name) for name in EVALUATE_SECTIONS],
                "app_pages/inspect.py": [(INSPECT, name) for name in INSPECT_SECTIONS]}
    model = MLP(ModelConfig(hidden=()), np.random.default_rng(0))
    for page in ("app_pages/evaluate.py", "app_pages/inspect.py"):
        at = with_view(app(), ModelView(model=model, version="upload:softmax", source="uploaded"))
        at.switch_page(page).run()
        assert not at.exception, f"{page}: {at.exception}"
        for key, name in SECTIONS[page]:
            open_section(at, key, name)
            assert not at.exception, f"{page}, {name}: {at.exception}"
    assert any("no hidden layer" in w.value for w in at.warning)


# ---------------------------------------------------------------- Step through

STEP = "app_pages/step.py"


def test_step_through_without_a_model_steps_a_fresh_network_of_the_train_settings(app) -> None:
    at = app().run()
    at.switch_page(STEP).run()
    assert not at.exception, at.exception
    assert any("fresh network" in i.value for i in at.info)
    assert chart_titled(at, "The network for this digit")
    at.text_input(key="step_digits").set_value("3, x").run()
    assert any("'x' is not a test digit number" in e.value for e in at.error)


def test_a_click_on_a_unit_of_the_picture_selects_it_and_the_picture_agrees(app, trained) -> None:
    at = with_view(app(), trained_view(trained))
    at.switch_page(STEP).run()
    at.session_state["step_net"] = {"selection": {"points": [{"customdata": [2, 5]}]}}  # what a click sends
    at.run()
    assert not at.exception, at.exception
    assert any("1. Forward: layer 2, unit 5" in h.value for h in at.header)
    assert chart_titled(at, "layer 2, unit 5 selected")
    at.number_input(key="step_weight").set_value(3).run()
    assert at.number_input(key="step_weight").value == 3  # the same selection on a rerun is no new click
    at.session_state["step_net"] = {"selection": {"points": [{"customdata": [0, 300]}]}}  # an input pixel
    at.run()
    assert any("layer 2, unit 5" in h.value for h in at.header)


def test_a_link_from_evaluate_picks_the_digit_to_step_on(app, trained) -> None:
    at = with_view(app(), trained_view(trained))
    at.query_params["digits"] = "42"
    at.switch_page(STEP).run()
    assert not at.exception, at.exception
    assert at.text_input(key="step_digits").value == "42"
    assert chart_titled(at, "Test digit #42")


def test_step_through_shows_the_textbook_numbers_and_takes_three_real_steps(app, trained, dataset) -> None:
    from lab.step_session import StepSession
    from lab.step_through import Batch, float64_copy, full_pass, unit_forward
    from lab.step_update import gradient_check

    view = trained_view(trained)
    view.meta = {"train_config": trained.config.to_dict()}  # as the app's view of a finished run has it
    at = with_view(app(), view)
    at.session_state["step_unit"] = (2, 3)  # what a click on unit 3 of layer 2 in the picture stores
    at.switch_page(STEP).run()
    at.text_input(key="step_digits").set_value("3, 5, 7").run()
    assert not at.exception, at.exception

    model = float64_copy(trained.model)
    from nn.data import to_float

    X = to_float(dataset.x_test[[3, 5, 7]]).astype(np.float64)  # the test set as the pages hold it
    batch = Batch(X, dataset.y_test[[3, 5, 7]])
    p = full_pass(model, batch)
    f = unit_forward(model, p, 0, 2, 3)
    text = " ".join(m.value for m in at.markdown)
    assert f"= z = **{f.z:.6g}**" in text  # the sum the page writes out is the textbook's z
    assert f"{p.loss:.5g}" in text  # the batch's loss
    grad = p.dW[1]
    i = int(at.number_input(key="step_weight").value)
    assert i == int(np.argmax(np.abs(grad[:, 3])))  # it starts at the weight with the largest gradient
    assert f"= **{grad[i, 3]:.6g}**" in text

    twin = StepSession.start("twin", trained.model, trained.config)  # the run's optimizer, lr 3e-3
    for step in range(3):
        at.button(key="step_take").click().run()
        assert not at.exception, at.exception
        twin.step(batch)
    walk = at.session_state["step_session"]
    assert len(walk.steps) == 3 and walk.optimizer.t == 3
    for a, b in zip(walk.model.parameters(), twin.model.parameters()):
        np.testing.assert_allclose(a, b, rtol=1e-12)  # exactly the optimizer's steps on that batch
    text = " ".join(m.value for m in at.markdown)
    assert f"**{twin.steps[-1].loss_after:.5f}**" in text
    for a, b in zip(trained.model.parameters(), trained.model.get_params()):
        assert a.dtype == np.float32  # the learner's model stays as it was (float32, untouched)

    check = gradient_check(walk.model, batch, 2, i, 3)
    assert check.rel_error < 1e-6
    assert f"relative error **{check.rel_error:.1e}**" in " ".join(m.value for m in at.markdown)
    at.button(key="step_check20").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[-1].value
    assert len(table) == 20 and (table["relative error"] < 1e-4).mean() >= 0.9


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw"])
def test_step_through_shows_each_optimizers_rule_and_its_code(app, optimizer) -> None:
    at = app()
    at.query_params["optimizer"] = optimizer
    at.run()
    at.switch_page(STEP).run()
    assert not at.exception, at.exception
    rule = {"sgd": "SGD", "momentum": "Momentum", "nesterov": "Nesterov", "adam": "Adam", "adamw": "AdamW"}[optimizer]
    assert any(m.value.startswith(f"**{rule}**, step t = 1") for m in at.markdown)
    marked = [c.value for c in at.code if "# <--" in c.value and "def update" in c.value]
    assert len(marked) == 1 and "p " in marked[0].split("# <--")[0].splitlines()[-1]
    at.button(key="step_take").click().run()
    assert not at.exception, at.exception
    assert at.session_state["step_session"].optimizer.t == 1


def test_step_through_on_a_paused_run_continues_its_optimizer_and_can_step_the_run(app, dataset) -> None:
    import time

    from lab.limiter import RunLimiter
    from lab.training_run import TrainingRun

    config = TrainConfig(model=ModelConfig(hidden=(24, 16)), epochs=2, batch_size=64, lr=3e-3, val_size=300, seed=1)
    run = TrainingRun(config, dataset.x_train, dataset.y_train, limiter=RunLimiter(1), start_paused=True).start()
    deadline = time.monotonic() + 30
    while not (run.trainer is not None and run.phase == "paused"):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    run.step_batch()
    while run.snapshot().step < 1 or run.phase != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    at = app()
    at.session_state["_mnist_session"] = SessionData(run=run)
    at.switch_page(STEP).run()
    assert not at.exception, at.exception
    assert any("continues the run's own (adam, after 1 steps)" in c.value for c in at.caption)
    walk = at.session_state["step_session"]
    assert walk.optimizer.t == 1 and walk.optimizer.state[0]["m"].any()  # the run's moments, not zeros
    at.checkbox(key="step_to_run").check().run()
    at.button(key="step_take").click().run()
    assert not at.exception, at.exception
    assert any("The paused run took the same step" in s.value for s in at.success)
    assert run.trainer.optimizer_state()[0] == 2 and at.session_state["step_session"].optimizer.t == 2
    at.run()  # the run's new weights are this walk's: it goes on, not afresh
    assert len(at.session_state["step_session"].steps) == 1
    run.resume()
    assert run.join(timeout=30)
