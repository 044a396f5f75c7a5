"""Watching a run learn: filters and a digit strip sampled between steps, slow motion, and the Train page's panel."""

from __future__ import annotations

import itertools
import json

import numpy as np
import plotly.colors
import pytest

from figures.live import PIXEL_PALETTE, digit_strip_figure, filter_scale, live_filters_figure
from figures.palette import DIVERGING_SCALE, VERDICT_COLORS
from figures.raster import Raster, raster_from_json
from lab import reaper
from lab.limiter import RunLimiter
from lab.live_watch import Watch, strip_indices
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.data import to_float
from nn.events import BatchEvent
from nn.trainer import Trainer
from tests.test_app_pages import app, run_until_done, session, start_tiny_run  # noqa: F401
from tests.test_timeline import IMAGES, LABELS, TEST_IMAGES, TEST_LABELS

CONFIG = TrainConfig(model=ModelConfig(hidden=(30,)), epochs=2, batch_size=50, val_size=100, seed=4)


class FakeClock:
    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class FakeCancel:
    """Records the waits slow motion asks for instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def wait(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return False


def strip():
    idx = strip_indices(TEST_LABELS)
    return to_float(TEST_IMAGES[idx]), TEST_LABELS[idx]


def test_the_strip_holds_one_digit_of_each_class_first() -> None:
    idx = strip_indices(TEST_LABELS)
    assert idx.size == 12 and list(idx) == sorted(idx)
    assert set(TEST_LABELS[idx]) == set(range(10))
    for k in range(10):
        assert np.flatnonzero(TEST_LABELS == k)[0] in idx


def test_samples_are_the_network_between_two_steps_at_most_once_an_interval() -> None:
    X, y = strip()
    # each event "takes" 0.2 s: a sample every third event
    watch = Watch(X, y, units=8, interval=0.5, clock=FakeClock(0.2))
    trainer: Trainer
    checked = []

    def callback(event) -> None:
        watch.on_event(trainer.model, event, step=trainer.step, epoch=trainer.epoch)
        sample = watch.latest()
        if sample is not None and sample.step == trainer.step and isinstance(event, BatchEvent):
            np.testing.assert_array_equal(sample.filters, trainer.model.weights[0][:, :8])
            np.testing.assert_array_equal(sample.proba, trainer.model.predict_proba(X))
            checked.append(sample.step)

    trainer = Trainer(CONFIG, IMAGES, LABELS, callback=callback)
    trainer.run()
    assert len(checked) == pytest.approx(2 * 16 / 3, abs=2)
    assert all(b - a >= 2 for a, b in itertools.pairwise(checked))  # never two samples within 0.5 s
    final = watch.latest()
    assert final.step == 32 and final.epoch == 2  # the end of the run is sampled too
    np.testing.assert_array_equal(final.filters, trainer.model.weights[0][:, :8])


def test_slow_motion_waits_out_each_batchs_share_of_a_second() -> None:
    X, y = strip()
    watch = Watch(X, y, clock=FakeClock(0.05))  # 50 ms between two calls
    watch.sampling = False
    watch.set_rate(5.0)
    cancel = FakeCancel()
    event = BatchEvent(epoch=1, batch=1, batches_per_epoch=10, step=1, loss=1.0, lr=0.1)
    for _ in range(4):
        watch.on_event(None, event, step=1, epoch=1, cancel=cancel)
    # 1/5 s per batch; 50 ms have passed since the last one each time (its wait included)
    assert cancel.waits == pytest.approx([0.15, 0.15, 0.15])
    watch.set_rate(None)
    watch.on_event(None, event, step=1, epoch=1, cancel=cancel)
    assert len(cancel.waits) == 3 and watch.latest() is None  # off: no wait; sampling off: no sample
    watch.set_rate(0)  # 0 is off, like None
    assert watch.rate is None
    for bad in (-1, float("nan"), 1e9, "fast"):
        with pytest.raises(ValueError):
            watch.set_rate(bad)


def test_a_training_run_feeds_its_watch_from_the_training_thread() -> None:
    X, y = strip()
    run = TrainingRun(CONFIG, IMAGES, LABELS, limiter=RunLimiter(2))
    run.watch = Watch(X, y)
    run.start()
    try:
        assert run.join(30)
        sample = run.watch.latest()
        model, _ = run.model_copy()
        assert sample.step == 32
        np.testing.assert_array_equal(sample.filters, model.weights[0][:, :24])
    finally:
        reaper.stop_all()


def test_the_live_figures() -> None:
    _, y = strip()
    images = TEST_IMAGES[strip_indices(TEST_LABELS)]
    proba = np.full((12, 10), 0.01, np.float32)
    proba[np.arange(12), np.where(np.arange(12) < 7, y, (y + 1) % 10)] = 0.91  # 7 right, 5 wrong
    strip_fig = digit_strip_figure(images, y, proba)
    marks = strip_fig.labels
    assert [m.color for m in marks] == [VERDICT_COLORS["right"]] * 7 + [VERDICT_COLORS["wrong"]] * 5
    assert (marks[0].strong, marks[0].text) == (str(y[0]), "91%") and marks[7].hover.endswith("(wrong)")
    # each digit's pixels as they are (0 white paper .. 255 black ink), inside the tile its label sits under
    x0, y0, w, h = marks[0].box
    assert (strip_fig.pixels[y0:y0 + h, x0:x0 + w] == images[0]).all()
    assert x0 < marks[0].x < x0 + w and marks[0].y > y0 + h
    tile = strip_fig.rgba()[y0:y0 + h, x0:x0 + w]
    assert (tile[images[0] == 0] == (255, 255, 255, 255)).all()  # white paper, opaque
    assert (tile[images[0] == images[0].max()][:, :3] < 40).all()  # the strongest ink near black
    assert tuple(PIXEL_PALETTE[255][:3]) == (0, 0, 0) and tuple(PIXEL_PALETTE[0][:3]) == (255, 255, 255)
    blank = digit_strip_figure(images, y, None)  # before a run: no answers yet, the same layout
    assert (blank.pixels == strip_fig.pixels).all() and {m.strong for m in blank.labels} == {""}
    assert [m.box for m in blank.labels] == [m.box for m in marks]
    weights = np.random.default_rng(0).normal(size=(784, 24))
    filters = live_filters_figure(weights)
    assert filters.title == "First-layer filters of units 0-23" and filters.legend.ticks == ("−max", "0", "+max")
    # one byte per pixel: unit 0's first weight, on the shared scale; zero is the scale's white middle
    bound = filter_scale(weights)
    assert bound == pytest.approx(np.quantile(np.abs(weights), 0.999), rel=1e-3)
    assert filters.pixels[0, 0] == round(np.clip(weights[0, 0] / bound, -1, 1) * 127) + 127
    assert tuple(filters.palette[127][:3]) == (247, 247, 247)
    assert filters.palette[255][3] == 0 and filters.pixels[0, 28] == 255  # the gap between tiles: see-through
    # the colours a plotly heatmap of the same levels draws: red below zero, blue above
    scale = plotly.colors.get_colorscale(DIVERGING_SCALE)
    assert filters.palette[0][:3].tolist() == list(plotly.colors.unlabel_rgb(scale[0][1]))
    assert filters.palette[254][:3].tolist() == list(plotly.colors.unlabel_rgb(scale[-1][1]))
    # nothing but the pixels depends on the weights
    twice = live_filters_figure(2 * weights)
    assert (twice.title, twice.legend, twice.pixels.shape) == (filters.title, filters.legend, filters.pixels.shape)
    with pytest.raises(ValueError):
        live_filters_figure(np.zeros((100, 3)))


def test_a_raster_travels_as_json_and_back() -> None:
    _, y = strip()
    fig = digit_strip_figure(TEST_IMAGES[strip_indices(TEST_LABELS)], y, np.full((12, 10), 0.1, np.float32))
    text = fig.to_json()
    back = raster_from_json(text)
    assert (back.pixels == fig.pixels).all() and (back.palette == fig.palette).all()
    assert (back.title, back.labels, back.legend, back.zoom) == (fig.title, fig.labels, fig.legend, fig.zoom)
    assert len(text) < 1.4 * fig.pixels.size + 8000  # one byte per pixel in base64, plus the labels
    assert raster_from_json(live_filters_figure(np.ones((784, 4))).to_json()).legend is not None
    assert raster_from_json('{"data": [], "layout": {}}') is None  # a plotly figure
    with pytest.raises(ValueError):
        Raster("bad", np.zeros((2, 2), np.float32), fig.palette, 1.0)


def test_the_train_page_shows_them_live_and_sets_slow_motion(app) -> None:  # noqa: F811
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    [before] = [e for e in at.get("component_instance") if e.key == "live_watch"]  # drawn before any run
    assert "appear here when a run starts" in json.loads(before.proto.json_args)["captions"][0]
    start_tiny_run(at, epochs=1)
    run = session(at).run
    assert run.watch is not None and run.watch.rate is None and run.watch.sampling
    run_until_done(at)
    watch = [e for e in at.get("component_instance") if e.key == "live_watch"]
    assert len(watch) == 1
    args = json.loads(watch[0].proto.json_args)
    titles = [json.loads(f)["raster"]["title"] for f in args["figures"]]
    assert titles == ["First-layer filters of units 0-23", "The network's answers for 12 test digits"]
    assert args["captions"][0].startswith("Epoch 1, step ") and " of 12 right." in args["captions"][1]
    at.select_slider(key="live_slow").set_value(2.0).run()
    assert run.watch.rate == 2.0
    at.toggle(key="live_watch_on").set_value(False).run()
    assert not run.watch.sampling and not [e for e in at.get("component_instance") if e.key == "live_watch"]
    at.switch_page("app_pages/train.py").run()
    at.button(key="btn_start").click().run()
    second = session(at).run
    assert second is not run and second.watch.rate == 2.0 and not second.watch.sampling
    second.stop()


def test_an_uploaded_model_shows_its_own_filters_and_answers(app) -> None:  # noqa: F811
    from dashboard.session import SessionData, uploaded_view
    from nn.model import MLP

    model = MLP(ModelConfig(hidden=(30,)), np.random.default_rng(3))
    at = app()
    at.session_state["_mnist_session"] = SessionData(uploaded=uploaded_view(model, {}, b"a model file"))
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    [watch] = [e for e in at.get("component_instance") if e.key == "live_watch"]
    args = json.loads(watch.proto.json_args)
    assert args["captions"][0].startswith("The uploaded model.")
    filters = raster_from_json(args["figures"][0])
    assert filters.title == "First-layer filters of units 0-23"
    assert filters.pixels[0, 0] == round(np.clip(model.weights[0][0, 0] / filter_scale(model.weights[0][:, :24]),
                                                 -1, 1) * 127) + 127
    from dashboard.explain import test_data

    data = test_data()
    idx = strip_indices(data.labels)
    right = int((model.predict(data.X[idx]) == data.labels[idx]).sum())
    assert f"The uploaded model: {right} of 12 right." in args["captions"][1]
