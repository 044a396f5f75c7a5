"""Step through in a real browser: from a mistake on Evaluate, click a unit, take 3 steps, check gradients.

Screenshots go to /tmp/shots/ (outside the repository) for a human to look at.
"""

from __future__ import annotations

import re
import time
import urllib.parse

import pytest

from lab.params import config_to_knobs, knobs_to_query
from nn.presets import PRESETS
from tests.browser import (
    app_server,
    browser_page,
    chart_in_place,
    click_button,
    goto_page,
    open_section,
    screenshot_all,
    wait_for_app_idle,
)
from tests.test_browser_explain import chart_titled, click_point

pytestmark = [pytest.mark.browser, pytest.mark.realdata]


@pytest.fixture(scope="module")
def server():
    with app_server() as url:
        yield url


def test_step_through_a_mistake_click_a_unit_take_three_steps_and_check_the_gradient(server) -> None:
    query = knobs_to_query(config_to_knobs(PRESETS["quick"].replace(epochs=1)))
    with browser_page() as page:
        page.goto(server)
        wait_for_app_idle(page, 90)
        page.goto(f"{server}/train?{urllib.parse.urlencode(query)}")
        wait_for_app_idle(page, 90)
        click_button(page, "Start")
        page.locator('[data-testid="stSidebar"]').get_by_text("finished").wait_for(timeout=180_000)

        goto_page(page, "Evaluate")
        chart_in_place(page, "Confusion matrix", timeout=60)
        wait_for_app_idle(page)
        open_section(page, "Mistakes")
        click_point(page, chart_titled(page, "mistakes;"), 0)
        link = page.get_by_text(re.compile(r"Step through a training step on digit #\d+"))
        link.wait_for(timeout=30_000)
        index = re.search(r"#(\d+)", link.inner_text()).group(1)
        link.click()
        network = chart_titled(page, "The network for this digit")
        network.wait_for(timeout=60_000)
        wait_for_app_idle(page)
        # the link's digit fills the box (the page may still be catching up with the URL under load)
        from playwright.sync_api import expect

        expect(page.locator('[data-testid="stTextInput"] input').first).to_have_value(index, timeout=30_000)
        assert chart_titled(page, f"Test digit #{index}").count() == 1
        screenshot_all(page, "step-1-from-a-mistake.png")

        # Click a unit: the markers of the picture follow its edges; 16 input pixels, then layer 1's units.
        started = time.perf_counter()
        click_point(page, network, 16 + 5)
        page.get_by_text(re.compile(r"1\. Forward: layer 1, unit \d+")).wait_for(timeout=30_000)
        header = page.get_by_text(re.compile(r"1\. Forward: layer 1, unit \d+")).inner_text()
        unit = re.search(r"unit (\d+)", header).group(1)
        print(f"click to a new unit rendered in {time.perf_counter() - started:.2f} s")
        assert chart_titled(page, f"layer 1, unit {unit} selected").count() == 1  # the picture agrees
        screenshot_all(page, "step-2-unit-clicked.png")

        for n in range(1, 4):
            click_button(page, "Take this step")
            page.get_by_text(re.compile(rf"Step {n}: loss on these digits")).wait_for(timeout=30_000)
        text = page.get_by_text(re.compile(r"Step 3: loss on these digits")).inner_text()
        before, after = (float(v) for v in re.findall(r"(\d+\.\d+)", text)[:2])
        assert after < before  # a step against the gradient lowers the loss on these digits
        screenshot_all(page, "step-3-three-steps.png")

        click_button(page, "Check 20 random weights")
        page.get_by_text("relative error").first.wait_for(timeout=30_000)
        wait_for_app_idle(page)
        assert page.get_by_text(re.compile(r"They agree|does not change the loss|disagree")).count() >= 1
        screenshot_all(page, "step-4-gradient-check.png")
