"""The "why did it answer that" sections of Evaluate, Inspect and Draw through AppTest, on the synthetic bars.

The fixtures (a bars dataset in the app's data slot, a small trained network) are test_pages_explain's.
"""

from __future__ import annotations

import numpy as np

from dashboard.session import ModelView
from lab.dataset_stats import class_means
from nn.data import to_float
from nn.explain.ablation import forward_scaled, hidden_activations
from nn.explain.calibration import expected_calibration_error, fit_temperature, tempered
from nn.explain.flip import smallest_flip
from nn.explain.prototypes import PrototypeParams, class_prototypes
from nn.explain.saliency import integrated_gradients
from tests.page_sections import EVALUATE, INSPECT, open_section
from tests.test_pages_explain import app, chart_titled, dataset, trained, trained_view, with_view  # noqa: F401


def test_evaluate_shows_calibration_with_the_temperature_fitted_on_validation(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained, version="test:calibration"))
    at.switch_page("app_pages/evaluate.py").run()
    open_section(at, EVALUATE, "Confidence")
    assert not at.exception, at.exception
    val = trained.val_idx
    t = fit_temperature(trained.model.forward(to_float(dataset.x_train[val])).astype(np.float64),
                        dataset.y_train[val].astype(np.int64))
    logits = trained.model.forward(to_float(dataset.x_test)).astype(np.float64)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Temperature T"] == f"{t:.3f}"
    assert tiles["ECE before"] == f"{expected_calibration_error(tempered(logits, 1.0), dataset.y_test) * 100:.2f}%"
    assert tiles["ECE after"] == f"{expected_calibration_error(tempered(logits, t), dataset.y_test) * 100:.2f}%"
    counts = chart_titled(at, "Before temperature scaling")["data"][3]["y"]
    assert np.nansum(np.asarray(counts, dtype=float)) == len(dataset.y_test)
    assert chart_titled(at, f"After dividing the scores by T = {t:.2f}")


def test_a_model_without_its_split_gets_the_raw_diagram_and_one_line(app, trained) -> None:
    view = ModelView(model=trained.model, version="test:no-split", source="uploaded", meta={})
    at = with_view(app(), view)
    at.switch_page("app_pages/evaluate.py").run()
    open_section(at, EVALUATE, "Confidence")
    assert not at.exception, at.exception
    assert any("No validation split is known" in i.value for i in at.info)
    assert chart_titled(at, "Before temperature scaling")
    assert "Temperature T" not in {m.label for m in at.metric}


def test_inspect_switches_units_off_and_reset_restores(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained, version="test:ablation"))
    at.switch_page("app_pages/inspect.py").run()
    open_section(at, INSPECT, "Switch units off")
    assert not at.exception, at.exception
    X = to_float(dataset.x_test)
    intact = trained.model.predict(X)
    assert {m.label: m.value for m in at.metric}["Answers changed"] == "0"

    # The filter opened on the Filters tab (unit 5), switched off.
    open_section(at, INSPECT, "Filters")
    at.number_input(key="in_unit_box").set_value(5).run()
    open_section(at, INSPECT, "Switch units off")
    at.button(key="abl_add").click().run()
    assert not at.exception, at.exception
    scales = [np.where(np.arange(24) == 5, 0.0, 1.0), None]
    ablated = forward_scaled(trained.model, X, scales).argmax(axis=1)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Answers changed"] == f"{int((ablated != intact).sum()):,}"
    assert at.session_state["abl_off"] == {0: [5]}

    # Every unit of hidden 2 off on top: one constant answer for every digit.
    at.selectbox(key="abl_layer").set_value(1).run()
    at.radio(key="abl_way").set_value("units by number").run()
    at.multiselect(key="abl_units").set_value(list(range(16))).run()
    at.button(key="abl_add").click().run()
    per_class = chart_titled(at, "Accuracy on each digit")["data"][1]["y"]
    assert sorted(np.round(per_class, 6).tolist()).count(0.0) == 9  # one digit always right, nine never
    delta = np.asarray(chart_titled(at, "Confusion matrix change")["data"][0]["z"])
    assert delta.sum() == 0 and (np.count_nonzero(delta.sum(axis=0) > 0) == 1)

    at.button(key="abl_reset").click().run()
    assert {m.label: m.value for m in at.metric}["Answers changed"] == "0"
    assert not at.exception


