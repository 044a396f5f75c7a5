"""Evaluate's calibration glue: the validation split found again, the temperature fitted there, not on the test set."""

from __future__ import annotations

import numpy as np
import pytest

from lab.calibration import calibrate, calibrated_abstention, validation_indices
from lab.evaluation import to_test_data
from nn.config import ModelConfig, TrainConfig
from nn.data import to_float
from nn.explain.calibration import fit_temperature
from nn.trainer import Trainer
from tests.test_pages_explain import bars_dataset


@pytest.fixture(scope="module")
def dataset():
    return bars_dataset(n_train=1500, n_test=400)


@pytest.fixture(scope="module")
def trainer(dataset):
    config = TrainConfig(model=ModelConfig(hidden=(24,)), epochs=2, batch_size=64, lr=3e-3, val_size=300, seed=7)
    run = Trainer(config, dataset.x_train, dataset.y_train)
    run.run()
    return run


def test_a_model_files_settings_give_the_trainers_validation_split(trainer, dataset) -> None:
    n = len(dataset.y_train)
    np.testing.assert_array_equal(validation_indices(trainer.val_idx, {}, n), trainer.val_idx)
    meta = {"train_config": trainer.config.to_dict()}
    np.testing.assert_array_equal(validation_indices(None, meta, n), trainer.val_idx)
    other_seed = {"train_config": trainer.config.replace(seed=8).to_dict()}
    assert not np.array_equal(validation_indices(None, other_seed, n), trainer.val_idx)


@pytest.mark.parametrize("meta", [{}, {"train_config": "not a dict"}, {"train_config": {"lr": -1}},
                                  {"train_config": {"no_such_knob": 1}}, {"train_config": {"val_size": 0}},
                                  {"train_config": {"val_size": 5000}}])
def test_no_known_split_is_none(meta) -> None:
    assert validation_indices(None, meta, 1500) is None


def test_the_temperature_is_fitted_on_validation_and_the_report_covers_the_test_set(trainer, dataset) -> None:
    model = trainer.model
    test = to_test_data(dataset.x_test, dataset.y_test)
    val = trainer.val_idx
    report = calibrate(model, test, dataset.x_train[val], dataset.y_train[val])
    expected_t = fit_temperature(model.forward(to_float(dataset.x_train[val])).astype(np.float64),
                                 dataset.y_train[val].astype(np.int64))
    assert report.temperature == pytest.approx(expected_t)
    assert report.before.counts.sum() == report.after.counts.sum() == len(dataset.y_test)
    assert report.val_size == len(val) and report.val_nll[1] <= report.val_nll[0]
    # Temperature scaling keeps every answer: the calibrated probabilities pick the same digits.
    np.testing.assert_array_equal(report.proba_after.argmax(axis=1), model.predict(test.X))
    sure = calibrated_abstention(report, test.labels, 0.0)
    assert sure.coverage == 1.0 and sure.accuracy == pytest.approx(float((model.predict(test.X) == test.labels).mean()))


def test_without_validation_digits_only_the_raw_reliability_is_reported(trainer, dataset) -> None:
    report = calibrate(trainer.model, to_test_data(dataset.x_test, dataset.y_test), None, None)
    assert report.temperature is None and report.after is None and report.before.counts.sum() == len(dataset.y_test)
    assert calibrated_abstention(report, dataset.y_test, 0.5) is None
