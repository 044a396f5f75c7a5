"""The "why did it answer that" sections in a real browser: one of each, on a model trained on the real MNIST.

Calibration and a mistake's contrast on Evaluate; switching a filter off, the prototypes and the nearest
training digits on Inspect; "why not another digit" and the flip on Draw. Screenshots go to /tmp/shots/.
"""

from __future__ import annotations

import re

import pytest

from nn.presets import get_preset
from nn.serialize import save_model
from nn.trainer import Trainer
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


def settle(page, ms: int = 800) -> None:
    page.wait_for_timeout(ms)
    wait_for_app_idle(page, 120)


def metric(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).first.inner_text()


def test_each_why_section_answers_in_the_browser(server, mnist, tmp_path) -> None:
    config = get_preset("quick").replace(epochs=1)
    trainer = Trainer(config, mnist.x_train, mnist.y_train)
    trainer.run()
    model_file = tmp_path / "quick.npz"
    save_model(model_file, trainer.model, {"train_config": config.to_dict()})  # keeps its validation split

    with browser_page(height=1100) as page:
        page.goto(f"{server}/train")
        settle(page)
        page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(str(model_file))
        settle(page, 1500)

        goto_page(page, "Evaluate")
        settle(page)
        open_section(page, "Confidence")
        chart_in_place(page, "Before temperature scaling", timeout=60)
        assert re.search(r"\d+\.\d{3}$", metric(page, "Temperature T").strip())
        assert chart_in_place(page, "After dividing the scores by T").count() == 1
        open_section(page, "Mistakes")
        click_point(page, chart_titled(page, "mistakes;"), 0)
        page.get_by_text("Why this mistake?").wait_for()
        chart_titled(page, "each pixel's share of the score gap").wait_for(timeout=30_000)
        chart_titled(page, "The new picture").wait_for(timeout=30_000)
        screenshot_all(page, "why-1-evaluate.png")

        goto_page(page, "Inspect")
        settle(page)
        open_section(page, "Prototypes")
        chart_titled(page, "as the network would draw it").wait_for(timeout=60_000)
        open_section(page, "Nearest neighbours")
        chart_titled(page, "In hidden 1 it looks like").wait_for(timeout=60_000)
        open_section(page, "Switch units off")
        assert metric(page, "Answers changed").split()[-1] == "0"
        click_button(page, "Switch off")
        chart_titled(page, "Confusion matrix change").wait_for(timeout=30_000)
        assert page.get_by_text(re.compile(r"Off now:.*hidden 1: unit \d+")).count() == 1
        screenshot_all(page, "why-2-inspect.png")
        click_button(page, "Reset")
        page.get_by_text("Nothing is switched off yet").wait_for(timeout=30_000)

        goto_page(page, "Draw a digit")
        settle(page)
        page.get_by_text("MNIST digit").first.click()
        settle(page)
        open_section(page, "Why not another")
        chart_titled(page, "each pixel's share of the score gap").wait_for(timeout=60_000)
        chart_titled(page, "The change that makes it a").wait_for(timeout=30_000)
        open_section(page, "Nearest neighbours")
        chart_titled(page, "In pixels it looks like").wait_for(timeout=30_000)
        screenshot_all(page, "why-3-draw.png")
