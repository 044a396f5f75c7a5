"""The Lessons page through AppTest: commit a prediction, set up the run through the Train page's URL state,
train it, and the check on the learner's own run marks the lesson done in the session and the URL; a link
resumes; a run with other settings is not judged."""

from __future__ import annotations

import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data as dashboard_data
from tests.test_app_pages import APP, synthetic_app, synthetic_mnist


@pytest.fixture
def app():
    with synthetic_app() as make:
        yield make


def lessons_page(at: AppTest) -> AppTest:
    return at.switch_page("app_pages/lessons.py").run()


def wait_for_run_end(at: AppTest, timeout: float = 60) -> None:
    run = at.session_state["_mnist_session"].run
    deadline = time.monotonic() + timeout
    while run.is_active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not run.is_active


def texts(at: AppTest) -> str:
    return " ".join(str(e.value) for kind in ("markdown", "success", "error", "info", "caption")
                    for e in at.get(kind))


def test_a_lesson_from_prediction_to_a_passed_check(app) -> None:
    at = app()
    at.run()
    lessons_page(at)
    assert not at.exception
    at.selectbox(key="lesson_pick").set_value("lr-too-low").run()
    assert not [b for b in at.button if b.key == "btn_setup"], "the run is set up only after a prediction"
    at.radio(key="guess_lr-too-low_None").set_value(1).run()
    at.button(key="btn_commit").click().run()
    assert at.query_params["guess"] == "lr-too-low:1"
    at.button(key="btn_setup").click().run()
    # On the Train page, through its URL state: the lesson's knobs in the widgets and the address bar.
    assert [t.value for t in at.title] == ["Train a network"]
    assert at.query_params["lr"] == "0.0001" and at.query_params["optimizer"] == "sgd"
    assert at.select_slider(key="k_lr").value == 1e-4
    at.switch_page("app_pages/train.py").run()  # AppTest reruns its own page, not the one the app switched to
    assert at.select_slider(key="k_lr").value == 1e-4
    at.button(key="btn_start").click().run()
    wait_for_run_end(at)
    lessons_page(at)
    assert "Your run shows it." in texts(at)
    assert "Your prediction matches the lesson's answer." in texts(at)
    assert at.query_params["done"] == "lr-too-low"
    assert at.query_params["lesson"] == "lr-too-low"
    assert at.selectbox(key="lesson_pick").format_func("lr-too-low").startswith("✓")


def test_a_run_with_other_settings_is_not_judged(app) -> None:
    at = app()
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="k_subset").set_value(500)
    at.slider(key="k_epochs").set_value(1)
    at.run()
    at.button(key="btn_start").click().run()
    wait_for_run_end(at)
    at.query_params.update({"lesson": "overfitting", "guess": "overfitting:1"})
    lessons_page(at)
    assert "Your latest run is not this lesson's experiment." in texts(at)
    assert "epochs is 1, the lesson sets 40" in texts(at)
    assert "done" not in at.query_params


def test_a_link_resumes_where_the_learner_was() -> None:
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update({"lesson": "dropout", "guess": "dropout:1", "done": "lr-too-high,lr-too-low"})
    at.switch_page("app_pages/lessons.py").run()
    assert not at.exception
    assert at.selectbox(key="lesson_pick").value == "dropout"
    assert at.radio(key="guess_dropout_1").value == 1 and at.radio(key="guess_dropout_1").disabled
    assert "2 of " in texts(at)
    assert [b for b in at.button if b.key == "btn_setup"]


def commit_fashion_lesson(at: AppTest) -> None:
    lessons_page(at)
    at.selectbox(key="lesson_pick").set_value("fashion-harder").run()
    at.radio(key="guess_fashion-harder_None").set_value(1).run()
    at.button(key="btn_commit").click().run()


def test_a_fashion_lesson_sets_up_the_dataset_and_judges_the_fashion_run(app) -> None:
    dashboard_data._other_holder("fashion").dataset = synthetic_mnist()  # its own arrays, as large as the quick preset needs
    at = app()
    at.run()
    commit_fashion_lesson(at)
    assert "on Fashion-MNIST clothes" in texts(at)
    at.button(key="btn_setup").click().run()
    at.switch_page("app_pages/train.py").run()
    assert at.selectbox(key="dataset_pick").value == "fashion" and at.query_params["data"] == "fashion"
    at.button(key="btn_start").click().run()
    run = at.session_state["_mnist_session"].run
    assert run.dataset == "fashion" and run._images is dashboard_data._other_holder("fashion").dataset.x_train
    wait_for_run_end(at)
    lessons_page(at)
    # The synthetic "clothes" are as easy as the synthetic digits: judged, and honestly failed.
    assert "Your run did not show it." in texts(at)
    assert "best validation accuracy over the epochs (0-1): 1 (expected < 0.92): no" in texts(at)


def test_a_fashion_lesson_without_the_package_says_how_to_install_it(app, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))  # an empty folder: nothing installed
    at = app()
    at.run()
    commit_fashion_lesson(at)
    (warning,) = at.warning
    assert "apt-get install dataset-fashion-mnist" in warning.value
    at.button(key="btn_setup").click().run()
    assert not at.exception and [t.value for t in at.title] == ["Lessons"]  # not sent to Train
    assert "apt-get install dataset-fashion-mnist" in at.error[0].value
    assert at.session_state["_dataset_name"] == "mnist" and "data" not in at.query_params


def test_a_lesson_links_to_the_section_of_the_page_to_look_at(app) -> None:
    at = app()
    at.run()
    lessons_page(at)
    at.selectbox(key="lesson_pick").set_value("sigmoid-deep").run()
    at.radio(key="guess_sigmoid-deep_None").set_value(1).run()
    at.button(key="btn_commit").click().run()
    links = {link.proto.label: link.proto for link in at.get("page_link")}
    inspect = links["Inspect: Weights and gradients"]
    assert inspect.page.endswith("inspect") and "in_section=Weights+and+gradients" in inspect.query_string
    assert "Train" in links and not links["Train"].query_string  # a page without sections: a plain link
