"""Figures for the Draw page: the 28x28 input, the ten probabilities, the saliency map, the pipeline strip.

Pixels follow the app's convention (``figures.palette``): ink dark on light paper on the fixed 0..255
range, so a drawing looks like the digits on every other page. Signed values (the input gradient) use
the one diverging scale centred on zero.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from PIL import Image, ImageDraw

from figures.palette import DIGIT_COLORS, LINE_COLORS, diverging_kwargs, pixel_kwargs
from figures.style import layout
from figures.tiles import image_axes
from lab.drawing import Saliency
from lab.labels import label, labels, noun
from lab.preprocess import Preprocessed
from lab.format import fmt_pct

SIDE = 28
BOX = 20  # MNIST digits fit a 20x20 box inside the 28x28 field
THUMB = 150  # side of one pipeline thumbnail on screen, in CSS pixels
_MARGIN = {"l": 10, "r": 10, "t": 50, "b": 10}


def _square(image: np.ndarray, name: str) -> np.ndarray:
    image = np.asarray(image)
    if image.shape != (SIDE, SIDE):
        if image.shape == (SIDE * SIDE,) or image.shape == (1, SIDE * SIDE):
            return image.reshape(SIDE, SIDE)
        raise ValueError(f"{name} must be 28x28 (or 784 values), got shape {image.shape}")
    return image


def _box_outline() -> dict:
    """A dashed square around the central 20x20 box where MNIST digits are drawn."""
    lo = (SIDE - BOX) / 2 - 0.5
    return {"type": "rect", "x0": lo, "y0": lo, "x1": lo + BOX, "y1": lo + BOX, "xref": "x", "yref": "y",
            "line": {"color": LINE_COLORS["neutral"], "width": 1, "dash": "dot"}}


def _field_frame() -> dict:
    """A thin frame around the whole 28x28 field, so paper pixels show where the input ends."""
    return {"type": "rect", "x0": -0.5, "y0": -0.5, "x1": SIDE - 0.5, "y1": SIDE - 0.5,
            "xref": "x", "yref": "y",
            "line": {"color": "#bdbdbd", "width": 1}}


def percent(p: float) -> str:
    """A probability for people: ``lab.format.fmt_pct`` (the Draw page's name for it)."""
    return fmt_pct(p)


def input_figure(image: np.ndarray, centre_of_mass: tuple[float, float] | None = None, *,
                 title: str = "What the network sees: 28×28 pixels", height: int = 380,
                 box: bool | None = None) -> go.Figure:
    """The network's input ``image: (28, 28)`` uint8 (0 = paper, 255 = ink), drawn dark on light.

    A dotted square marks MNIST's 20x20 digit box (``box``; by default only when the classes are digits);
    a cross marks the centre of mass, if given.
    """
    box = noun() == "digit" if box is None else box
    image = _square(image, "image").astype(np.float64)
    heatmap = {"type": "heatmap", "z": image, "customdata": image / 255.0,
               "hovertemplate": "row %{y}, column %{x}: pixel %{z:.0f} → input %{customdata:.2f}"
                                "<extra></extra>",
               **pixel_kwargs()}
    data: list[dict] = [heatmap]
    if centre_of_mass is not None:
        row, col = centre_of_mass
        data.append({"type": "scatter", "x": [col], "y": [row], "mode": "markers", "showlegend": False,
                     "marker": {"symbol": "cross-thin", "size": 14, "line": {"width": 2,
                                                                            "color": LINE_COLORS["marker"]}},
                     "hovertemplate": "centre of mass: row %{y:.1f}, column %{x:.1f}<extra></extra>"})
    axes = image_axes((-0.5, SIDE - 0.5), (SIDE - 0.5, -0.5))
    return go.Figure(data=data, layout=layout(title, height=height, legend=False, margin=_MARGIN,
                                              shapes=[_field_frame(), _box_outline()] if box else [_field_frame()], **axes))


def probability_bars(proba: np.ndarray, *, height: int = 320) -> go.Figure:
    """The ten softmax probabilities ``proba: (10,)`` as bars in each digit's colour, the answer outlined."""
    proba = np.asarray(proba, dtype=np.float64).ravel()
    if proba.shape != (10,):
        raise ValueError(f"proba must hold 10 probabilities, got shape {proba.shape}")
    best = int(proba.argmax())
    bar = {"type": "bar", "x": list(labels()), "y": proba,
           "marker": {"color": list(DIGIT_COLORS), "line": {"color": "black", "width": [2 if d == best else 0
                                                                                       for d in range(10)]}},
           "text": [percent(p) if p >= 0.005 else "" for p in proba], "textposition": "outside",
           "cliponaxis": False, "hovertemplate": f"{noun()} %{{x}}: %{{y:.2%}}<extra></extra>"}
    half = {"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0.5, "y1": 0.5,
            "line": {"color": LINE_COLORS["neutral"], "width": 1, "dash": "dot"}}
    return go.Figure(data=[bar], layout=layout(
        f"How likely each {noun()} is: {label(best)} at {percent(proba[best])}", noun(), "probability (softmax)",
        height=height, legend=False, shapes=[half], bargap=0.25,
        yaxis={"range": [0, 1.12], "tickformat": ".0%", "tickvals": [0, 0.25, 0.5, 0.75, 1.0]},
        xaxis={"type": "category"}))


MASK_COLOR = "#e6e6e6"  # saliency pixels left out on purpose: grey, not the white of "no effect"


def _saliency_hover(shown: np.ndarray, ink: np.ndarray, masked: np.ndarray, digit: int) -> list[list[str]]:
    """One hover line per pixel saying which of the three things the map shows there."""
    def line(r: int, c: int) -> str:
        where = f"row {r}, column {c}: "
        if masked[r, c]:
            return where + "masked (far from your ink)"
        if ink[r, c]:
            return where + f"your ink here changes the score of {label(digit)} by {shown[r, c]:+.3f}"
        return where + f"a stroke here would change the score of {label(digit)} by {shown[r, c]:+.3f}"
    return [[line(r, c) for c in range(SIDE)] for r in range(SIDE)]


def saliency_figure(sal: Saliency, image: np.ndarray, digit: int, *, height: int = 380) -> go.Figure:
    """Digit ``digit``'s saliency ``sal`` as a map, the ink outlined on top.

    Blue pixels: ink there raises the score of ``digit``; red: it lowers it (``sal.shown``). Pixels in
    ``sal.masked`` are drawn grey: left out, not "no effect". The outline is the drawing itself
    (``image: (28, 28)``, 0..255), so you see which strokes matter.
    """
    shown = _square(sal.shown, "shown").astype(np.float64)
    image = _square(image, "image").astype(np.float64)
    masked = _square(sal.masked, "masked").astype(bool)
    ink = _square(sal.ink, "ink").astype(bool)
    values = np.where(masked, np.nan, shown)
    # Lists with None, not NaN in a typed array: None is plotly's documented gap in a heatmap.
    gaps = [[None if m else float(v) for v, m in zip(row, mrow)] for row, mrow in zip(values, masked)]
    cover = [[1.0 if m else None for m in mrow] for mrow in masked]
    grey = {"type": "heatmap", "z": cover, "showscale": False, "hoverinfo": "skip",
            "colorscale": [[0, MASK_COLOR], [1, MASK_COLOR]], "zmin": 0, "zmax": 1, "name": "masked"}
    heatmap = {"type": "heatmap", "z": gaps, "colorbar": {"title": {"text": "score change (logit)"},
                                                           "thickness": 14},
               "text": _saliency_hover(shown, ink, masked, int(digit)), "hoverongaps": False,
               "hovertemplate": "%{text}<extra></extra>",
               **diverging_kwargs(values, quantile=0.99)}
    outline = {"type": "contour", "z": image, "showscale": False, "hoverinfo": "skip",
               "contours": {"start": 96, "end": 96, "size": 1, "coloring": "none"},
               "line": {"color": "black", "width": 1.5}, "name": "ink"}
    axes = image_axes((-0.5, SIDE - 0.5), (SIDE - 0.5, -0.5))
    return go.Figure(data=[grey, heatmap, outline], layout=layout(
        f"Which pixels push the score of {label(int(digit))} up (blue) or down (red)", height=height, legend=False,
        margin={**_MARGIN, "r": 10}, **axes))


# ---------------------------------------------------------------------------------------------- the pipeline

def _panel(image: np.ndarray, *, dark_on_light: bool, side: int = THUMB) -> Image.Image:
    """``image: (h, w)`` uint8 fitted into a ``side`` x ``side`` RGB panel, never stretched.

    Small images are enlarged by whole pixels (NEAREST, so each pixel stays a visible square); large
    ones shrink smoothly. A light frame shows where the image ends.
    """
    img = Image.fromarray(255 - image if dark_on_light else image).convert("RGB")
    w, h = img.size
    inner = side - 4
    if max(w, h) <= inner:
        factor = max(1, inner // max(w, h))
        img = img.resize((w * factor, h * factor), Image.Resampling.NEAREST)
    else:
        scale = inner / max(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.LANCZOS)
    panel = Image.new("RGB", (side, side), (246, 246, 246))
    x0, y0 = (side - img.width) // 2, (side - img.height) // 2
    panel.paste(img, (x0, y0))
    frame = (x0 - 1, y0 - 1, x0 + img.width, y0 + img.height)
    ImageDraw.Draw(panel).rectangle(frame, outline=(190, 190, 190))
    return panel


def _scale_of(panel_source: tuple[int, int], side: int = THUMB) -> tuple[float, int, int]:
    """(pixels per source pixel, x offset, y offset) of an image of (w, h) inside its panel."""
    w, h = panel_source
    inner = side - 4
    factor = float(max(1, inner // max(w, h))) if max(w, h) <= inner else inner / max(w, h)
    return factor, (side - round(w * factor)) // 2, (side - round(h * factor)) // 2


def pipeline_thumbnails(prep: Preprocessed) -> list[tuple[np.ndarray, str]]:
    """The stages of ``prep`` as (RGB image (THUMB, THUMB, 3), caption) pairs.

    The first panel shows the picture as given; the others follow the app's convention (ink dark on
    light). The ink's bounding box is drawn on the second, the centre of mass on the last.
    """
    accent = tuple(int(LINE_COLORS["marker"][i:i + 2], 16) for i in (1, 3, 5))
    h, w = prep.gray.shape
    out = [(np.asarray(_panel(prep.gray, dark_on_light=False)), f"1. Grayscale: your picture, {w}×{h} px")]
    clean = _panel(prep.clean, dark_on_light=True)
    note = "inverted (dark ink on light paper found), " if prep.inverted else ""
    if prep.box is not None:
        factor, x0, y0 = _scale_of((w, h))
        left, top, right, bottom = prep.box
        x1, y1 = x0 + left * factor, y0 + top * factor
        # Ink under one panel pixel thick (a thin line in a big picture) still gets a visible box.
        x2, y2 = max(x1, x0 + right * factor - 1), max(y1, y0 + bottom * factor - 1)
        ImageDraw.Draw(clean).rectangle((x1, y1, x2, y2), outline=accent, width=2)
    out.append((np.asarray(clean), f"2. Ink only: {note}paper removed, ink's box in orange"))
    if prep.empty or prep.cropped is None:  # no ink, or an image taken as stored (no crop to show)
        return out
    ch, cw = prep.cropped.shape
    rh, rw = prep.resized.shape
    out.append((np.asarray(_panel(prep.cropped, dark_on_light=True)), f"3. Cropped to the ink: {cw}×{ch} px"))
    out.append((np.asarray(_panel(prep.resized, dark_on_light=True)),
                f"4. Resized: longer side 20 px ({rw}×{rh}), aspect kept"))
    final = _panel(prep.image, dark_on_light=True)
    factor, x0, y0 = _scale_of((SIDE, SIDE))
    row, col = prep.centre_of_mass
    cx, cy = x0 + (col + 0.5) * factor, y0 + (row + 0.5) * factor
    draw = ImageDraw.Draw(final)
    draw.line((cx - 7, cy, cx + 7, cy), fill=accent, width=2)
    draw.line((cx, cy - 7, cx, cy + 7), fill=accent, width=2)
    out.append((np.asarray(final), "5. Centred in 28×28 by its centre of mass (cross)"))
    return out
