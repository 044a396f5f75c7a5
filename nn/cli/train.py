"""``python -m nn train``: train a network on MNIST from the command line.

Start from a preset (``--preset quick|default|best``; without one, the
``TrainConfig`` defaults) and override any knob with a flag. A progress bar
and one line per epoch go to stderr; the test accuracy and the confusion
matrix go to stdout, or with ``--json`` a single machine-readable line.
Bad flags or values: one line on stderr, exit code 2. A run that diverges
exits with 1 and says why.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import sys
from typing import Any

import numpy as np

from nn.cli import CliError
from nn.cli.checks import check_memory, check_save_target, check_split
from nn.config import ACTIVATIONS, DTYPES, INITS, OPTIMIZERS, SCHEDULES, TrainConfig
from nn.events import BatchEvent, EpochEvent, RunState
from nn.presets import PRESETS

# flag destination -> (section of TrainConfig.to_dict(), field): where each override goes.
_FIELDS: dict[str, tuple[str | None, str]] = {
    "hidden": ("model", "hidden"),
    "activation": ("model", "activation"),
    "init": ("model", "init"),
    "init_scale": ("model", "init_scale"),
    "dropout": ("model", "dropout"),
    "leaky_slope": ("model", "leaky_slope"),
    "dtype": ("model", "dtype"),
    "optimizer": (None, "optimizer"),
    "lr": (None, "lr"),
    "momentum": (None, "momentum"),
    "beta1": (None, "beta1"),
    "beta2": (None, "beta2"),
    "eps": (None, "eps"),
    "weight_decay": (None, "weight_decay"),
    "schedule": (None, "schedule"),
    "warmup": (None, "warmup_epochs"),
    "step_size": (None, "step_size"),
    "step_gamma": (None, "step_gamma"),
    "min_lr_fraction": (None, "min_lr_fraction"),
    "batch_size": (None, "batch_size"),
    "epochs": (None, "epochs"),
    "subset": (None, "train_subset"),
    "val_size": (None, "val_size"),
    "early_stopping": (None, "early_stopping_patience"),
    "seed": (None, "seed"),
    "shift": ("augment", "shift"),
    "rotate": ("augment", "rotate"),
    "noise": ("augment", "noise"),
}


_OUT_OF_MEMORY = ("ran out of memory while training, beyond what the estimate foresaw; lower --batch-size or use "
                  "fewer or narrower --hidden layers")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "train", help="train a network on MNIST",
        description="Train a multilayer perceptron on MNIST. Start from --preset (or the defaults) and "
                    "override any setting with its flag.")
    p.add_argument("--preset", choices=sorted(PRESETS), help="start from a named recipe (flags override it)")

    net = p.add_argument_group("network")
    net.add_argument("--hidden", type=int, nargs="*", metavar="N",
                     help="hidden layer widths, e.g. --hidden 256 128 (none: softmax regression)")
    net.add_argument("--activation", nargs="+", choices=ACTIVATIONS, metavar="NAME",
                     help=f"one for every hidden layer or one per layer: {', '.join(ACTIVATIONS)}")
    net.add_argument("--init", choices=INITS, help="weight initialisation")
    net.add_argument("--init-scale", type=float, metavar="STD", help="standard deviation for --init normal")
    net.add_argument("--dropout", type=float, nargs="+", metavar="P",
                     help="probability of dropping a hidden unit: one value, or one per layer")
    net.add_argument("--leaky-slope", type=float, metavar="A", help="negative slope of leaky_relu")
    net.add_argument("--dtype", choices=DTYPES, help="floating-point precision (default float32)")

    opt = p.add_argument_group("optimisation")
    opt.add_argument("--optimizer", choices=OPTIMIZERS)
    opt.add_argument("--lr", type=float, metavar="RATE", help="learning rate")
    opt.add_argument("--momentum", type=float, metavar="MU", help="for momentum and nesterov")
    opt.add_argument("--beta1", type=float, help="Adam's first-moment decay")
    opt.add_argument("--beta2", type=float, help="Adam's second-moment decay")
    opt.add_argument("--eps", type=float, help="Adam's epsilon")
    opt.add_argument("--weight-decay", type=float, metavar="WD", help="L2 penalty (decoupled for adamw)")
    opt.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    opt.add_argument("--warmup", type=float, metavar="EPOCHS", help="linear warm-up, in epochs")
    opt.add_argument("--step-size", type=int, metavar="EPOCHS", help="step schedule: epochs per step")
    opt.add_argument("--step-gamma", type=float, metavar="G", help="step schedule: factor per step")
    opt.add_argument("--min-lr-fraction", type=float, metavar="F", help="cosine schedule ends at lr * F")
    opt.add_argument("--batch-size", type=int, metavar="N")
    opt.add_argument("--epochs", type=int, metavar="N")
    opt.add_argument("--early-stopping", type=int, metavar="PATIENCE",
                     help="stop when the validation loss has not improved for this many epochs")
    opt.add_argument("--seed", type=int)
    opt.add_argument("--threads", type=int, metavar="N",
                     help="cores that share the work of a batch (default: one per core, at most 2); "
                          "results are reproducible for a given N")
    opt.add_argument("--parallel", choices=("processes", "threads"), default="processes",
                     help="how the cores share a batch: forked worker processes (the default, faster; "
                          "threads where the system cannot fork) or threads of this process")

    data = p.add_argument_group("data")
    data.add_argument("--subset", type=int, metavar="N", help="train on only N images")
    data.add_argument("--val-size", type=int, metavar="N", help="training images held out for validation")
    data.add_argument("--shift", type=int, metavar="PIXELS", help="augmentation: random shift up to this")
    data.add_argument("--rotate", type=float, metavar="DEGREES", help="augmentation: random rotation up to this")
    data.add_argument("--noise", type=float, metavar="STD", help="augmentation: Gaussian pixel noise")
    add_data_arguments(data)

    out = p.add_argument_group("output")
    out.add_argument("--save", metavar="MODEL.npz", help="save the trained network here")
    out.add_argument("--json", action="store_true", help="print one JSON summary line instead of tables")
    out.add_argument("--quiet", action="store_true", help="no progress bar or per-epoch lines")
    p.set_defaults(run=run)


def add_data_arguments(group: argparse._ArgumentGroup) -> None:
    """Where MNIST comes from (shared with ``evaluate``); passed on to ``nn.data.load_mnist``."""
    from nn.data import SOURCES

    group.add_argument("--source", choices=SOURCES, help="take MNIST only from this source")
    group.add_argument("--data-dir", action="append", dest="paths", metavar="PATH",
                       help="MNIST files or a directory of them (IDX, mnist.npz or CSV); repeatable")
    group.add_argument("--cache-dir", metavar="DIR", help="where verified MNIST is cached")
    group.add_argument("--mirror", action="append", metavar="URL", help="base URL of the IDX .gz files")


def load_data(args: argparse.Namespace) -> Any:
    """The verified dataset, or a one-line CliError."""
    from nn.data import DataError, load_mnist

    try:
        return load_mnist(args.source, cache_dir=args.cache_dir, paths=args.paths, mirror=args.mirror)
    except DataError as exc:
        raise CliError(exc.one_line()) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None


def build_config(args: argparse.Namespace) -> TrainConfig:
    """The preset (or defaults) with every flag the user gave applied on top; validated."""
    base = PRESETS[args.preset] if args.preset else TrainConfig()
    data = base.to_dict()
    for dest, (section, name) in _FIELDS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest in ("activation", "dropout"):
            value = value[0] if len(value) == 1 else tuple(value)
        elif dest == "hidden":
            value = tuple(value)
        (data[section] if section else data)[name] = value
    if args.hidden is not None and args.activation is None and isinstance(data["model"]["activation"], list):
        data["model"]["activation"] = "relu"  # a per-layer list from the preset would no longer fit
    if args.hidden is not None and args.dropout is None and isinstance(data["model"]["dropout"], list):
        data["model"]["dropout"] = 0.0
    try:
        return TrainConfig.from_dict(data)
    except ValueError as exc:
        raise CliError(str(exc)) from None


class _Progress:
    """Callback: a tqdm bar over all batches, and one line per epoch, on stderr."""

    def __init__(self, epochs: int) -> None:
        from tqdm import tqdm  # lazily: only the CLI draws bars

        self._tqdm = tqdm
        # No monitor thread: a process with a second thread must not fork the trainer's worker
        # processes (nn/engine/processes.py), and the bar is updated every batch anyway.
        tqdm.monitor_interval = 0
        # disable=None: the bar only on a terminal; in a log file it would be thousands of redraws.
        # The epoch lines are written either way.
        self.bar = tqdm(total=None, file=sys.stderr, unit=" batch", dynamic_ncols=True, leave=False,
                        disable=None)
        self.epochs = epochs

    def __call__(self, event: Any) -> None:
        if isinstance(event, BatchEvent):
            if self.bar.total is None:
                self.bar.total = self.epochs * event.batches_per_epoch
            self.bar.update(1)
            if event.batch % 20 == 0:
                self.bar.set_postfix_str(f"epoch {event.epoch}/{self.epochs} loss {event.loss:.4f}", refresh=False)
        elif isinstance(event, EpochEvent):
            self._tqdm.write(_epoch_line(event), file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def _epoch_line(e: EpochEvent) -> str:
    val = "" if math.isnan(e.val_loss) else f"  val loss {e.val_loss:.4f} acc {e.val_acc:.2%}"
    return (f"epoch {e.epoch:>3}/{e.epochs}  train loss {e.train_loss:.4f} acc {e.train_acc:.2%}{val}"
            f"  lr {e.lr:.3g}  {e.seconds:.1f} s  {e.samples_per_sec:,.0f} img/s")


def run(args: argparse.Namespace) -> int:
    from nn.data import to_float
    from nn.losses import cross_entropy
    from nn.metrics import accuracy, confusion_matrix
    from nn.trainer import Trainer

    config = build_config(args)
    # Everything that can be known before the data is loaded and the run starts: fail fast.
    check_memory(config)
    if args.save:
        check_save_target(args.save)
    if args.threads is not None:
        from nn.trainer import check_team_size

        try:
            check_team_size(args.threads)
        except ValueError as exc:
            raise CliError(str(exc)) from None
    ds = load_data(args)
    check_split(config, len(ds.y_train))
    progress = None if args.quiet else _Progress(config.epochs)
    try:
        try:
            # layer_statistics=False: the per-layer numbers of each epoch are for the dashboard's charts;
            # nothing here shows them.
            trainer = Trainer(config, ds.x_train, ds.y_train, callback=progress, threads=args.threads,
                              processes=args.parallel == "processes", layer_statistics=False)
        except ValueError as exc:  # e.g. labels that do not fit the network
            raise CliError(str(exc)) from None
        result = trainer.run()
    except MemoryError:  # what the estimate did not foresee: still one line
        raise CliError(_OUT_OF_MEMORY) from None
    except OSError as exc:
        if exc.errno != errno.ENOMEM:
            raise
        raise CliError(_OUT_OF_MEMORY) from None
    finally:
        if progress is not None:
            progress.close()

    X_test = to_float(ds.x_test)
    y_test = np.asarray(ds.y_test)
    logits = trainer.model.forward(X_test)
    predictions = logits.argmax(axis=1)
    test_acc = accuracy(y_test, predictions)
    test_loss = cross_entropy(logits, y_test)
    cm = confusion_matrix(y_test, predictions, trainer.model.config.n_classes)

    saved = None
    if args.save:
        saved = _save(args.save, trainer, config, ds, test_acc, result)

    last = trainer.epoch_events[-1] if trainer.epoch_events else None
    if args.json:
        summary = {
            "preset": args.preset,
            "state": result.state.value,
            "reason": result.reason,
            "epochs_done": result.epochs_done,
            "train_seconds": round(result.seconds, 3),
            "test_accuracy": _number(test_acc),
            "test_loss": _number(test_loss),
            "val_accuracy": None if last is None else _number(last.val_acc),
            "val_loss": None if last is None else _number(last.val_loss),
            "steps": result.steps,
            "train_images": int(trainer.train_idx.size),
            "val_images": int(trainer.val_idx.size),
            "shared_by": result.shared_by or "BLAS",  # a team of ours, or BLAS's own threads
            "saved": saved,
            "config": config.to_dict(),
        }
        print(json.dumps(summary, sort_keys=True, allow_nan=False))
    else:
        _print_report(result, test_acc, test_loss, cm, len(y_test), saved, _data_line(trainer))
    if result.state == RunState.DIVERGED:
        if args.json:
            print(f"diverged: {result.reason}", file=sys.stderr)
        return 1
    return 0


def _number(x: float) -> float | None:
    """JSON has no NaN: a missing or undefined number is null."""
    return x if math.isfinite(x) else None


def _data_line(trainer: Any) -> str:
    n_val = int(trainer.val_idx.size)
    held = f"{n_val:,} held out for validation" if n_val else "no validation set"
    return f"Trained on {int(trainer.train_idx.size):,} images ({held})"


def _print_report(result: Any, test_acc: float, test_loss: float, cm: np.ndarray, n_test: int,
                  saved: str | None, data_line: str) -> None:
    import pandas as pd  # lazily: tables only

    ending = {
        RunState.FINISHED: "finished",
        RunState.EARLY_STOPPED: "stopped early",
        RunState.STOPPED: "stopped",
        RunState.DIVERGED: "DIVERGED",
    }.get(result.state, result.state.value)
    shared = f", batches shared by {result.shared_by}" if result.shared_by else ""
    print(f"Training {ending}: {result.epochs_done} epochs, {result.steps:,} steps, {result.seconds:.1f} s{shared}")
    print(data_line)
    if result.reason:
        print(result.reason)
    print(f"Test accuracy: {test_acc:.2%} on {n_test:,} images (test loss {test_loss:.4f})")
    labels = [str(i) for i in range(cm.shape[0])]
    table = pd.DataFrame(cm, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))
    print("Confusion matrix (rows: true digit, columns: predicted digit):")
    print(table.to_string())
    if saved:
        print(f"Saved the network to {saved}")


def _save(path: str, trainer: Any, config: TrainConfig, ds: Any, test_acc: float, result: Any) -> str:
    from nn.serialize import save_model

    meta = {
        "train_config": config.to_dict(),
        "test_accuracy": test_acc,
        "val_accuracy": trainer.epoch_events[-1].val_acc if trainer.epoch_events else None,
        "epochs_done": result.epochs_done,
        "state": result.state.value,
        "dataset": {"source": ds.source, "sha256": _dataset_hashes()},
    }
    try:
        save_model(path, trainer.model, meta, history=result.history, snapshots=trainer.snapshots,
                   timeline=trainer.timeline)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot save the model to {path}: {exc}") from None
    return str(path)


def _dataset_hashes() -> dict[str, str]:
    from nn.data import MNIST_SHA256

    return dict(MNIST_SHA256)
