"""Evaluate and Inspect in a real browser, after a quick training through the Train page.

Clicks a confusion-matrix cell, opens a misclassified digit, opens a filter and a point of the layer
map. Screenshots go to /tmp/shots/ (outside the repository) for a human to look at.
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
    chart_in_place,
    click_button,
    goto_page,
    open_section,
    screenshot_all,
    wait_for_app_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.realdata]


@pytest.fixture(scope="module")
def server():
    with app_server() as url:
        yield url


def charts(page):
    return page.locator('[data-testid="stPlotlyChart"]')


def chart_titled(page, title: str):
    return charts(page).filter(has=page.locator(".gtitle", has_text=title)).first


def click_point(page, chart, n: int) -> None:
    """Click the n-th scatter point of a chart (the invisible click targets are scatter points too)."""
    point = chart.locator(".scatterlayer .point").nth(n)
    point.scroll_into_view_if_needed()
    box = point.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_timeout(300)
    wait_for_app_idle(page)


def selectbox_value(page, label: str) -> str:
    box = page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first
    return box.locator('input[role="combobox"]').input_value().strip()


def test_explain_pages_after_a_quick_training(server) -> None:
    query = knobs_to_query(config_to_knobs(PRESETS["quick"].replace(epochs=1)))
    with browser_page() as page:
        page.goto(server)  # the entrypoint first: a fresh server serves deep links once navigation is set up
        wait_for_app_idle(page, 90)
        page.goto(f"{server}/train?{urllib.parse.urlencode(query)}")
        wait_for_app_idle(page, 90)
        click_button(page, "Start")
        page.locator('[data-testid="stSidebar"]').get_by_text("finished").wait_for(timeout=180_000)

        goto_page(page, "Evaluate")
        chart_in_place(page, "Confusion matrix", timeout=60)
        wait_for_app_idle(page)
        accuracy = page.locator('[data-testid="stMetric"]').filter(has_text="Test accuracy").inner_text()
        assert re.search(r"\d+\.\d\d%", accuracy)
        screenshot_all(page, "explain-1-evaluate.png")

        # Click the confusion cell (true 4, predicted 9): click targets run row by row, 10 per row.
        click_point(page, chart_in_place(page, "Confusion matrix"), 4 * 10 + 9)
        assert selectbox_value(page, "True digit") == "4"
        assert selectbox_value(page, "Predicted digit") == "9"
        assert (page.get_by_text("No test digit is a 4 predicted as 9").count() == 1
                or chart_in_place(page, "True 4, predicted 9").count() == 1)
        screenshot_all(page, "explain-2-confusion-cell.png")

        # Open the most confident mistake.
        open_section(page, "Mistakes")
        click_point(page, chart_titled(page, "mistakes;"), 0)
        link = page.get_by_text(re.compile(r"Follow digit #\d+ through the network"))
        link.wait_for(timeout=30_000)
        index = re.search(r"#(\d+)", link.inner_text()).group(1)
        assert chart_titled(page, f"Test digit #{index}").count() == 1
        screenshot_all(page, "explain-3-misclassified-digit.png")

        # Inspect opens that digit (in its section), then a filter and a point of the layer map.
        link.click()
        chart_titled(page, f"Test digit #{index}").wait_for(timeout=60_000)
        wait_for_app_idle(page)
        assert "in_section=Through" in page.url
        screenshot_all(page, "explain-4-inspect.png")

        open_section(page, "Filters")  # its charts are drawn in place (frames of their own)
        click_point(page, chart_in_place(page, "First-layer filters"), 3)
        unit = page.locator('[data-testid="stNumberInput"]').filter(has_text="Unit").locator("input").input_value()
        assert chart_in_place(page, f"Unit {unit}: its weight from each pixel").count() == 1

        open_section(page, "Layer map")
        layer_map = chart_in_place(page, "principal components")
        click_point(page, layer_map, 25)
        page.get_by_text("Follow this digit through the network").wait_for(timeout=30_000)
        screenshot_all(page, "explain-5-inspect-clicked.png")
