"""Export a run as a standalone NumPy script that trains it again from scratch and tests it.

The script is nn/export/template.py's, cut to this run: only its activation, its optimizer's rule,
its schedule, and dropout, augmentation, weight decay or early stopping only when the run uses them.
The activation, the loss, the initial weights, the rule and the schedule are the textbook's own lines
(nn/activations.py, nn/losses.py, nn/init.py, nn/optim.py, nn/schedules.py), read with ``inspect``
(nn/export/textbook.py). The network, the loop and augmentation are written for the script, in
plain functions; tests/test_export.py proves that they give the textbook's numbers exactly (same
seed: same split, weights, batches, dropout masks and augmentation) and the app's run.
"""

from __future__ import annotations

import re
import textwrap

from nn import activations, init, losses, optim, schedules
from nn.config import TrainConfig
from nn.export import textbook
from nn.export.template import AUGMENT, SCRIPT, fill
from nn.export.textbook import strip

__all__ = ["export_script", "strip"]

_RULE_NAMES = {"self.lr": "lr", "self.t": "step", "self.momentum": "MOMENTUM", "self.beta1": "BETA1",
               "self.beta2": "BETA2", "self.eps": "EPS"}
_SCHEDULE_NAMES = {"self.total_steps": "total_steps", "self.warmup_steps": "warmup_steps",
                   "self.steps_per_epoch": "steps_per_epoch", "self.gamma": "STEP_GAMMA",
                   "self.step_size": "STEP_SIZE", "self.min_fraction": "MIN_LR_FRACTION"}
_UPDATE_ARGS = ("p", "g", "state", "lr", "step")


def export_script(config: TrainConfig, *, title: str = "A network trained in the MNIST-from-scratch app"
                  ) -> str:
    """The standalone script (Python source) that trains ``config``'s run from scratch and tests it."""
    title = re.sub(r"[^\w .,:;()+=-]", "_", " ".join(title.split()))[:80]  # an upload's file name: no quotes
    flags = _flags(config)
    update = textbook.body(optim.RULES[config.optimizer].update, _RULE_NAMES)
    update_args = [a for a in _UPDATE_ARGS if re.search(rf"\b{a}\b", update)]
    flags["state"] = "state" in update_args
    flags["step"] = flags["schedule"] or "step" in update_args  # the step count: the schedule's or the rule's
    rate = "lr" if flags["schedule"] else "LR"
    values = {
        "title": title, "about": _about(config), "settings": _settings(config),
        "activations": _activations(config),
        "losses": textbook.inline(losses.softmax_cross_entropy, losses.log_softmax),
        "init": textbook.branch(init.init_weight, config.model.init, {"scale": "INIT_SCALE"}),
        "update": update, "update_args": ", ".join(update_args),
        "update_call": ", ".join(rate if a == "lr" else a for a in update_args), "lr": rate, "optimizer": config.optimizer,
        **_network(config, flags), **_loop(config, flags),
    }
    script = fill(SCRIPT, flags, values)
    uses_math = re.search(r"\bmath\.", "\n".join(line.partition("#")[0] for line in script.splitlines()))
    return script if uses_math else script.replace("import math\n", "", 1)  # normal init, constant rate


def _network(config: TrainConfig, flags: dict[str, bool]) -> dict[str, str]:
    """The names and expressions the network's lines take: this run's f and f', with or without dropout."""
    f = "".join(config.model.activations[:1])  # none in softmax regression
    mixed, dropout = len(set(config.model.activations)) > 1, flags["dropout"]
    return {
        "f": "F[l]" if mixed else f, "df": "DF[l - 1]" if mixed else f"{f}_derivative",
        "partial": " and KEEP[l] < 1" if flags["partial"] else "",
        "cache_tuple": "inputs, acts, masks" if dropout else "inputs,",
        "cache_args": "inputs, acts, masks" if dropout else "inputs",
        "a": "acts[l - 1]" if dropout else "inputs[l]",
        "mask": " * masks[l - 1]" if dropout else "", "mask_math": " M_{l-1}" if dropout else "",
    }


def _loop(config: TrainConfig, flags: dict[str, bool]) -> dict[str, str]:
    """The loop's pieces: the learning rate, augmentation, the random streams it uses, the optimizer's state."""
    factors = ["LR"] + ["warmup"] * (config.warmup_epochs > 0) + ["decay"] * (config.schedule != "constant")
    return {
        "schedule_file": "; the learning rate: nn/schedules.py" if flags["schedule"] else "",
        "schedule": _schedule(config) if flags["schedule"] else "", "factors": " * ".join(factors),
        "augment": fill(AUGMENT, flags, {}) if flags["augment"] else "",
        "batch": "X" if flags["augment"] else "to_float(images[idx])",
        "more_rngs": ", ".join([("_", "dropout_rng")[flags["dropout"]], ("_", "augment_rng")[flags["augment"]]]),
        "dropout_rng": ", dropout_rng" if flags["dropout"] else "",
        "loop_vars": "p, g, state" if flags["state"] else "p, g",
        "loop_states": ", states" if flags["state"] else "",
    }


def _flags(config: TrainConfig) -> dict[str, bool]:
    """Which of the template's optional lines this run keeps (``#?flag``)."""
    keep = [p > 0 for p in config.model.dropouts]
    aug = config.augment
    decays = config.weight_decay > 0
    decoupled = optim.RULES[config.optimizer].decoupled_decay
    return {
        "float64": config.model.dtype == "float64", "hidden": bool(config.model.hidden),
        "dropout": any(keep), "partial": any(keep) and not all(keep),
        "augment": aug.enabled, "moves": aug.shift > 0 or aug.rotate > 0, "rotate": aug.rotate > 0,
        "shift": aug.shift > 0 and aug.rotate == 0, "noise": aug.noise > 0,
        "schedule": config.schedule != "constant" or config.warmup_epochs > 0,
        "weight_decay": decays, "coupled": decays and not decoupled, "decoupled": decays and decoupled,
        "val": config.val_size > 0, "subset": config.train_subset is not None,
        "stop": config.early_stopping_patience is not None,
    }


