"""The Train page's rough edges, in a real browser: step by step, a diverged run, an upload, the tiles' row,
learning-rate marks, the header, and the opened digit on Evaluate.

Screenshots go to $MNIST_SHOTS_DIR (default /tmp/shots/) for a human to look at.
"""

from __future__ import annotations

import re
import time
import urllib.parse

import pytest

from lab.params import config_to_knobs, knobs_to_query
from nn.config import ModelConfig
from nn.presets import PRESETS
from tests.browser import (
    app_server,
    browser_page,
    click_button,
    goto_page,
    live_chart,
    open_section,
    screenshot_all,
    shot_path,
    wait_for_app_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.realdata]


@pytest.fixture(scope="module")
def server():
    with app_server(env={"MNIST_MAX_TRAININGS": "2"}) as url:
        yield url


def open_train(page, server: str, **changes) -> None:
    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(PRESETS["quick"].replace(**changes))))
    page.goto(f"{server}/train?{query}")
    wait_for_app_idle(page, 90)


def sidebar(page):
    return page.locator('[data-testid="stSidebar"]')


def button(page, label: str):
    """The button labelled ``label`` (Streamlit draws each button twice in the DOM: take the first)."""
    return page.locator('[data-testid="stButton"] button, [data-testid="stDownloadButton"] button').filter(
        has_text=re.compile(rf"^(\w+\s*)?{re.escape(label)}$")).first


def tile(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).first.inner_text()




def test_step_look_step_keeps_the_buttons_and_the_sidebar_right(server) -> None:
    with browser_page(width=1440, height=1000) as page:
        open_train(page, server, epochs=4, train_subset=5000)
        click_button(page, "+1 epoch")  # no run yet: a new run, paused after its first epoch
        for epoch in (1, 2, 3):
            sidebar(page).get_by_text(f"epoch {epoch}/4").wait_for(timeout=60_000)
            sidebar(page).get_by_text("paused").wait_for(timeout=10_000)
            # Within a refresh of the live panel the buttons follow, without any click.
            button(page, "Resume").wait_for(timeout=5_000)
            wait_for_app_idle(page)  # until then the replaced Pause lingers in the DOM, hidden (0 px, stale)
            assert button(page, "+1 epoch").is_enabled() and button(page, "+1 batch").is_enabled()
            pause = page.locator("[data-testid=stButton] button").filter(has_text=re.compile("^Pause$"))
            assert pause.filter(visible=True).count() == 0
            assert re.search(rf"\b{epoch} / 4\b", tile(page, "Epoch"))
            assert f"epoch {epoch} of 4" in page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first.inner_text()
            screenshot_all(page, f"edges-1-step-{epoch}.png")
            if epoch < 3:
                click_button(page, "+1 epoch")
        click_button(page, "Resume")
        sidebar(page).get_by_text("finished").wait_for(timeout=60_000)
        button(page, "Start").wait_for(timeout=5_000)
        assert button(page, "Start").is_enabled() and not button(page, "Stop").is_enabled()
        assert "done" in page.locator('[data-testid="stMain"] [data-testid="stProgress"]').first.inner_text()


def test_a_run_that_explodes_at_once_draws_the_explosion_on_every_chart(server) -> None:
    with browser_page(width=1440, height=1000) as page:
        open_train(page, server, lr=1.0, optimizer="adam", model=ModelConfig(hidden=(512, 512)))
        click_button(page, "Start")
        page.get_by_text("Training diverged").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        lr = live_chart(page, 2)
        lr.wait_for(timeout=30_000)
        loss, epochs = live_chart(page, 0), live_chart(page, 1)
        page.wait_for_timeout(1000)
        assert loss.evaluate("el => el._fullData[0].y.length") >= 2  # the batches up to and including the explosion
        texts = loss.evaluate("el => (el.layout.annotations || []).map(a => a.text)")
        assert any("exploded" in t or "became" in t for t in texts), texts
        assert any("diverged" in t for t in epochs.evaluate("el => el.layout.annotations.map(a => a.text)"))
        assert lr.evaluate("el => el._fullData[0].y.length") >= 2
        assert any("diverged" in t for t in lr.evaluate("el => el.layout.annotations.map(a => a.text)"))
        screenshot_all(page, "edges-2-diverged.png")


