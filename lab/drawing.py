"""What the network answers for one picture, and how sure it is: the Draw page's logic, without Streamlit.

    prep = preprocess(to_gray(picture))          # lab.picture, lab.preprocess
    reading = read_digit(model, prep)            # None when the picture has no ink
    reading.predicted, reading.confidence, reading.doubt, saliency(model, prep, class_index)

Everything here is a pure function of the model and the picture, so tests call exactly what the page calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.picture import ImageError, decode_image, to_gray
from lab.preprocess import SIDE, Preprocessed, preprocess

UNSURE_BELOW = 0.5  # a top probability under this is a guess, not an answer
CLOSE_WITHIN = 0.2  # top two probabilities this close: the network hesitates between them


@dataclass(frozen=True)
class Reading:
    """The network's answer for one preprocessed picture.

    ``proba``: (10,) softmax output; ``predicted``: its argmax; ``confidence``: its probability;
    ``runner_up`` / ``runner_up_proba``: the second most likely digit; ``doubt``: a plain sentence when
    the answer should not be trusted (None when it is clear-cut); ``hidden_pre`` / ``hidden_post``:
    (k,) the first hidden layer's pre-activations and activations (None without a hidden layer).
    """

    proba: np.ndarray
    predicted: int
    confidence: float
    runner_up: int
    runner_up_proba: float
    doubt: str | None
    hidden_pre: np.ndarray | None
    hidden_post: np.ndarray | None


def doubt_note(proba: np.ndarray) -> str | None:
    """A sentence saying how unsure ``proba: (10,)`` is, or None when one digit clearly wins."""
    proba = np.asarray(proba, dtype=np.float64).ravel()
    order = np.argsort(-proba, kind="stable")
    first, second = int(order[0]), int(order[1])
    p1, p2 = float(proba[first]), float(proba[second])
    if p1 < UNSURE_BELOW:
        return (f"The network is unsure: its best guess, {first}, gets only {p1:.0%}, and {second} follows "
                f"with {p2:.0%}. Treat this as a guess, not an answer.")
    if p1 - p2 < CLOSE_WITHIN:
        return (f"The network hesitates between {first} ({p1:.0%}) and {second} ({p2:.0%}). "
                "A small change to the drawing could flip the answer.")
    return None


def read_digit(model: Any, prep: Preprocessed) -> Reading | None:
    """Run ``prep.x`` (1, 784) through ``model`` (an ``nn.model.MLP``); None for a picture without ink."""
    if prep.empty:
        return None
    traces = model.forward_trace(prep.x)
    proba = np.asarray(traces[-1].post[0], dtype=np.float64)
    order = np.argsort(-proba, kind="stable")
    first, second = int(order[0]), int(order[1])
    hidden = traces[0] if len(traces) > 1 else None
    return Reading(
        proba=proba, predicted=first, confidence=float(proba[first]),
        runner_up=second, runner_up_proba=float(proba[second]), doubt=doubt_note(proba),
        hidden_pre=None if hidden is None else np.asarray(hidden.pre[0]),
        hidden_post=None if hidden is None else np.asarray(hidden.post[0]),
    )


def saliency(model: Any, prep: Preprocessed, class_index: int) -> np.ndarray:
    """(28, 28) d logit_class / d pixel for this picture: where more ink would raise (or lower) that score."""
    if prep.empty:
        raise ValueError("saliency needs a picture with ink; this one is empty")
    return np.asarray(model.input_gradient(prep.x, class_index), dtype=np.float64).reshape(SIDE, SIDE)


def prepare_canvas(rgba: np.ndarray | None) -> Preprocessed | None:
    """The canvas's RGBA array (H, W, 4) -> preprocessed picture; None before the canvas has sent one."""
    if rgba is None:
        return None
    return preprocess(to_gray(rgba))


def prepare_upload(data: bytes) -> Preprocessed:
    """An uploaded file's bytes -> preprocessed picture; raises ``ImageError`` with a user-facing message."""
    return preprocess(to_gray(decode_image(data)))


def prepare_example(image: np.ndarray) -> Preprocessed:
    """An MNIST digit ``image: (28, 28)`` uint8 through the same pipeline (it comes out nearly unchanged)."""
    return preprocess(to_gray(np.asarray(image, dtype=np.uint8)))


__all__ = ["CLOSE_WITHIN", "ImageError", "Reading", "UNSURE_BELOW", "doubt_note", "prepare_canvas",
           "prepare_example", "prepare_upload", "read_digit", "saliency"]
