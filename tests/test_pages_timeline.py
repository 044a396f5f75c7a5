"""The one epoch slider through AppTest: Evaluate, Inspect and Draw rewind to the same point, named and in the URL."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from lab.evaluation import evaluate, to_test_data
from lab.format import fmt_pct
from lab.timeline import model_at
from nn.config import ModelConfig, TrainConfig
from nn.trainer import Trainer
from tests.test_pages_explain import app, bars_dataset, dataset, trained_view, with_view  # noqa: F401

CONFIG = TrainConfig(model=ModelConfig(hidden=(24, 16)), epochs=3, batch_size=64, lr=3e-3, val_size=300, seed=1)


@pytest.fixture(scope="module")
def run(dataset):  # noqa: F811
    trainer = Trainer(CONFIG, dataset.x_train, dataset.y_train)
    trainer.run()
    return trainer


def timeline_view(trainer: Trainer):
    view = trained_view(trainer, version="r9-test:141")
    view.timeline, view.epochs_planned = trainer.timeline, trainer.config.epochs
    view.meta = {"train_config": trainer.config.to_dict()}
    return view


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def accuracy_at(trainer: Trainer, dataset, index: int) -> str:  # noqa: F811
    model = model_at(trainer.config.model, trainer.timeline[index])
    return fmt_pct(evaluate(model, to_test_data(dataset.x_test, dataset.y_test)).accuracy, 2)


def timeline_slider(at: AppTest):
    """The epoch slider (its key carries the number of points: "timeline_slider:8")."""
    [slider] = [s for s in at.get("select_slider") if s.key.startswith("timeline_slider:")]
    return slider


def query(at: AppTest, name: str):
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def test_the_slider_rewinds_evaluate_and_every_page_keeps_the_point(app, run, dataset) -> None:  # noqa: F811
    at = with_view(app(), timeline_view(run))
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    slider = timeline_slider(at)
    assert list(slider.options) == ["start", "epoch 1 · batch 3/43", "epoch 1 · batch 5/43", "epoch 1 · batch 11/43",
                      "epoch 1 · batch 22/43", "epoch 1", "epoch 2", "epoch 3"]
    assert slider.value == 7
    assert tiles(at)["Test accuracy"] == accuracy_at(run, dataset, 7)
    assert any("budget" in c.value and "8 copies of the whole network" in c.value for c in at.caption)

    slider.set_value(5).run()  # epoch 1
    assert not at.exception, at.exception
    assert tiles(at)["Test accuracy"] == accuracy_at(run, dataset, 5)
    assert any("at epoch 1 of 3" in c.value for c in at.caption)
    assert any("Confusion matrix · epoch 1 of 3" in h.value for h in at.header)
    assert query(at, "epoch") == "1"

    at.switch_page("app_pages/inspect.py").run()
    assert not at.exception, at.exception
    assert timeline_slider(at).value == 5
    assert any("First-layer filters · epoch 1 of 3" in h.value for h in at.header)
    at.switch_page("app_pages/draw.py").run()
    assert not at.exception, at.exception
    assert timeline_slider(at).value == 5

    timeline_slider(at).set_value(0).run()  # the random start: about chance
    at.switch_page("app_pages/evaluate.py").run()
    assert tiles(at)["Test accuracy"] == accuracy_at(run, dataset, 0)
    assert any("the random start (epoch 0 of 3)" in c.value for c in at.caption)


def test_a_position_in_the_url_is_adopted_and_a_bad_one_refused_in_one_line(app, run, dataset) -> None:  # noqa: F811
    at = with_view(app(), timeline_view(run))
    at.query_params["epoch"] = "0.12"  # nearest: batch 5 of 43 (0.116)
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    assert tiles(at)["Test accuracy"] == accuracy_at(run, dataset, 2)
    assert any("epoch 1 of 3, after batch 5 of 43" in c.value for c in at.caption)

    at.query_params["epoch"] = "1e999; drop"
    at.run()
    assert not at.exception, at.exception
    warnings = [w.value for w in at.warning if "epoch=" in w.value]
    assert len(warnings) == 1 and "newest weights" in warnings[0]
    assert tiles(at)["Test accuracy"] == accuracy_at(run, dataset, 7)


def test_a_model_without_a_timeline_says_so_and_shows_its_weights(app, run) -> None:  # noqa: F811
    at = with_view(app(), trained_view(run, version="upload:x"))
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    assert not [s for s in at.get("select_slider") if s.key.startswith("timeline_slider")]
    assert any("no timeline" in c.value for c in at.caption)


def test_a_run_trained_on_the_train_page_has_its_timeline_on_evaluate(app) -> None:  # noqa: F811
    from tests.test_app_pages import run_until_done, session, start_tiny_run

    at = app().run()
    start_tiny_run(at, epochs=2)
    run_until_done(at)
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    slider = timeline_slider(at)
    assert slider.options[0] == "start" and slider.options[-1] == "epoch 2" and slider.value == len(slider.options) - 1
    assert any("the model you trained, at epoch 2 of 2" in c.value for c in at.caption)
    slider.set_value(0).run()
    assert query(at, "epoch") == "0"
    view = session(at)._view
    start = model_at(view.model.config, view.timeline[0])
    X = bars_dataset().x_test.reshape(-1, 784).astype(np.float32) / 255
    wrong = int((start.predict(X) != bars_dataset().y_test).sum())
    assert tiles(at)["Mistakes"] == f"{wrong:,}"


def test_a_stale_slider_value_arriving_with_a_fragments_timer_run_does_not_pin_a_live_page(monkeypatch) -> None:
    """Seen in chromium: 20 s into a run, Evaluate's slider left "newest" for an old epoch by itself (the note's
    2 s timer sent the browser's value from before the last redraw), and "Show the newest weights" kept it there."""
    from types import SimpleNamespace

    import dashboard.timeline as tl

    points = [object()] * 6 + [None]
    key = f"{tl.SLIDER}:7"
    state = {tl.POSITION: None, key: 4}  # the browser's echo: the slider's far right two redraws ago
    monkeypatch.setattr(tl, "st", SimpleNamespace(session_state=state))
    monkeypatch.setattr(tl, "_in_fragment_rerun", lambda: True)
    tl._picked(points, key)
    assert state[tl.POSITION] is None  # still following the newest weights
    monkeypatch.setattr(tl, "_in_fragment_rerun", lambda: False)  # a full rerun: the learner moved it
    points[4] = SimpleNamespace(position=2.0)
    tl._picked(points, key)
    assert state[tl.POSITION] == 2.0


def test_the_slider_is_a_new_widget_whenever_the_timeline_grows(app, run) -> None:  # noqa: F811
    """A value the browser sends from before a redraw (a click or a page switch racing the live run's redraw)
    must not move the slider: seen in chromium, a live run's Inspect stuck at "epoch 22 of 30" when it ended.
    Each number of points has its own widget, so such a value belongs to a widget that is gone."""
    view = timeline_view(run)
    view.timeline = list(run.timeline[:6])
    at = with_view(app(), view)
    at.switch_page("app_pages/evaluate.py").run()
    assert timeline_slider(at).key.endswith(":7") and timeline_slider(at).value == 6  # 6 checkpoints and "now"
    view.timeline = list(run.timeline)  # the run went on
    at.run()
    assert not at.exception, at.exception
    assert timeline_slider(at).key.endswith(":8") and timeline_slider(at).value == 7  # still the newest
    assert at.session_state["timeline_position"] is None
    at.run()
    assert "timeline_slider:7" not in at.session_state  # the gone widget's value does not pile up
