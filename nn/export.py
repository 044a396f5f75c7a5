"""Export a run as a standalone NumPy script, written from the textbook code and the run's settings.

The script holds the textbook's own functions, read with ``inspect`` at export time (so it can never
disagree with nn/model.py, nn/optim.py, nn/losses.py, nn/activations.py, nn/init.py and
nn/schedules.py), with their docstrings and argument checks left out; the loop is nn/fit.py's. It
needs only NumPy and the MNIST files the user has, trains the same network from scratch (the same
seed gives the same split, initial weights, batches, dropout and augmentation as the app's run), and
evaluates it on the test set.
"""

from __future__ import annotations

import ast
import inspect
import textwrap

from nn import activations, augment, init, losses, model, optim, schedules
from nn.config import TrainConfig
from nn.data import split as data_split

_ACTIVATION_FUNCTIONS = {
    "relu": ("relu", "relu_derivative"), "sigmoid": ("sigmoid", "sigmoid_derivative"),
    "tanh": ("tanh", "tanh_derivative"), "leaky_relu": ("make_leaky_relu",),
}
_MODEL_METHODS = ("views", "parameters", "forward", "forward_cached", "backward", "check_X")


def strip(source: str) -> str:
    """``source`` dedented, without docstrings and without ``if ...: raise`` checks (comments stay).

    A check that is all its block holds stays (the block would be empty without it).
    """
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    drop: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            body = getattr(node, field, None)
            if not isinstance(body, list) or not body:
                continue
            gone = [s for s in body if _is_check(s)]
            if field == "body" and isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and _is_doc(body[0]):
                gone.append(body[0])
            if len(gone) < len(body):
                for statement in gone:
                    drop.update(range(statement.lineno, statement.end_lineno + 1))
    lines = [line for i, line in enumerate(source.splitlines(), 1) if i not in drop]
    return "\n".join(lines).strip("\n")


def _is_doc(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _is_check(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.If) and not statement.orelse
            and all(isinstance(s, ast.Raise) for s in statement.body))


def _functions(module, names) -> str:
    return "\n\n".join(strip(inspect.getsource(getattr(module, name))) for name in names)


def _methods(cls, names) -> str:
    return "\n\n".join(textwrap.indent(strip(inspect.getsource(getattr(cls, name))), "    ") for name in names)


def _augment_module() -> str:
    """nn/augment.py without its docstrings and its imports of this package (the script defines the rest)."""
    lines = [line for line in strip(inspect.getsource(augment)).splitlines()
             if not line.startswith(("from nn", "from __future__", "import numpy"))]
    return "\n".join(lines).strip("\n")


def _settings(config: TrainConfig) -> str:
    """The config as a Python dict literal, wrapped at 110 columns (its values hold no spaces)."""
    text = repr(config.to_dict())
    return "\n    ".join(textwrap.wrap(text, 106, break_long_words=False, break_on_hyphens=False))


def _rule(config: TrainConfig) -> dict[str, str]:
    """The optimizer's name, its extra attributes (lines of __init__) and its update rule (a method)."""
    rule = optim.RULES[config.optimizer]
    attributes = {"momentum": ["momentum"], "nesterov": ["momentum"], "adam": ["beta1", "beta2", "eps"],
                  "adamw": ["beta1", "beta2", "eps"]}.get(config.optimizer, [])
    return {"rule_name": rule.__name__, "decoupled": str(rule.decoupled_decay),
            "rule_attributes": "\n".join(f"        self.{a} = S[{a!r}]" for a in attributes),
            "rule_update": _methods(rule, ["update"])}


def export_script(config: TrainConfig, *, title: str = "A network trained in the MNIST-from-scratch app") -> str:
    """The standalone script (Python source) that trains ``config``'s run from scratch and evaluates it."""
    used = sorted(set(config.model.activations))
    act_sources = _functions(activations, [f for name in used for f in _ACTIVATION_FUNCTIONS[name]])
    act_table = ", ".join(
        f'"{name}": make_leaky_relu(M["leaky_slope"])' if name == "leaky_relu"
        else f'"{name}": Activation("{name}", {name}, {name}_derivative)' for name in used)
    augment_source = _augment_module() if config.augment.enabled else "def augment_batch(X, cfg, rng):\n    return X"
    return _TEMPLATE.format(
        title=title, settings=_settings(config),
        activation_class=strip(inspect.getsource(activations.Activation)), activation_functions=act_sources,
        activation_table=act_table,
        losses=_functions(losses, ["log_softmax", "cross_entropy", "softmax_cross_entropy"]),
        init=_functions(init, ["init_weight"]), to_float=_functions(data_split, ["to_float"]),
        cache=strip(inspect.getsource(model.Cache)), model_methods=_methods(model.MLP, _MODEL_METHODS),
        step=_methods(optim.Optimizer, ["step"]), **_rule(config),
        schedule=_methods(schedules.Schedule, ["warmup", "decay"]), augment=augment_source,
        rows_at_once=model.ROWS_AT_ONCE,
    )


