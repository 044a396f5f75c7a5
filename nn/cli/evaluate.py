"""``python -m nn evaluate MODEL.npz``: how good a saved network is on the MNIST test set.

Prints the test accuracy, precision/recall/F1 per digit, and the digit pairs
it confuses most (or with ``--json``, one machine-readable line). A missing,
malformed or hostile model file: one line on stderr, exit code 2.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from nn.cli import CliError
from nn.cli.train import add_data_arguments, load_data


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "evaluate", help="test a saved network on the MNIST test set",
        description="Load a network saved with `python -m nn train --save` (a .npz file) and measure it "
                    "on the 10,000 MNIST test images.")
    p.add_argument("model", metavar="MODEL.npz", help="the saved network")
    add_data_arguments(p.add_argument_group("data"))
    p.add_argument("--json", action="store_true", help="print one JSON summary line instead of tables")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from nn.data import to_float
    from nn.losses import cross_entropy
    from nn.metrics import accuracy, confusion_matrix, most_confused_pairs, per_class_report
    path = Path(args.model)
    if not path.is_file():
        raise CliError(f"no model file at {path}")
    from nn.serialize import load_model
    try:
        model, meta = load_model(path)
    except (ValueError, OSError) as exc:  # ModelFileError is a ValueError
        raise CliError(f"cannot load {path}: {exc}") from None

    ds = load_data(args)
    if model.config.input_size != 784 or model.config.n_classes != 10:
        raise CliError(f"{path} is a network for {model.config.input_size} inputs and "
                       f"{model.config.n_classes} classes, not MNIST's 784 pixels and 10 digits")
    X = to_float(ds.x_test)
    y = np.asarray(ds.y_test)
    logits = model.forward(X)
    predictions = logits.argmax(axis=1)
    acc = accuracy(y, predictions)
    loss = cross_entropy(logits, y)
    report = per_class_report(y, predictions, n_classes=10)
    pairs = most_confused_pairs(confusion_matrix(y, predictions, 10), k=5)

    if args.json:
        summary = {
            "model": str(path),
            "layer_sizes": list(model.config.layer_sizes),
            "test_accuracy": acc,
            "test_loss": loss,
            "n_test": int(y.size),
            "per_class": report.reset_index().to_dict("records"),
            "most_confused": [{"true": t, "predicted": p, "count": c} for t, p, c in pairs],
        }
        print(json.dumps(summary, sort_keys=True))
        return 0

    sizes = " -> ".join(str(s) for s in model.config.layer_sizes)
    print(f"Network {path.name}: {sizes} ({', '.join(model.config.activations) or 'softmax regression'})")
    saved_acc = meta.get("test_accuracy") if isinstance(meta, dict) else None
    if isinstance(saved_acc, (int, float)):
        print(f"Test accuracy recorded when saved: {saved_acc:.2%}")
    print(f"Test accuracy: {acc:.2%} on {y.size:,} images (test loss {loss:.4f})")
    print("Per digit:")
    table = report.copy()
    table.loc["macro avg"] = [report["precision"].mean(), report["recall"].mean(), report["f1"].mean(),
                              report["support"].sum()]
    table["support"] = table["support"].astype(int)
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    if pairs:
        print("Most confused (true -> predicted: count): "
              + ", ".join(f"{t} -> {p}: {c}" for t, p, c in pairs))
    return 0
