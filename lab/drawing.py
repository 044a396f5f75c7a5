"""What the network answers for one picture, and how sure it is: the Draw page's logic, without Streamlit.

    prep = preprocess(to_gray(picture))          # lab.picture, lab.preprocess
    reading = read_digit(model, prep)            # None when the picture has no ink
    reading.predicted, reading.confidence, reading.doubt
    sal = saliency(model, prep, class_index)     # sal.shown: the masked map the page draws

Everything here is a pure function of the model and the picture, so tests call exactly what the page calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.picture import ImageError, decode_image, to_gray
from lab.preprocess import SIDE, Preprocessed, preprocess
from nn.data import to_float

UNSURE_BELOW = 0.5  # a top probability under this is a guess, not an answer
CLOSE_WITHIN = 0.2  # top two probabilities this close: the network hesitates between them
NEAR_INK = 2  # saliency shows the gradient this many pixels around the ink (an MNIST stroke is 2-3 wide)


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


@dataclass(frozen=True)
class Saliency:
    """Why digit ``class_index`` scores what it does, as the page shows it. All arrays (28, 28).

    ``gradient``: d logit / d pixel everywhere (pixels as the network's 0..1 inputs). ``shown``: on the
    ink (``ink``), gradient x input, what that ink adds to the score; in the ``near`` ring (within
    ``NEAR_INK`` pixels of the ink), the gradient, what a full-strength stroke there would add; 0 on
    the ``masked`` rest. Both are first-order changes of the logit, so they share one colour scale.
    The rest is masked because far from the strokes the gradient misleads: at MNIST's always-blank
    border it comes from weights that training never moved, and reads as strong "add ink here" speckle.
    """

    gradient: np.ndarray
    shown: np.ndarray
    ink: np.ndarray
    near: np.ndarray

    @property
    def masked(self) -> np.ndarray:
        """(28, 28) bool: the pixels ``shown`` leaves at 0 because they are far from the ink."""
        return ~(self.ink | self.near)


def near_ink(ink: np.ndarray, radius: int = NEAR_INK) -> np.ndarray:
    """(h, w) bool: the pixels within ``radius`` rows and columns of ``ink: (h, w) bool``, the ink excluded."""
    window = 2 * radius + 1
    padded = np.pad(np.asarray(ink, dtype=bool), radius)
    grown = np.lib.stride_tricks.sliding_window_view(padded, (window, window)).any(axis=(-2, -1))
    return grown & ~ink


def saliency(model: Any, prep: Preprocessed, class_index: int) -> Saliency:
    """The gradient of ``class_index``'s logit for this picture, and the masked map the page draws of it."""
    if prep.empty:
        raise ValueError("saliency needs a picture with ink; this one is empty")
    gradient = np.asarray(model.input_gradient(prep.x, class_index), dtype=np.float64).reshape(SIDE, SIDE)
    x = np.asarray(prep.x, dtype=np.float64).reshape(SIDE, SIDE)
    ink = x > 0
    near = near_ink(ink)
    shown = np.where(ink, gradient * x, np.where(near, gradient, 0.0))
    return Saliency(gradient=gradient, shown=shown, ink=ink, near=near)


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


def prepare_stored(image: np.ndarray) -> Preprocessed:
    """A dataset's ``image: (28, 28)`` uint8 exactly as stored, without MNIST's pipeline (which would shrink
    a Fashion-MNIST item, framed to fill all 28x28, into MNIST's 20x20 digit box)."""
    image = np.asarray(image, dtype=np.uint8)
    if image.shape != (28, 28):
        raise ValueError(f"a stored image is 28x28, got shape {image.shape}")
    return Preprocessed(gray=image, inverted=False, background=0, clean=image, box=None, cropped=None,
                        resized=None, offset=None, image=image, centre_of_mass=None, x=to_float(image))


__all__ = ["CLOSE_WITHIN", "NEAR_INK", "UNSURE_BELOW", "ImageError", "Reading", "Saliency", "doubt_note",
           "near_ink", "prepare_canvas", "prepare_example", "prepare_stored", "prepare_upload", "read_digit", "saliency"]
