"""The trainer's data checks: uint8 images and integer labels, and the train/validation split."""

from __future__ import annotations

from typing import Any

import numpy as np

from nn.config import ModelConfig, TrainConfig
from nn.data import split_indices
from nn.model import MLP


def check_data(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 pixels 0-255, got dtype {images.dtype}")
    if images.ndim == 3:
        images = images.reshape(images.shape[0], -1)  # a view when contiguous: no copy
    if images.ndim != 2 or images.shape[0] == 0:
        raise ValueError(f"images must be (N, 28, 28) or (N, 784) with N > 0, got shape {images.shape!r}")
    if labels.shape != (images.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be {images.shape[0]} integers, got shape {labels.shape!r} "
                         f"dtype {labels.dtype}")
    if labels.min() < 0:
        raise ValueError(f"labels must be non-negative class numbers, got {labels.min()}")
    return images, labels


def split(
    config: TrainConfig, n: int, train_idx: Any, val_idx: Any, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation indices: given, or drawn by ``split_indices``; then the subset."""
    if train_idx is None and val_idx is None:
        train_idx, val_idx = split_indices(n, config.val_size, rng)
    elif train_idx is None:
        val_idx = check_indices("val_idx", val_idx, n)
        train_idx = np.setdiff1d(np.arange(n), val_idx)
    train_idx = check_indices("train_idx", train_idx, n)
    val_idx = check_indices("val_idx", np.empty(0, np.int64) if val_idx is None else val_idx, n)
    if config.train_subset is not None and config.train_subset < train_idx.size:
        train_idx = np.sort(rng.choice(train_idx, config.train_subset, replace=False))
    if train_idx.size == 0:
        raise ValueError("there are no training examples: the training index list is empty")
    if config.early_stopping_patience is not None and val_idx.size == 0:
        raise ValueError(
            f"early stopping (patience {config.early_stopping_patience}) needs a validation set; set val_size above 0"
        )
    return train_idx, val_idx


def check_indices(name: str, idx: Any, n: int) -> np.ndarray:
    idx = np.asarray(idx)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(f"{name} must be a 1-D array of integer indices, got shape {idx.shape!r} dtype {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"{name} must index {n} images (0 to {n - 1}), got values {idx.min()} to {idx.max()}")
    return idx.astype(np.intp, copy=False)




def check_model(model: MLP | None, config: ModelConfig, init_seed: np.random.SeedSequence, images: np.ndarray,
                labels: np.ndarray) -> MLP:
    """``model`` if it can train on these images and labels, or a new one from ``config`` when None."""
    if model is None:
        return MLP(config, np.random.default_rng(init_seed))
    if not isinstance(model, MLP):
        raise ValueError(f"model must be an nn.model.MLP, got {type(model).__name__}")
    if not model.all_finite():
        raise ValueError("the model's weights contain NaN or infinite values; build a fresh model")
    if model.config.input_size != images.shape[1]:
        raise ValueError(f"the model expects {model.config.input_size} inputs, the images have "
                         f"{images.shape[1]} pixels")
    if labels.size and int(labels.max()) >= model.config.n_classes:
        raise ValueError(f"labels go up to {int(labels.max())} but the model has "
                         f"{model.config.n_classes} classes")
    return model
