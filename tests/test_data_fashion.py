"""Fashion-MNIST through the same IDX reader, with its size and count sanity checks."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import IDX_NAMES
from nn.data import DataError, load_fashion_mnist


def _sizes(folder):
    return {key: (folder / (name + ".gz")).stat().st_size for key, name in IDX_NAMES.items()}


def test_reads_the_four_idx_files_read_only_and_unverified(tmp_path, fake_mnist):
    folder = fake_mnist.write_idx(tmp_path / "fashion")
    ds = load_fashion_mnist(folder, file_sizes=_sizes(folder), counts={"train": 40, "test": 12})
    for key, a in fake_mnist.arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), a)
        assert not getattr(ds, key).flags.writeable
    assert ds.source == f"fashion-mnist ({folder})" and ds.verified is False and ds.cache_path is None


def test_directory_from_environment_variable(tmp_path, fake_mnist, monkeypatch):
    folder = fake_mnist.write_idx(tmp_path / "fashion")
    monkeypatch.setenv("FASHION_MNIST_DIR", str(folder))
    assert load_fashion_mnist(file_sizes=None, counts=None).source == f"fashion-mnist ({folder})"


def test_file_of_the_wrong_size_is_refused_before_reading(tmp_path, fake_mnist):
    folder = fake_mnist.write_idx(tmp_path / "fashion")
    sizes = _sizes(folder)
    sizes["x_train"] *= 2
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz is [\d,]+ bytes; .* about [\d,]+") as info:
        load_fashion_mnist(folder, file_sizes=sizes, counts=None)
    assert "apt-get install dataset-fashion-mnist" in str(info.value)


def test_wrong_image_count_is_refused(tmp_path, fake_mnist):
    folder = fake_mnist.write_idx(tmp_path / "fashion")
    with pytest.raises(DataError, match="40 train images, Fashion-MNIST has 60000"):
        load_fashion_mnist(folder, file_sizes=_sizes(folder))


def test_missing_directory_says_how_to_install(tmp_path):
    with pytest.raises(DataError, match=r"fashion-mnist: .*does not exist\n.*apt-get install"):
        load_fashion_mnist(tmp_path / "nowhere")
