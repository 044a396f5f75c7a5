"""The exported script: written from the textbook's source, it retrains a run on a small MNIST subset and matches it."""

from __future__ import annotations

import gzip
import inspect
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nn import model as textbook_model
from nn.config import OPTIMIZERS, SCHEDULES, AugmentConfig, ModelConfig, TrainConfig
from nn.export import export_script, strip
from nn.trainer import Trainer
from tests.conftest import idx_bytes

N_TRAIN, N_TEST = 1500, 500


def write_subset(mnist, folder: Path) -> tuple[np.ndarray, ...]:
    """The first images of the real MNIST as the four IDX files a user has (gzipped)."""
    arrays = (mnist.x_train[:N_TRAIN], mnist.y_train[:N_TRAIN], mnist.x_test[:N_TEST], mnist.y_test[:N_TEST])
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    folder.mkdir(parents=True, exist_ok=True)
    for a, name in zip(arrays, names):
        (folder / f"{name}.gz").write_bytes(gzip.compress(idx_bytes(np.ascontiguousarray(a))))
    return arrays


def run_script(source: str, data: Path, tmp_path: Path) -> tuple[str, dict[str, np.ndarray]]:
    script = tmp_path / "retrain.py"
    script.write_text(source)
    out = tmp_path / "weights.npz"
    done = subprocess.run([sys.executable, "-I", str(script), str(data), "--save", str(out)], capture_output=True,
                          text=True, timeout=300, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stderr
    with np.load(out) as f:
        return done.stdout, dict(f)


@pytest.mark.realdata
@pytest.mark.parametrize("config", [
    TrainConfig(model=ModelConfig(hidden=(48, 24)), epochs=2, batch_size=64, val_size=300, lr=2e-3, schedule="cosine",
                seed=3),
    TrainConfig(model=ModelConfig(hidden=(32, 16), activation=("leaky_relu", "tanh"), dropout=0.2), optimizer="nesterov",
                lr=0.05, momentum=0.9, weight_decay=1e-4, schedule="step", step_size=1, warmup_epochs=0.5, epochs=2,
                batch_size=50, val_size=200, train_subset=900, augment=AugmentConfig(shift=2, rotate=10, noise=0.05),
                seed=11),
], ids=["adam-cosine", "nesterov-dropout-augmented"])
def test_the_exported_script_retrains_the_apps_run_on_a_small_subset(mnist, tmp_path, config) -> None:
    x_train, y_train, x_test, y_test = write_subset(mnist, tmp_path / "mnist")
    trainer = Trainer(config, x_train, y_train)  # the app's run on that subset
    trainer.run()
    stdout, weights = run_script(export_script(config), tmp_path / "mnist", tmp_path)

    printed = [float(v) for v in re.findall(r"val accuracy (\d\.\d+)", stdout)]
    assert printed == [round(v, 4) for v in trainer.history()["val_acc"]]
    for i, (W, b) in enumerate(zip(trainer.model.weights, trainer.model.biases), 1):
        np.testing.assert_allclose(weights[f"W{i}"], W, atol=2e-4)  # float32, summed in another order
        np.testing.assert_allclose(weights[f"b{i}"], b, atol=2e-4)
    accuracy = float(np.mean(trainer.model.predict(x_test.reshape(-1, 784) / np.float32(255)) == y_test))
    assert f"test accuracy {accuracy:.4f}" in stdout


def test_it_is_written_from_the_textbooks_source_for_every_rule_and_schedule() -> None:
    for optimizer in OPTIMIZERS:
        for schedule in SCHEDULES:
            source = export_script(TrainConfig(optimizer=optimizer, schedule=schedule))
            compile(source, f"{optimizer}-{schedule}", "exec")
            assert "import numpy as np" in source and "nn." not in re.sub(r"nn/\w+\.py|nn\.\w+\(", "", source)
            assert not re.search(r"^\s*(import|from) (torch|sklearn|nn)\b", source, re.MULTILINE)
    source = export_script(TrainConfig())
    backward = strip(inspect.getsource(textbook_model.MLP.backward))
    assert "\n".join("    " + line if line else "" for line in backward.splitlines()) in source
    assert "# dW_l = H_{l-1}^T dZ_l" in source and '"""Gradients from' not in source


def test_strip_drops_docstrings_and_checks_but_never_empties_a_block() -> None:
    source = '''
    def f(x, items):
        """Doc."""
        if x < 0:
            raise ValueError("negative")
        for item in items:
            if item is None:
                raise ValueError("none")
        return x  # kept comment
    '''
    assert strip(source) == ('def f(x, items):\n    for item in items:\n        if item is None:\n'
                             '            raise ValueError("none")\n    return x  # kept comment')
