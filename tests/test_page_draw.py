"""The Draw page through AppTest: the no-model notice, the empty canvas, an MNIST digit and uploads.

The canvas component renders in AppTest but never sends a drawing, so the drawing path is tested where the
page computes it: ``lab.drawing.prepare_canvas`` and ``read_digit`` on a canvas-like RGBA array.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image, ImageDraw
from streamlit.testing.v1 import AppTest

from dashboard import data as dashboard_data
from dashboard.session import SessionData, uploaded_view
from figures import draw as fd
from lab.drawing import prepare_canvas, prepare_upload, read_digit
from lab.preprocess import preprocess
from nn.config import ModelConfig
from nn.data import MnistDataset
from nn.model import MLP
from tests.page_sections import DRAW, DRAW_SECTIONS, open_section
from tests.pictures import SEVEN, canvas, encoded, sixteen_bit_png, with_jpeg_size, with_png_size

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "app_pages/draw.py"


def tiny_dataset() -> MnistDataset:
    """A few MNIST-shaped digits: a centred vertical bar (a '1'-like stroke) in every test image."""
    rng = np.random.default_rng(0)
    x = np.zeros((20, 28, 28), np.uint8)
    x[:, 4:24, 12:16] = 255
    x[:, :, :] = np.maximum(x, rng.integers(0, 3, x.shape).astype(np.uint8))
    y = (np.arange(20) % 10).astype(np.uint8)
    return MnistDataset(x_train=x, y_train=y, x_test=x, y_test=y, source="test", verified=False,
                        cache_path=None)


def small_model(seed: int = 0) -> MLP:
    return MLP(ModelConfig(hidden=(16,)), np.random.default_rng(seed))


@pytest.fixture
def app():
    st.cache_data.clear()
    st.cache_resource.clear()
    dashboard_data._holder().dataset = tiny_dataset()

    def make(model: MLP | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        if model is not None:
            at.session_state["_mnist_session"] = SessionData(uploaded=uploaded_view(model, {}, b"draw-test"))
        at.switch_page(PAGE)
        return at

    yield make
    st.cache_resource.clear()


def test_without_a_model_the_page_shows_the_standard_notice(app) -> None:
    at = app().run()
    assert not at.exception, at.exception
    assert any("No model yet" in i.value for i in at.info)
    assert not at.metric
    assert not at.get("plotly_chart")


def test_with_a_model_an_empty_canvas_asks_for_a_digit(app) -> None:
    at = app(small_model()).run()
    assert not at.exception, at.exception
    assert any("Draw one digit" in i.value for i in at.info)
    assert not at.metric  # no answer without ink
    assert at.slider(key="draw_stroke").value == 22


def test_an_mnist_example_gets_the_models_answer_and_every_figure(app) -> None:
    model = small_model()
    at = app(model).run()
    at.segmented_control(key="draw_source").set_value("example").run()
    at.number_input(key="draw_example").set_value(3).run()
    assert not at.exception, at.exception

    # The page answers for the digit after the MNIST pipeline (it re-frames even an MNIST-shaped digit).
    x = preprocess(tiny_dataset().x_test[3]).x
    proba = model.predict_proba(x)[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Answer"] == str(int(proba.argmax()))
    assert metrics["Confidence"] == fd.percent(proba.max())
    # Probabilities, input, saliency, hidden layer; why not another, change, new; nearest in pixels and hidden 1:
    # the answer and the open section, then one section at a time.
    charts = {c.key for c in at.get("plotly_chart")}
    assert charts == {"draw_proba", "draw_input", "draw_saliency"}
    for name in DRAW_SECTIONS:
        open_section(at, DRAW, name)
        assert not at.exception, f"{name}: {at.exception}"
        charts |= {c.key for c in at.get("plotly_chart")}
        if name == "Preprocessing":
            assert len(at.get("image")) >= 6  # the example itself, then the pipeline step by step
    assert len(charts) == 9
    # An untrained network is unsure, and the page says so plainly.
    assert proba.max() < 0.5
    assert any("unsure" in w.value for w in at.warning)
    # The label of the test digit is shown against the answer.
    label = 3
    assert any(f"labelled {label}" in m.value for m in [*at.success, *at.error])


def test_the_saliency_can_explain_another_digit(app) -> None:
    at = app(small_model()).run()
    at.segmented_control(key="draw_source").set_value("example").run()
    at.selectbox(key="draw_explain").set_value(7).run()
    assert not at.exception, at.exception
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("score of 7" in t for t in titles)



def test_the_saliency_map_masks_far_pixels_and_says_why(app) -> None:
    at = app(small_model()).run()
    at.segmented_control(key="draw_source").set_value("example").run()
    assert not at.exception, at.exception
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "push the score" in c.proto.spec)
    grey, heat = spec["data"][0], spec["data"][1]
    z = np.array([[np.nan if v is None else v for v in row] for row in heat["z"]])
    cover = np.array([[np.nan if v is None else v for v in row] for row in grey["z"]])
    # The example is a bar in columns 12-15: the corners are far from it, masked, not drawn as 0.
    for corner in (np.s_[:3, :3], np.s_[:3, -3:], np.s_[-3:, :3], np.s_[-3:, -3:]):
        assert np.isnan(z[corner]).all() and (cover[corner] == 1).all()
    assert np.isfinite(z[10:18, 12:16]).all()  # on the ink: values
    captions = [c.value for c in at.caption]
    assert any("greyed out because" in c and "gradient × ink" in c and "never moved" in c for c in captions)

def test_an_uploaded_photo_is_read_and_a_bad_file_explained(app) -> None:
    model = small_model()
    at = app(model).run()
    at.segmented_control(key="draw_source").set_value("upload").run()
    assert any("Upload a picture" in i.value for i in at.info)
    assert not at.metric

    paper = Image.new("RGB", (300, 200), (225, 220, 210))  # dark pen on off-white paper, a JPEG
    ImageDraw.Draw(paper).line([(150, 30), (150, 170)], fill=(30, 30, 40), width=14)
    data = encoded(paper, "JPEG")
    at.file_uploader(key="draw_upload").upload("one.jpg", data, "image/jpeg").run()
    assert not at.exception, at.exception
    proba = model.predict_proba(preprocess(np.asarray(Image.open(io.BytesIO(data)).convert("L"))).x)[0]
    assert {m.label: m.value for m in at.metric}["Answer"] == str(int(proba.argmax()))
    open_section(at, DRAW, "Preprocessing")
    assert any("inverted" in c.value for c in at.caption)  # dark on light was detected and said

    at.file_uploader(key="draw_upload").set_value(("notes.png", b"not an image", "image/png")).run()
    assert not at.exception, at.exception
    assert any("not a PNG or JPEG" in e.value for e in at.error)
    assert not at.metric

    blank = encoded(Image.new("L", (100, 100), 255))
    at.file_uploader(key="draw_upload").set_value(("blank.png", blank, "image/png")).run()
    assert any("No digit found" in i.value for i in at.info)
    assert not at.metric


HOSTILE_UPLOADS = {
    "png-30000x30000": (lambda: with_png_size(encoded(Image.new("L", (64, 64))), 30_000, 30_000),
                        "claims over 179 megapixels"),
    "jpeg-60000x60000": (lambda: with_jpeg_size(encoded(Image.new("L", (64, 64)), "JPEG"), 60_000, 60_000),
                         "claims over 179 megapixels"),
    "png-5000x5000": (lambda: with_png_size(encoded(Image.new("L", (64, 64))), 5000, 5000), "the limit is"),
    "png-16000000x1": (lambda: encoded(Image.new("L", (16_000_000, 1))), "longer than wide"),
    "png-truncated": (lambda: encoded(Image.fromarray(canvas(SEVEN)))[:600], "damaged"),
}


@pytest.mark.parametrize("kind", list(HOSTILE_UPLOADS))
def test_a_hostile_upload_gets_one_line_and_no_exception(app, kind) -> None:
    make, message = HOSTILE_UPLOADS[kind]
    at = app(small_model()).run()
    at.segmented_control(key="draw_source").set_value("upload").run()
    at.file_uploader(key="draw_upload").upload(f"{kind}.png", make(), "image/png").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and message in errors[0] and "\n" not in errors[0], errors
    assert not at.info and not at.warning  # the one line is the only message
    assert not at.metric and not at.get("plotly_chart")


@pytest.mark.parametrize("side", [200, 4096])
def test_a_16_bit_scan_gets_an_answer(app, side) -> None:
    """A 16-bit PNG (mode I;16) was read, then showing it failed ("cannot write mode I;16 as JPEG")."""
    model = small_model()
    paper = 255 - canvas(SEVEN, size=(side, side), width=max(2, side // 13))
    at = app(model).run()
    at.segmented_control(key="draw_source").set_value("upload").run()
    at.file_uploader(key="draw_upload").upload("scan16.png", sixteen_bit_png(paper), "image/png").run()
    assert not at.exception, at.exception
    assert not at.error
    twin = prepare_upload(encoded(Image.fromarray(paper)))  # the same scan saved with 8 bits
    expected = model.predict_proba(twin.x)[0]
    assert {m.label: m.value for m in at.metric}["Answer"] == str(int(expected.argmax()))
    shown = min(side, 1024)  # big uploads are read shrunk to 1024 px
    assert any(f"scan16.png as read: {shown}×{shown} px" in c for i in at.image for c in i.captions)


def test_the_drawing_path_the_page_calls_reads_a_canvas_stroke() -> None:
    model = small_model(1)
    canvas = Image.new("RGBA", (280, 280), (0, 0, 0, 255))
    ImageDraw.Draw(canvas).line([(140, 40), (140, 240)], fill=(255, 255, 255, 255), width=22)
    prep = prepare_canvas(np.asarray(canvas))
    reading = read_digit(model, prep)
    assert reading is not None
    expected = model.predict_proba(prep.x)[0]
    np.testing.assert_allclose(reading.proba, expected, rtol=1e-5)
    assert reading.predicted == int(expected.argmax())
    assert reading.hidden_post.shape == (16,)
    # An untouched canvas (before any stroke the component sends nothing) is no picture at all.
    assert prepare_canvas(None) is None
    blank = prepare_canvas(np.zeros((280, 280, 4), np.uint8))
    assert blank.empty and read_digit(model, blank) is None


# ---------------------------------------------------------------------------------------------- in a browser

@pytest.fixture(scope="module")
def server():
    from tests.browser import app_server

    with app_server() as url:
        yield url


@pytest.mark.browser
@pytest.mark.realdata
def test_drawing_with_the_mouse_gets_an_answer_that_survives_a_page_switch(server, tmp_path) -> None:
    from playwright.sync_api import expect

    from nn.serialize import save_model
    from tests.browser import browser_page, click_button, goto_page, screenshot_all, wait_for_app_idle

    model_file = tmp_path / "model.npz"
    save_model(model_file, small_model(), {})

    def settle(page) -> None:
        page.wait_for_timeout(800)
        wait_for_app_idle(page)

    with browser_page() as page:
        page.goto(f"{server}/train")
        wait_for_app_idle(page)
        page.locator('[data-testid="stFileUploader"] input[type=file]').first.set_input_files(str(model_file))
        settle(page)
        goto_page(page, "Draw a digit")
        settle(page)
        page.get_by_text("Draw one digit in the black square").wait_for()
        answer = page.locator('[data-testid="stMetric"]').filter(has_text="Answer")
        assert answer.count() == 0

        canvas = page.locator(".canvas-root canvas").last
        box = canvas.bounding_box()
        assert box is not None and round(box["width"]) == 280
        page.mouse.move(box["x"] + 90, box["y"] + 60)
        page.mouse.down()
        for x, y in [(200, 60), (150, 240)]:  # a 7
            page.mouse.move(box["x"] + x, box["y"] + y, steps=10)
        page.mouse.up()
        answer.wait_for(timeout=20_000)
        settle(page)
        assert answer.inner_text().split()[-1] in "0123456789"
        # Probabilities, then the open section: input and saliency (plotly mounts lazily: wait, don't count once).
        expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(3, timeout=30_000)
        page.get_by_role("tab", name="Preprocessing").click()
        page.get_by_text("How your picture became 784 numbers").wait_for()
        page.get_by_role("tab", name="Why not another").click()
        # Probabilities; why not another, the change, the new picture.
        expect(page.locator('[data-testid="stPlotlyChart"]')).to_have_count(4, timeout=30_000)
        screenshot_all(page, "draw-1-answer.png")
        shown = answer.inner_text()

        goto_page(page, "Home")
        settle(page)
        goto_page(page, "Draw a digit")
        answer.wait_for(timeout=20_000)  # the drawing came back with the page
        assert answer.inner_text() == shown

        click_button(page, "Clear")
        page.get_by_text("Draw one digit in the black square").wait_for(timeout=20_000)
        assert answer.count() == 0