def test_an_uploaded_model_is_the_whole_pages_model_at_once(server) -> None:
    with browser_page(width=1440, height=1000) as page:
        open_train(page, server, epochs=1, train_subset=2000)
        click_button(page, "Start")
        sidebar(page).get_by_text("finished").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        with page.expect_download(timeout=30_000) as download_info:
            click_button(page, "Download model (.npz)")
        saved = shot_path("edges-model.npz")
        download_info.value.save_as(saved)
        button(page, "Reset").click()  # the run's Reset, not "Reset settings to the defaults"
        sidebar(page).get_by_text("no model yet").wait_for(timeout=10_000)
        wait_for_app_idle(page)

        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(saved)
        page.get_by_text("Loaded edges-model.npz").wait_for(timeout=30_000)
        wait_for_app_idle(page)
        # No further interaction: everything on the page already agrees.
        assert page.get_by_text("Using the uploaded model").count() == 1
        assert page.get_by_text("Set the knobs (or pick a preset)", exact=False).count() == 0
        assert button(page, "Reset").is_enabled() and button(page, "Download model (.npz)").is_enabled()
        assert sidebar(page).get_by_text("uploaded model loaded").count() == 1
        assert "validation accuracy" in page.get_by_text("Loaded edges-model.npz").inner_text()
        screenshot_all(page, "edges-3-uploaded.png")

        goto_page(page, "Evaluate")
        page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        open_section(page, "Mistakes")
        gallery = page.locator('[data-testid="stPlotlyChart"]').filter(
            has=page.locator(".gtitle", has_text="mistakes;")).first
        point = gallery.locator(".scatterlayer .point").first
        point.scroll_into_view_if_needed()
        box = point.bounding_box()
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(300)
        wait_for_app_idle(page)
        digit = page.locator('[data-testid="stPlotlyChart"]').filter(
            has=page.locator(".gtitle", has_text=re.compile(r"^Test digit #\d+$"))).first
        digit.scroll_into_view_if_needed()
        digit.hover()  # plotly shows its toolbar on hover
        page.wait_for_timeout(500)
        title, bar = digit.locator(".gtitle").bounding_box(), digit.locator(".modebar").bounding_box()
        assert bar is not None and title is not None
        assert title["y"] >= bar["y"] + bar["height"] or title["x"] + title["width"] <= bar["x"], (title, bar)
        screenshot_all(page, "edges-4-evaluate-digit.png")


@pytest.mark.parametrize("width", [1280, 1440])
def test_the_tiles_fit_one_row_and_the_header_has_no_deploy_button(server, width: int) -> None:
    with browser_page(width=width, height=900) as page:
        open_train(page, server, epochs=2, train_subset=2000)
        click_button(page, "Start")
        sidebar(page).get_by_text("finished").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        page.wait_for_timeout(800)
        tops = page.locator('[data-testid="stMetric"]').evaluate_all(
            "els => els.map(e => Math.round(e.getBoundingClientRect().top))")
        assert len(tops) == 4 and len(set(tops)) == 1, tops
        assert page.locator('[data-testid="stAppDeployButton"]').count() == 0
        assert page.locator('[data-testid="stMainMenu"]').count() == 1  # the viewer's menu stays
        page.screenshot(path=shot_path(f"edges-5-tiles-{width}.png"))


def test_a_burst_of_learning_rate_changes_is_one_mark(server) -> None:
    with browser_page(width=1440, height=1000) as page:
        open_train(page, server, epochs=200, train_subset=20_000)
        click_button(page, "Start")
        page.locator('[data-testid="stMetric"]').filter(has_text=re.compile(r"\d+\.\d\d%")).first.wait_for(
            timeout=60_000)
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Learning rate now").locator(
            'input[type="range"]').first
        thumb.focus()
        for _ in range(3):  # three arrow-key presses, as a learner trying rates would
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(250)
        loss = live_chart(page, 0)
        deadline = time.monotonic() + 30
        marks = []
        while time.monotonic() < deadline:
            marks = loss.evaluate("el => (el.layout.annotations || []).map(a => a.text)"
                                  ".filter(t => t.startsWith('lr'))")
            if marks:
                break
            time.sleep(0.3)
        page.wait_for_timeout(2500)  # every change applied (each a few batches later)
        marks = loss.evaluate("el => (el.layout.annotations || []).map(a => a.text).filter(t => t.startsWith('lr'))")
        lines = loss.evaluate("el => (el.layout.shapes || []).filter(s => s.line && s.line.dash === 'dash').length")
        assert len(marks) == 1 and lines == 1, marks
        screenshot_all(page, "edges-6-lr-burst.png")
        click_button(page, "Stop")
