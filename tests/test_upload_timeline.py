"""A downloaded run, uploaded again, keeps its timeline: the same epoch slider, the same numbers at each point."""

from __future__ import annotations

import io

from streamlit.testing.v1 import AppTest

from dashboard.train_view import model_file
from lab.evaluation import evaluate, to_test_data
from lab.format import fmt_pct
from lab.timeline import model_at
from nn.config import ModelConfig, TrainConfig
from nn.serialize import save_model
from nn.trainer import Trainer
from tests import page_sections
from tests.page_sections import open_section
from tests import test_app_pages, test_pages_explain
from tests.test_app_pages import run_until_done, session, start_tiny_run
from tests.test_pages_timeline import timeline_slider

app = test_app_pages.app  # the synthetic dataset the Train page trains on
bars_app, dataset = test_pages_explain.app, test_pages_explain.dataset  # a fixed dataset for files made here
EVALUATE, INSPECT, TRAIN = "app_pages/evaluate.py", "app_pages/inspect.py", "app_pages/train.py"


def tiles(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def upload(at: AppTest, name: str, data: bytes) -> None:
    """Through the Train page's uploader, as a user would."""
    at.switch_page(TRAIN).run()
    box = next(u for u in at.get("file_uploader") if u.key.startswith("upload_model"))  # renamed after each upload
    box.set_value((name, data, "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert any(f"Loaded {name}" in s.value for s in at.success), [e.value for e in at.error]


def evaluate_at(at: AppTest, index: int) -> tuple[dict[str, str], list[str]]:
    """Evaluate's tiles and captions with the epoch slider at ``index``."""
    at.switch_page(EVALUATE).run()
    timeline_slider(at).set_value(index).run()
    assert not at.exception, at.exception
    return tiles(at), [c.value for c in at.caption]


def test_an_uploaded_run_has_the_same_slider_and_the_same_numbers_at_every_point(app) -> None:
    at = app().run()
    start_tiny_run(at, epochs=3)
    run_until_done(at)
    data = model_file(session(at)._view)  # what the Train page's Download button serves
    at.switch_page(EVALUATE).run()
    live_options = list(timeline_slider(at).options)
    assert live_options[0] == "start" and live_options[-1] == "epoch 3" and len(live_options) >= 6
    live = {i: evaluate_at(at, i)[0] for i in range(len(live_options))}

    at.switch_page(TRAIN).run()
    at.button(key="btn_reset").click().run()
    upload(at, "run.npz", data)
    view = session(at).uploaded
    assert view.source == "uploaded" and view.epochs_planned == 3 and "timeline" not in view.meta
    at.switch_page(EVALUATE).run()
    slider = timeline_slider(at)
    assert list(slider.options) == live_options and slider.value == len(live_options) - 1
    assert not any("no timeline" in c.value for c in at.caption)
    for i in range(len(live_options)):
        shown, captions = evaluate_at(at, i)
        assert shown == live[i], (live_options[i], shown, live[i])  # accuracy, mistakes, ... at each point
    epoch_1 = live_options.index("epoch 1")
    _, captions = evaluate_at(at, epoch_1)
    assert any("Showing the uploaded model, at epoch 1 of 3" in c for c in captions), captions
    assert any("Confusion matrix · epoch 1 of 3" in h.value for h in at.header)

    at.switch_page(INSPECT).run()
    assert not at.exception, at.exception
    assert timeline_slider(at).value == epoch_1  # the point chosen on Evaluate
    notes = " ".join(i.value for i in at.info) + " ".join(c.value for c in at.caption)
    for missing in ("no timeline", "has none", "no training history"):
        assert missing not in notes, notes
    assert at.select_slider(key="in_epoch").options == ["0", "1", "2", "3"]  # the filters' evolution
    open_section(at, page_sections.INSPECT, "Weights and gradients")
    notes = " ".join(i.value for i in at.info)
    assert "no training history" not in notes, notes
    assert any("Weight norm per layer" in c.proto.spec for c in at.get("plotly_chart"))  # the norms


def file_of(trainer: Trainer) -> bytes:
    buffer = io.BytesIO()
    save_model(buffer, trainer.model, {"train_config": trainer.config.to_dict()}, history=trainer.result.history,
               snapshots=trainer.snapshots, timeline=trainer.timeline)
    return buffer.getvalue()


def test_two_uploaded_files_rewind_each_to_its_own_weights(bars_app, dataset) -> None:
    runs = []
    for lr in (3e-3, 3e-2):
        config = TrainConfig(model=ModelConfig(hidden=(24,)), epochs=2, batch_size=64, lr=lr, val_size=300, seed=2)
        trainer = Trainer(config, dataset.x_train, dataset.y_train)
        trainer.run()
        runs.append(trainer)
    test = to_test_data(dataset.x_test, dataset.y_test)
    point = [c.kind for c in runs[0].timeline].index("epoch")  # the end of epoch 1, in both runs
    expected = []
    for trainer in runs:
        result = evaluate(model_at(trainer.config.model, trainer.timeline[point]), test)
        expected.append((fmt_pct(result.accuracy, 2), f"{int((result.predicted != dataset.y_test).sum()):,}"))
    assert expected[0] != expected[1]  # otherwise a stale model could not show
    at = bars_app().run()
    for name, trainer, (accuracy, mistakes) in zip(("a.npz", "b.npz"), runs, expected):
        upload(at, name, file_of(trainer))
        shown, _ = evaluate_at(at, point)
        assert (shown["Test accuracy"], shown["Mistakes"]) == (accuracy, mistakes), name


def test_the_epochs_planned_come_from_the_files_settings_else_from_how_far_its_timeline_reaches() -> None:
    import numpy as np

    from lab.saved_model import epochs_planned
    from nn.trainer.telemetry import Checkpoint

    reach = [Checkpoint(0, 4, "start", np.zeros(1)), Checkpoint(10, 4, "end", np.zeros(1))]  # 2.5 epochs
    assert epochs_planned({"train_config": {"epochs": 8}}, reach) == 8
    assert epochs_planned({"train_config": {"epochs": 2}}, reach) == 3  # never "epoch 3 of 2"
    for junk in ({}, {"train_config": "8"}, {"train_config": {"epochs": "8"}}, {"train_config": {"epochs": True}},
                 {"train_config": {"epochs": -1}}):
        assert epochs_planned(junk, reach) == 3
    assert epochs_planned({}, []) == 0
