"""The "why not another digit?" block, for Draw (a drawing) and Evaluate (a mistake): numbers from lab/contrast.py."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dashboard import why
from dashboard.explain import test_data
from figures.contrast import attribution_figure, change_figure, new_image_figure
from lab.contrast import IG_STEPS, MAX_STEPS, contrast, default_other
from lab.format import fmt_pct
from lab.labels import label as class_label, labels, noun


@st.fragment  # picking another digit reruns this block only
def contrast_block(model: Any, x: np.ndarray, image: np.ndarray, proba: np.ndarray, *, key: str,
                   label: int | None = None, version: str | None = None) -> None:
    """Pick a digit; see why the network's answer beat it (integrated gradients) and the smallest change to it.

    With the model's ``version``, the result is cached (a step of the epoch slider back to a point seen before
    does not recompute it).
    """
    predicted = int(np.argmax(proba))
    names = labels()  # bound now: the format function may be called after this run
    choices = [d for d in range(10) if d != predicted]
    other = st.columns(3)[0].selectbox(
        f"Why {names[predicted]} and not…", choices, index=choices.index(default_other(proba, predicted, label)),
        key=f"{key}_other_{predicted}", format_func=lambda d: names[d] + (" (its label)" if d == label else ""),
        help=f"The {noun()} to compare the answer with: where the ink argues for the answer over it, and the smallest "
             "change to the picture that makes the network answer it.")
    c = contrast(model, x, predicted, int(other)) if version is None else \
        why.contrast_of(version, model, x, predicted, int(other))
    left, right = st.columns([1, 2], gap="large")
    left.plotly_chart(attribution_figure(c, image), key=f"{key}_ig", width="stretch")
    left.caption(
        f"Integrated gradients, not SmoothGrad: the gradient of z{predicted} − z{other} (score of {names[predicted]} "
        f"minus score of {names[other]}) averaged over {IG_STEPS} images on the straight path from a blank image to this one, "
        f"times the ink. Chosen because its numbers add up to the score gap (here {c.margin:.2f} for this image, "
        f"{c.margin_blank:.2f} for a blank one; the map sums to {c.explained:.2f}), a blank pixel gets exactly 0 "
        "(no speckle off the strokes), and the map is the same on every rerun, where SmoothGrad averages random "
        f"noisy copies. Blue ink argues for {names[predicted]}, red ink for {names[other]}.")
    a, b = right.columns(2)
    a.plotly_chart(change_figure(c, image), key=f"{key}_flip", width="stretch")
    b.plotly_chart(new_image_figure(c), key=f"{key}_new", width="stretch")
    if c.success:
        right.caption(
            f"Make the network answer {names[other]}: {c.steps} projected gradient steps (of a budget of {MAX_STEPS}), each the smallest "
            "change that would do it if "
            "the network were linear there, moving only pixels that can still move within [0, 1]; then the change "
            f"is shrunk as far as it still works. Size: L2 {c.l2:.2f} (a whole MNIST digit is about 9), {c.visible} "
            f"pixels changed by more than a tenth of full ink, {c.changed} by a grey level or more. The network now "
            f"gives {names[other]} {fmt_pct(c.new_proba[other])}. A change this faint that flips the answer is an "
            "adversarial example: the network reads patterns a person would not.")
    else:
        right.caption(f"No change within the budget of {MAX_STEPS} steps made the network answer {names[other]}: the "
                      "picture shown is where the steps stopped.")


def mistake_section(model: Any, index: int | None, version: str | None = None) -> None:
    """Evaluate: for the misclassified test digit opened above, why its answer beat its label, and the flip back."""
    st.header("Why this mistake?")
    if index is None:
        st.caption(f"Open a misclassified {noun()} above (click it) to see why the network preferred its answer to the "
                   "right one, and the smallest change that would have made it right.")
        return
    data = test_data()
    x = data.X[index]
    proba = model.predict_proba(x[None, :])[0]
    label = int(data.labels[index])
    st.caption(f"Test {noun()} #{index}, labelled {class_label(label)}, answered {class_label(int(np.argmax(proba)))}.")
    contrast_block(model, x, data.images[index], proba, key=f"ev_why_{index}", label=label, version=version)
