"""Every run kept: records frozen from ended runs, a bounded book, the table of what differs, its CSV, the overlay."""

from __future__ import annotations

import dataclasses
import io
import re

import numpy as np
import pandas as pd
import pytest

from figures.runs import overlay_figure
from lab import reaper
from lab.limiter import RunLimiter
from lab.runs import RunBook, differing_settings, runs_table, table_csv
from lab.training_run import TrainingRun
from nn.config import ModelConfig, TrainConfig
from nn.events import RunState
from tests.test_timeline import IMAGES, LABELS

BASE = TrainConfig(model=ModelConfig(hidden=(16,)), epochs=2, batch_size=50, val_size=100, lr=3e-3, seed=2)


@pytest.fixture(autouse=True)
def _stop_runs():
    yield
    reaper.stop_all()


def finished(config: TrainConfig = BASE) -> TrainingRun:
    run = TrainingRun(config, IMAGES, LABELS, limiter=RunLimiter(4)).start()
    assert run.join(30)
    return run


def test_an_ended_run_is_frozen_into_its_record() -> None:
    run = finished()
    book = RunBook()
    book.add_run(run)
    assert book.records() == []  # not refreshed yet
    book.refresh()
    [record] = book.records()
    assert record.name == "Run 1" and record.status == RunState.FINISHED.value and record.source == "trained"
    assert record.config == BASE and len(record.history) == 2 and record.batches_per_epoch == 16
    assert record.batch_losses.shape == (32,) and record.batch_lrs.shape == (32,)
    assert [c.kind for c in record.timeline][-1] == "epoch" and record.timeline[-1].step == 32
    np.testing.assert_array_equal(record.model.weights[0], run.trainer.model.weights[0])
    run.release()  # the record keeps what it needs after the trainer goes
    assert record.model.weights[0].shape == (784, 16) and record.nbytes > record.timeline[-1].nbytes
    # samples seen: 800 training images per epoch, batches of 50
    np.testing.assert_array_equal(record.samples_seen(np.array([0, 1, 16, 17, 32])), [0, 50, 800, 850, 1600])


def test_the_book_keeps_at_most_its_limit_dropping_the_oldest_ended_run_but_never_a_kept_one() -> None:
    book = RunBook(limit=3)
    runs = [finished(BASE.replace(seed=s)) for s in range(4)]
    for run in runs[:3]:
        book.add_run(run)
    book.refresh()
    dropped = book.add_run(runs[3], keep=runs[0].run_id)
    assert dropped == ["Run 2"] and [e.name for e in book.entries] == ["Run 1", "Run 3", "Run 4"]
    assert book.delete(runs[0].run_id) and not book.delete("no such run")
    assert [e.name for e in book.entries] == ["Run 3", "Run 4"]
    with pytest.raises(ValueError):
        RunBook(limit=1)


def test_the_book_also_stays_within_its_memory_limit() -> None:
    runs = [finished(BASE.replace(seed=s)) for s in range(3)]
    probe = RunBook()
    probe.add_run(runs[0])
    probe.refresh()
    size = probe.memory_bytes()
    book = RunBook(memory_limit=int(2.5 * size))
    dropped = []
    for run in runs:
        book.add_run(run)
        dropped += book.refresh(keep=runs[1].run_id)
    assert dropped == ["Run 1"] and [e.name for e in book.entries] == ["Run 2", "Run 3"]
    assert book.memory_bytes() <= book.memory_limit
    tiny = RunBook(memory_limit=1)  # the newest run stays even when it alone is over the limit
    tiny.add_run(runs[2])
    assert tiny.refresh() == [] and len(tiny.records()) == 1


def test_a_live_run_is_never_dropped_nor_deleted() -> None:
    book = RunBook(limit=2)
    slow = TrainingRun(BASE.replace(epochs=50), IMAGES, LABELS, limiter=RunLimiter(4), start_paused=True).start()
    book.add_run(slow)
    for seed in (5, 6):
        book.add_run(finished(BASE.replace(seed=seed)))
        book.refresh()
    assert book.entries[0].name == "Run 1" and len(book.entries) == 2
    assert not book.delete(slow.run_id)
    slow.stop()
    assert slow.join(10)
    book.refresh()
    assert book.get(slow.run_id).record.status == RunState.STOPPED.value


