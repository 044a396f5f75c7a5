"""Per-layer weight and gradient distributions over epochs: recorded by the trainer, drawn as bands."""

from __future__ import annotations

import numpy as np
import pytest

from figures.inspect import distribution_bands_figure
from nn.config import ModelConfig, TrainConfig
from nn.events import DISTRIBUTION_QUANTILES
from nn.trainer import Trainer


@pytest.fixture(scope="module")
def trained() -> Trainer:
    rng = np.random.default_rng(3)
    images = (rng.random((500, 784)) * 255).astype(np.uint8)
    labels = rng.integers(0, 10, 500).astype(np.uint8)
    trainer = Trainer(TrainConfig(model=ModelConfig(hidden=(12, 6)), epochs=3, val_size=100, seed=1), images, labels)
    trainer.run()
    return trainer


def test_each_epoch_records_sorted_quantiles_for_every_layer(trained: Trainer) -> None:
    for event in trained.epoch_events:
        assert len(event.weight_quantiles) == len(event.grad_quantiles) == 3
        for values in event.weight_quantiles + event.grad_quantiles:
            assert len(values) == len(DISTRIBUTION_QUANTILES)
            assert all(np.diff(values) >= 0)


def test_the_last_epochs_quantiles_are_those_of_the_final_weights(trained: Trainer) -> None:
    last = trained.epoch_events[-1]
    for W, recorded in zip(trained.model.weights, last.weight_quantiles):
        # these layers are smaller than the sample size, so the quantiles are exact
        np.testing.assert_allclose(recorded, np.quantile(W, DISTRIBUTION_QUANTILES), rtol=1e-6)
    assert last.weight_quantiles != trained.epoch_events[0].weight_quantiles  # the weights moved


def test_history_has_a_column_per_kind_layer_and_quantile(trained: Trainer) -> None:
    history = trained.history()
    assert history["weight_q50_2"].tolist() == [e.weight_quantiles[1][3] for e in trained.epoch_events]
    assert history["grad_q99_3"].tolist() == [e.grad_quantiles[2][6] for e in trained.epoch_events]


def test_layer_quantiles_reads_one_layers_bands_back_from_the_history(trained: Trainer) -> None:
    from lab.history import layer_quantiles

    epochs, bands = layer_quantiles(trained.history(), "grad", 1)
    assert epochs == [1, 2, 3]
    np.testing.assert_array_equal(bands, np.array([e.grad_quantiles[1] for e in trained.epoch_events]))
    assert layer_quantiles(trained.history(), "grad", 5) is None  # no such layer
    assert layer_quantiles(None, "weight", 0) is None


def test_bands_figure_nests_three_bands_around_the_median() -> None:
    bands = np.array([[-3, -2, -1, 0, 1, 2, 3], [-6, -4, -2, 0, 2, 4, 6]], dtype=float)
    fig = distribution_bands_figure([1, 2], bands, title="Layer 1: weight values per epoch", y_title="weight")
    filled = [t for t in fig.data if t.fill == "tonexty"]
    assert [t.name for t in filled] == ["1-99 %", "5-95 %", "25-75 %"]
    assert list(filled[0].y) == [3, 6] and list(fig.data[0].y) == [-3, -6]  # widest band: 1st to 99th
    median = fig.data[-1]
    assert median.name == "median" and list(median.y) == [0, 0]
    assert fig.layout.title.text == "Layer 1: weight values per epoch" and fig.layout.xaxis.title.text == "epoch"
    with pytest.raises(ValueError, match=r"\(epochs=2, 7\)"):
        distribution_bands_figure([1, 2], bands[:, :5], title="t", y_title="y")
