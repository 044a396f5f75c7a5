"""Figures of the Draw page, and the reading of one digit they show."""

from __future__ import annotations

import numpy as np
import pytest
from plotly.colors import get_colorscale

from figures import draw as fd
from figures.palette import DIGIT_COLORS, DIVERGING_SCALE, PIXEL_SCALE
from lab.drawing import CLOSE_WITHIN, NEAR_INK, UNSURE_BELOW, doubt_note, read_digit, saliency
from lab.preprocess import preprocess
from nn.config import ModelConfig
from nn.model import MLP


@pytest.fixture(scope="module")
def prep():
    picture = np.zeros((280, 280), np.uint8)
    picture[40:240, 120:150] = 255  # a thick vertical bar: a '1'
    picture[40:70, 80:150] = 255  # with a flag
    return preprocess(picture)


@pytest.fixture(scope="module")
def model():
    return MLP(ModelConfig(hidden=(12,)), np.random.default_rng(3))


def test_input_figure_shows_the_28x28_pixels_dark_on_light(prep) -> None:
    fig = fd.input_figure(prep.image, prep.centre_of_mass)
    heat = fig.data[0]
    assert heat.type == "heatmap"
    np.testing.assert_array_equal(np.asarray(heat.z), prep.image)
    assert (heat.zmin, heat.zmax) == (0, 255) and heat.colorscale[0][1] != heat.colorscale[-1][1]
    assert fig.layout.yaxis.range[0] > fig.layout.yaxis.range[1]  # row 0 at the top
    cross = fig.data[1]
    assert (cross.y[0], cross.x[0]) == pytest.approx(prep.centre_of_mass)
    boxes = {(s.x0, s.x1) for s in fig.layout.shapes}
    assert (3.5, 23.5) in boxes and (-0.5, 27.5) in boxes  # MNIST's 20x20 box and the 28x28 field


def test_input_figure_uses_the_app_pixel_scale(prep) -> None:
    fig = fd.input_figure(prep.image)
    assert [c[1] for c in fig.data[0].colorscale] == [c[1] for c in get_colorscale(PIXEL_SCALE)]
    assert len(fig.data) == 1  # no centre-of-mass marker unless asked


def test_input_figure_refuses_other_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(20, 20\)"):
        fd.input_figure(np.zeros((20, 20), np.uint8))


def test_probability_bars_use_the_digit_colours_and_outline_the_answer() -> None:
    proba = np.array([0.01, 0.02, 0.6, 0.3, 0.01, 0.01, 0.01, 0.02, 0.01, 0.01])
    fig = fd.probability_bars(proba)
    bar = fig.data[0]
    assert list(bar.marker.color) == list(DIGIT_COLORS)
    widths = list(bar.marker.line.width)
    assert widths[2] > 0 and sum(w > 0 for w in widths) == 1
    np.testing.assert_allclose(bar.y, proba)
    assert "2 at 60%" in fig.layout.title.text
    with pytest.raises(ValueError, match=r"\(9,\)"):
        fd.probability_bars(np.full(9, 1 / 9))


@pytest.mark.parametrize("p, text", [(0.9996, ">99.9%"), (0.997, ">99%"), (0.994, "99%"), (0.5, "50%"),
                                     (0.004, "<1%"), (0.0001, "<0.1%"), (0.0, "0%")])
def test_percent_never_rounds_to_certainty(p, text) -> None:
    assert fd.percent(p) == text


def test_saliency_is_the_input_gradient_on_a_diverging_scale(prep, model) -> None:
    sal = saliency(model, prep, 4)
    np.testing.assert_allclose(sal.gradient.ravel(), model.input_gradient(prep.x, 4)[0], rtol=1e-6)
    fig = fd.saliency_figure(sal, prep.image, 4)
    _, heat, outline = fig.data
    assert heat.zmid == 0 and heat.zmin == -heat.zmax  # centred on zero
    assert heat.colorscale[0][1] != heat.colorscale[-1][1]
    assert "4" in fig.layout.title.text
    assert outline.type == "contour" and np.asarray(outline.z).shape == (28, 28)
    assert [c[1] for c in heat.colorscale] == [c[1] for c in get_colorscale(DIVERGING_SCALE)]


def test_saliency_shows_gradient_times_ink_on_the_ink_and_the_gradient_around_it(prep, model) -> None:
    sal = saliency(model, prep, 4)
    x = prep.x.reshape(28, 28).astype(np.float64)
    ink = x > 0
    np.testing.assert_array_equal(sal.ink, ink)
    np.testing.assert_allclose(sal.shown[ink], (sal.gradient * x)[ink])
    np.testing.assert_allclose(sal.shown[sal.near], sal.gradient[sal.near])
    # The ring: not ink, and every pixel of it within NEAR_INK rows and columns of some ink.
    assert not (sal.near & ink).any() and sal.near.any()
    rows, cols = np.nonzero(ink)
    for r, c in zip(*np.nonzero(sal.near)):
        assert (np.maximum(abs(rows - r), abs(cols - c)) <= NEAR_INK).any()
    assert np.abs(sal.gradient[sal.masked]).max() > 0  # there was something to mask


