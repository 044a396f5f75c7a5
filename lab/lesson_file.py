"""Lessons as data: one TOML file each in ``lessons/``, read with ``tomllib`` and checked field by field.

A teacher adds a lesson by writing a file (see ``lessons/README.md`` for the format); a file that is
wrong is refused with one line naming the file, the field and what it should be, and the other lessons
still load. The run a lesson sets up is a preset plus knob values written as in a Train page link
(``lr = "0.5"``), so every value is checked by the same parsers as a URL (lab/params.py); ``dataset``
names what it trains on, as ``data=`` does in a URL (MNIST when left out).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab.datasets import DATASETS, DEFAULT
from lab.page_sections import SECTIONS
from lab.params import SPECS, config_to_knobs, knobs_to_config, presets
from lab.run_summary import METRICS

LESSONS_DIR = Path(__file__).resolve().parents[1] / "lessons"
MAX_FILE_BYTES = 64 * 1024  # a lesson is a page of text; anything bigger is a mistake
MAX_FILES = 100
PAGES = ("home", "data", "train", "step", "evaluate", "inspect", "draw", "lessons")
OPS = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
       ">=": lambda a, b: a >= b, "==": lambda a, b: a == b}
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_TOP_KEYS = {"title", "order", "question", "prediction", "setup", "watch", "check"}


class LessonError(ValueError):
    """A lesson file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Watch:
    page: str  # one of PAGES
    look: str  # what to look at there, one sentence
    section: str | None = None  # the page's section to open (lab/page_sections.py), if it has sections


@dataclass(frozen=True)
class Condition:
    metric: str  # one of run_summary.METRICS
    op: str  # one of OPS
    value: float

    def holds(self, measured: float) -> bool:
        return math.isfinite(measured) and OPS[self.op](measured, self.value)


@dataclass(frozen=True)
class Lesson:
    id: str  # the file name without .toml
    title: str
    order: int
    question: str
    choices: tuple[str, ...]
    answer: int  # index into choices: what the run will show
    why: str  # why that answer, shown once the learner has committed
    preset: str
    setup: Mapping[str, str]  # knob -> value as in a URL, what the lesson changes from the preset
    knobs: Mapping[str, Any]  # the full knob values of the run to set up
    watch: tuple[Watch, ...]
    conditions: tuple[Condition, ...]  # all must hold on the learner's run
    passed: str  # the explanation when they hold
    failed: str  # the explanation when they do not
    dataset: str = DEFAULT  # what the run trains on (a key of lab/datasets.py DATASETS, as in ``data=`` of a URL)


def load_lessons(folder: Path = LESSONS_DIR) -> tuple[list[Lesson], list[str]]:
    """Every lesson in ``folder`` in order, and one line per file that was refused."""
    lessons: list[Lesson] = []
    errors: list[str] = []
    files = sorted(folder.glob("*.toml")) if folder.is_dir() else []
    if len(files) > MAX_FILES:
        errors.append(f"{folder}: {len(files)} lesson files; only the first {MAX_FILES} are read.")
        files = files[:MAX_FILES]
    for path in files:
        try:
            lessons.append(read_lesson(path))
        except LessonError as exc:
            errors.append(str(exc))
    return sorted(lessons, key=lambda item: (item.order, item.id)), errors


