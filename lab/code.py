"""The textbook's own source, read at run time, so that what a page shows can never drift from the code."""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Listing:
    """A function's source as it is in its file now: ``lines`` start at line ``first_line`` of ``path``."""

    name: str  # e.g. "MLP.backward"
    path: str  # e.g. "nn/model.py"
    first_line: int
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def where(self) -> str:
        """``nn/model.py, lines 160-185``: what a caption says."""
        return f"{self.path}, lines {self.first_line}-{self.first_line + len(self.lines) - 1}"

    def line_of(self, marker: str) -> int:
        """Index (0-based, in ``lines``) of the first line containing ``marker``; ValueError if none does."""
        for i, line in enumerate(self.lines):
            if marker in line:
                return i
        raise ValueError(f"{self.name} has no line containing {marker!r}")

    def marked(self, marker: str, note: str = "<- this number") -> str:
        """The source with ``note`` appended to the line containing ``marker``."""
        at = self.line_of(marker)
        return "\n".join(f"{line}   {note}" if i == at else line for i, line in enumerate(self.lines))


def listing(obj: Any) -> Listing:
    """The source of a function, method or class ``obj``, dedented, with where it lives."""
    lines, first = inspect.getsourcelines(obj)
    path = Path(inspect.getsourcefile(obj) or "").resolve()
    try:
        shown = path.relative_to(_ROOT).as_posix()
    except ValueError:
        shown = path.name
    text = textwrap.dedent("".join(lines)).rstrip("\n")
    return Listing(name=obj.__qualname__, path=shown, first_line=first, lines=tuple(text.split("\n")))
