"""In a real browser: train twice with different learning rates, compare them on Runs, scrub the timeline on Evaluate.

Screenshots go to /tmp/shots/ (outside the repository) for a human to look at.
"""

from __future__ import annotations

import re
import urllib.parse

import pytest

from lab.params import config_to_knobs, knobs_to_query
from nn.presets import PRESETS
from tests.browser import (
    app_server,
    browser_page,
    click_button,
    goto_page,
    live_chart,
    screenshot_all,
    wait_for_app_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

CONFIG = PRESETS["quick"].replace(epochs=3, train_subset=5000, lr=2e-3)


@pytest.fixture(scope="module")
def server():
    with app_server(env={"MNIST_MAX_TRAININGS": "2"}) as url:
        yield url


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def train_to_the_end(page) -> None:
    click_button(page, "Start")
    page.get_by_text(re.compile(r"s per epoch, validation included")).first.wait_for(timeout=120_000)
    wait_for_app_idle(page, 60)


def press(page, thumb, key: str, until: str, arg=None) -> None:
    """Press ``key`` on a slider until the JS predicate ``until`` holds (a key pressed during a rerun can be lost)."""
    for attempt in range(3):
        thumb.focus()
        page.keyboard.press(key)
        try:
            page.wait_for_function(until, arg=arg, timeout=15_000)
            return
        except Exception:  # retried; the last attempt raises
            if attempt == 2:
                raise
            wait_for_app_idle(page, 60)


def slider_thumb(page, label: str):
    return page.locator('[data-testid="stSlider"]').filter(has_text=label).locator('input[type="range"]').first


def test_train_twice_compare_and_scrub_the_timeline(server) -> None:
    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(CONFIG)))
    with browser_page(height=1100) as page:
        page.goto(f"{server}/train?{query}")
        wait_for_app_idle(page, 90)
        train_to_the_end(page)
        # the live view of the network: 24 filters and 12 digits, in the second live-chart component
        for n in range(2):  # drawn when in view: scrolled to, as a user would
            live_chart(page, n, component=1).wait_for(timeout=30_000)
        watch = page.frame_locator('iframe[title*="live_charts"] >> nth=1')
        assert watch.locator(".raster canvas").count() == 2 and watch.locator(".raster .label").count() == 12
        assert watch.locator(".raster-title").first.inner_text() == "First-layer filters of units 0-23"
        screenshot_all(page, "timeline-1-first-run.png")

        # the second run: the learning-rate knob one notch up (0.002 -> 0.003), then Start again
        press(page, slider_thumb(page, "Learning rate"), "ArrowRight", "() => location.search.includes('lr=0.003')")
        wait_for_app_idle(page, 60)
        train_to_the_end(page)

        goto_page(page, "Runs")
        page.get_by_text("Curves side by side").wait_for(timeout=60_000)
        wait_for_app_idle(page, 60)
        table = page.locator('[data-testid="stDataFrame"]').first
        table.wait_for()
        text = main_text(page)
        assert "2 of 8 runs kept" in text
        page.get_by_text("Confusion matrix of Run 2 minus Run 1").first.wait_for(timeout=30_000)  # drawn by plotly
        screenshot_all(page, "timeline-2-runs-compared.png")

        goto_page(page, "Evaluate")
        page.get_by_text("Epoch shown").wait_for(timeout=60_000)
        wait_for_app_idle(page, 60)
        assert "at epoch 3 of 3" in main_text(page) and "epoch=3" in page.url
        accuracy_at_end = tile_value(page, "Test accuracy")
        thumb = slider_thumb(page, "Epoch shown")
        press(page, thumb, "Home", "() => location.search.includes('epoch=0')")  # the random start
        wait_for_app_idle(page, 60)
        assert "the random start (epoch 0 of 3)" in main_text(page)
        assert tile_value(page, "Test accuracy") < 40 < accuracy_at_end
        screenshot_all(page, "timeline-3-evaluate-at-start.png")
        seen = []
        for _ in range(5):  # through the points inside epoch 1, then its end
            press(page, thumb, "ArrowRight", "(before) => location.search !== before", page.evaluate("location.search"))
            wait_for_app_idle(page, 60)
            seen.append((re.search(r"epoch=([\d.]+)", page.url).group(1), tile_value(page, "Test accuracy")))
        assert [s[0] for s in seen][-1] == "1"
        assert seen[-1][1] > seen[0][1]  # the model at epoch 1 beats the one 1/16 into it
        screenshot_all(page, "timeline-4-evaluate-at-epoch-1.png")
        goto_page(page, "Inspect")
        page.get_by_text("First-layer filters · epoch 1 of 3").wait_for(timeout=60_000)
        assert "epoch=1" in page.url


def tile_value(page, label: str) -> float:
    tile = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return float(re.search(r"([\d.]+)%", tile.inner_text()).group(1))


def test_the_runs_page_adds_a_run_when_it_ends_without_a_click(server) -> None:
    # about 5 s on a quiet machine (0.12 s an epoch): long enough to switch pages and see it training there
    config = PRESETS["quick"].replace(epochs=40, train_subset=20_000)
    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(config)))
    with browser_page(height=1000) as page:
        page.goto(f"{server}/train?{query}")
        wait_for_app_idle(page, 90)
        click_button(page, "Start")
        # the run has started (the click's rerun done) before the page is left
        page.locator('[data-testid="stSidebar"]').get_by_text("training").first.wait_for(timeout=60_000)
        goto_page(page, "Runs")
        page.get_by_text(re.compile(r"Run 1 is training \(epoch")).wait_for(timeout=60_000)
        # nothing pressed from here: the page redraws itself once the run has ended
        page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=180_000)
        assert "is training" not in main_text(page)
        assert "1 of 8 runs kept" in main_text(page)
        screenshot_all(page, "timeline-runs-auto-refresh.png")
