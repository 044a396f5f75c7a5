"""Fashion-MNIST from Debian's ``dataset-fashion-mnist``: a second dataset through the same IDX reader.

Same shapes and file names as MNIST (ten clothing classes instead of digits).
There is no published hash list to verify against, so the check is a sanity
one: each file's size near the known one before decompressing, then the
exact image counts. ``verified`` is therefore False on the result.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from nn.data.errors import Attempt, DataError, SourceFailed
from nn.data.loader import MnistDataset, _dataset
from nn.data.sources import IDX_FILES, from_files

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
FASHION_ENV = "FASHION_MNIST_DIR"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
# Bytes of the .gz files in Debian's package; other copies differ only in their gzip headers.
FASHION_FILE_SIZES: Mapping[str, int] = {
    "x_train": 26_421_856, "y_train": 29_491, "x_test": 4_422_079, "y_test": 5_125,
}
SIZE_TOLERANCE = 0.05
COUNTS = {"train": 60_000, "test": 10_000}
HINT = (f"Install Debian's package (apt-get install dataset-fashion-mnist, files in {FASHION_DIR}) or pass "
        f"root=DIR (or set {FASHION_ENV}) to a directory with the four Fashion-MNIST IDX .gz files.")


def load_fashion_mnist(root: str | os.PathLike | None = None, *,
                       file_sizes: Mapping[str, int] | None = FASHION_FILE_SIZES,
                       counts: Mapping[str, int] | None = COUNTS) -> MnistDataset:
    """Fashion-MNIST as an :class:`MnistDataset` (read-only arrays; ``verified`` False, no cache).

    ``root``: the directory (default ``$FASHION_MNIST_DIR``, else Debian's). ``file_sizes``
    and ``counts`` are the sanity checks; tests pass their own (None skips one).
    """
    folder = Path(root or os.environ.get(FASHION_ENV) or FASHION_DIR)
    try:
        if file_sizes is not None:
            _check_sizes(folder, file_sizes)
        arrays, _ = from_files(folder)
        if counts is not None:
            for split, n in counts.items():
                if len(arrays[f"x_{split}"]) != n:
                    raise SourceFailed(f"{folder}: {len(arrays[f'x_{split}'])} {split} images, "
                                       f"Fashion-MNIST has {n}")
    except SourceFailed as exc:
        raise DataError([Attempt("fashion-mnist", str(exc))], hint=HINT) from None
    return _dataset(arrays, f"fashion-mnist ({folder})", None, [], verified=False)


def _check_sizes(folder: Path, sizes: Mapping[str, int]) -> None:
    for key, expected in sizes.items():
        path = folder / (IDX_FILES[key] + ".gz")
        if not path.is_file():
            raise SourceFailed(f"{path} does not exist")
        size = path.stat().st_size
        if abs(size - expected) > SIZE_TOLERANCE * expected:
            raise SourceFailed(f"{path} is {size:,} bytes; the Fashion-MNIST file is about {expected:,}")
