"""A lesson's check on the learner's own run: did the run show what the lesson is about, and why.

The run checked is the session's latest one that used the lesson's settings (the knobs the lesson
changes); a run with other settings is not judged, the learner is told what differs instead.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from lab.datasets import dataset_info
from lab.lesson_file import Lesson
from lab.params import SPECS
from lab.run_summary import METRICS, RunSummary

PASS, FAIL, WAIT, NO_RUN = "pass", "fail", "wait", "no-run"
FREE_KNOBS = frozenset({"seed"})  # another seed is still the lesson's experiment


@dataclass(frozen=True)
class CheckResult:
    status: str  # PASS, FAIL, WAIT (the run is still going) or NO_RUN (no run with the lesson's settings)
    headline: str
    lines: tuple[str, ...]  # one per condition: what was measured against what was expected
    explanation: str
    run_id: str | None = None


def setup_differences(lesson: Lesson, run: RunSummary) -> list[str]:
    """The lesson's settings this run did not use, as "lr is 0.002, the lesson sets 5" (the seed is free)."""
    out = []
    if run.dataset != lesson.dataset:
        out.append(f"the run trained on {dataset_info(run.dataset).title}, the lesson uses "
                   f"{dataset_info(lesson.dataset).title}")
    for key, want in lesson.knobs.items():
        got = run.knobs.get(key)
        if key not in FREE_KNOBS and got != want:
            render = SPECS[key].render
            out.append(f"{key} is {render(got) if got is not None else 'unset'}, the lesson sets {render(want)}")
    return out


def pick_run(lesson: Lesson, runs: Sequence[RunSummary]) -> RunSummary | None:
    """The latest run (runs are oldest first) that used every setting the lesson sets."""
    for run in reversed(runs):
        if not setup_differences(lesson, run):
            return run
    return None


def _line(metric: str, op: str, value: float, measured: float, ok: bool) -> str:
    shown = "n/a" if not math.isfinite(measured) else f"{measured:.4g}"
    mark = "yes" if ok else "no"
    return f"{METRICS[metric]}: {shown} (expected {op} {value:g}): {mark}"


def check_lesson(lesson: Lesson, runs: Sequence[RunSummary]) -> CheckResult:
    """Judge the session's runs (oldest first) against the lesson's conditions."""
    run = pick_run(lesson, runs)
    if run is None:
        latest = runs[-1] if runs else None
        if latest is None:
            return CheckResult(NO_RUN, "No run yet.", (), "Set up the run, press Start on the Train page, "
                               "then come back here.")
        diffs = setup_differences(lesson, latest)
        return CheckResult(NO_RUN, "Your latest run is not this lesson's experiment.", tuple(diffs),
                           "Press **Set up the run** to load the lesson's settings, then Start.", latest.run_id)
    if run.is_active:
        return CheckResult(WAIT, "Your run is still training.", (),
                           "The check runs on the finished run: watch it meanwhile.", run.run_id)
    lines, ok = [], True
    for cond in lesson.conditions:
        measured = run.metric(cond.metric)
        holds = cond.holds(measured)
        ok &= holds
        lines.append(_line(cond.metric, cond.op, cond.value, measured, holds))
    if ok:
        return CheckResult(PASS, "Your run shows it.", tuple(lines), lesson.passed, run.run_id)
    return CheckResult(FAIL, "Your run did not show it.", tuple(lines), lesson.failed, run.run_id)
