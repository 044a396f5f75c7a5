"""In a real browser: the server's run budget said before Start and as the reason a run stopped; an
uploaded model file leaves the upload box once read while the page keeps the result.

Screenshots go to /tmp/shots/ (outside the repository) for a human to look at.
"""

from __future__ import annotations

import pytest

from tests.browser import app_server, browser_page, click_button, screenshot_all, shot_path, wait_for_app_idle

pytestmark = [pytest.mark.browser, pytest.mark.realdata]


def test_budget_before_start_stop_reason_and_an_upload_that_leaves_the_box() -> None:
    with app_server(env={"MNIST_RUN_MAX_SECONDS": "3"}) as url, browser_page() as page:
        page.goto(f"{url}/train")
        wait_for_app_idle(page)
        main = page.locator('[data-testid="stMain"]')
        assert "This server stops a run after 3 s of training" in main.inner_text()
        click_button(page, "Start")  # the default preset: 8 epochs, far more than 3 s here
        stopped = page.get_by_text("Stopped: over the server's budget (3 s of training per run)")
        stopped.wait_for(timeout=90_000)
        wait_for_app_idle(page)
        page.wait_for_timeout(3000)
        screenshot_all(page, "budget-stopped.png")

        with page.expect_download(timeout=30_000) as download_info:
            click_button(page, "Download model (.npz)")
        saved = shot_path("budget-stopped-model.npz")
        download_info.value.save_as(saved)
        uploader = page.locator('[data-testid="stFileUploader"]')
        uploader.locator('input[type="file"]').set_input_files(saved)
        page.get_by_text("Loaded budget-stopped-model.npz").wait_for(timeout=30_000)
        wait_for_app_idle(page)
        # The box is empty again (a fresh uploader: no file listed), the result stays on the page.
        assert page.locator('[data-testid="stFileUploaderFile"]').count() == 0
        assert uploader.count() == 1
        screenshot_all(page, "upload-read-and-dropped.png")
