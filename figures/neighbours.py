"""The nearest training digits in one space, as a row of digits with their labels and cosine similarity."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from figures.evaluate import digit_gallery_figure
from lab.labels import label, noun
from lab.neighbours import Found


def neighbours_title(found: Found) -> str:
    """"In hidden 2 it looks like these 4s: 7 of the 8 nearest training digits"."""
    digit, count = found.majority()
    where = "In pixels" if found.space == "pixels" else f"In {found.space}"
    return (f"{where} it looks like these {label(digit)}s: {count} of the {len(found.labels)} nearest training "
            f"{noun(plural=True)}")


def neighbours_figure(found: Found, images: np.ndarray, *, px_per_pixel: float = 2.2) -> go.Figure:
    """``images`` (k, 28, 28) uint8: the training digits ``found`` lists, captioned "label · cosine"."""
    captions = [f"{label(y)} · {sim:.3f}" for y, sim in zip(found.labels, found.similarity)]
    hover = [f"training {noun()} #{i}, labelled {label(y)}: cosine {sim:.4f}"
             for i, y, sim in zip(found.indices, found.labels, found.similarity)]
    return digit_gallery_figure(images, captions, found.indices, title=neighbours_title(found), hovertext=hover,
                                cols=len(found.indices), px_per_pixel=px_per_pixel)