def _about(config: TrainConfig) -> str:
    """The docstring's last line: what the seed fixes."""
    same = ["split", "initial weights", "batches"]
    same += ["dropout masks"] * any(p > 0 for p in config.model.dropouts)
    same += ["augmentation"] * config.augment.enabled
    return textwrap.fill(f"The app's seed: its {', '.join(same[:-1])} and {same[-1]}, so its network, up to "
                         "float rounding.", 108)


def _settings(config: TrainConfig) -> str:
    """The run's settings that the script uses, as constants, a line per topic with a comment."""
    m, aug = config.model, config.augment
    rows: list[tuple[str, dict[str, object]]] = []
    rows.append((f"layer widths; {m.init} init",
                 {"SIZES": m.layer_sizes, "DTYPE": f"np.{m.dtype}"}))
    val = {"VAL_SIZE": config.val_size} if config.val_size else {}
    rows.append(("the seed fixes every random draw",
                 {"SEED": config.seed, "EPOCHS": config.epochs, "BATCH_SIZE": config.batch_size, **val}))
    if config.train_subset is not None:
        rows.append(("train on this many images", {"TRAIN_SUBSET": config.train_subset}))
    if "leaky_relu" in m.activations:
        rows.append(("leaky_relu: f(z) = slope z, z < 0", {"LEAKY_SLOPE": m.leaky_slope}))
    if m.init == "normal":
        rows.append(("normal init: the weights' std", {"INIT_SCALE": m.init_scale}))
    rule = {"momentum": {"MOMENTUM": config.momentum}, "nesterov": {"MOMENTUM": config.momentum}}.get(
        config.optimizer, {"BETA1": config.beta1, "BETA2": config.beta2, "EPS": config.eps}
        if config.optimizer in ("adam", "adamw") else {})
    decay = {"WEIGHT_DECAY": config.weight_decay} if config.weight_decay > 0 else {}
    rows.append((f"{config.optimizer}, learning rate LR", {"LR": config.lr, **rule, **decay}))
    schedule = {"step": {"STEP_SIZE": config.step_size, "STEP_GAMMA": config.step_gamma},
                "cosine": {"MIN_LR_FRACTION": config.min_lr_fraction}}.get(config.schedule, {})
    if config.warmup_epochs > 0 or config.schedule == "cosine":
        schedule = {"WARMUP_EPOCHS": config.warmup_epochs, **schedule}
    if schedule:
        rows.append((f"{config.schedule} schedule", schedule))
    if any(p > 0 for p in m.dropouts):
        rows.append(("dropout: the chance a unit stays", {"KEEP": tuple(1.0 - p for p in m.dropouts)}))
    if aug.enabled:
        moves = {"SHIFT": aug.shift, "ROTATE": aug.rotate} if aug.shift > 0 or aug.rotate > 0 else {}
        noise = {"NOISE": aug.noise} if aug.noise else {}
        rows.append(("augmentation: pixels, degrees, std", {**moves, **noise}))
    if config.early_stopping_patience is not None:
        rows.append(("early stopping: epochs to wait", {"PATIENCE": config.early_stopping_patience}))
    lines = [", ".join(values) + " = " + ", ".join(v if k == "DTYPE" else repr(v) for k, v in values.items())
             for _, values in rows]
    width = max(map(len, lines)) + 2
    return "\n".join(f"{line:<{width}}# {comment}" for line, (comment, _) in zip(lines, rows))


def _activations(config: TrainConfig) -> str:
    """The run's activations and their derivatives (nn/activations.py); a per-layer table if they differ."""
    names = list(dict.fromkeys(config.model.activations))
    pieces = []
    for name in names:
        if name == "leaky_relu":
            rename = {"forward": "leaky_relu", "derivative": "leaky_relu_derivative", "slope": "LEAKY_SLOPE"}
            pieces += [textbook.nested(activations.make_leaky_relu, f, rename, false=("out is z",))
                       for f in ("forward", "derivative")]
        else:
            pieces += [textbook.function(getattr(activations, f)) for f in (name, f"{name}_derivative")]
    if len(names) > 1:
        acts = config.model.activations
        pieces.append(f"F, DF = ({', '.join(acts)}), ({', '.join(a + '_derivative' for a in acts)})"
                      "  # per hidden layer: f and f'")
    return "\n\n\n".join(pieces)


def _schedule(config: TrainConfig) -> str:
    """The body of ``learning_rate``: nn/schedules.py's warm-up and this run's decay, inline."""
    parts, factors = [], ["LR"]
    if config.warmup_epochs > 0:
        warmup = textbook.body(schedules.Schedule.warmup, _SCHEDULE_NAMES, false=("self.warmup_steps <= 0",))
        parts.append(textbook.returned_as(warmup, "warmup"))
        factors.append("warmup")
    if config.schedule != "constant":
        decay = textbook.branch(schedules.Schedule.decay, config.schedule, _SCHEDULE_NAMES)
        parts.append(textbook.returned_as(decay, "decay"))
        factors.append("decay")
    code = "\n".join(parts)
    steps = [(name, f"{value} * steps_per_epoch") for name, value in
             (("total_steps", "EPOCHS"), ("warmup_steps", "WARMUP_EPOCHS")) if re.search(rf"\b{name}\b", code)]
    first = [", ".join(n for n, _ in steps) + " = " + ", ".join(v for _, v in steps)] if steps else []
    return "\n".join([*first, code, "return " + " * ".join(factors)])
