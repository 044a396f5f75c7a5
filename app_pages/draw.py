"""Draw a digit: draw (or upload) a digit, see the 28x28 picture the network gets, its answer and why.

On Fashion-MNIST the page reads test items as stored: drawing and uploading are for digits (they frame a
picture as MNIST framed its digits), and the page says so."""

import numpy as np
import streamlit as st

from dashboard.contrast_view import contrast_block
from dashboard.data import dataset_now, get_dataset
from dashboard.neighbours_view import neighbours_section
from dashboard.sections import page_sections
from dashboard.session import require_model
from dashboard.timeline import at, rewind
from figures import draw as fd
from figures.inspect import layer_activity_figure
from lab.drawing import (NEAR_INK, ImageError, prepare_canvas, prepare_example, prepare_stored, prepare_upload,
                         read_digit, saliency)
from lab.labels import label, labels, noun
from lab.page_sections import SECTION_PARAMETERS
from lab.picture import MAX_UPLOAD_BYTES

try:
    from streamlit_drawable_canvas import st_canvas
except Exception:  # noqa: BLE001 - a broken component must not take the page down: uploads still work
    st_canvas = None

SOURCES = {"draw": ":material/draw: Draw", "upload": ":material/upload: Upload",
           "example": ":material/dataset: MNIST digit"}
CANVAS_SIDE = 280  # 10 screen pixels per input pixel
info = dataset_now()
digits = info.name == "mnist"  # drawing and uploading frame a picture as MNIST framed its digits

st.title(info.draw_title)
if digits:
    st.caption("Draw a digit and see what the network sees and answers: the 28×28 picture it actually gets, "
               "how sure it is of each digit, and which pixels drove its answer.")
else:
    st.caption(f"Pick a {info.short} test {noun()} and see what the network answers, how sure it is of each "
               f"{noun()}, and which pixels drove its answer.")
    st.info(f"Drawing and uploading are for handwritten digits: they frame a picture the way MNIST framed its "
            f"digits. This network reads {info.pictures}, so here it reads {info.short}'s own test "
            f"{noun(plural=True)}; choose MNIST digits on the Train page to draw.", icon=":material/draw:")

view = rewind(require_model())
model = view.model


def _clear_canvas() -> None:
    # A new key remounts the canvas empty (the component has no "clear" of its own to call).
    st.session_state["draw_canvas_gen"] = st.session_state.get("draw_canvas_gen", 0) + 1
    st.session_state["draw_saved"] = None


@st.cache_data(max_entries=4, show_spinner="Reading the picture…")
def _prepared_upload(data: bytes):
    """The upload through the pipeline once, not on every rerun (a big photo takes a second)."""
    return prepare_upload(data)


def _random_example() -> None:
    st.session_state["draw_example"] = int(np.random.default_rng().integers(len(get_dataset().x_test)))


left, right = st.columns([5, 7], gap="large")
prep, true_label, refused = None, None, False
with left:
    source = "example" if not digits else st.segmented_control(
        "Input", list(SOURCES), format_func=SOURCES.get, default="draw", required=True, key="draw_source",
        persist_state="session",
        help="Draw with the mouse, upload a photo or scan of one digit, or try a real MNIST test digit to "
             "see that the same pipeline leaves it almost unchanged.")
    if source == "draw" and st_canvas is None:
        st.warning("The drawing canvas (streamlit-drawable-canvas) could not be loaded here; upload a "
                   "picture instead.")
    elif source == "draw":
        gen = st.session_state.setdefault("draw_canvas_gen", 0)
        stroke = st.slider("Pen width", 8, 40, 22, key="draw_stroke", persist_state="session",
                           help="In canvas pixels (the canvas is 280 px, the network's input 28). MNIST "
                                "strokes are about 2-3 of its 28 pixels wide, i.e. 20-30 here.")
        key = f"draw_canvas_{gen}"
        if key not in st.session_state:
            # A fresh mount (first visit, or back from another page): bring the last drawing back. It stays
            # fixed while the canvas lives, because a changed initial drawing would redraw the canvas.
            st.session_state["draw_restore"] = st.session_state.get("draw_saved")
        restore = st.session_state.get("draw_restore")  # (fabric json, RGBA image) or None
        result = st_canvas(stroke_width=stroke, stroke_color="#FFFFFF", background_color="#000000",
                           width=CANVAS_SIDE, height=CANVAS_SIDE, drawing_mode="freedraw",
                           return_image_data=True, initial_drawing=restore[0] if restore else None, key=key)
        st.button("Clear", icon=":material/ink_eraser:", key="draw_clear", on_click=_clear_canvas,
                  help="Start again on an empty canvas.")
        rgba = result.image_data
        if rgba is not None:
            st.session_state["draw_saved"] = (result.json_data, rgba)
        elif restore:
            rgba = restore[1]  # the restored canvas has not sent its picture yet
        prep = prepare_canvas(rgba)
    elif source == "upload":
        upload = st.file_uploader(
            "A picture of one digit", type=["png", "jpg", "jpeg"], key="draw_upload",
            max_upload_size=MAX_UPLOAD_BYTES // 2**20,
            help="PNG or JPEG, up to 10 MB and 4096×4096 pixels. Dark ink on light paper or light on dark "
                 "both work; crop to the one digit for the best result.")
        if upload is not None:
            try:
                prep = _prepared_upload(upload.getvalue())
            except ImageError as exc:
                st.error(str(exc), icon=":material/broken_image:")
                refused = True
            else:  # the picture as read (upright, in grey), not the raw file: a 16-bit PNG cannot be shown
                height, width = prep.gray.shape
                st.image(prep.gray, caption=f"{upload.name} as read: {width}×{height} px, in grey",
                         width=CANVAS_SIDE)
    else:
        data = get_dataset()
        index = st.number_input(f"Test {noun()} number", 0, len(data.x_test) - 1, 0, key="draw_example",
                                persist_state="session",
                                help=f"Which of the {len(data.x_test):,} {info.short} test {noun(plural=True)} to use.")
        st.button(f"Random {noun()}", icon=":material/casino:", key="draw_random", on_click=_random_example)
        true_label = int(data.y_test[index])
        prep = prepare_example(data.x_test[index]) if digits else prepare_stored(data.x_test[index])
        st.image(fd.pipeline_thumbnails(prep)[0][0], width=fd.THUMB,
                 caption=f"Test {noun()} {index}, labelled {label(true_label)}, as stored in the dataset (white on black)")

