"""A learner's way through the lessons (the open lesson, committed predictions, lessons done) and its URL form.

In the URL: ``lesson=<id>``, ``guess=<id>:<choice>,...`` and ``done=<id>,...``; a link with them resumes.
Anything in a URL that is not a known lesson or a valid choice is dropped, never echoed into the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lab.lesson_file import Lesson

QUERY_KEYS = ("lesson", "guess", "done")
MAX_VALUE_CHARS = 2000


@dataclass
class Progress:
    current: str | None = None
    guesses: dict[str, int] = field(default_factory=dict)  # lesson id -> committed choice
    done: set[str] = field(default_factory=set)  # lessons whose check passed

    def to_query(self) -> dict[str, str]:
        """The query parameters that restore this progress (empty ones left out)."""
        out = {}
        if self.current:
            out["lesson"] = self.current
        if self.guesses:
            out["guess"] = ",".join(f"{k}:{v}" for k, v in sorted(self.guesses.items()))
        if self.done:
            out["done"] = ",".join(sorted(self.done))
        return out


def _value(query: Mapping[str, Any], key: str) -> str:
    raw = query.get(key, "")
    if isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else ""
    text = str(raw)
    return "" if len(text) > MAX_VALUE_CHARS else text


def progress_from_query(query: Mapping[str, Any], lessons: list[Lesson]) -> Progress:
    """The progress a URL describes, keeping only known lessons and valid choices."""
    by_id = {lesson.id: lesson for lesson in lessons}
    progress = Progress()
    current = _value(query, "lesson")
    progress.current = current if current in by_id else None
    for part in _value(query, "guess").split(","):
        lesson_id, _, choice = part.partition(":")
        lesson = by_id.get(lesson_id)
        if lesson is not None and choice.isascii() and choice.isdigit() and int(choice) < len(lesson.choices):
            progress.guesses[lesson_id] = int(choice)
    progress.done = {part for part in _value(query, "done").split(",") if part in by_id}
    return progress
