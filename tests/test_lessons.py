"""Lessons: every file loads; each lesson's check passes on a run that shows its point and fails on one that
does not (synthetic histories); the check judges only runs with the lesson's settings; a bad file is
refused in one line naming the field while the others load; progress survives a (hostile) URL."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lab.lesson_check import FAIL, NO_RUN, PASS, WAIT, check_lesson, pick_run
from lab.lesson_file import LESSONS_DIR, LessonError, load_lessons, read_lesson
from lab.lesson_progress import Progress, progress_from_query
from lab.run_summary import METRICS, RunSummary, loss_noise

LESSONS, ERRORS = load_lessons()
BY_ID = {lesson.id: lesson for lesson in LESSONS}


def run_of(lesson_id: str, **numbers) -> RunSummary:
    """A finished run with the lesson's settings and the given per-epoch numbers."""
    fields = {"phase": "finished", "train_acc": (0.9,), "val_acc": (0.9,), "train_loss": (0.5,),
              "val_loss": (0.5,)}
    fields.update(numbers)
    return RunSummary(run_id=f"r-{lesson_id}", knobs=dict(BY_ID[lesson_id].knobs), epochs_planned=3,
                      dataset=BY_ID[lesson_id].dataset, **fields)


# What each lesson's run shows when it works, and a run of the same settings that did not show it.
CASES = {
    "lr-too-high": (dict(phase="diverged", train_acc=(), val_acc=()), dict(train_acc=(0.5, 0.8), val_acc=(0.6, 0.85))),
    "lr-too-low": (dict(val_acc=(0.15, 0.16)), dict(val_acc=(0.85, 0.91))),
    "no-hidden-layer": (dict(val_acc=(0.84, 0.88)), dict(val_acc=(0.3, 0.5))),
    "overfitting": (dict(train_acc=(0.8, 1.0), val_acc=(0.85, 0.863)), dict(train_acc=(0.8, 0.9), val_acc=(0.85, 0.88))),
    "dropout": (dict(val_loss=(0.6, 0.454, 0.482), val_acc=(0.8, 0.87, 0.871)),
                dict(val_loss=(0.6, 0.47, 0.543), val_acc=(0.8, 0.86, 0.863))),
    "sigmoid-deep": (dict(grad_norms=(1.2e-2, 2e-2, 6e-2, 0.19, 0.52, 1.54)),
                     dict(grad_norms=(4.3, 1.4, 1.1, 1.2, 1.1, 1.2))),
    "batch-size-noise": (dict(loss_noise=1.42), dict(loss_noise=0.04)),
    "augmentation": (dict(train_acc=(0.5, 0.858), val_acc=(0.76, 0.906)), dict(train_acc=(0.8, 0.95), val_acc=(0.9, 0.93))),
    "fashion-harder": (dict(val_acc=(0.83, 0.868, 0.859)), dict(phase="stopped", val_acc=(0.41,))),
}


def test_every_lesson_file_loads_and_the_issue_list_is_covered() -> None:
    assert ERRORS == []
    assert len(LESSONS) >= 8
    assert set(CASES) <= set(BY_ID), "a lesson of the issue's list is missing"
    assert set(BY_ID) <= set(CASES), "a new lesson needs its pass/fail case here"
    for lesson in LESSONS:
        assert 0 <= lesson.answer < len(lesson.choices) and lesson.watch and lesson.conditions


@pytest.mark.parametrize("lesson_id", sorted(CASES))
def test_each_lesson_passes_a_run_that_shows_it_and_fails_one_that_does_not(lesson_id: str) -> None:
    lesson = BY_ID[lesson_id]
    good, bad = CASES[lesson_id]
    passed = check_lesson(lesson, [run_of(lesson_id, **good)])
    assert passed.status == PASS, passed.lines
    assert passed.explanation == lesson.passed and len(passed.lines) == len(lesson.conditions)
    failed = check_lesson(lesson, [run_of(lesson_id, **bad)])
    assert failed.status == FAIL, failed.lines
    assert failed.explanation == lesson.failed
    assert any(line.endswith(": no") for line in failed.lines)


def test_only_a_run_with_the_lessons_settings_is_judged() -> None:
    lesson = BY_ID["lr-too-high"]
    other = replace(run_of("lr-too-high", phase="diverged"), knobs={**lesson.knobs, "lr": 0.002}, run_id="other")
    result = check_lesson(lesson, [other])
    assert result.status == NO_RUN
    assert result.lines == ("lr is 0.002, the lesson sets 5",)
    assert check_lesson(lesson, []).status == NO_RUN
    # The latest matching run counts, even with another seed; later runs with other settings do not hide it.
    mine = replace(run_of("lr-too-high", phase="diverged"), knobs={**lesson.knobs, "seed": 7}, run_id="mine")
    assert pick_run(lesson, [mine, other]).run_id == "mine"
    assert check_lesson(lesson, [mine, other]).status == PASS


def test_a_lesson_judges_only_runs_on_its_own_dataset() -> None:
    fashion = BY_ID["fashion-harder"]
    assert fashion.dataset == "fashion" and BY_ID["lr-too-low"].dataset == "mnist"
    on_digits = replace(run_of("fashion-harder", val_acc=(0.85, 0.87)), dataset="mnist")
    result = check_lesson(fashion, [on_digits])
    assert result.status == NO_RUN
    assert result.lines == ("the run trained on MNIST digits, the lesson uses Fashion-MNIST clothes",)
    # A digits lesson does not judge a Fashion run either, even one that would pass.
    on_clothes = replace(run_of("lr-too-low", val_acc=(0.15, 0.16)), dataset="fashion")
    assert check_lesson(BY_ID["lr-too-low"], [on_clothes]).status == NO_RUN
    assert check_lesson(fashion, [on_digits, run_of("fashion-harder", val_acc=(0.86,))]).status == PASS


