"""With Fashion-MNIST chosen, no page says "digit" where it means the classes: every page (a tiny trained model,
a class running) is walked and everything it shows is read: text, Markdown, captions, widget labels, help and
options, metrics, and every figure's titles, axes, legends and hover texts. A sentence may say digit only
when it is explicitly about MNIST (names MNIST itself, not just Fashion-MNIST)."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import lab.labels as labels_module
from dashboard import data as dashboard_data
from lab import reaper
from lab.labels import DIGITS, label, noun
from nn.data.fashion import CLASS_NAMES
from tests.test_app_pages import APP, start_tiny_run, synthetic_mnist

PAGES = ["home", "data", "lessons", "train", "runs", "step", "classroom", "evaluate", "inspect", "draw"]
DIGIT = re.compile(r"(?<![\w$-])[Dd]igits?(?![\w-])")  # the word, not a widget key such as in_digit_box
ABOUT_MNIST = re.compile(r"(?<!Fashion-)MNIST")
SENTENCE_END = re.compile(r'[.!?]\s|\\n|\\"|"|\n')


def shown_text(node) -> list[str]:
    """Every string a page element carries (its proto as text: labels, help, bodies, figure JSON...)."""
    out = []
    proto = getattr(node, "proto", None)
    if proto is not None:
        out.append(str(proto))
    children = getattr(node, "children", None)
    for child in (children.values() if isinstance(children, dict) else []):
        out.extend(shown_text(child))
    return out


def sentence_around(text: str, start: int, end: int) -> str:
    left = max((m.end() for m in SENTENCE_END.finditer(text, 0, start)), default=0)
    right = next((m.start() for m in SENTENCE_END.finditer(text, end)), len(text))
    return text[left:right]


def digit_sentences(at: AppTest) -> list[str]:
    """Sentences that say digit without being about MNIST."""
    found = []
    for text in shown_text(at._tree):
        for m in DIGIT.finditer(text):
            sentence = sentence_around(text, m.start(), m.end())
            if not ABOUT_MNIST.search(sentence):
                found.append(sentence.strip()[:200])
    return sorted(set(found))


@pytest.fixture
def fashion_class(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("MNIST_CLASS", "1")
    monkeypatch.setenv("MNIST_CLASS_KEY", "a teacher key")
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    st.cache_data.clear()
    st.cache_resource.clear()
    dashboard_data._holder().dataset = synthetic_mnist()
    dashboard_data._other_holder("fashion").dataset = synthetic_mnist()  # its own arrays, labelled as clothes
    yield
    reaper.stop_all()
    st.cache_resource.clear()


def test_no_page_says_digit_on_fashion(fashion_class) -> None:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["data"] = "fashion"
    at.run()
    start_tiny_run(at, epochs=1)
    assert at.session_state["_mnist_session"].run.join(timeout=60)
    said = {}
    for page in PAGES:
        at.switch_page(f"app_pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        said[page] = digit_sentences(at)
    assert said == {page: [] for page in PAGES}
    # The Draw page says what it does on Fashion-MNIST, and reads a test item as stored.
    at.switch_page("app_pages/draw.py").run()
    assert [t.value for t in at.title] == ["Look at one item"]
    assert "Drawing and uploading are for handwritten digits" in at.info[0].value
    assert not [b for b in at.get("button_group") if b.proto.id.endswith("draw_source")]  # no canvas or upload
    figures = " ".join(e.proto.spec for e in at.get("plotly_chart"))
    assert "Ankle boot" in figures or "Sneaker" in figures


def test_the_walk_finds_digit_on_mnist(fashion_class) -> None:
    """The same reading finds the word where it belongs: the check above cannot pass by reading nothing."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/evaluate.py").run()  # no model yet: the page says so
    at.switch_page("app_pages/home.py").run()
    assert "Watch a neural network learn to read digits" in digit_sentences(at)


def test_labels_follow_the_session_in_a_thread_no_script_run_labelled() -> None:
    """A fragment's rerun can run in a fresh thread: the registered source names the classes there."""
    saved = list(labels_module._source)
    try:
        labels_module.follow(lambda: (CLASS_NAMES, "item"))
        got = []
        thread = threading.Thread(target=lambda: got.append((label(9), noun(plural=True), noun(article=True))))
        thread.start()
        thread.join()
        assert got == [("Ankle boot", "items", "an item")]
        labels_module.follow(lambda: 1 / 0)  # a source that fails is no source
        thread = threading.Thread(target=lambda: got.append(label(9)))
        thread.start()
        thread.join()
        assert got[-1] == DIGITS[9]
    finally:
        labels_module._source[:] = saved
