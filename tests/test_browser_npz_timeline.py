"""In a real browser: the Runs page's .npz (made when clicked) keeps the run's timeline, and uploading it
brings back Evaluate's epoch slider.

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
    screenshot_all,
    shot_path,
    wait_for_app_idle,
)
from tests.test_browser_timeline import main_text, press, slider_thumb, tile_value, train_to_the_end

pytestmark = [pytest.mark.browser, pytest.mark.realdata]

CONFIG = PRESETS["quick"].replace(epochs=2, train_subset=3000)


def download(page, label: str):
    """Click ``label`` and return the download. A click that lands while the page redraws itself can be lost
    (seen once in CI under load, the download never started); then a second click must bring it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(2):
        try:
            with page.expect_download(timeout=30_000) as info:
                click_button(page, label)
            return info.value
        except PlaywrightTimeout:
            if attempt:
                raise
            wait_for_app_idle(page, 60)


def test_the_runs_page_download_keeps_the_timeline_and_an_upload_brings_the_slider_back() -> None:
    from nn.serialize import load_model

    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(CONFIG)))
    with app_server() as url, browser_page(height=1100) as page:
        page.goto(f"{url}/train?{query}")
        wait_for_app_idle(page, 90)
        train_to_the_end(page)

        goto_page(page, "Runs")
        page.get_by_text("Curves side by side").wait_for(timeout=60_000)
        wait_for_app_idle(page, 60)
        saved = shot_path("runs-page-run.npz")
        download(page, "Download .npz").save_as(saved)
        _, meta = load_model(saved)
        kinds = [c.kind for c in meta["timeline"]]
        assert kinds[0] == "start" and kinds[-1] == "epoch" and meta["timeline"][-1].position == 2

        goto_page(page, "Train")
        page.get_by_role("button", name="Reset", exact=True).first.click()
        page.get_by_text("The quick preset trains in 5-10 seconds").first.wait_for(timeout=30_000)  # reset done
        wait_for_app_idle(page, 60)  # a file given to the uploader during a rerun can be lost
        page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(saved)
        page.get_by_text("Loaded runs-page-run.npz").wait_for(timeout=30_000)
        wait_for_app_idle(page, 60)

        goto_page(page, "Evaluate")
        page.get_by_text("Epoch shown").wait_for(timeout=60_000)
        wait_for_app_idle(page, 60)
        text = main_text(page)
        assert "no timeline" not in text and "Showing the uploaded model" in text
        accuracy_at_end = tile_value(page, "Test accuracy")
        press(page, slider_thumb(page, "Epoch shown"), "Home", "() => location.search.includes('epoch=0')")
        wait_for_app_idle(page, 60)
        assert "the uploaded model, at the random start (epoch 0 of 2)" in main_text(page)
        assert tile_value(page, "Test accuracy") < 40 < accuracy_at_end
        assert re.search(r"epoch=0\b", page.url)
        screenshot_all(page, "npz-timeline-uploaded-at-start.png")