def test_evaluate_explains_an_opened_mistake_against_its_label(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained, version="test:mistake"))
    at.switch_page("app_pages/evaluate.py").run()
    open_section(at, EVALUATE, "Mistakes")
    assert any("Open a misclassified digit above" in c.value for c in at.caption)
    X = to_float(dataset.x_test)
    predicted = trained.model.predict(X)
    wrong = int(np.flatnonzero(predicted != dataset.y_test)[0])
    at.session_state["ev_mis_gallery"] = {"selection": {"points": [{"customdata": wrong}]}}  # a click on it
    at.run()
    assert not at.exception, at.exception
    label, answer = int(dataset.y_test[wrong]), int(predicted[wrong])
    assert at.selectbox(key=f"ev_why_{wrong}_other_{answer}").value == label  # its label, by default
    spec = chart_titled(at, f"Why {answer} and not {label}")
    ig = integrated_gradients(trained.model, X[wrong], answer, label)
    np.testing.assert_allclose(np.asarray(spec["data"][0]["z"]).ravel(), ig.pixels, rtol=1e-5, atol=1e-6)
    flip = smallest_flip(trained.model, X[wrong:wrong + 1], label)
    assert f"L2 {flip.l2[0]:.2f}" in chart_titled(at, f"The change that makes it a {label}")["layout"]["title"]["text"]


def test_inspect_draws_the_ten_prototypes_with_their_settings(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained, version="test:prototypes"))
    at.switch_page("app_pages/inspect.py").run()
    open_section(at, INSPECT, "Prototypes")
    at.slider(key="proto_steps").set_value(30).run()
    at.slider(key="proto_l2").set_value(1.0).run()
    assert not at.exception, at.exception
    means = class_means(dataset.x_train, dataset.y_train).reshape(10, -1) / 255.0
    expected = class_prototypes(trained.model, means, PrototypeParams(steps=30, l2=1.0))
    rise = chart_titled(at, "Each digit's score while its picture forms")
    for d, line in enumerate(rise["data"]):
        np.testing.assert_allclose(np.asarray(line["y"]), expected.values[:, d], rtol=1e-5, atol=1e-6)
    grid = np.asarray(chart_titled(at, "as the network would draw it")["data"][0]["z"], dtype=float)
    np.testing.assert_allclose(grid[0:28, 0:28], expected.images[0].reshape(28, 28) * 255, rtol=1e-4, atol=1e-3)
    assert any("30 steps" in c.value and "L2 weight 1" in c.value for c in at.caption)
    assert chart_titled(at, "What excites unit")


def test_inspect_shows_the_followed_digits_nearest_training_digits(app, trained, dataset) -> None:
    at = with_view(app(), trained_view(trained, version="test:neighbours"))
    at.switch_page("app_pages/inspect.py").run()
    open_section(at, INSPECT, "Through the layers")
    at.number_input(key="in_digit_box").set_value(17).run()
    open_section(at, INSPECT, "Nearest neighbours")
    assert not at.exception, at.exception
    x = to_float(dataset.x_test[17:18])
    rows = hidden_activations(trained.model, to_float(dataset.x_train))[1].astype(np.float64)
    q = hidden_activations(trained.model, x)[1].astype(np.float64)[0]
    sims = rows @ q / (np.linalg.norm(rows, axis=1) * np.linalg.norm(q))
    spec = chart_titled(at, "In hidden 2 it looks like")
    shown = [int(i) for i in next(t for t in spec["data"] if t.get("mode") == "markers")["customdata"]]
    assert shown == np.argsort(-sims, kind="stable")[:8].tolist()
    assert chart_titled(at, "In pixels it looks like") and chart_titled(at, "In hidden 1 it looks like")
    # the first search at this model version keeps no index; a second digit builds it (and says what it holds)
    assert any("This first search at this point passed every training digit" in c.value for c in at.caption)
    open_section(at, INSPECT, "Through the layers")
    at.number_input(key="in_digit_box").set_value(18).run()
    open_section(at, INSPECT, "Nearest neighbours")
    assert not at.exception, at.exception
    cost = len(dataset.y_train) * (24 + 16) * 4 + len(dataset.y_train) * 3 * 4
    assert any(f"{cost / 2**10:.1f} KB" in c.value for c in at.caption)
