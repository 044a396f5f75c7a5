"""The Train page's knobs, and their round trip through URL query parameters (a shareable setup).

Knobs are a flat dict (``hidden`` is a tuple of widths). ``knobs_to_query`` writes only values that
differ from the defaults, so links stay short; ``knobs_from_query`` reads any URL, and every value that
is missing, malformed, out of range or hostile falls back to its default with a notice saying so.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nn.config import (
    ACTIVATIONS, INITS, MAX_HIDDEN_LAYERS, MAX_WIDTH, OPTIMIZERS, SCHEDULES, AugmentConfig, ModelConfig,
    TrainConfig,
)
from nn.presets import PRESETS

MAX_QUERY_VALUE_CHARS = 80  # longer values are refused outright (and never echoed in full)


def presets() -> dict[str, TrainConfig]:
    """The engine's named presets (quick, default, best)."""
    return dict(PRESETS)


def _default_config() -> TrainConfig:
    return presets()["default"]


# ----- knob <-> config -------------------------------------------------------------------------------
def config_to_knobs(cfg: TrainConfig) -> dict[str, Any]:
    """The knob values that describe ``cfg`` (per-layer activation/dropout collapse to the first layer)."""
    m = cfg.model
    return {
        "hidden": tuple(m.hidden),
        "activation": m.activations[0] if m.hidden else (m.activation if isinstance(m.activation, str) else "relu"),
        "init": m.init,
        "dropout": float(m.dropouts[0]) if m.hidden else 0.0,
        "optimizer": cfg.optimizer,
        "lr": float(cfg.lr),
        "schedule": cfg.schedule,
        "warmup": float(cfg.warmup_epochs),
        "step_size": int(cfg.step_size),
        "step_gamma": float(cfg.step_gamma),
        "min_lr": float(cfg.min_lr_fraction),
        "momentum": float(cfg.momentum),
        "beta1": float(cfg.beta1),
        "beta2": float(cfg.beta2),
        "batch_size": int(cfg.batch_size),
        "epochs": int(cfg.epochs),
        "l2": float(cfg.weight_decay),
        "patience": int(cfg.early_stopping_patience or 0),
        "subset": int(cfg.train_subset or 0),
        "val_size": int(cfg.val_size),
        "shift": int(cfg.augment.shift),
        "rotate": float(cfg.augment.rotate),
        "noise": float(cfg.augment.noise),
        "seed": int(cfg.seed),
    }


