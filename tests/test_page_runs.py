"""The Runs page through AppTest: two runs trained on the Train page are kept, tabled, overlaid, made current."""

from __future__ import annotations

import ast
import contextlib
import io
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.train_view import model_file
from lab.format import fmt_pct
from tests.test_app_pages import app, run_until_done, session  # noqa: F401

RUNS = "app_pages/runs.py"


def train(at: AppTest, lr: float) -> None:
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="k_subset").set_value(500)
    at.select_slider(key="k_val_size").set_value(1000)
    at.slider(key="k_epochs").set_value(2)
    at.select_slider(key="k_lr").set_value(lr)
    at.run()
    at.button(key="btn_start").click().run()
    assert not at.exception, at.exception
    run_until_done(at)


@pytest.fixture
def served(monkeypatch) -> dict[str, bytes]:
    """What the page's download buttons serve, by label (AppTest keeps no media after a run)."""
    import streamlit as st
    from streamlit.delta_generator import DeltaGenerator

    found: dict[str, bytes] = {}
    original = DeltaGenerator.download_button

    def spy(self, label, data, *args, **kwargs):
        found[label] = data
        return original(self, label, data, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", spy)
    monkeypatch.setattr(st, "download_button", lambda *a, **k: spy(st._main, *a, **k))
    return found


@pytest.fixture
def two_runs(app):  # noqa: F811
    at = app().run()
    train(at, 2e-3)
    train(at, 0.1)
    at.switch_page(RUNS).run()
    assert not at.exception, at.exception
    return at


def test_every_run_is_kept_in_a_table_with_what_differs(two_runs, served) -> None:
    at = two_runs
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["Run 1", "Run 2"] and table["lr"].tolist() == [2e-3, 0.1]
    assert set(table["status"]) == {"finished"}
    records = session(at).book.records()
    assert table["test acc"].tolist() == [r.test_accuracy for r in records]
    assert all(0.0 < a <= 1.0 for a in table["test acc"])
    assert any("2 of 8 runs kept" in c.value for c in at.caption)
    at.run()
    csv = pd.read_csv(io.BytesIO(served["Download the table (CSV)"]))
    assert csv["run"].tolist() == ["Run 1", "Run 2"] and csv["lr"].tolist() == [2e-3, 0.1]
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert titles[:3] == ["Training loss (smoothed, solid) and validation loss (dotted)",
                          "Training (solid) and validation (dotted) accuracy after each epoch",
                          "Learning rate at each step"]


def test_a_kept_run_can_be_made_current_downloaded_and_deleted(two_runs, served) -> None:
    at = two_runs
    first, second = session(at).book.records()
    at.selectbox(key="runs_pick").set_value(first.run_id).run()
    at.button(key="runs_current").click().run()
    assert session(at).current == first.run_id
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["Test accuracy"] == fmt_pct(first.test_accuracy, 2)
    assert any("Showing Run 1 (made current on the Runs page), at epoch 2 of 2" in c.value for c in at.caption)

    at.switch_page(RUNS).run()
    from nn.serialize import load_model

    assert callable(served["Download .npz"])  # made when clicked, not on every rerun
    model, meta = load_model(served["Download .npz"]())
    assert meta["train_config"]["lr"] == first.config.lr and len(meta["history"]) == 2
    assert (model.weights[0] == first.model.weights[0]).all()
    assert [(c.step, c.kind) for c in meta["timeline"]] == [(c.step, c.kind) for c in first.timeline]
    assert all((a.params == b.params).all() for a, b in zip(meta["timeline"], first.timeline))

    script = served["Export as a script (.py)"].decode()
    settings = {}  # the script's settings block: NAME, NAME = value, value
    for node in ast.parse(script).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Tuple):
            pairs = zip(node.targets[0].elts, node.value.elts)
        elif isinstance(node, ast.Assign):
            pairs = zip(node.targets, [node.value])
        else:
            continue
        for name, value in pairs:
            with contextlib.suppress(ValueError):
                settings[name.id] = ast.literal_eval(value)
    config = first.config
    assert settings["SIZES"] == config.model.layer_sizes and settings["LR"] == config.lr
    assert (settings["SEED"], settings["EPOCHS"], settings["VAL_SIZE"]) == (config.seed, config.epochs, config.val_size)
    assert settings["TRAIN_SUBSET"] == config.train_subset == 500
    assert script.startswith(f"#!/usr/bin/env python3\n\"\"\"{first.name} of the MNIST-from-scratch app")
    assert "def softmax_cross_entropy" in script
    assert any("--data MNIST_DIR --compare" in c.value for c in at.caption)

    at.button(key="runs_delete").click().run()
    assert [r.name for r in session(at).book.records()] == ["Run 2"] and session(at).current is None
    at.switch_page("app_pages/evaluate.py").run()
    assert {m.label: m.value for m in at.metric}["Test accuracy"] == fmt_pct(second.test_accuracy, 2)


def test_without_runs_the_page_points_to_train(app) -> None:  # noqa: F811
    at = app().run()
    at.switch_page(RUNS).run()
    assert not at.exception, at.exception
    assert any("No finished run yet" in i.value for i in at.info)


def test_run_again_with_one_change_then_compare_the_pair(app) -> None:  # noqa: F811
    at = app().run()
    train(at, 2e-3)
    at.switch_page(RUNS).run()
    at.selectbox(key="ab_knob").set_value("lr").run()
    at.selectbox(key="ab_value_lr").set_value(0.1).run()
    assert any("learning rate 0.002 → 0.1" in m.value and "same seed" in m.value for m in at.markdown)
    at.button(key="ab_start").click().run()
    assert not at.exception, at.exception
    run_until_done(at)
    at.switch_page(RUNS).run()
    assert not at.exception, at.exception
    a, b = session(at).book.records()
    assert b.parent == a.run_id and b.change == "learning rate 0.002 → 0.1"
    assert b.config == a.config.replace(lr=0.1)
    assert b.batch_losses[0] == a.batch_losses[0]  # the same first batch: a pair
    assert at.dataframe[0].value["change"].tolist() == ["", "learning rate 0.002 → 0.1"]
    assert at.selectbox(key="cmp_a").value == a.run_id and at.selectbox(key="cmp_b").value == b.run_id
    assert any("Run 2 repeats Run 1 with **learning rate 0.002 → 0.1**" in m.value for m in at.markdown)
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert "Confusion matrix of Run 2 minus Run 1" in titles
    assert "Accuracy per true digit: Run 2 minus Run 1" in titles
    assert "Unit 0 of the first layer in both runs (one colour scale)" in titles
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Test accuracy Run 1"] == fmt_pct(a.test_accuracy, 2)
    flipped = int(tiles["Wrong → right"].replace(",", "")) - int(tiles["Right → wrong"].replace(",", ""))
    assert flipped == round((b.test_accuracy - a.test_accuracy) * 1000)  # the synthetic test set has 1,000 digits


def test_an_uploaded_model_is_kept_beside_the_trained_runs(app) -> None:  # noqa: F811
    at = app().run()
    train(at, 2e-3)
    if session(at)._view is None:  # the Train page builds the model view when it shows the Download button
        at.switch_page("app_pages/train.py").run()
    data = model_file(session(at)._view)  # what that button serves when clicked
    at.file_uploader(key="upload_model").set_value(("mine.npz", data, "application/octet-stream"))
    at.run()
    at.switch_page(RUNS).run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["Run 1", "mine.npz"] and table["status"].tolist() == ["finished", "uploaded"]
    assert table["test acc"].iloc[0] == table["test acc"].iloc[1]  # the same weights
