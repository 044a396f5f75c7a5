"""The names of the ten classes every page and figure shows: digits for MNIST, clothes for Fashion-MNIST.

Held in a context variable that app.py sets at the start of each script run from the session's dataset,
so the figures label classes the same way on every page without a parameter threaded through every call
(Streamlit runs each script run in its own thread, which starts from the default: the digits).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar

DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))
_NAMES: ContextVar[tuple[str, ...]] = ContextVar("class_names", default=DIGITS)
_NOUN: ContextVar[str] = ContextVar("class_noun", default="digit")


def use_labels(names: Sequence[str], noun: str) -> None:
    """Label classes with ``names`` (ten of them) and call one a ``noun`` for the rest of this script run."""
    if len(names) != 10:
        raise ValueError(f"ten class names are needed, got {len(names)}")
    _NAMES.set(tuple(str(n) for n in names))
    _NOUN.set(noun)


@contextlib.contextmanager
def labels_for(names: Sequence[str], noun: str) -> Iterator[None]:
    """Within the block, classes are labelled with ``names`` (tests, scripts)."""
    tokens = (_NAMES.set(tuple(names)), _NOUN.set(noun))
    try:
        yield
    finally:
        _NAMES.reset(tokens[0])
        _NOUN.reset(tokens[1])


def label(k: int) -> str:
    """Class ``k``'s name ("7", or "Sneaker")."""
    return _NAMES.get()[int(k)]


def labels() -> tuple[str, ...]:
    return _NAMES.get()


def noun() -> str:
    """What one class is called: "digit" or "item"."""
    return _NOUN.get()
