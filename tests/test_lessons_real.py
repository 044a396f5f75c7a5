"""Each lesson's own setup, trained on the real MNIST (or Fashion-MNIST) through the app's TrainingRun: its check passes
(the lesson's thresholds hold on the run a learner gets, not just on made-up histories)."""

from __future__ import annotations

import pytest

from lab.datasets import dataset_info
from lab.lesson_check import PASS, check_lesson
from lab.lesson_file import load_lessons
from lab.limiter import RunLimiter
from lab.params import knobs_to_config, presets
from lab.run_summary import summarize_run
from lab.training_run import TrainingRun

pytestmark = pytest.mark.realdata
LESSONS, _ = load_lessons()


@pytest.mark.parametrize("lesson", LESSONS, ids=[lesson.id for lesson in LESSONS])
def test_the_lessons_own_run_passes_its_check(mnist, lesson) -> None:
    data = mnist if lesson.dataset == "mnist" else dataset_info(lesson.dataset).load()  # Fashion: Debian's package
    config = knobs_to_config(lesson.knobs, presets()[lesson.preset])
    run = TrainingRun(config, data.x_train, data.y_train, limiter=RunLimiter(1), dataset=lesson.dataset).start()
    assert run.join(timeout=300)
    result = check_lesson(lesson, [summarize_run(run)])
    assert result.status == PASS, (result.headline, result.lines)
