"""Configuration dataclasses: what network to build and how to train it.

Every field is validated on construction, so a bad value fails early with a
``ValueError`` that quotes it, before any memory is allocated. The UI, the CLI
and the tests all build the same dataclasses.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

ACTIVATIONS = ("relu", "leaky_relu", "sigmoid", "tanh")
INITS = ("he", "xavier", "normal")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "adamw")
SCHEDULES = ("constant", "step", "cosine")
DTYPES = ("float32", "float64")

MAX_HIDDEN_LAYERS = 6
MAX_WIDTH = 4096


def _check_range(name: str, value: float, low: float, high: float, *, low_open: bool = False) -> None:
    """Raise a ValueError quoting ``value`` unless low <= value <= high (or low < value)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise ValueError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high}, got {value!r}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of a multilayer perceptron.

    ``hidden`` lists the hidden-layer widths; an empty tuple is softmax
    regression. ``activation`` and ``dropout`` are either one value for every
    hidden layer or one value per hidden layer.
    """

    hidden: tuple[int, ...] = (256, 128)
    activation: str | tuple[str, ...] = "relu"
    init: str = "he"
    init_scale: float = 0.01  # standard deviation for init="normal"
    dropout: float | tuple[float, ...] = 0.0  # probability of dropping a hidden unit
    leaky_slope: float = 0.01
    input_size: int = 784
    n_classes: int = 10
    dtype: str = "float32"

    def __post_init__(self) -> None:
        hidden = tuple(self.hidden)
        object.__setattr__(self, "hidden", hidden)
        if len(hidden) > MAX_HIDDEN_LAYERS:
            raise ValueError(f"at most {MAX_HIDDEN_LAYERS} hidden layers, got {len(hidden)}: {hidden!r}")
        for width in hidden:
            _check_int("hidden layer width", width, 1, MAX_WIDTH)
        for act in self.activations:
            _check_choice("activation", act, ACTIVATIONS)
        for p in self.dropouts:
            _check_range("dropout", p, 0.0, 0.95)
        _check_choice("init", self.init, INITS)
        _check_range("init_scale", self.init_scale, 0.0, 10.0, low_open=True)
        _check_range("leaky_slope", self.leaky_slope, 0.0, 1.0)
        _check_int("input_size", self.input_size, 1, 1_000_000)
        _check_int("n_classes", self.n_classes, 2, 10_000)
        _check_choice("dtype", self.dtype, DTYPES)

    def _per_layer(self, value: Any, name: str) -> tuple:
        if isinstance(value, (tuple, list)):
            if len(value) != len(self.hidden):
                raise ValueError(
                    f"{name} lists {len(value)} values for {len(self.hidden)} hidden layers: {tuple(value)!r}"
                )
            return tuple(value)
        return (value,) * len(self.hidden)

    @property
    def activations(self) -> tuple[str, ...]:
        """One activation name per hidden layer."""
        return self._per_layer(self.activation, "activation")

    @property
    def dropouts(self) -> tuple[float, ...]:
        """One dropout probability per hidden layer."""
        return self._per_layer(self.dropout, "dropout")

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """All layer widths, input and output included, e.g. (784, 256, 128, 10)."""
        return (self.input_size, *self.hidden, self.n_classes)


@dataclass(frozen=True)
class AugmentConfig:
    """Random distortions applied to each training batch (never to evaluation data)."""

    shift: int = 0  # maximum shift in pixels, each direction
    rotate: float = 0.0  # maximum rotation in degrees, either way
    noise: float = 0.0  # standard deviation of Gaussian pixel noise, on the [0, 1] scale

    def __post_init__(self) -> None:
        _check_int("augment shift", self.shift, 0, 8)
        _check_range("augment rotate", self.rotate, 0.0, 90.0)
        _check_range("augment noise", self.noise, 0.0, 1.0)

    @property
    def enabled(self) -> bool:
        return self.shift > 0 or self.rotate > 0 or self.noise > 0


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run; same config and seed, same result."""

    model: ModelConfig = field(default_factory=ModelConfig)
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.9  # momentum and nesterov
    beta1: float = 0.9  # adam and adamw
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw)
    schedule: str = "constant"
    warmup_epochs: float = 0.0  # linear warm-up from 0 to lr, in epochs (fractions allowed)
    step_size: int = 5  # step schedule: multiply lr by step_gamma every step_size epochs
    step_gamma: float = 0.5
    min_lr_fraction: float = 0.0  # cosine schedule ends at lr * min_lr_fraction
    batch_size: int = 128
    epochs: int = 10
    train_subset: int | None = None  # use only this many training images (None: all)
    val_size: int = 5000
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    early_stopping_patience: int | None = None  # epochs without val-loss improvement
    seed: int = 0
    snapshot_budget_bytes: int = 64 * 2**20  # memory cap for first-layer weight snapshots

    def __post_init__(self) -> None:
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_range("learning rate", self.lr, 0.0, 100.0, low_open=True)
        _check_range("momentum", self.momentum, 0.0, 0.999)
        _check_range("beta1", self.beta1, 0.0, 0.9999)
        _check_range("beta2", self.beta2, 0.0, 0.99999)
        _check_range("eps", self.eps, 0.0, 1.0, low_open=True)
        _check_range("weight decay", self.weight_decay, 0.0, 1.0)
        _check_choice("schedule", self.schedule, SCHEDULES)
        _check_range("warm-up epochs", self.warmup_epochs, 0.0, 1000.0)
        _check_int("step size", self.step_size, 1, 10_000)
        _check_range("step gamma", self.step_gamma, 0.0, 1.0, low_open=True)
        _check_range("min lr fraction", self.min_lr_fraction, 0.0, 1.0)
        _check_int("batch size", self.batch_size, 1, 65_536)
        _check_int("epochs", self.epochs, 1, 10_000)
        if self.train_subset is not None:
            _check_int("training subset", self.train_subset, 1, 10_000_000)
        _check_int("validation size", self.val_size, 0, 1_000_000)
        if self.early_stopping_patience is not None:
            _check_int("early stopping patience", self.early_stopping_patience, 1, 10_000)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        _check_int("snapshot budget", self.snapshot_budget_bytes, 0, 2**34)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (tuples become lists); inverse of :meth:`from_dict`."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build from a dict such as :meth:`to_dict` returns; unknown keys are an error."""
        data = dict(data)
        model = data.pop("model", {})
        augment = data.pop("augment", {})
        _reject_unknown(cls, data)
        _reject_unknown(ModelConfig, model)
        _reject_unknown(AugmentConfig, augment)
        model = {k: tuple(v) if isinstance(v, list) else v for k, v in model.items()}
        return cls(model=ModelConfig(**model), augment=AugmentConfig(**augment), **data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        return cls.from_dict(json.loads(text))

    def replace(self, **changes: Any) -> TrainConfig:
        return dataclasses.replace(self, **changes)


def _reject_unknown(cls: type, data: dict[str, Any]) -> None:
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(map(repr, unknown))}")