def read_lesson(path: Path) -> Lesson:
    """One lesson file, checked (raises ``LessonError`` with a one-line message)."""
    name = path.name
    if not _ID.fullmatch(path.stem):
        raise LessonError(f"{name}: the file name must be lowercase letters, digits and dashes (at most 40)")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise LessonError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise LessonError(f"{name}: larger than {MAX_FILE_BYTES // 1024} KB; a lesson is a page of text")
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise LessonError(f"{name}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise LessonError(f"{name}: not valid TOML ({exc})") from None
    return parse_lesson(path.stem, data, name)


def parse_lesson(lesson_id: str, data: Mapping[str, Any], name: str = "lesson") -> Lesson:
    """A lesson from its parsed TOML table."""
    f = _Fields(name)
    f.no_unknown(data, _TOP_KEYS, "")
    prediction = f.table(data, "prediction")
    f.no_unknown(prediction, {"choices", "answer", "why"}, "prediction.")
    choices = f.strings(prediction, "prediction.choices", low=2, high=6)
    answer = f.integer(prediction, "prediction.answer", 0, len(choices) - 1)
    setup = f.table(data, "setup")
    preset, knobs, changes = _setup(f, setup)
    dataset = _dataset(f, setup)
    check = f.table(data, "check")
    f.no_unknown(check, {"all", "pass", "fail"}, "check.")
    conditions = tuple(_condition(f, item, i) for i, item in enumerate(f.tables(check, "check.all", low=1)))
    return Lesson(
        id=lesson_id,
        title=f.text(data, "title", 80),
        order=f.integer(data, "order", 0, 10_000),
        question=f.text(data, "question", 600),
        choices=choices,
        answer=answer,
        why=f.text(prediction, "prediction.why", 1200),
        preset=preset,
        setup=changes,
        knobs=knobs,
        watch=tuple(_watch(f, item, i) for i, item in enumerate(f.tables(data, "watch", low=1))),
        conditions=conditions,
        passed=f.text(check, "check.pass", 1200),
        failed=f.text(check, "check.fail", 1200),
        dataset=dataset,
    )


def _setup(f: _Fields, setup: Mapping[str, Any]) -> tuple[str, dict[str, Any], dict[str, str]]:
    preset_name = f.text(setup, "setup.preset", 20)
    named = presets()
    if preset_name not in named:
        raise LessonError(f"{f.name}: setup.preset = {preset_name!r} is not a preset; use one of {', '.join(named)}")
    knobs = config_to_knobs(named[preset_name])
    changes: dict[str, str] = {}
    for key, value in setup.items():
        if key in ("preset", "dataset"):
            continue
        if key not in SPECS:
            raise LessonError(f"{f.name}: setup.{key} is not a Train page setting; use one of {', '.join(SPECS)}")
        text = str(value).lower() if isinstance(value, bool) else str(value)
        try:
            knobs[key] = SPECS[key].parse(text)
        except (ValueError, OverflowError) as exc:
            raise LessonError(f"{f.name}: setup.{key} = {value!r}: {exc}") from None
        changes[key] = SPECS[key].render(knobs[key])
    try:
        knobs_to_config(knobs, named[preset_name])
    except ValueError as exc:
        raise LessonError(f"{f.name}: [setup] does not fit together: {exc}") from None
    return preset_name, knobs, changes


def _dataset(f: _Fields, setup: Mapping[str, Any]) -> str:
    if "dataset" not in setup:
        return DEFAULT
    name = f.text(setup, "setup.dataset", 20)
    if name not in DATASETS:
        raise LessonError(f"{f.name}: setup.dataset = {name!r}; use one of {', '.join(DATASETS)}")
    return name


def _watch(f: _Fields, item: Mapping[str, Any], i: int) -> Watch:
    f.no_unknown(item, {"page", "look", "section"}, f"watch[{i}].")
    page = f.text(item, f"watch[{i}].page", 20, key="page")
    if page not in PAGES:
        raise LessonError(f"{f.name}: watch[{i}].page = {page!r}; use one of {', '.join(PAGES)}")
    section = f.text(item, f"watch[{i}].section", 40, key="section") if "section" in item else None
    if section is not None and section not in SECTIONS.get(page, ()):
        names = ", ".join(SECTIONS.get(page, ())) or "none: it is one page"
        raise LessonError(f"{f.name}: watch[{i}].section = {section!r}; {page}'s sections are {names}")
    return Watch(page=page, look=f.text(item, f"watch[{i}].look", 400, key="look"), section=section)


def _condition(f: _Fields, item: Mapping[str, Any], i: int) -> Condition:
    where = f"check.all[{i}]"
    f.no_unknown(item, {"metric", "op", "value"}, where + ".")
    metric = f.text(item, f"{where}.metric", 40, key="metric")
    if metric not in METRICS:
        raise LessonError(f"{f.name}: {where}.metric = {metric!r}; use one of {', '.join(METRICS)}")
    op = f.text(item, f"{where}.op", 2, key="op")
    if op not in OPS:
        raise LessonError(f"{f.name}: {where}.op = {op!r}; use one of {' '.join(OPS)}")
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise LessonError(f"{f.name}: {where}.value must be a finite number, got {value!r}")
    return Condition(metric=metric, op=op, value=float(value))


class _Fields:
    """Typed reads of a parsed TOML table, each failure one line naming the file and the field."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _get(self, table: Mapping[str, Any], path: str, key: str | None) -> Any:
        key = key or path.rsplit(".", 1)[-1]
        if key not in table:
            raise LessonError(f"{self.name}: {path} is missing")
        return table[key]

    def text(self, table: Mapping[str, Any], path: str, limit: int, *, key: str | None = None) -> str:
        value = self._get(table, path, key)
        if not isinstance(value, str) or not value.strip():
            raise LessonError(f"{self.name}: {path} must be non-empty text")
        if len(value) > limit:
            raise LessonError(f"{self.name}: {path} is {len(value)} characters; at most {limit}")
        return value.strip()

    def integer(self, table: Mapping[str, Any], path: str, low: int, high: int) -> int:
        value = self._get(table, path, None)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise LessonError(f"{self.name}: {path} must be an integer in [{low}, {high}], got {value!r}")
        return value

    def strings(self, table: Mapping[str, Any], path: str, *, low: int, high: int) -> tuple[str, ...]:
        value = self._get(table, path, None)
        if not isinstance(value, list) or not low <= len(value) <= high:
            raise LessonError(f"{self.name}: {path} must be a list of {low} to {high} texts")
        return tuple(self.text({"x": v}, f"{path}[{i}]", 300, key="x") for i, v in enumerate(value))

    def table(self, data: Mapping[str, Any], path: str) -> Mapping[str, Any]:
        value = self._get(data, path, None)
        if not isinstance(value, dict):
            raise LessonError(f"{self.name}: [{path}] must be a table")
        return value

    def tables(self, data: Mapping[str, Any], path: str, *, low: int) -> list[Mapping[str, Any]]:
        value = self._get(data, path, None)
        if not isinstance(value, list) or len(value) < low or not all(isinstance(v, dict) for v in value):
            raise LessonError(f"{self.name}: {path} must be a list of at least {low} table(s) ([[{path}]])")
        return value[:20]

    def no_unknown(self, table: Mapping[str, Any], known: set[str], prefix: str) -> None:
        unknown = sorted(set(table) - known)
        if unknown:
            raise LessonError(f"{self.name}: unknown field {prefix}{unknown[0]} (known: {', '.join(sorted(known))})")
