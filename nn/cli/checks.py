"""What ``python -m nn train`` refuses before it trains: each a one-line CliError, so no run is wasted.

A network that would not fit in the memory this process may still use, a ``--save`` target that
could not be written, and a validation split that leaves nothing to train on. Other oddities that
can still train (a subset larger than the data) get a one-line note on stderr.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from nn.cli import CliError
from nn.config import TrainConfig

# MNIST as the loader returns it (70,000 uint8 images) and the test set as float32 for the final
# evaluation: what the run holds besides what memory_estimate counts.
DATA_BYTES = 70_000 * 784 + 10_000 * 784 * 4


def check_memory(config: TrainConfig) -> None:
    """Refuse a run whose estimated memory exceeds what this process may still use."""
    from nn.memory import format_bytes, memory_headroom
    from nn.trainer import memory_estimate

    need = memory_estimate(config.model, config.batch_size, config.optimizer) + DATA_BYTES
    room = memory_headroom()
    if room.bytes is not None and need > room.bytes:
        raise CliError(f"training this network with batch size {config.batch_size:,} needs about "
                       f"{format_bytes(need)}, more than the {format_bytes(room.bytes)} left under {room.limit}; "
                       "lower --batch-size or use fewer or narrower --hidden layers")


def check_save_target(path: str) -> None:
    """Refuse a ``--save`` path whose file could not be written, by writing a probe file beside it."""
    target = Path(path)
    folder = target.parent
    if target.is_dir():
        raise CliError(f"--save {path} is a directory; give a file name, e.g. {target / 'model.npz'}")
    if not folder.is_dir():
        raise CliError(f"--save {path}: the directory {folder} does not exist")
    try:  # a probe, not os.access: it also catches read-only file systems and runs as root
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{target.name}.", suffix=".probe"):
            pass
    except OSError as exc:
        raise CliError(f"--save {path}: cannot write in {folder} ({exc.strerror or exc})") from None


def check_split(config: TrainConfig, n_images: int) -> None:
    """Refuse a validation size that leaves no training image; note a subset larger than what is left."""
    if config.val_size >= n_images:
        raise CliError(f"--val-size {config.val_size:,} holds out all {n_images:,} training images, leaving none "
                       f"to train on; use a value below {n_images:,}")
    left = n_images - config.val_size
    if config.train_subset is not None and config.train_subset > left:
        print(f"note: --subset {config.train_subset:,} is more than the {left:,} images left after "
              f"{config.val_size:,} are held out for validation; training on all {left:,}", file=sys.stderr)