def knobs_to_config(knobs: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """Build the ``TrainConfig`` the knobs describe (raises ``ValueError`` quoting a bad value)."""
    base = base or _default_config()
    if int(knobs["patience"]) and not int(knobs["val_size"]):
        raise ValueError("early stopping watches the validation loss, so it needs validation images: "
                         f"got patience {knobs['patience']!r} with validation size 0")
    model = ModelConfig(
        hidden=tuple(int(w) for w in knobs["hidden"]),
        activation=knobs["activation"],
        init=knobs["init"],
        dropout=float(knobs["dropout"]),
        init_scale=base.model.init_scale,
        leaky_slope=base.model.leaky_slope,
        dtype=base.model.dtype,
    )
    return base.replace(
        model=model,
        optimizer=knobs["optimizer"],
        lr=float(knobs["lr"]),
        schedule=knobs["schedule"],
        warmup_epochs=float(knobs["warmup"]),
        step_size=int(knobs["step_size"]),
        step_gamma=float(knobs["step_gamma"]),
        min_lr_fraction=float(knobs["min_lr"]),
        momentum=float(knobs["momentum"]),
        beta1=float(knobs["beta1"]),
        beta2=float(knobs["beta2"]),
        batch_size=int(knobs["batch_size"]),
        epochs=int(knobs["epochs"]),
        weight_decay=float(knobs["l2"]),
        early_stopping_patience=int(knobs["patience"]) or None,
        train_subset=int(knobs["subset"]) or None,
        val_size=int(knobs["val_size"]),
        augment=AugmentConfig(shift=int(knobs["shift"]), rotate=float(knobs["rotate"]),
                              noise=float(knobs["noise"])),
        seed=int(knobs["seed"]),
    )


def default_knobs() -> dict[str, Any]:
    return config_to_knobs(_default_config())


# ----- parsing single values ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Spec:
    """How one knob appears in a URL: a parser that raises ValueError with a plain-language reason."""

    parse: Callable[[str], Any]
    render: Callable[[Any], str] = str


def _float_in(low: float, high: float, *, low_open: bool = False) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        if value < low or value > high or (low_open and value == low):
            raise ValueError(f"must be in {'(' if low_open else '['}{low:g}, {high:g}]")
        return value
    return parse


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be an integer in [{low}, {high}]")
        return value
    return parse


def _choice(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return text
    return parse


def _hidden(text: str) -> tuple[int, ...]:
    if text in ("", "none"):
        return ()
    parts = text.split("-")
    if len(parts) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"at most {MAX_HIDDEN_LAYERS} hidden layers")
    widths = tuple(int(p) for p in parts)
    if any(not 1 <= w <= MAX_WIDTH for w in widths):
        raise ValueError(f"each width must be in [1, {MAX_WIDTH}]")
    return widths


def _subset(text: str) -> int:
    if text == "all":
        return 0
    return _int_in(100, 60_000)(text)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


SPECS: dict[str, Spec] = {
    "hidden": Spec(_hidden, lambda h: "-".join(map(str, h)) if h else "none"),
    "activation": Spec(_choice(ACTIVATIONS)),
    "init": Spec(_choice(INITS)),
    "dropout": Spec(_float_in(0.0, 0.9), _fmt),
    "optimizer": Spec(_choice(OPTIMIZERS)),
    "lr": Spec(_float_in(0.0, 10.0, low_open=True), _fmt),
    "schedule": Spec(_choice(SCHEDULES)),
    "warmup": Spec(_float_in(0.0, 50.0), _fmt),
    "step_size": Spec(_int_in(1, 100)),
    "step_gamma": Spec(_float_in(0.0, 1.0, low_open=True), _fmt),
    "min_lr": Spec(_float_in(0.0, 1.0), _fmt),
    "momentum": Spec(_float_in(0.0, 0.999), _fmt),
    "beta1": Spec(_float_in(0.0, 0.9999), _fmt),
    "beta2": Spec(_float_in(0.0, 0.99999), _fmt),
    "batch_size": Spec(_int_in(1, 8192)),
    "epochs": Spec(_int_in(1, 200)),
    "l2": Spec(_float_in(0.0, 0.1), _fmt),
    "patience": Spec(_int_in(0, 100)),
    "subset": Spec(_subset, lambda v: str(v) if v else "all"),
    "val_size": Spec(_int_in(0, 20_000)),
    "shift": Spec(_int_in(0, 8)),
    "rotate": Spec(_float_in(0.0, 90.0), _fmt),
    "noise": Spec(_float_in(0.0, 1.0), _fmt),
    "seed": Spec(_int_in(0, 2**31 - 1)),
}


def _show(text: str) -> str:
    """A value as it may be echoed in a notice: short, printable."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return repr(text if len(text) <= 24 else text[:21] + "...")


def knobs_from_query(query: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Knob values from URL query parameters, and one notice per value that was ignored.

    Unknown parameters are left alone (another page may own them). The result always builds a valid
    ``TrainConfig``; if the combination does not, every knob falls back to its default.
    """
    knobs = default_knobs()
    notices: list[str] = []
    for name, spec in SPECS.items():
        if name not in query:
            continue
        raw = query[name]
        if isinstance(raw, (list, tuple)):
            raw = raw[-1] if raw else ""
        text = str(raw).strip()
        if len(text) > MAX_QUERY_VALUE_CHARS:
            notices.append(f"Ignored the link's `{name}` (a {len(text)}-character value); "
                           f"using the default {spec.render(knobs[name])}.")
            continue
        try:
            knobs[name] = spec.parse(text)
        except (ValueError, OverflowError) as exc:
            reason = str(exc) if "must" in str(exc) else "not a valid value"
            notices.append(f"Ignored the link's `{name}={_show(text)}` ({reason}); "
                           f"using the default {spec.render(knobs[name])}.")
    try:
        knobs_to_config(knobs)
    except ValueError as exc:
        notices.append(f"The link's settings do not fit together ({exc}); using the defaults.")
        knobs = default_knobs()
    return knobs, notices


def knobs_to_query(knobs: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters for the knobs that differ from the defaults (a short, shareable link)."""
    defaults = default_knobs()
    out = {}
    for name, spec in SPECS.items():
        if name in knobs and knobs[name] != defaults[name]:
            out[name] = spec.render(knobs[name])
    return out
