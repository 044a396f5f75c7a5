"""The names of the ten classes every page and figure shows: digits for MNIST, clothes for Fashion-MNIST.

Held in a context variable that app.py sets at the start of each script run from the session's dataset,
so the figures label classes the same way on every page without a parameter threaded through every call.
Streamlit runs a script run in its own thread, which starts from the default; a fragment's rerun can be
such a thread without app.py having run, so a source registered with :func:`follow` (the session's
choice) is asked there before falling back to the digits.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar

DIGITS: tuple[str, ...] = tuple(str(d) for d in range(10))
_NAMES: ContextVar[tuple[str, ...] | None] = ContextVar("class_names", default=None)
_NOUN: ContextVar[str | None] = ContextVar("class_noun", default=None)
_source: list[Callable[[], tuple[Sequence[str], str] | None]] = []


def use_labels(names: Sequence[str], noun: str) -> None:
    """Label classes with ``names`` (ten of them) and call one a ``noun`` for the rest of this script run."""
    if len(names) != 10:
        raise ValueError(f"ten class names are needed, got {len(names)}")
    _NAMES.set(tuple(str(n) for n in names))
    _NOUN.set(noun)


def follow(source: Callable[[], tuple[Sequence[str], str] | None]) -> None:
    """Where a thread that no script run labelled finds (names, noun); ``source`` returns None when it cannot tell."""
    _source[:] = [source]


@contextlib.contextmanager
def labels_for(names: Sequence[str], noun: str) -> Iterator[None]:
    """Within the block, classes are labelled with ``names`` (tests, scripts)."""
    tokens = (_NAMES.set(tuple(names)), _NOUN.set(noun))
    try:
        yield
    finally:
        _NAMES.reset(tokens[0])
        _NOUN.reset(tokens[1])


def _current() -> tuple[tuple[str, ...], str]:
    names = _NAMES.get()
    if names is not None:
        return names, _NOUN.get() or "digit"
    for source in _source:
        try:
            found = source()
        except Exception:  # noqa: BLE001 (a source that cannot tell is the same as none)
            found = None
        if found is not None:
            return tuple(found[0]), found[1]
    return DIGITS, "digit"


def label(k: int) -> str:
    """Class ``k``'s name ("7", or "Sneaker")."""
    return _current()[0][int(k)]


def labels() -> tuple[str, ...]:
    return _current()[0]


def noun(plural: bool = False, *, article: bool = False) -> str:
    """What one class is called: "digit" or "item" ("digits", "items" when ``plural``; "a digit", "an item"
    with ``article``). Every text that would say digit says this, so it follows the dataset."""
    word = _current()[1] + ("s" if plural else "")
    if article and not plural:
        return ("an " if word[0] in "aeiou" else "a ") + word
    return word