def test_saliency_corners_far_from_the_ink_are_zero_and_drawn_grey(prep, model) -> None:
    """The untrained border weights gave strong 'add ink here' speckle in blank corners: masked now."""
    sal = saliency(model, prep, 4)
    rows, cols = np.nonzero(prep.image)
    assert rows.min() > NEAR_INK + 2 and cols.min() > NEAR_INK + 2  # the corners really are far from ink
    corners = np.s_[:3, :3], np.s_[:3, -3:], np.s_[-3:, :3], np.s_[-3:, -3:]
    for corner in corners:
        assert (sal.gradient[corner] != 0).any()  # the raw gradient is not zero there
        assert (sal.shown[corner] == 0).all() and sal.masked[corner].all()
    grey, heat, _ = fd.saliency_figure(sal, prep.image, 4).data
    z, cover = np.asarray(heat.z, dtype=float), np.asarray(grey.z, dtype=float)
    for corner in corners:
        assert np.isnan(z[corner]).all() and (cover[corner] == 1).all()  # not drawn as "no effect": grey
    assert not np.isnan(z[sal.ink]).any() and np.isnan(cover[sal.ink]).all()
    assert "masked" in np.asarray(heat.text)[0, 0] and "your ink" in np.asarray(heat.text)[sal.ink][0]


def test_saliency_matches_a_finite_difference(prep, model) -> None:
    """Nudging the pixel with the largest gradient moves the logit by gradient x nudge."""
    grad = saliency(model, prep, 1).gradient.ravel()
    i = int(np.argmax(np.abs(grad)))
    x = prep.x.astype(np.float64)
    eps = 1e-2
    up, down = x.copy(), x.copy()
    up[0, i] += eps
    down[0, i] -= eps

    def logit(v: np.ndarray) -> float:
        return float(model.forward(v.astype(np.float32))[0, 1])

    numeric = (logit(up) - logit(down)) / (2 * eps)
    assert numeric == pytest.approx(grad[i], rel=0.05, abs=1e-3)


def test_reading_agrees_with_the_model(prep, model) -> None:
    reading = read_digit(model, prep)
    proba = model.predict_proba(prep.x)[0]
    np.testing.assert_allclose(reading.proba, proba, rtol=1e-5)
    order = np.argsort(-proba)
    assert (reading.predicted, reading.runner_up) == (order[0], order[1])
    assert reading.confidence == pytest.approx(proba[order[0]])
    trace = model.forward_trace(prep.x)[0]
    np.testing.assert_allclose(reading.hidden_post, trace.post[0])


def test_softmax_regression_has_no_hidden_layer_to_show(prep) -> None:
    flat = MLP(ModelConfig(hidden=()), np.random.default_rng(0))
    reading = read_digit(flat, prep)
    assert reading.hidden_pre is None and reading.hidden_post is None
    assert reading.proba.shape == (10,)


def test_doubt_is_said_plainly_only_when_it_exists() -> None:
    clear = np.array([0.9] + [0.1 / 9] * 9)
    assert doubt_note(clear) is None
    low = np.full(10, 0.02)
    low[3], low[8] = 0.45, 0.39
    assert "unsure" in doubt_note(low) and "3" in doubt_note(low) and "45%" in doubt_note(low)
    close = np.zeros(10)
    close[5], close[6] = 0.55, 0.45 - 1e-9
    close[0] = 1 - close.sum()
    note = doubt_note(close)
    assert "hesitates between 5" in note and "6" in note
    assert UNSURE_BELOW == 0.5 and 0 < CLOSE_WITHIN < 0.5


def test_pipeline_thumbnails_show_every_step(prep) -> None:
    thumbs = fd.pipeline_thumbnails(prep)
    assert len(thumbs) == 5
    for image, caption in thumbs:
        assert image.shape == (fd.THUMB, fd.THUMB, 3) and image.dtype == np.uint8
        assert caption[0].isdigit()
    assert "280×280" in thumbs[0][1]
    assert "20 px" in thumbs[3][1]
    # From step 2 on, ink is dark on light: the 28x28 panel's middle is darker than its corner.
    final = thumbs[4][0].astype(int).sum(axis=2)
    assert final[fd.THUMB // 2, fd.THUMB // 2 - 10: fd.THUMB // 2 + 10].min() < final[3, 3]


def test_thumbnails_of_an_empty_picture_stop_after_step_two() -> None:
    thumbs = fd.pipeline_thumbnails(preprocess(np.zeros((100, 100), np.uint8)))
    assert len(thumbs) == 2


@pytest.mark.parametrize("shape, line", [((60, 1000), np.s_[30, 100:900]), ((1000, 60), np.s_[100:900, 30])],
                         ids=["dash", "bar"])
def test_thumbnails_of_ink_thinner_than_a_panel_pixel(shape, line) -> None:
    """A 1-px line in a 1000-px picture shrinks below one panel pixel; its box is still drawn, in orange."""
    picture = np.zeros(shape, np.uint8)
    picture[line] = 255
    thumbs = fd.pipeline_thumbnails(preprocess(picture))
    assert len(thumbs) == 5
    panel = thumbs[1][0].astype(int)
    assert ((panel[..., 0] > 200) & (panel[..., 2] < 100)).any()  # the orange box is there