def test_the_table_shows_only_the_settings_that_differ_and_its_csv_reads_back() -> None:
    a, b = finished(BASE), finished(BASE.replace(lr=3e-2, batch_size=100))
    book = RunBook()
    book.add_run(a)
    book.add_run(b)
    book.refresh()
    records = book.records()
    records[0].test_accuracy = 0.5
    assert differing_settings(records) == ["lr", "batch_size"]
    table = runs_table(records)
    assert list(table.columns[:5]) == ["run", "status", "change", "lr", "batch_size"]
    assert table["lr"].tolist() == [3e-3, 3e-2] and table["epochs"].tolist() == [2, 2]
    assert table["final val acc"].tolist() == [r.history["val_acc"].iloc[-1] for r in records]
    assert table["parameters"].tolist() == [784 * 16 + 16 + 170] * 2
    back = pd.read_csv(io.BytesIO(table_csv(table)))
    assert back["run"].tolist() == ["Run 1", "Run 2"] and back["lr"].tolist() == [3e-3, 3e-2]
    assert back["test acc"].iloc[0] == 0.5 and np.isnan(back["test acc"].iloc[1])


def test_overlaid_curves_per_epoch_and_per_image_seen() -> None:
    a, b = finished(BASE), finished(BASE.replace(batch_size=100))
    book = RunBook()
    book.add_run(a)
    book.add_run(b)
    book.refresh()
    records = book.records()
    loss = overlay_figure(records, "loss", "epoch")
    solid = [t for t in loss.data if t.line.dash == "solid"]
    assert [t.name for t in solid] == ["Run 1", "Run 2"] and solid[0].line.color != solid[1].line.color
    assert solid[0].x[-1] == pytest.approx(2.0) and solid[1].x[-1] == pytest.approx(2.0)
    per_image = overlay_figure(records, "loss", "samples")
    assert [t.x[-1] for t in per_image.data if t.line.dash == "solid"] == [1600, 1600]
    accuracy = overlay_figure(records, "accuracy", "epoch")
    val = [t for t in accuracy.data if t.line.dash == "dot"]
    np.testing.assert_allclose(val[1].y, 100 * records[1].history["val_acc"].to_numpy(), rtol=1e-6)
    assert overlay_figure(records, "lr").layout.title.text == "Learning rate at each step"
    # Log axes with every tick written out (plotly's own read "5, 2, 0.1, 5, 2")
    assert loss.layout.yaxis.type == "log" and loss.layout.yaxis.ticktext
    assert all(re.fullmatch(r"[\d,.]+|\d(\.\d+)?e-?\d+", t) for t in loss.layout.yaxis.ticktext)
    with pytest.raises(ValueError):
        overlay_figure(records, "banana")


def test_learning_rates_are_linear_unless_the_runs_peaks_differ_and_an_upload_is_named_by_its_validation_line() -> None:
    """Seen in chromium: a cosine schedule on the Runs page's log axis was a flat line with a cliff, and an
    uploaded model's dotted validation line had no legend entry (it has no batches of its own)."""
    book = RunBook()
    for config in (BASE.replace(schedule="cosine"), BASE.replace(schedule="cosine", lr=6e-3),
                   BASE.replace(lr=3e-1)):
        book.add_run(finished(config))
    book.refresh()
    cosine, twice, far = book.records()
    near = overlay_figure([cosine, twice], "lr")
    assert near.layout.yaxis.type != "log" and near.layout.yaxis.rangemode == "tozero"
    assert min(cosine.batch_lrs) < 3e-3 / 100  # the cosine decays far: its own span did not make the axis log
    spread = overlay_figure([cosine, far], "lr")
    assert spread.layout.yaxis.type == "log" and "log scale" in spread.layout.yaxis.title.text
    upload = dataclasses.replace(cosine, name="model.npz", source="uploaded",
                                 batch_losses=np.zeros(0, np.float32), batch_lrs=np.zeros(0, np.float32))
    loss = overlay_figure([cosine, upload], "loss")
    named = [t.name for t in loss.data if t.showlegend and len(t.y)]
    assert named == ["Run 1", "model.npz, validation"]
