"""Fashion-MNIST in the app: chosen on the Train page (and in the URL), every page's labels follow (clothes,
not digits), changing the dataset puts the other dataset's model away, and a missing package says how to
install it while MNIST stays."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data as dashboard_data
from lab import reaper
from lab.labels import DIGITS, label, labels, labels_for, noun
from nn.data.fashion import CLASS_NAMES
from tests.test_app_pages import APP, start_tiny_run, synthetic_mnist

PAGES = ["app_pages/data.py", "app_pages/evaluate.py", "app_pages/inspect.py", "app_pages/step.py"]


def fake_fashion():
    data = synthetic_mnist(n_train=3000, n_test=600)
    return type(data)(x_train=data.x_train, y_train=data.y_train, x_test=data.x_test, y_test=data.y_test,
                      source="synthetic fashion", verified=False, cache_path=None)


@pytest.fixture
def app(monkeypatch, tmp_path: Path):
    st.cache_data.clear()
    st.cache_resource.clear()
    dashboard_data._holder().dataset = synthetic_mnist()
    yield
    reaper.stop_all()
    st.cache_resource.clear()


def specs(at: AppTest) -> str:
    """The JSON of every chart on the page, Streamlit's and those drawn in place (dashboard/live_charts.py)."""
    return " ".join([e.proto.spec for e in at.get("plotly_chart")]
                    + [text for e in at.get("component_instance") if e.proto.component_name.endswith("live_charts")
                       for text in json.loads(e.proto.json_args)["figures"]])


def test_labels_follow_the_context_and_default_to_digits() -> None:
    assert labels() == DIGITS and noun() == "digit"
    with labels_for(CLASS_NAMES, "item"):
        assert label(9) == "Ankle boot" and noun() == "item"
    assert label(9) == "9"


def test_every_page_labels_clothes_after_choosing_fashion(app) -> None:
    dashboard_data._other_holder("fashion").dataset = fake_fashion()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="dataset_pick").set_value("fashion").run()
    assert at.query_params["data"] == "fashion"
    start_tiny_run(at, epochs=1)
    run = at.session_state["_mnist_session"].run
    assert run._images is dashboard_data._other_holder("fashion").dataset.x_train  # trains on the choice
    deadline = time.monotonic() + 60
    while run.is_active and time.monotonic() < deadline:
        time.sleep(0.1)
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        shown = specs(at)
        assert "Ankle boot" in shown and "Sneaker" in shown, page
    at.switch_page("app_pages/evaluate.py").run()
    assert '"predicted item"' in specs(at)
    # Back to MNIST: the Fashion model is put away and the digits come back.
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="dataset_pick").set_value("mnist").run()
    assert at.session_state["_mnist_session"].run is None
    assert "data" not in at.query_params
    at.switch_page("app_pages/data.py").run()
    assert "Ankle boot" not in specs(at) and "Images per digit" in specs(at)


def test_a_link_opens_the_app_on_fashion(app) -> None:
    dashboard_data._other_holder("fashion").dataset = fake_fashion()
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params["data"] = "fashion"
    at.switch_page("app_pages/data.py").run()
    assert "Ankle boot" in specs(at)


def test_without_the_package_the_choice_says_how_to_install_it(app, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path))  # an empty folder: nothing installed
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("app_pages/train.py").run()
    box = at.selectbox(key="dataset_pick")
    assert box.format_func("fashion").endswith("(not installed)")
    assert any("apt-get install dataset-fashion-mnist" in c.value for c in at.caption)
    box.set_value("fashion").run()
    assert not at.exception
    assert at.selectbox(key="dataset_pick").value == "mnist"
    assert "apt-get install dataset-fashion-mnist" in at.error[0].value
    assert "data" not in at.query_params
