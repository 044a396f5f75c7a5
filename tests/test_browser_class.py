"""A class in real browsers: a teacher and two students in three browser contexts on one server. Both students'
runs appear on the teacher's leaderboard, a challenge filters them, and a broadcast reaches both. A reload
keeps a student's name (the token in the address); the teacher's downloads switch lets a student download
the other's finished run."""

from __future__ import annotations

import re
import time
import urllib.parse

import pytest

from lab.class_identity import QUERY_KEY
from lab.params import config_to_knobs, knobs_to_query
from nn.presets import PRESETS
from nn.serialize import load_model
from tests.browser import app_server, chromium, click_button, goto_page, new_page, screenshot_all, wait_for_app_idle

pytestmark = [pytest.mark.browser, pytest.mark.realdata]
KEY = "teacher-key-for-the-test"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("class-data")
    with app_server(env={"MNIST_CLASS": "1", "MNIST_CLASS_KEY": KEY, "MNIST_DATA_DIR": str(data)}) as url:
        yield url


def quick_link(server: str, **changes) -> str:
    knobs = {**config_to_knobs(PRESETS["quick"]), **changes}
    return f"{server}/train?{urllib.parse.urlencode(knobs_to_query(knobs))}"


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def train(page, server: str, **changes) -> None:
    page.goto(quick_link(server, **changes))  # a settings link, as a teacher would hand out
    wait_for_app_idle(page, 60)
    click_button(page, "Start")


def rename(page, name: str) -> None:
    """On the Class page, reached through the sidebar (a new URL would be a new session, a new student)."""
    goto_page(page, "Class")
    wait_for_app_idle(page, 60)
    page.get_by_label("Your name", exact=True).fill(name)
    page.get_by_role("button", name="Change my name").click()
    page.get_by_text(f"You appear on the leaderboard as: {name}").wait_for()


def wait_finished(page, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while "finished" not in sidebar(page):
        assert time.monotonic() < deadline, sidebar(page)
        page.wait_for_timeout(500)


def board_text(page) -> str:
    return page.locator('[data-testid="stDataFrame"]').first.text_content() or ""


def test_a_teacher_and_two_students(server) -> None:
    with chromium() as browser:
        teacher, ada, grace = (new_page(browser) for _ in range(3))
        teacher.goto(f"{server}/classroom")
        wait_for_app_idle(teacher, 60)
        teacher.get_by_text("Teacher", exact=True).first.click()  # the expander (captions also say teacher)
        teacher.get_by_label("Teacher key", exact=True).fill("not the key")
        teacher.get_by_role("button", name="Unlock teacher controls").click()
        teacher.get_by_text("That is not the teacher key.").wait_for()
        teacher.get_by_label("Teacher key", exact=True).fill(KEY)
        teacher.get_by_role("button", name="Unlock teacher controls").click()
        teacher.get_by_role("button", name="Pause the class's queue").wait_for()
        assert KEY not in teacher.url

        train(ada, server)
        train(grace, server, hidden=(16,))
        wait_finished(ada)
        wait_finished(grace)
        rename(ada, "Ada")
        rename(grace, "Grace")
        teacher.wait_for_timeout(4000)  # the leaderboard's next tick
        board = board_text(teacher)
        assert re.search(r"Ada.*784-128-10", board) and re.search(r"Grace.*784-16-10", board), board
        assert board.count("finished") == 2, board

        # A challenge only Grace's small network meets filters the board to her run.
        teacher.get_by_label("Target (parameter limit, or accuracy to reach as 0-1)", exact=True).fill("20000")
        teacher.get_by_role("button", name="Set challenge").click()
        wait_for_app_idle(teacher)
        teacher.locator('[data-testid="stSelectbox"]').filter(has_text="Show").locator("input").click()
        teacher.keyboard.type("Best test accuracy with at most")
        teacher.keyboard.press("Enter")
        teacher.wait_for_timeout(1500)
        board = board_text(teacher)
        assert "Grace" in board and "784-16-10" in board and "Ada" not in board, board
        screenshot_all(teacher, "class-teacher.png")

        # A broadcast reaches both students' sidebars.
        teacher.get_by_label("Message", exact=True).fill("Look at the overfitting lesson now")
        teacher.get_by_role("button", name="Send to everyone").click()
        for student in (ada, grace):
            student.get_by_text("Look at the overfitting lesson now").wait_for(timeout=20_000)
        screenshot_all(grace, "class-student.png")

        # A reload of the same address is the same student: the token stayed in it through the page switches.
        assert f"{QUERY_KEY}=" in ada.url and KEY not in ada.url
        ada.reload()
        wait_for_app_idle(ada, 60)
        ada.get_by_text("You appear on the leaderboard as: Ada").wait_for()

        # Downloads: Grace has only her own run until the teacher allows everyone's.
        goto_page(grace, "Class")
        wait_for_app_idle(grace, 60)
        assert "Ada" not in run_choices(grace)
        teacher.get_by_text("Students may download each other's finished runs").click()
        wait_for_app_idle(teacher)
        teacher.get_by_role("heading", name="Downloads").scroll_into_view_if_needed()
        screenshot_all(teacher, "class-teacher-downloads.png")
        grace.wait_for_timeout(4000)  # the leaderboard's next tick
        pick_run(grace, "Ada")
        with grace.expect_download() as info:
            grace.get_by_role("button", name="Download .npz").click()
        model, meta = load_model(info.value.path())
        assert model.config.hidden == (128,) and "Ada" not in str(meta)


def run_choices(page) -> str:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Run to download")
    return box.inner_text() if box.count() else ""


def pick_run(page, name: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text="Run to download")
    box.locator("input").click()
    page.get_by_role("option").filter(has_text=name).first.click()
    wait_for_app_idle(page)
