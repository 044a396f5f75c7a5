"""Display names in a class: cleaned and limited (they are shown to everyone), or made up for a student."""

from __future__ import annotations

import unicodedata

import numpy as np

MAX_NAME_CHARS = 24
_ADJECTIVES = ("Brave", "Calm", "Clever", "Curious", "Eager", "Gentle", "Happy", "Keen", "Lucky", "Quick",
               "Quiet", "Sharp", "Steady", "Swift", "Wise", "Bold")
_ANIMALS = ("Otter", "Falcon", "Badger", "Heron", "Lynx", "Panda", "Koala", "Gecko", "Puffin", "Orca",
            "Marten", "Ibex", "Tapir", "Wombat", "Finch", "Newt")


def clean_name(raw: str) -> str:
    """The name as it will be shown: NFKC, no control or invisible characters, single spaces, at most
    ``MAX_NAME_CHARS``; raises ValueError (one line) when nothing usable is left."""
    text = unicodedata.normalize("NFKC", str(raw)[: 4 * MAX_NAME_CHARS])
    kept = "".join(" " if ch.isspace() else ch for ch in text if unicodedata.category(ch)[0] != "C" or ch.isspace())
    name = " ".join(kept.split())[:MAX_NAME_CHARS].strip()
    if not any(ch.isalnum() for ch in name):
        raise ValueError(f"a name needs at least one letter or digit (at most {MAX_NAME_CHARS} characters)")
    return name


def made_up_name(rng: np.random.Generator) -> str:
    """A friendly name for a student who did not pick one, e.g. "Calm Otter 42"."""
    return f"{rng.choice(_ADJECTIVES)} {rng.choice(_ANIMALS)} {int(rng.integers(10, 100))}"
