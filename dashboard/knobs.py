"""The Train page's knob widgets, grouped (architecture, optimization, regularization, data).

Widget values live under ``k_<name>`` keys, which Streamlit forgets when the page is left; the durable
copy is ``SessionData.knobs`` (also mirrored in the URL). Widgets are created from keys only (never with
``value=``), seeded from the durable copy, so presets and links can set them before they are drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from lab.params import config_to_knobs, default_knobs
from nn.config import ACTIVATIONS, INITS, MAX_HIDDEN_LAYERS, OPTIMIZERS, SCHEDULES, TrainConfig

WIDTHS = (16, 32, 64, 100, 128, 256, 512, 1024, 2048, 4096)
LRS = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 3e-4, 5e-4, 1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2, 0.1, 0.2,
       0.3, 0.5, 1.0)
L2S = (0.0, 1e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)
BATCHES = (16, 32, 64, 128, 256, 512, 1024)
SUBSETS = (500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 0)  # 0: every training image
VAL_SIZES = (0, 1000, 2000, 5000, 10_000)

HELP = {
    "layers": "How many hidden layers sit between the pixels and the 10 outputs (0 = softmax regression).",
    "width": "How many units this hidden layer has; more units can learn more patterns but cost time.",
    "activation": "The non-linearity after each hidden layer; ReLU is the usual, fast choice.",
    "init": "How the first random weights are drawn; He suits ReLU, Xavier suits tanh and sigmoid.",
    "optimizer": "The rule that turns gradients into weight updates; Adam adapts the step per weight.",
    "lr": "How big each update step is (log scale); too big diverges, too small crawls.",
    "schedule": "How the learning rate changes over the run: constant, halved in steps, or a cosine decay.",
    "warmup": "Epochs over which the learning rate ramps up from 0, which steadies the first steps.",
    "step_size": "Step schedule: epochs between two reductions of the learning rate.",
    "step_gamma": "Step schedule: the factor the learning rate is multiplied by at each step.",
    "min_lr": "Cosine schedule: the final learning rate as a fraction of the starting one.",
    "momentum": "How much of the previous update carries over; smooths noisy gradients.",
    "beta1": "Adam: how long the running average of gradients remembers (momentum).",
    "beta2": "Adam: how long the running average of squared gradients remembers (per-weight step size).",
    "batch_size": "Images per update step; bigger batches give smoother but fewer steps per epoch.",
    "epochs": "How many times the training images are gone through.",
    "dropout": "Share of hidden units switched off at random during training, so none is relied on alone.",
    "l2": "Weight decay: a pull of every weight towards zero, which discourages overfitting.",
    "patience": "Stop early after this many epochs without a better validation loss (0 = never).",
    "subset": "Train on only this many images (5,000 trains in seconds; 'all' uses the whole set).",
    "val_size": "Images held out of training to measure progress honestly after each epoch.",
    "shift": "Augmentation: move each training image up to this many pixels in any direction.",
    "rotate": "Augmentation: turn each training image by up to this many degrees either way.",
    "noise": "Augmentation: add random pixel noise with this standard deviation (0-1 scale).",
    "seed": "Fixes all randomness: the same settings and seed give the same run.",
}

PRESET_HELP = {
    "quick": "One small hidden layer, 20,000 images, 6 epochs: a run you can watch (5-10 s), about 96% on MNIST.",
    "default": "Two ReLU layers, all images, Adam with cosine decay: about 98% on MNIST in well under a minute.",
    "best": "Wide, dropout and augmented images, 40 epochs: about 99.3% on MNIST, takes minutes.",
}

GROUPS = {
    "Architecture": ["layers", "width", "activation", "init"],
    "Optimization": ["optimizer", "lr", "schedule", "warmup", "step_size", "step_gamma", "min_lr", "momentum",
                     "beta1", "beta2", "batch_size", "epochs"],
    "Regularization": ["dropout", "l2", "patience"],
    "Data": ["subset", "val_size", "shift", "rotate", "noise", "seed"],
}


def _key(name: str) -> str:
    return f"k_{name}"


def _with(options: Sequence, value: Any) -> list:
    """The option list, plus ``value`` (sorted in) when a preset or link uses an off-grid value."""
    return sorted(set(options) | {value})


def _subset_options(value: int) -> list[int]:
    positive = sorted({v for v in SUBSETS if v} | ({value} if value else set()))
    return positive + [0]


def seed_widgets(knobs: dict[str, Any], *, overwrite: bool = False) -> None:
    """Put knob values into the widget keys (all of them when ``overwrite``, else only the missing ones)."""
    values = dict(knobs)
    hidden = tuple(values.pop("hidden"))
    values["layers"] = len(hidden)
    for i in range(MAX_HIDDEN_LAYERS):
        if i < len(hidden):
            values[f"w{i}"] = hidden[i]
        elif overwrite or _key(f"w{i}") not in st.session_state:
            values[f"w{i}"] = hidden[-1] if hidden else 128
    for name, value in values.items():
        if overwrite or _key(name) not in st.session_state:
            st.session_state[_key(name)] = value


def apply_preset(config: TrainConfig) -> None:
    """Button callback: load a preset into every widget (runs before the widgets are drawn)."""
    seed_widgets(config_to_knobs(config), overwrite=True)


def reset_knobs() -> None:
    seed_widgets(default_knobs(), overwrite=True)


def knob_widgets(knobs: dict[str, Any]) -> dict[str, Any]:
    """Draw every knob in its group; return the knob values they now show."""
    seed_widgets(knobs)
    ss = st.session_state
    out: dict[str, Any] = {}

    with st.expander("Architecture", expanded=True, icon=":material/account_tree:"):
        layers = st.slider("Hidden layers", 0, MAX_HIDDEN_LAYERS, key=_key("layers"), help=HELP["layers"])
        widths = []
        if layers:
            cols = st.columns(min(layers, 3))
            for i in range(layers):
                if _key(f"w{i}") not in ss:
                    ss[_key(f"w{i}")] = widths[-1] if widths else 128
                with cols[i % len(cols)]:
                    widths.append(st.select_slider(f"Layer {i + 1} width", _with(WIDTHS, ss[_key(f"w{i}")]),
                                                   key=_key(f"w{i}"), help=HELP["width"]))
        out["hidden"] = tuple(int(w) for w in widths)
        c1, c2 = st.columns(2)
        out["activation"] = c1.selectbox("Activation", ACTIVATIONS, key=_key("activation"), help=HELP["activation"])
        out["init"] = c2.selectbox("Initialisation", INITS, key=_key("init"), help=HELP["init"])

    with st.expander("Optimization", expanded=True, icon=":material/speed:"):
        c1, c2 = st.columns(2)
        out["optimizer"] = c1.selectbox("Optimizer", OPTIMIZERS, key=_key("optimizer"), help=HELP["optimizer"])
        out["schedule"] = c2.selectbox("LR schedule", SCHEDULES, key=_key("schedule"), help=HELP["schedule"])
        out["lr"] = st.select_slider("Learning rate", _with(LRS, ss[_key("lr")]), key=_key("lr"),
                                     format_func=lambda v: f"{v:g}", help=HELP["lr"])
        out["warmup"] = st.slider("Warm-up (epochs)", 0.0, max(5.0, ss[_key("warmup")]), step=0.25, key=_key("warmup"), help=HELP["warmup"])
        out["step_size"], out["step_gamma"], out["min_lr"] = ss[_key("step_size")], ss[_key("step_gamma")], \
            ss[_key("min_lr")]
        if out["schedule"] == "step":
            c1, c2 = st.columns(2)
            out["step_size"] = c1.slider("Step every (epochs)", 1, max(20, ss[_key("step_size")]), key=_key("step_size"), help=HELP["step_size"])
            out["step_gamma"] = c2.slider("Multiply by", min(0.05, ss[_key("step_gamma")]), 1.0, step=0.05, key=_key("step_gamma"),
                                          help=HELP["step_gamma"])
        elif out["schedule"] == "cosine":
            out["min_lr"] = st.slider("End at (fraction of the LR)", 0.0, 1.0, step=0.01, key=_key("min_lr"),
                                      help=HELP["min_lr"])
        out["momentum"], out["beta1"], out["beta2"] = ss[_key("momentum")], ss[_key("beta1")], ss[_key("beta2")]
        if out["optimizer"] in ("momentum", "nesterov"):
            out["momentum"] = st.slider("Momentum", 0.0, 0.999, step=0.01, key=_key("momentum"),
                                        help=HELP["momentum"])
        elif out["optimizer"] in ("adam", "adamw"):
            c1, c2 = st.columns(2)
            out["beta1"] = c1.slider("β₁", 0.0, 0.9999, step=0.01, key=_key("beta1"), help=HELP["beta1"],
                                     format="%.3f")
            out["beta2"] = c2.slider("β₂", min(0.9, ss[_key("beta2")]), 0.99999, step=0.0001, key=_key("beta2"), help=HELP["beta2"],
                                     format="%.4f")
        c1, c2 = st.columns(2)
        out["batch_size"] = c1.select_slider("Batch size", _with(BATCHES, ss[_key("batch_size")]),
                                             key=_key("batch_size"), help=HELP["batch_size"])
        out["epochs"] = c2.slider("Epochs", 1, 200, key=_key("epochs"), help=HELP["epochs"])

    with st.expander("Regularization", expanded=False, icon=":material/tune:"):
        out["dropout"] = st.slider("Dropout", 0.0, 0.9, step=0.05, key=_key("dropout"), help=HELP["dropout"],
                                   disabled=not out["hidden"])
        out["l2"] = st.select_slider("L2 weight decay", _with(L2S, ss[_key("l2")]), key=_key("l2"),
                                     format_func=lambda v: "off" if v == 0 else f"{v:g}", help=HELP["l2"])
        out["patience"] = st.slider("Early stopping patience (epochs)", 0, max(20, ss[_key("patience")]), key=_key("patience"),
                                    help=HELP["patience"])

    with st.expander("Data", expanded=False, icon=":material/dataset:"):
        c1, c2 = st.columns(2)
        out["subset"] = c1.select_slider("Training images", _subset_options(ss[_key("subset")]),
                                         key=_key("subset"), format_func=lambda v: "all" if v == 0 else f"{v:,}",
                                         help=HELP["subset"])
        out["val_size"] = c2.select_slider("Validation images", _with(VAL_SIZES, ss[_key("val_size")]),
                                           key=_key("val_size"), format_func=lambda v: f"{v:,}",
                                           help=HELP["val_size"])
        c1, c2, c3 = st.columns(3)
        out["shift"] = c1.slider("Shift (px)", 0, 8, key=_key("shift"), help=HELP["shift"])
        out["rotate"] = c2.slider("Rotate (°)", 0.0, 90.0, step=1.0, key=_key("rotate"), help=HELP["rotate"])
        out["noise"] = c3.slider("Noise", 0.0, 1.0, step=0.05, key=_key("noise"), help=HELP["noise"])
        out["seed"] = int(st.number_input("Seed", 0, 2**31 - 1, step=1, key=_key("seed"), help=HELP["seed"]))

    if not out["hidden"]:
        out["dropout"] = knobs.get("dropout", 0.0)
    return out