_TEMPLATE = '''#!/usr/bin/env python3
"""{title}: train it again from scratch with NumPy alone, then evaluate it.

Written by the MNIST-from-scratch app from its textbook code (nn/activations.py, nn/losses.py,
nn/init.py, nn/model.py, nn/optim.py, nn/schedules.py; the loop of nn/fit.py) and this run's settings
(SETTINGS below). The same MNIST files give the same network as the app's run, up to float rounding:
the seed fixes the split, the initial weights, the batch order, dropout and augmentation. Learning
rates changed by hand while the run trained are not replayed.

    python this_script.py MNIST_DIR [--save weights.npz] [--compare the_apps_run.npz]

MNIST_DIR holds train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
t10k-labels-idx1-ubyte (each may end in .gz), or Keras's mnist.npz.
"""

from __future__ import annotations

import argparse
import gzip
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np

SETTINGS = {settings}
S, M = SETTINGS, SETTINGS["model"]
ROWS_AT_ONCE = {rows_at_once}  # nn/model.py: inference takes this many rows at a time

# ----- the data: MNIST as uint8 arrays
def read_idx(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)

def load_mnist(folder: Path) -> tuple[np.ndarray, ...]:
    if (folder / "mnist.npz").exists():
        with np.load(folder / "mnist.npz", allow_pickle=False) as f:
            return f["x_train"], f["y_train"], f["x_test"], f["y_test"]
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
    found = [next((p for p in (folder / n, folder / (n + ".gz")) if p.exists()), None) for n in names]
    if None in found:
        raise SystemExit(f"{{folder}} lacks {{[n for n, p in zip(names, found) if p is None]}}")
    return tuple(read_idx(p) for p in found)

{to_float}

# ----- activations (nn/activations.py)
{activation_class}

{activation_functions}

ACTIVATIONS = {{{activation_table}}}

# ----- softmax and cross-entropy (nn/losses.py)
{losses}

# ----- initial weights (nn/init.py)
{init}

# ----- the network (nn/model.py)
{cache}

class MLP:
    def __init__(self, rng: np.random.Generator):
        self.config = config = SimpleNamespace(**M, layer_sizes=(M["input_size"], *M["hidden"], M["n_classes"]))
        acts = M["activation"] if isinstance(M["activation"], (list, tuple)) else [M["activation"]] * len(M["hidden"])
        drops = M["dropout"] if isinstance(M["dropout"], (list, tuple)) else [M["dropout"]] * len(M["hidden"])
        self.dtype = np.dtype(M["dtype"])
        self.activations = [ACTIVATIONS[a] for a in acts]
        self.keep = [1.0 - p for p in drops]
        sizes = config.layer_sizes
        self._params = np.zeros(sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])), self.dtype)
        self.weights, self.biases = self.views(self._params)
        for W in self.weights:
            W[...] = init_weight(*W.shape, M["init"], rng, scale=M["init_scale"], dtype=self.dtype)
        self.n_layers = len(self.weights)

{model_methods}

# ----- the optimizer (nn/optim.py): the loop every rule shares, then this run's rule
class {rule_name}:
    decoupled_decay = {decoupled}

    def __init__(self, params: list[np.ndarray]):
        self.params, self.lr, self.weight_decay, self.t = list(params), S["lr"], S["weight_decay"], 0
        self.decay = [p.ndim >= 2 for p in self.params]
        self.state = [{{}} for _ in self.params]
{rule_attributes}

{step}

{rule_update}

# ----- the learning-rate schedule (nn/schedules.py), without the app's live changes
class Schedule:
    def __init__(self, steps_per_epoch: int):
        self.kind, self.steps_per_epoch, self.total_steps = S["schedule"], steps_per_epoch, S["epochs"] * steps_per_epoch
        self.warmup_steps = S["warmup_epochs"] * steps_per_epoch
        self.step_size, self.gamma, self.min_fraction = S["step_size"], S["step_gamma"], S["min_lr_fraction"]

    def lr(self, step: int) -> float:
        return S["lr"] * self.warmup(step) * self.decay(step)

{schedule}

# ----- augmentation (nn/augment.py)
{augment}

# ----- training: the loop of nn/fit.py
def train(images: np.ndarray, labels: np.ndarray) -> tuple[MLP, np.ndarray]:
    split_seed, init_seed, shuffle_seed, dropout_seed, augment_seed = np.random.SeedSequence(S["seed"]).spawn(5)
    split_rng, shuffle_rng = np.random.default_rng(split_seed), np.random.default_rng(shuffle_seed)
    dropout_rng, augment_rng = np.random.default_rng(dropout_seed), np.random.default_rng(augment_seed)
    order = split_rng.permutation(len(images))
    train_idx, val_idx = np.sort(order[S["val_size"]:]), np.sort(order[:S["val_size"]])
    if S["train_subset"] is not None and S["train_subset"] < train_idx.size:
        train_idx = np.sort(split_rng.choice(train_idx, S["train_subset"], replace=False))
    model = MLP(np.random.default_rng(init_seed))
    optimizer = {rule_name}(model.parameters())
    batch_size = min(S["batch_size"], train_idx.size)
    batches = math.ceil(train_idx.size / batch_size)
    schedule = Schedule(batches)
    dropout = dropout_rng if any(k < 1 for k in model.keep) else None
    augmentation = SimpleNamespace(**S["augment"], enabled=any(v > 0 for v in S["augment"].values()))
    step = 0
    for epoch in range(1, S["epochs"] + 1):
        order, loss_sum = shuffle_rng.permutation(train_idx), 0.0
        for b in range(batches):
            idx = order[b * batch_size: (b + 1) * batch_size]
            X, y = model.check_X(to_float(images[idx])), labels[idx]
            if augmentation.enabled:
                X = augment_batch(X, augmentation, augment_rng)
            optimizer.lr = schedule.lr(step)
            logits, cache = model.forward_cached(X, dropout)                # forward
            loss, dZ = softmax_cross_entropy(logits, y)                     # loss
            dW, db, _ = model.backward(cache, dZ)                           # backward
            optimizer.step([g for pair in zip(dW, db) for g in pair])       # update
            loss_sum, step = loss_sum + loss * idx.size, step + 1
        line = f"epoch {{epoch}}: train loss {{loss_sum / train_idx.size:.4f}}"
        if val_idx.size:                                                    # validate
            val_logits = model.forward(to_float(images[val_idx]))
            line += (f", val loss {{cross_entropy(val_logits, labels[val_idx]):.4f}}, val accuracy "
                     f"{{np.mean(np.argmax(val_logits, axis=1) == labels[val_idx]):.4f}}")
        print(line, flush=True)
    return model, val_idx

def main() -> None:
    parser = argparse.ArgumentParser(description="Train this run's network from scratch on MNIST, then evaluate it.")
    parser.add_argument("mnist_dir", type=Path, help="the folder with the four MNIST files (or mnist.npz)")
    parser.add_argument("--save", type=Path, help="write the trained weights here (.npz: W1, b1, W2, ...)")
    parser.add_argument("--compare", type=Path, help="the app's .npz of this run: print how far the weights are")
    args = parser.parse_args()
    x_train, y_train, x_test, y_test = load_mnist(args.mnist_dir)
    model, _ = train(x_train, y_train.astype(np.int64))
    logits = model.forward(to_float(x_test))
    print(f"test loss {{cross_entropy(logits, y_test.astype(np.int64)):.4f}}, test accuracy "
          f"{{np.mean(np.argmax(logits, axis=1) == y_test):.4f}}")
    arrays = {{f"{{k}}{{i}}": a for i, (W, b) in enumerate(zip(model.weights, model.biases), 1) for k, a in (("W", W), ("b", b))}}
    if args.save:
        np.savez(args.save, **arrays)
    if args.compare:
        with np.load(args.compare, allow_pickle=False) as app:
            gap = max(float(np.max(np.abs(app[k] - a))) for k, a in arrays.items())
        print(f"largest difference from the app's weights: {{gap:.3g}}")

if __name__ == "__main__":
    main()
'''
