"""The quick preset, a newcomer's first run (Home says so), is one they can watch learn, and still quick."""

from __future__ import annotations

import math

from nn.model import param_count
from nn.presets import PRESETS

MNIST_TRAIN = 60_000


def work(name: str) -> float:
    """Multiply-adds per run, roughly: parameters x training images x epochs."""
    config = PRESETS[name]
    images = config.train_subset or (MNIST_TRAIN - config.val_size)
    return param_count(config.model) * images * config.epochs


def test_quick_draws_several_epochs_and_many_batches() -> None:
    quick = PRESETS["quick"]
    images = quick.train_subset or (MNIST_TRAIN - quick.val_size)
    batches = math.ceil(images / quick.batch_size) * quick.epochs
    assert quick.epochs >= 5  # the epoch chart fills point by point
    assert batches >= 1500  # the loss chart fills over seconds, not at once (5,000 x 3 epochs was 235)


def test_quick_stays_well_below_the_default_run() -> None:
    assert work("quick") < work("default") / 3


def test_home_sends_a_newcomer_to_the_quick_preset_and_says_what_to_watch() -> None:
    from pathlib import Path

    home = (Path(__file__).resolve().parents[1] / "app_pages" / "home.py").read_text(encoding="utf-8")
    assert "*quick* preset" in home and "watch" in home
