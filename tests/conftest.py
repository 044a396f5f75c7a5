"""Shared fixtures.

``mnist``: the real, verified MNIST (session-scoped; fetched once per machine,
then loaded from the cache). Tests that use it are marked ``realdata``.
``fake_mnist``: a tiny synthetic MNIST-shaped dataset with its own SHA-256s,
plus writers for every file format, for testing the data layer offline.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from nn.data import MnistDataset, array_sha256, load_mnist

IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@pytest.fixture(scope="session")
def mnist() -> MnistDataset:
    """The real MNIST, verified against the four published SHA-256s (read-only arrays)."""
    return load_mnist()


def idx_bytes(a: np.ndarray) -> bytes:
    """An uncompressed IDX file holding a uint8 array."""
    assert a.dtype == np.uint8
    header = struct.pack(">BBBB", 0, 0, 0x08, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return header + np.ascontiguousarray(a).tobytes()


@dataclass
class FakeMnist:
    """Small random arrays shaped like MNIST, and the hashes that make them 'verified'."""

    arrays: dict[str, np.ndarray]

    @property
    def expected(self) -> dict[str, str]:
        return {k: array_sha256(v) for k, v in self.arrays.items()}

    def write_idx(self, directory: Path, *, gz: bool = True) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for key, name in IDX_NAMES.items():
            data = idx_bytes(self.arrays[key])
            if gz:
                (directory / (name + ".gz")).write_bytes(gzip.compress(data))
            else:
                (directory / name).write_bytes(data)
        return directory

    def write_npz(self, path: Path) -> Path:
        np.savez(path, **self.arrays)
        return path

    def write_csv(self, directory: Path, *, header: bool = True) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for split in ("train", "test"):
            x, y = self.arrays[f"x_{split}"], self.arrays[f"y_{split}"]
            rows = np.column_stack([y, x.reshape(len(x), -1)])
            head = "label," + ",".join(f"pixel{i}" for i in range(784)) + "\n" if header else ""
            body = "\n".join(",".join(map(str, r)) for r in rows.tolist()) + "\n"
            (directory / f"mnist_{split}.csv").write_text(head + body)
        return directory


def make_fake_mnist(n_train: int = 40, n_test: int = 12, seed: int = 0) -> FakeMnist:
    rng = np.random.default_rng(seed)
    return FakeMnist({
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    })


@pytest.fixture
def fake_mnist() -> FakeMnist:
    return make_fake_mnist()