reading = read_digit(model, prep) if prep is not None else None
with right:
    if prep is None and source == "draw":
        st.info("Draw one digit in the black square, large, using most of it. The network answers as soon "
                "as you release the mouse.", icon=":material/draw:")
        st.caption("Where you draw and how big does not matter: the page crops and centres your digit first, "
                   "the way MNIST's digits were prepared. What does matter: one digit, written the usual "
                   "way, with a pen about as thick as MNIST's (20-30 here). Undo and redo are in the "
                   "canvas's toolbar.")
    elif prep is None:
        if not refused:  # a refused file already has its one message, under the uploader
            st.info("Upload a picture of one digit.", icon=":material/upload:")
    elif reading is None:
        st.info("No ink yet: draw a digit." if source == "draw" else
                "No digit found in this picture: it looks blank (no ink stands out from the paper). "
                "Try a picture with more contrast.", icon=":material/draw:")
    else:
        c1, c2, c3 = st.columns(3)
        c1.metric("Answer", label(reading.predicted), help=f"The {noun()} with the highest probability.")
        c2.metric("Confidence", fd.percent(reading.confidence),
                  help="The network's probability for its answer (its softmax output). High does not mean "
                       "right.")
        c3.metric("Runner-up", f"{label(reading.runner_up)} · {fd.percent(reading.runner_up_proba)}",
                  help=f"The second most likely {noun()} and its probability.")
        if true_label is not None:
            if true_label == reading.predicted:
                st.success(f"Correct: this test {noun()} is labelled {label(true_label)}.", icon=":material/check:")
            else:
                st.error(f"Wrong: this test {noun()} is labelled {label(true_label)} (the network gives {label(true_label)} "
                         f"{fd.percent(reading.proba[true_label])}).", icon=":material/close:")
        if reading.doubt:
            st.warning(reading.doubt, icon=":material/help:")
        st.plotly_chart(fd.probability_bars(reading.proba), key="draw_proba", width="stretch")
        st.caption("How to read this: the ten bars are the network's output (softmax), adding up to 100%. "
                   "Its answer is the tallest bar; below the dotted 50% line it is guessing. A tall bar "
                   "means confident, not correct" + (": on drawings unlike MNIST it can be confidently wrong."
                                                     if digits else "."))


