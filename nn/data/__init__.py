"""MNIST, verified: obtain it from any source, prove it is the real thing, cache it, read user files.

    from nn.data import load_mnist, split_indices, to_float
    ds = load_mnist()                    # x_train (60000, 28, 28) uint8, read-only, ...
    train_idx, val_idx = split_indices(len(ds.x_train), 5000, np.random.default_rng(0))
    X = to_float(ds.x_train[train_idx[:128]])   # (128, 784) float32 in [0, 1]
"""

from nn.data.cache import cache_file, default_cache_dir
from nn.data.errors import Attempt, DataError, VerificationError
from nn.data.fashion import CLASS_NAMES as FASHION_CLASS_NAMES
from nn.data.fashion import load_fashion_mnist
from nn.data.loader import SOURCES, MnistDataset, load_mnist
from nn.data.readers import read_idx, read_mnist_csv, read_mnist_idx, read_mnist_npz
from nn.data.split import DEFAULT_VAL_SIZE, batches, split_indices, to_float
from nn.data.verify import MNIST_SHA256, array_sha256, verify_arrays

__all__ = [
    "Attempt", "DataError", "DEFAULT_VAL_SIZE", "FASHION_CLASS_NAMES", "MNIST_SHA256", "MnistDataset", "SOURCES",
    "VerificationError", "array_sha256", "batches", "cache_file", "default_cache_dir", "load_fashion_mnist",
    "load_mnist", "read_idx", "read_mnist_csv", "read_mnist_idx", "read_mnist_npz", "split_indices", "to_float",
    "verify_arrays",
]