def test_a_run_still_training_is_not_judged_yet() -> None:
    result = check_lesson(BY_ID["overfitting"], [run_of("overfitting", phase="running")])
    assert result.status == WAIT


def test_metrics_read_the_history() -> None:
    run = RunSummary("r", "finished", {}, 3, train_acc=(0.5, 0.99), val_acc=(0.8, math.nan),
                     train_loss=(2.0, 0.5), val_loss=(0.5, 0.4, 0.45), grad_norms=(0.01, 0.1, 1.0))
    assert run.metric("gap") != run.metric("gap")  # NaN: no validation accuracy at the end
    assert run.metric("best_val_acc") == 0.8
    assert run.metric("loss_drop") == pytest.approx(0.75)
    assert run.metric("val_loss_rise") == pytest.approx(0.05)
    assert run.metric("grad_ratio") == pytest.approx(0.01)
    for name in METRICS:
        run.metric(name)
    with pytest.raises(KeyError):
        run.metric("accuracy_claimed_by_browser")


def test_loss_noise_is_large_for_a_jumpy_curve_and_small_for_a_smooth_one() -> None:
    rng = np.random.default_rng(0)
    smooth = np.linspace(1.0, 0.5, 300) + rng.normal(0, 0.005, 300)
    jumpy = np.linspace(1.0, 0.5, 300) + rng.normal(0, 0.3, 300)
    assert loss_noise(jumpy, 100) > 10 * loss_noise(smooth, 100)
    assert math.isnan(loss_noise(np.array([1.0]), 100))


# ----- files ---------------------------------------------------------------------------------------
GOOD = (LESSONS_DIR / "lr-too-high.toml").read_text()


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("name, text, words", [
    ("bad.toml", "title = [unclosed", "not valid TOML"),
    ("bad.toml", GOOD.replace('order = 10', 'order = 10\ncolour = "red"'), "unknown field colour"),
    ("bad.toml", GOOD.replace('metric = "diverged"', 'metric = "claimed_acc"'), "check.all[0].metric"),
    ("bad.toml", GOOD.replace('lr = "5"', 'lr = "fast"'), "setup.lr"),
    ("bad.toml", GOOD.replace('lr = "5"', 'lr = "1e999"'), "setup.lr"),
    ("bad.toml", GOOD.replace('lr = "5"', 'colour = "red"'), "setup.colour is not a Train page setting"),
    ("bad.toml", GOOD.replace('preset = "quick"', 'preset = "turbo"'), "setup.preset"),
    ("bad.toml", GOOD.replace('preset = "quick"', 'preset = "quick"\ndataset = "cifar"'), "setup.dataset = 'cifar'"),
    ("bad.toml", GOOD.replace('preset = "quick"', 'preset = "quick"\ndataset = 3'), "setup.dataset must be"),
    ("bad.toml", GOOD.replace("answer = 2", "answer = 7"), "prediction.answer"),
    ("bad.toml", GOOD.replace('page = "train"', 'page = "http://evil"', 1), "watch[0].page"),
    ("bad.toml", GOOD.replace('op = "=="', 'op = "~"'), "check.all[0].op"),
    ("bad.toml", GOOD.replace("value = 1", 'value = "one"'), "check.all[0].value"),
    ("bad.toml", GOOD.replace("title = ", "heading = "), "unknown field heading"),
    ("bad.toml", GOOD.replace('[setup]\npreset = "quick"', '[setup]\npreset = "quick"\npatience = "3"\nval_size = "0"'),
     "does not fit together"),
    ("Bad Name.toml", GOOD, "file name"),
    ("bad.toml", b"title = \"\xff\xfe\"", "not UTF-8"),
    ("bad.toml", GOOD + "\n# padding\n" + "#" * 70_000, "larger than 64 KB"),
])
def test_a_bad_lesson_file_is_refused_in_one_line_naming_the_field(tmp_path: Path, name: str, text, words: str) -> None:
    write(tmp_path, "fine.toml", GOOD)
    write(tmp_path, name, text)
    lessons, errors = load_lessons(tmp_path)
    assert [lesson.id for lesson in lessons] == ["fine"]
    assert len(errors) == 1 and errors[0].startswith(name) and words in errors[0], errors
    assert "\n" not in errors[0]
    with pytest.raises(LessonError):
        read_lesson(tmp_path / name)


def test_a_teacher_adds_a_lesson_without_code(tmp_path: Path) -> None:
    text = GOOD.replace("order = 10", "order = 5").replace('lr = "5"', 'lr = "0.5"').replace(
        'title = "A learning rate that is too high"', 'title = "My own lesson"')
    write(tmp_path, "my-lesson.toml", text)
    (lesson,), errors = load_lessons(tmp_path)
    assert errors == [] and lesson.title == "My own lesson" and lesson.knobs["lr"] == 0.5
    assert lesson.setup == {"optimizer": "sgd", "lr": "0.5"}


# ----- progress ------------------------------------------------------------------------------------
def test_progress_round_trips_through_the_url_and_drops_what_it_does_not_know() -> None:
    state = Progress(current="dropout", guesses={"dropout": 1, "lr-too-high": 2}, done={"lr-too-high"})
    assert progress_from_query(state.to_query(), LESSONS) == state
    hostile = {"lesson": "<script>", "guess": "dropout:9,lr-too-high:²,nope:1,dropout:x,:,overfitting:1",
               "done": "x" * 5000}
    got = progress_from_query(hostile, LESSONS)
    assert got == Progress(current=None, guesses={"overfitting": 1}, done=set())