def why_this_answer() -> None:
    """The picture the network gets, beside the saliency of the answer (or of another class)."""
    st.header("What the network sees, and why it answers " + label(reading.predicted) + at(view))
    a, b = st.columns(2, gap="large")
    with a:
        st.plotly_chart(fd.input_figure(prep.image, prep.centre_of_mass), key="draw_input",
                        width="stretch")
        st.caption("Your digit as the network gets it: 784 pixels from 0 (paper) to 1 (ink), drawn dark on "
                   "light as everywhere in this app. Dotted: MNIST's 20×20 digit box; cross: the centre of "
                   "mass, placed at pixel (14, 14) as in MNIST, so a top-heavy digit may reach past the box "
                   "(but never onto the field's edge). Hover a pixel for its value." if digits else
                   f"The {noun()} as the network gets it, exactly as stored in {info.short}: 784 pixels from 0 "
                   "(background) to 1 (brightest), drawn dark on light as everywhere in this app. Hover a pixel "
                   "for its value.")
    with b:
        chart = st.container()  # filled after the selectbox below, so both charts start at the same height
        options = ["answer"] + list(range(10))
        names = labels()  # bound now: the format function may be called after this run
        explain = st.selectbox(
            "Explain the score of", options, key="draw_explain", persist_state="session",
            format_func=lambda o: "the network's answer" if o == "answer" else f"{noun()} {names[o]}",
            help=f"Saliency for another {noun()} answers 'why not {names[7]}?': where "
                 f"{'ink' if digits else 'brighter pixels'} would have made it {names[7]}.")
        digit = reading.predicted if explain == "answer" else int(explain)
        chart.plotly_chart(fd.saliency_figure(saliency(model, prep, digit), prep.image, digit),
                           key="draw_saliency", width="stretch")
        if digits:
            st.caption(f"How to read this: on your ink (black outline) each pixel shows how much that ink adds to "
                       f"(blue) or takes from (red) digit {digit}'s score (gradient × ink), within {NEAR_INK} "
                       "pixels of it what a new stroke there would do (the gradient), and the rest is greyed out "
                       "because that far from your strokes the gradient is speckle, largely from border weights "
                       "that training never moved since MNIST's border is always blank.")
        else:
            st.caption(f"How to read this: on the {noun()} (black outline) each pixel shows how much it adds to "
                       f"(blue) or takes from (red) {names[digit]}'s score (gradient × pixel), within {NEAR_INK} "
                       "pixels of it what brightening a pixel there would do (the gradient), and the rest is "
                       "greyed out: that far out the gradient comes from weights training barely moved.")


def preprocessing() -> None:
    """The steps from the picture to 784 numbers, as MNIST framed its digits."""
    st.header("How your picture became 784 numbers")
    st.caption("The same steps that made MNIST (LeCun et al.): a network trained on MNIST expects digits "
               "framed this way, so a digit drawn small or off-centre is first brought to that frame.")
    thumbs = fd.pipeline_thumbnails(prep)
    for col, (image, caption) in zip(st.columns(5), thumbs):
        col.image(image, caption=caption, width=fd.THUMB)
    st.markdown(
        "1. **Grayscale**: colour becomes one brightness per pixel.\n"
        "2. **Ink only**: ink must be bright, as in MNIST; a picture with a light border is dark ink on "
        "light paper, so it is inverted. The paper is subtracted (a smooth surface fitted to the border, "
        "so a shadow across a photo goes too), what is left of its grain zeroed, and the brightest ink "
        "stretched to full strength.\n"
        "3. **Crop** to the bounding box of the ink (in large pictures, ignoring specks of dust).\n"
        "4. **Resize** so the longer side is 20 pixels, keeping the aspect ratio (Lanczos filter, which "
        "gives the soft grey edges MNIST digits have).\n"
        "5. **Centre**: paste into a black 28×28 field so that the ink's centre of mass falls on pixel "
        "(14, 14), where it is in MNIST; a lopsided digit (a 7 with a heavy top bar) shifts only as far as "
        "keeps one blank pixel between its ink and the edge.\n"
        "6. **Scale** every pixel from 0-255 to 0-1: these 784 numbers are the network's input.")
    if prep.inverted:
        st.caption("This picture was dark on light, so step 2 inverted it.")


def first_hidden_layer() -> None:
    """Every first-layer unit's input and output for this picture."""
    st.header(f"The first hidden layer for this {noun()}")
    act = model.config.activations[0]
    st.plotly_chart(layer_activity_figure(reading.hidden_pre, reading.hidden_post, "first hidden layer",
                                          act), key="draw_hidden", width="stretch")
    st.caption(f"Each bar is one unit of the first hidden layer. Top: its input z (weighted sum of your 784 "
               f"pixels plus bias); bottom: what it passes on, {act}(z). The units that light up are the "
               f"patterns the network found in {'your drawing' if digits else 'this picture'}; the Inspect page "
               "shows what each unit looks for.")


def why_not_another() -> None:
    """The smallest change that makes it answer another class, and what separates the two."""
    st.header(f"Why not another {noun()}?")
    contrast_block(model, prep.x, prep.image, reading.proba, key="draw_why", label=true_label, version=view.version)


def nearest_neighbours() -> None:
    """The training images nearest to this one, by pixels and by each hidden layer."""
    neighbours_section(view, prep.x, "your digit" if digits else f"test {noun()} #{index}", key="draw_why")


if reading is not None:  # the sections explain an answer: none without one
    SECTIONS = {"Why this answer": why_this_answer, "Preprocessing": preprocessing,
                "First hidden layer": first_hidden_layer, "Why not another": why_not_another,
                "Nearest neighbours": nearest_neighbours}
    if not digits:  # a stored test item was not preprocessed
        del SECTIONS["Preprocessing"]
    if reading.hidden_pre is None:  # no hidden layer
        del SECTIONS["First hidden layer"]
    section = page_sections(list(SECTIONS), key=SECTION_PARAMETERS["draw"])
    with section.body:
        SECTIONS[section.name]()
