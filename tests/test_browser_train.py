"""The real thing in a real browser: train the quick preset, switch pages while it trains, stop, download.

Screenshots go to /tmp/shots/ (outside the repository) for a human to look at.
"""

from __future__ import annotations

import re
import time
import urllib.parse

import numpy as np
import pytest

from lab.params import config_to_knobs, knobs_to_query
from nn.presets import PRESETS
from tests.browser import (
    app_server,
    browser_page,
    click_button,
    goto_page,
    live_chart,
    require_browser,
    screenshot_all,
    shot_path,
    streamlit_server,
    wait_for_app_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.realdata]


@pytest.fixture(scope="module")
def server():
    with app_server(env={"MNIST_MAX_TRAININGS": "2"}) as url:
        yield url


def sidebar_text(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def epochs_done(page) -> int:
    found = re.search(r"epoch (\d+)/(\d+)", sidebar_text(page))
    return int(found.group(1)) if found else -1


def assert_live_charts_update_in_place(page) -> None:
    """Three charts in the live-chart component; the loss chart gets new batches without being remounted."""
    live_chart(page, 2).wait_for(timeout=30_000)  # the last one, scrolled into view
    loss = live_chart(page, 0)  # and back to the first
    loss.wait_for(timeout=30_000)
    assert page.frame_locator('iframe[title*="live_charts"] >> nth=0').locator(".js-plotly-plot").count() == 3
    loss.evaluate("el => { el.dataset.probe = 'kept'; }")  # a remounted chart would be a new node
    drawn = "el => JSON.stringify(el.data[0].y)"  # the batch losses the chart shows now
    seen = loss.evaluate(drawn)
    deadline = time.monotonic() + 30
    while loss.evaluate(drawn) == seen:
        assert time.monotonic() < deadline, "the loss chart did not move while the run trained"
        time.sleep(0.3)
    assert loss.evaluate("el => el.dataset.probe") == "kept"


def assert_a_chart_out_of_view_waits_until_seen(page) -> None:
    """Scrolled out of the window, the loss chart is not redrawn; back in view, it catches up with the run."""
    loss = live_chart(page, 0)
    batches = "el => JSON.stringify(el.data[0].y)"  # the batch losses it shows
    live_chart(page, 1, component=1).wait_for(timeout=30_000)  # the strip of digits, at the page's bottom
    box, height = loss.bounding_box(), page.viewport_size["height"]
    assert box["y"] + box["height"] <= 0 or box["y"] >= height, (box, height)  # the loss chart is out of view
    page.wait_for_timeout(1500)  # any redraw under way has landed
    hidden = loss.evaluate(batches)
    page.wait_for_timeout(3000)  # six ticks of the live charts
    assert loss.evaluate(batches) == hidden
    loss = live_chart(page, 0)  # back in view
    deadline = time.monotonic() + 30
    while loss.evaluate(batches) == hidden:
        assert time.monotonic() < deadline, "the loss chart did not catch up when it came back into view"
        time.sleep(0.3)


EPOCHS, SUBSET = 200, 20_000  # the most epochs the Train page allows


def test_train_quick_preset_switch_pages_stop_and_download(server) -> None:
    # The quick preset with more images and far more epochs than the test waits for: a quick epoch takes
    # a fraction of a second, and the run must still be going when the test comes back to stop it.
    query = knobs_to_query(config_to_knobs(PRESETS["quick"].replace(epochs=EPOCHS, train_subset=SUBSET)))
    with browser_page() as page:
        # The fresh server's very first visit opens a page URL directly: the app's frame must still load.
        page.goto(f"{server}/train?{urllib.parse.urlencode(query)}")
        wait_for_app_idle(page, 90)
        assert f"subset={SUBSET}" in page.url and f"epochs={EPOCHS}" in page.url  # the link carries the setup
        page.locator('[data-testid="stSidebar"]').get_by_text("no model yet").wait_for(timeout=30_000)
        assert "Evaluate" in sidebar_text(page)
        screenshot_all(page, "browser-1-train-ready.png")

        click_button(page, "Start")
        # Watch the accuracy appear: the Val accuracy tile turns from n/a into a percentage.
        tile = page.locator('[data-testid="stMetric"]').filter(has_text="Val accuracy")
        tile.filter(has_text=re.compile(r"\d+\.\d\d%")).first.wait_for(timeout=60_000)
        screenshot_all(page, "browser-2-training.png")
        assert "training" in sidebar_text(page)
        before = epochs_done(page)

        goto_page(page, "Data")  # leave while it trains
        page.get_by_text("What the digits look like").wait_for(timeout=60_000)
        wait_for_app_idle(page, 60)
        deadline = time.monotonic() + 60
        while epochs_done(page) <= before:  # the sidebar status keeps counting on this page
            assert time.monotonic() < deadline, "the run did not continue while another page was open"
            time.sleep(0.5)
        screenshot_all(page, "browser-3-data-while-training.png")

        goto_page(page, "Train")
        tile.filter(has_text=re.compile(r"\d+\.\d\d%")).first.wait_for(timeout=30_000)
        assert_live_charts_update_in_place(page)
        assert_a_chart_out_of_view_waits_until_seen(page)
        click_button(page, "Stop")
        page.locator('[data-testid="stSidebar"]').get_by_text("stopped").wait_for(timeout=10_000)
        stopped_at = epochs_done(page)
        assert 1 <= stopped_at < EPOCHS
        wait_for_app_idle(page)
        # The run's end redraws the buttons above the charts: the charts stay the same nodes (not mounted
        # afresh, which blanked them for a second while plotly.js loaded again).
        assert live_chart(page, 0).evaluate("el => el.dataset.probe") == "kept"
        screenshot_all(page, "browser-4-stopped.png")

        with page.expect_download(timeout=30_000) as download_info:
            click_button(page, "Download model (.npz)")
        target = shot_path("downloaded-model.npz")
        download_info.value.save_as(target)

        page.get_by_role("button", name="Reset", exact=True).first.click()  # the model is forgotten: its charts leave the page too
        charts = page.frame_locator('iframe[title*="live_charts"] >> nth=0').locator(".js-plotly-plot")
        page.get_by_text("The quick preset trains in 5-10 seconds").first.wait_for(timeout=30_000)
        deadline = time.monotonic() + 10
        while charts.count():
            assert time.monotonic() < deadline, "the live charts stayed after Reset"
            time.sleep(0.2)

    from nn.serialize import load_model

    model, _meta = load_model(target)
    assert model.config.hidden == PRESETS["quick"].model.hidden
    assert [w.shape for w in model.weights] == [(784, 128), (128, 10)]
    assert all(np.isfinite(w).all() for w in model.weights)


def test_a_closed_tab_frees_its_training_slot_for_the_next_in_line() -> None:
    """One slot on the server: a second visitor waits; closing the first tab stops its run, the second starts."""
    require_browser()
    from tests.browser import chromium, new_page

    long_run = knobs_to_query(config_to_knobs(PRESETS["quick"].replace(epochs=200)))
    short_run = knobs_to_query(config_to_knobs(PRESETS["quick"].replace(epochs=1, train_subset=1000)))
    env = {"MNIST_MAX_TRAININGS": "1", "MNIST_TAB_GONE_GRACE": "2"}
    with streamlit_server(env=env) as url, chromium() as browser:
        first = new_page(browser)
        first.goto(f"{url}/train?{urllib.parse.urlencode(long_run)}")
        wait_for_app_idle(first, 90)
        click_button(first, "Start")
        first.locator('[data-testid="stSidebar"]').get_by_text("training").wait_for(timeout=60_000)

        second = new_page(browser)  # another visitor: its own session and run
        second.goto(f"{url}/train?{urllib.parse.urlencode(short_run)}")
        wait_for_app_idle(second, 90)
        click_button(second, "Start")
        # The sidebar can say "waiting" a moment before the main panel's fragment has redrawn: wait for
        # the main panel's own notice rather than reading it right after the sidebar's.
        main = second.locator('[data-testid="stMain"]')
        main.get_by_text("waiting for a free training slot").first.wait_for(timeout=30_000)
        main.get_by_text(re.compile("number 1 in line")).first.wait_for(timeout=30_000)
        screenshot_all(second, "browser-5-waiting.png")

        first.context.close()  # the first visitor closes the tab mid-run
        # Its run is stopped after the reconnect grace period; the waiting run gets the slot and finishes.
        second.locator('[data-testid="stSidebar"]').get_by_text("finished").wait_for(timeout=90_000)
        screenshot_all(second, "browser-6-after-orphan-stopped.png")
