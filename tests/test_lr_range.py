"""The learning-rate range test on a fixed seed: its curve, its suggestion, and the Train page's button."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dashboard.lr_range_view import nearest_grid_lr
from figures.lr_range import range_test_figure
from nn.config import ModelConfig, TrainConfig
from nn.lr_range import STOP_FACTOR, lr_range_test
from nn.trainer import Trainer
from tests.test_app_pages import app  # noqa: F401
from tests.test_timeline import IMAGES, LABELS

CONFIG = TrainConfig(model=ModelConfig(hidden=(32,), dtype="float64"), batch_size=32, val_size=100, seed=5)


@pytest.fixture(scope="module")
def result():
    return lr_range_test(CONFIG, IMAGES, LABELS, steps=150, lr_max=100.0)  # Adam on these easy digits: explodes past ~1


def test_the_curve_on_a_fixed_seed(result) -> None:
    again = lr_range_test(CONFIG, IMAGES, LABELS, steps=150, lr_max=100.0)
    np.testing.assert_array_equal(again.losses, result.losses)
    n = result.losses.size
    np.testing.assert_allclose(result.lrs, 1e-6 * (100.0 / 1e-6) ** (np.arange(n) / 149))
    # its first batch is the run's first batch, on the run's initial weights
    trainer = Trainer(CONFIG.replace(epochs=1), IMAGES, LABELS, threads=1)
    trainer.run()
    assert result.losses[0] == pytest.approx(trainer.batch_losses[0], rel=1e-6)
    # it learned, then blew up and stopped
    assert result.smoothed.min() < 0.5 * result.losses[0]
    assert result.stopped_early and result.smoothed[-1] > STOP_FACTOR * result.smoothed.min()
    assert result.best_lr == result.lrs[np.argmin(result.smoothed)] and result.suggested_lr == result.best_lr / 10
    assert result.lrs[0] < result.suggested_lr < result.best_lr < result.lrs[-1]


def test_sgd_sweeps_higher_and_bad_arguments_are_refused() -> None:
    sgd = lr_range_test(CONFIG.replace(optimizer="sgd", lr=0.1), IMAGES, LABELS, steps=20, lr_min=1e-3)
    assert sgd.lrs[0] == 1e-3 and (sgd.stopped_early or sgd.lrs[-1] == pytest.approx(10.0))
    for kwargs in ({"steps": 5}, {"steps": True}, {"lr_min": 0.0}, {"lr_min": 1.0, "lr_max": 0.1},
                   {"lr_max": float("nan")}, {"lr_max": 1e9}):
        with pytest.raises(ValueError):
            lr_range_test(CONFIG, IMAGES, LABELS, **kwargs)


def test_the_chart_marks_the_suggestion_on_a_log_axis(result) -> None:
    fig = range_test_figure(result)
    assert fig.layout.xaxis.type == "log" and fig.layout.title.text.startswith("Learning-rate range test")
    assert "0.001" in fig.layout.xaxis.ticktext and "1" in fig.layout.xaxis.ticktext  # not 10^-3 with 2s and 5s
    assert [s.x0 for s in fig.layout.shapes] == [result.best_lr, result.suggested_lr]
    assert nearest_grid_lr(0.0031) == 3e-3 and nearest_grid_lr(7e-4) == 5e-4 and nearest_grid_lr(50.0) == 1.0


def test_the_train_page_runs_it_and_offers_the_suggestion(app) -> None:  # noqa: F811
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    at.select_slider(key="k_subset").set_value(1000).run()
    at.button(key="lr_range_run").click().run()
    assert not at.exception, at.exception
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert any(c["layout"]["title"]["text"].startswith("Learning-rate range test") for c in charts)
    use = at.button(key="lr_range_use")
    suggested = float(use.label.removeprefix("Use "))
    use.click().run()
    assert at.select_slider(key="k_lr").value == suggested
    assert not at.button(key="lr_range_use").disabled  # the learning rate is what the test is about
    at.select_slider(key="k_subset").set_value(2000).run()
    assert at.button(key="lr_range_use").disabled  # other settings changed: the old test no longer applies
    assert any("settings changed since this test" in c.value for c in at.caption)
