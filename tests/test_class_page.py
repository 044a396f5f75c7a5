"""The Class page through AppTest, several sessions on one server: runs appear on everyone's leaderboard,
names are rendered as text, students have no teacher controls and a wrong key is refused and rate-limited,
the teacher's challenge, pause and broadcast reach the students, and a corrupt store leaves the app working."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import data as dashboard_data
from lab import reaper
from lab.class_settings import store_path
from lab.limiter import get_limiter
from tests.test_app_pages import APP, start_tiny_run, synthetic_mnist

KEY = "correct horse battery"
HOSTILE = "<b>x</b> **y** [z](j:1)"  # 22 characters: within the name limit
UNLOCK = "FormSubmitter:class_key_form-Unlock teacher controls"
RENAME = "FormSubmitter:class_name_form-Change my name"


@pytest.fixture
def classroom(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("MNIST_CLASS", "1")
    monkeypatch.setenv("MNIST_CLASS_KEY", KEY)
    monkeypatch.setenv("MNIST_DATA_DIR", str(tmp_path))
    st.cache_data.clear()
    st.cache_resource.clear()
    dashboard_data._holder().dataset = synthetic_mnist()
    yield lambda: AppTest.from_file(APP, default_timeout=60)
    reaper.stop_all()
    get_limiter().hold = None
    st.cache_resource.clear()


def class_page(at: AppTest) -> AppTest:
    return at.switch_page("app_pages/classroom.py").run()


def wait_for_run_end(at: AppTest, timeout: float = 60) -> None:
    run = at.session_state["_mnist_session"].run
    deadline = time.monotonic() + timeout
    while run.is_active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not run.is_active


def markup(at: AppTest) -> str:
    """Everything rendered as Markdown (where a name must never appear)."""
    return " ".join(str(e.value) for kind in ("markdown", "caption", "success", "error", "info", "warning")
                    for e in at.get(kind))


def keys(at: AppTest) -> set[str]:
    """Buttons by key; the CSV download (no typed accessor) by its label."""
    downloads = {"btn_class_csv" for e in at.get("download_button") if e.proto.label == "Download as CSV"}
    return {b.key for b in at.button} | downloads


def unlock(at: AppTest, key: str) -> AppTest:
    at.text_input(key="class_key_input").input(key)
    return at.button(key=UNLOCK).click().run()


def test_runs_appear_on_everyones_leaderboard_and_names_stay_text(classroom) -> None:
    alice, bob = classroom(), classroom()
    alice.run()
    class_page(alice)
    alice.text_input(key="class_name_input").input(HOSTILE)
    alice.button(key=RENAME).click().run()
    assert not alice.exception
    assert [t.value for t in alice.text] == [f"You appear on the leaderboard as: {HOSTILE}"]
    start_tiny_run(alice)
    wait_for_run_end(alice)
    bob.run()
    class_page(bob)
    board = bob.dataframe[0].value
    assert list(board["Name"]) == [HOSTILE]
    assert board["State"].iloc[0] == "finished" and board["Test acc"].iloc[0].endswith("%")
    assert HOSTILE not in markup(bob) and "<b>" not in markup(bob) and HOSTILE not in markup(alice)


def test_students_have_no_teacher_controls_and_wrong_keys_are_refused_then_limited(classroom) -> None:
    bob = classroom()
    bob.run()
    class_page(bob)
    assert not {"btn_class_pause", "btn_class_csv", "btn_broadcast_clear"} & keys(bob)
    unlock(bob, "wrong")
    assert [e.value for e in bob.error] == ["That is not the teacher key."]
    for _ in range(5):
        unlock(bob, "still wrong")
    unlock(bob, KEY)
    assert bob.error[0].value.startswith("Too many wrong keys")
    assert not {"btn_class_pause", "btn_class_csv"} & keys(bob)
    assert KEY not in str(dict(bob.query_params))


def test_the_teacher_sets_a_challenge_pauses_the_queue_and_broadcasts(classroom) -> None:
    teacher, student = classroom(), classroom()
    teacher.run()
    class_page(teacher)
    unlock(teacher, KEY)
    assert {"btn_class_pause", "btn_class_csv", "btn_broadcast_clear"} <= keys(teacher)
    teacher.number_input(key="class_challenge_target").set_value(0.5)
    teacher.selectbox(key="class_challenge_kind").set_value("fewest_epochs_to")
    teacher.button(key="FormSubmitter:class_challenge_form-Set challenge").click().run()
    assert "50.0% validation accuracy in the fewest epochs" in [t.value for t in teacher.text]
    teacher.button(key="btn_class_pause").click().run()
    assert get_limiter().hold() is True
    # A student's run waits while the class is paused, and starts when the teacher resumes.
    student.run()
    start_tiny_run(student)
    time.sleep(0.5)
    assert student.session_state["_mnist_session"].run.phase == "waiting"
    teacher.button(key="btn_class_pause").click().run()
    wait_for_run_end(student)
    # The challenge filters the board: the student's run reached 50% on the easy synthetic digits.
    class_page(student)
    student.selectbox(key="class_board_filter").set_value("50.0% validation accuracy in the fewest epochs").run()
    assert list(student.dataframe[0].value["Rank"]) == [1]
    # The broadcast reaches the student's sidebar, with a button to the lesson.
    teacher.text_input(key="class_broadcast_text").input("Everyone: try the overfitting lesson")
    teacher.selectbox(key="class_broadcast_lesson").set_value("overfitting")
    teacher.button(key="FormSubmitter:class_broadcast_form-Send to everyone").click().run()
    time.sleep(1.1)  # the settings cache's time to live
    student.run()
    assert "Everyone: try the overfitting lesson" in [t.value for t in student.sidebar.text]
    student.button(key="btn_broadcast_open").click().run()
    assert student.session_state["_lesson_progress"].current == "overfitting"


def test_a_corrupt_store_turns_the_class_off_and_the_app_keeps_working(classroom) -> None:
    path = store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not SQLite" * 200)
    at = classroom()
    at.run()
    class_page(at)
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("The class features are off:") and str(path) in error.value
    start_tiny_run(at)
    wait_for_run_end(at)
    assert at.session_state["_mnist_session"].run.phase == "finished"
    assert path.read_bytes() == b"this is not SQLite" * 200


def test_without_a_class_there_is_no_class_page_and_no_broadcast(monkeypatch) -> None:
    monkeypatch.delenv("MNIST_CLASS", raising=False)
    st.cache_resource.clear()
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception and not at.sidebar.get("text")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        class_page(at)
