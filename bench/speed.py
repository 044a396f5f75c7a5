"""Speed benchmark: our NumPy MLP against PyTorch (CPU) and scikit-learn on real MNIST.

    python bench/speed.py                      # all architectures, all installed frameworks
    python bench/speed.py --quick              # smoke run: 2 epochs each
    python bench/speed.py --arch 784-800-10 --frameworks ours,torch --epochs 12

Every (framework, architecture) pair trains in its own fresh Python process, so that no framework's
threads, allocator or BLAS state can slow another. The frameworks of one architecture take turns, an
epoch each (lockstep): only one trains at any moment, and the epochs compared were trained seconds
apart, under the same conditions of this machine, whose speed drifts by 20-40% over minutes. Each
trains the same network (ReLU hidden layers, softmax + cross-entropy, Adam lr 1e-3, batch 128,
float32) on the same 55,000 training images (the other 5,000 held out as validation, as our trainer
does), epoch after epoch:

* seconds per epoch: the median of the 3 epochs that follow a warm-up epoch; training time only;
* test accuracy (10,000 images) after every epoch, evaluated outside the timed region;
* time to 97% / 98% test accuracy: cumulative training seconds, warm-up epoch included, until the
  first epoch whose test accuracy reaches the mark;
* achieved GFLOP/s and the fraction of this machine's float32 matmul rate, measured in the same run.

Optional extras (PyTorch, scikit-learn, threadpoolctl): ``pip install -r requirements-bench.txt``.
A framework that is not installed gets a "not installed" row. See bench/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_ARCHS = ("784-128-64-10", "784-256-10", "784-800-10")
FRAMEWORKS = ("ours", "torch", "sklearn")
MODULE_OF = {"ours": "nn", "torch": "torch", "sklearn": "sklearn"}
BATCH_SIZE = 128
LR = 1e-3
VAL_SIZE = 5000
WARMUP_EPOCHS = 1
TIMED_EPOCHS = 3
ACC_AT_EPOCH = 5
TARGETS = (0.97, 0.98)
MAX_RATIO_TORCH = 0.8  # the targets: ours <= 0.8x PyTorch, and >= 2x faster than sklearn
MAX_RATIO_SKLEARN = 0.5
RESULT_TAG = "BENCH_RESULT "
READY_TAG = "BENCH_READY"
EPOCH_TAG = "BENCH_EPOCH "
# After a framework's epoch, the next one waits this long: BLAS and OpenMP worker threads keep
# spinning for up to ~0.1 s after their last product, which would take a core from the next epoch.
SETTLE_SECONDS = 0.3


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def parse_arch(text: str) -> tuple[int, ...]:
    """'784-128-64-10' -> (784, 128, 64, 10); the ends must be 784 and 10 (MNIST)."""
    try:
        sizes = tuple(int(part) for part in text.strip().split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"architecture must look like 784-128-64-10, got {text!r}") from None
    if len(sizes) < 2 or sizes[0] != 784 or sizes[-1] != 10 or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"architecture must run from 784 to 10, got {text!r}")
    return sizes


def arch_name(sizes: tuple[int, ...]) -> str:
    return "-".join(map(str, sizes))


def weight_products(sizes: tuple[int, ...]) -> list[int]:
    """fan_in * fan_out of every weight matrix."""
    return [a * b for a, b in zip(sizes[:-1], sizes[1:])]


def train_flops_per_sample(sizes: tuple[int, ...]) -> int:
    """Matmul FLOPs for one training sample: forward + backward, what every framework here computes.

    Per weight matrix W (fan_in x fan_out), one multiply-add = 2 FLOPs:
      forward  Z = X W            2 * fan_in * fan_out
      backward dW = X^T dZ        2 * fan_in * fan_out
      backward dX = dZ W^T        2 * fan_in * fan_out, except layer 1 (no gradient w.r.t. pixels)
    Biases, activations, softmax, the optimizer update and the validation pass are not counted.
    """
    products = weight_products(sizes)
    return 6 * sum(products) - 2 * products[0]


@dataclass
class RunResult:
    """What one worker process reports for one (framework, architecture)."""

    framework: str
    arch: str
    status: str = "ok"  # "ok", "not installed", or "error: ..."
    epoch_seconds: list[float] = field(default_factory=list)  # training time per epoch, warm-up first
    test_acc: list[float] = field(default_factory=list)  # after each epoch
    version: str = ""
    notes: str = ""
    sgemm_gflops: dict[str, float] = field(default_factory=dict)  # measured in the worker, just before training
    gemm_floor: float = float("nan")  # measured in the worker, just before training


class Turns:
    """A worker's side of the lockstep: it trains only while the driver has given it the turn.

    The driver writes ``go`` (train one more epoch) or ``stop`` on the worker's stdin; the worker
    says it is waiting by printing ``READY_TAG`` (once, before the first epoch) or an
    ``EPOCH_TAG`` line after each epoch.
    """

    def __init__(self, commands=None, out=None) -> None:
        self.commands = commands if commands is not None else sys.stdin
        self.out = out if out is not None else sys.stdout

    def ready(self) -> bool:
        print(READY_TAG, file=self.out, flush=True)
        return self.wait()

    def epoch_done(self, seconds: float, acc: float, last: bool) -> bool:
        """Report an epoch; unless it was the ``last``, wait for the next turn. True: go on."""
        print(EPOCH_TAG + json.dumps({"seconds": seconds, "acc": acc, "last": last}), file=self.out, flush=True)
        return False if last else self.wait()

    def wait(self) -> bool:
        return self.commands.readline().strip() == "go"


class EpochClock:
    """Times training epochs and keeps the per-epoch test evaluation outside the timed region.

    With ``turns``, each epoch after the first waits for the driver's turn (outside the timing).
    """

    def __init__(self, evaluate: Callable[[], float], cap: int, stop_when_done: bool,
                 turns: Turns | None = None) -> None:
        self.evaluate = evaluate
        self.cap = cap
        self.stop_when_done = stop_when_done
        self.turns = turns
        self.epoch_seconds: list[float] = []
        self.test_acc: list[float] = []
        self._mark = time.perf_counter()

    def start(self) -> None:
        self._mark = time.perf_counter()

    def epoch_done(self) -> bool:
        """Record an epoch that just ended; True when training can stop."""
        self.epoch_seconds.append(time.perf_counter() - self._mark)
        self.test_acc.append(float(self.evaluate()))
        done = self.enough()
        if self.turns is not None and not self.turns.epoch_done(self.epoch_seconds[-1], self.test_acc[-1], done):
            done = True  # the driver said stop, or the last epoch
        self._mark = time.perf_counter()
        return done

    def enough(self) -> bool:
        n = len(self.epoch_seconds)
        if n >= self.cap:
            return True
        if not self.stop_when_done:
            return False
        # Everything the table reports is known once the timed epochs, the 5-epoch accuracy and the
        # highest accuracy target are behind us; further epochs would only cost time.
        needed = max(WARMUP_EPOCHS + TIMED_EPOCHS, ACC_AT_EPOCH)
        return n >= needed and max(self.test_acc) >= max(TARGETS)


# --------------------------------------------------------------------------------------------
# Workers: each runs in its own process (python bench/speed.py --worker FRAMEWORK ...)
# --------------------------------------------------------------------------------------------


@dataclass
class Data:
    images: np.ndarray  # (60000, 28, 28) uint8, read-only, as load_mnist returns it
    labels: np.ndarray  # (60000,) uint8
    train_idx: np.ndarray  # 55,000 indices into images
    val_idx: np.ndarray  # 5,000
    x_test: np.ndarray  # (10000, 784) float32 in [0, 1]
    y_test: np.ndarray  # (10000,) int64


def load_data(seed: int) -> Data:
    from nn.data import load_mnist, split_indices, to_float

    ds = load_mnist()
    train_idx, val_idx = split_indices(len(ds.y_train), VAL_SIZE, np.random.default_rng(seed))
    return Data(ds.x_train, ds.y_train, np.asarray(train_idx), np.asarray(val_idx),
                np.ascontiguousarray(to_float(ds.x_test), dtype=np.float32), ds.y_test.astype(np.int64))


def train_matrix(data: Data) -> tuple[np.ndarray, np.ndarray]:
    """The 55,000 training images as one float32 (55000, 784) array in [0, 1], and their labels."""
    from nn.data import to_float

    return to_float(data.images[data.train_idx]), data.labels[data.train_idx].astype(np.int64)


def run_ours(sizes: tuple[int, ...], data: Data, cap: int, seed: int, stop_when_done: bool,
             turns: Turns | None = None) -> RunResult:
    """Through nn.trainer.Trainer, as a user gets it. The only callback acts on epoch events."""
    import nn
    from nn.config import ModelConfig, TrainConfig
    from nn.events import EpochEvent
    from nn.trainer import Trainer

    config = TrainConfig(
        model=ModelConfig(hidden=tuple(sizes[1:-1]), activation="relu", dtype="float32"),
        optimizer="adam", lr=LR, batch_size=BATCH_SIZE, epochs=cap, val_size=VAL_SIZE, seed=seed,
        snapshot_budget_bytes=0,
    )
    holder: dict[str, Trainer] = {}
    clock = EpochClock(lambda: float(np.mean(holder["t"].model.predict(data.x_test) == data.y_test)),
                       cap, stop_when_done, turns)

    def on_event(event: object) -> None:
        if isinstance(event, EpochEvent) and clock.epoch_done():
            holder["t"].stop()

    # As `python -m nn train` runs it: batches shared by processes (nn/engine/processes.py; threads where the
    # system cannot fork), no per-layer statistics at the end of each epoch (nothing shows them there).
    trainer = Trainer(config, data.images, data.labels, train_idx=data.train_idx, val_idx=data.val_idx,
                      callback=on_event, processes=True, layer_statistics=False)
    holder["t"] = trainer
    clock.start()
    result = trainer.run()
    notes = (f"as the command line runs it: batches shared by {result.shared_by or 'BLAS threads'}, no per-layer "
             "statistics; epoch time includes the trainer's own 5,000-image validation pass")
    if result.reason and len(clock.epoch_seconds) < min(cap, WARMUP_EPOCHS + TIMED_EPOCHS):
        notes += f"; ended early: {result.reason}"
    return RunResult("ours", arch_name(sizes), epoch_seconds=clock.epoch_seconds, test_acc=clock.test_acc,
                     version=getattr(nn, "__version__", "") or "nn", notes=notes)


def run_torch(sizes: tuple[int, ...], data: Data, cap: int, seed: int, stop_when_done: bool,
              threads: int, turns: Turns | None = None) -> RunResult:
    """A plain PyTorch loop: tensors in memory, nn.Linear/ReLU, Adam, shuffled minibatches."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x_np, y_np = train_matrix(data)
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    x_test = torch.from_numpy(data.x_test)
    y_test = torch.from_numpy(data.y_test)

    layers: list[torch.nn.Module] = []
    for fan_in, fan_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            acc = (model(x_test).argmax(dim=1) == y_test).float().mean().item()
        model.train()
        return acc

    clock = EpochClock(evaluate, cap, stop_when_done, turns)
    n = x.shape[0]
    clock.start()
    while True:
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, BATCH_SIZE):
            idx = perm[start:start + BATCH_SIZE]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
        if clock.epoch_done():
            break
    return RunResult("torch", arch_name(sizes), epoch_seconds=clock.epoch_seconds, test_acc=clock.test_acc,
                     version=torch.__version__,
                     notes=f"torch.set_num_threads({threads}); interop threads {torch.get_num_interop_threads()}")


def run_sklearn(sizes: tuple[int, ...], data: Data, cap: int, seed: int, stop_when_done: bool,
                turns: Turns | None = None) -> RunResult:
    """MLPClassifier, one partial_fit call (= one shuffled pass over the data) per epoch."""
    import warnings

    import sklearn
    from sklearn.neural_network import MLPClassifier

    x, y = train_matrix(data)
    model = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]), activation="relu", solver="adam",
                          alpha=0.0, batch_size=BATCH_SIZE, learning_rate_init=LR, shuffle=True,
                          random_state=seed)
    classes = np.arange(sizes[-1])
    clock = EpochClock(lambda: float(np.mean(model.predict(data.x_test) == data.y_test)), cap, stop_when_done,
                       turns)
    clock.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        while True:
            model.partial_fit(x, y, classes=classes)
            if clock.epoch_done():
                break
    dtype = model.coefs_[0].dtype
    return RunResult("sklearn", arch_name(sizes), epoch_seconds=clock.epoch_seconds, test_acc=clock.test_acc,
                     version=sklearn.__version__, notes=f"alpha=0 (no L2, like the others); weights {dtype}")


def worker_main(args: argparse.Namespace) -> None:
    """Run one (framework, architecture), an epoch per turn the driver gives (see :class:`Turns`),
    and print its RunResult as one tagged JSON line."""
    sizes = args.arch[0]
    framework = args.worker
    limit_threads(args.threads)
    turns = Turns()
    try:
        data = load_data(args.seed)
    except Exception as exc:  # noqa: BLE001 - reported as this run's status
        print(RESULT_TAG + json.dumps(asdict(RunResult(framework, arch_name(sizes), status=f"error: {exc}"))),
              flush=True)
        return
    if not turns.ready():
        return
    # The machine's matmul rate, measured right here (in this worker's first turn): the load of a
    # shared machine can change between workers, so each run is compared with the rate it had.
    rates = measure_rates()
    floor = gemm_floor_seconds(sizes, 60000 - VAL_SIZE)
    try:
        if framework == "ours":
            result = run_ours(sizes, data, args.epochs, args.seed, not args.all_epochs, turns)
        elif framework == "torch":
            result = run_torch(sizes, data, args.epochs, args.seed, not args.all_epochs, args.threads, turns)
        else:
            result = run_sklearn(sizes, data, args.epochs, args.seed, not args.all_epochs, turns)
    except ImportError as exc:
        result = RunResult(framework, arch_name(sizes), status=f"not installed ({exc.name or exc})")
    result.sgemm_gflops, result.gemm_floor = rates, floor
    print(RESULT_TAG + json.dumps(asdict(result)), flush=True)


def limit_threads(threads: int) -> None:
    """Cap every BLAS/OpenMP pool in this process (threadpoolctl, when installed)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads)


def profile_ours(sizes: tuple[int, ...], seed: int, top: int) -> None:
    """Where our epoch goes: the trainer's loop split into its parts, then cProfile's view.

    Part 1 replays one epoch of the trainer's hot loop with the same public calls it makes
    (gather + scale, the engine's ``train_step_gradients``, ``optimizer.step``) and times each part
    over all batches; part 2 is one epoch of ``Trainer.run()`` under cProfile.
    """
    import cProfile
    import io
    import pstats

    from nn.config import ModelConfig, TrainConfig
    from nn.trainer import Trainer

    data = load_data(seed)
    config = TrainConfig(model=ModelConfig(hidden=tuple(sizes[1:-1]), activation="relu", dtype="float32"),
                         optimizer="adam", lr=LR, batch_size=BATCH_SIZE, epochs=2, val_size=VAL_SIZE, seed=seed,
                         snapshot_budget_bytes=0)
    images = data.images.reshape(len(data.images), -1)
    labels = data.labels
    trainer = Trainer(config, data.images, data.labels, train_idx=data.train_idx, val_idx=data.val_idx)
    engine, opt = trainer.engine, trainer.optimizer
    grads = engine.gradients()
    xbuf = np.empty((BATCH_SIZE, 784), np.float32)
    ubuf = np.empty((BATCH_SIZE, 784), np.uint8)
    ybuf = np.empty(BATCH_SIZE, np.intp)
    scale = np.float32(1 / 255)
    rng = np.random.default_rng(seed)
    parts = {"gather + scale batch": 0.0, "forward + loss + backward": 0.0, "optimizer step (Adam)": 0.0}
    for rep in range(2):  # the first pass warms the workspaces; the second is timed
        order = rng.permutation(data.train_idx)
        totals = dict.fromkeys(parts, 0.0)
        t_epoch = time.perf_counter()
        for start in range(0, len(order), BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            m = idx.size
            t0 = time.perf_counter()
            ub = np.take(images, idx, axis=0, out=ubuf[:m])
            X = np.multiply(ub, scale, out=xbuf[:m])
            y = np.take(labels, idx).astype(np.intp)
            t1 = time.perf_counter()
            engine.train_step_gradients(X, y, None)
            t2 = time.perf_counter()
            opt.step(grads)
            t3 = time.perf_counter()
            totals["gather + scale batch"] += t1 - t0
            totals["forward + loss + backward"] += t2 - t1
            totals["optimizer step (Adam)"] += t3 - t2
        loop_total = time.perf_counter() - t_epoch
    floor = gemm_floor_seconds(sizes, len(data.train_idx))
    print(f"\n## Profile of ours, {arch_name(sizes)} (one epoch, {len(data.train_idx)} images, batch {BATCH_SIZE})")
    for name, sec in totals.items():
        print(f"  {name:28s} {sec:6.3f} s  {100 * sec / loop_total:5.1f}%")
    print(f"  {'loop total (replayed)':28s} {loop_total:6.3f} s")
    print(f"  {'GEMM floor (matmuls alone)':28s} {floor:6.3f} s  "
          f"({100 * floor / totals['forward + loss + backward']:.0f}% of forward + loss + backward)")

    profiler = cProfile.Profile()
    profiler.enable()
    Trainer(config.replace(epochs=1), data.images, data.labels, train_idx=data.train_idx,
            val_idx=data.val_idx).run()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    text = out.getvalue()
    start = text.find("   ncalls")
    print(f"\n  cProfile of one Trainer.run() epoch, top {top} by own time (numpy operators such as "
          "+= count towards the function that uses them):")
    print(text[start:].rstrip())


# --------------------------------------------------------------------------------------------
# The machine: its matmul rate, BLAS, threads
# --------------------------------------------------------------------------------------------


def sgemm_gflops(m: int, k: int, n: int, min_seconds: float = 0.5) -> float:
    """Best-of-5 float32 rate of (m x k) @ (k x n) into a preallocated output, in GFLOP/s."""
    rng = np.random.default_rng(0)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    out = np.empty((m, n), dtype=np.float32)
    np.matmul(a, b, out=out)
    reps = 1
    while True:  # find a repeat count that takes about min_seconds / 5
        t0 = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=out)
        elapsed = time.perf_counter() - t0
        if elapsed > min_seconds / 5:
            break
        reps *= 2
    best = elapsed
    for _ in range(4):
        t0 = time.perf_counter()
        for _ in range(reps):
            np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * m * k * n * reps / best / 1e9


def measure_rates() -> dict[str, float]:
    """float32 GFLOP/s of a representative batch-128 layer and of a large square matmul."""
    return {"representative": sgemm_gflops(128, 784, 800, 0.3), "large": sgemm_gflops(2048, 2048, 2048, 0.6)}


def gemm_floor_seconds(sizes: tuple[int, ...], n_train: int, batch: int = BATCH_SIZE) -> float:
    """Seconds one epoch's matmuls alone take in NumPy (forward, dW, dX but not layer 1's dX).

    The same shapes, batch by batch, into preallocated outputs: a floor for any NumPy
    implementation that does these matmuls one batch at a time.
    """
    rng = np.random.default_rng(0)
    weights = [0.05 * rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(sizes[:-1], sizes[1:])]
    grads = [np.empty_like(w) for w in weights]
    acts = [rng.random((batch, n), dtype=np.float32) for n in sizes]
    deltas = [rng.random((batch, n), dtype=np.float32) for n in sizes]

    def batch_pass() -> None:
        for layer, w in enumerate(weights):
            np.matmul(acts[layer], w, out=acts[layer + 1])
        for layer in range(len(weights) - 1, -1, -1):
            np.matmul(acts[layer].T, deltas[layer + 1], out=grads[layer])
            if layer > 0:
                np.matmul(deltas[layer + 1], weights[layer].T, out=deltas[layer])

    batch_pass()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(25):
            batch_pass()
        best = min(best, (time.perf_counter() - t0) / 25)
    return best * n_train / batch


def blas_info() -> list[dict]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    return threadpool_info()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_lines(threads: int) -> list[str]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"machine : {cpu_model()}; {os.cpu_count()} logical cores ({affinity} usable); "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}",
        f"numpy   : {np.__version__}",
    ]
    blas = [i for i in blas_info() if i.get("user_api") == "blas" and "numpy" in i.get("filepath", "")]
    if blas:
        b = blas[0]
        lines.append(f"BLAS    : {b.get('internal_api')} {b.get('version')}, kernel {b.get('architecture')}, "
                     f"{b.get('num_threads')} threads ({b.get('threading_layer')}) [{Path(b['filepath']).name}]")
    else:
        cfg = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        lines.append(f"BLAS    : {cfg.get('name', '?')} {cfg.get('version', '')} "
                     "(install threadpoolctl to see the kernel and threads)")
    from importlib.metadata import PackageNotFoundError, version

    for name, dist in (("torch", "torch"), ("sklearn", "scikit-learn"), ("pandas", "pandas")):
        try:
            lines.append(f"{name:8s}: {version(dist)}")
        except PackageNotFoundError:
            lines.append(f"{name:8s}: not installed")
    env = {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                          "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    lines.append("env     : " + ", ".join(f"{k}={v if v is not None else '(unset)'}" for k, v in env.items()))
    lines.append(f"threads : every BLAS/OpenMP pool capped at {threads} (threadpoolctl"
                 f"{'' if importlib.util.find_spec('threadpoolctl') else ': NOT installed, so not capped'}); "
                 f"torch.set_num_threads({threads})")
    return lines


def versions_of_workers(results: list[RunResult]) -> list[str]:
    seen = {}
    for r in results:
        if r.status == "ok" and r.framework != "ours":
            seen.setdefault(r.framework, f"{r.framework:8s}: {r.version}; {r.notes}".replace(": ", " run: ", 1))
    return list(seen.values())


# --------------------------------------------------------------------------------------------
# The driver: spawn the workers, build the tables
# --------------------------------------------------------------------------------------------


class Worker:
    """The driver's handle on one worker process (``--worker FRAMEWORK``)."""

    def __init__(self, framework: str, sizes: tuple[int, ...], args: argparse.Namespace, epochs: int) -> None:
        self.framework, self.arch = framework, arch_name(sizes)
        self.result: RunResult | None = None
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", framework, "--arch", self.arch,
               "--epochs", str(epochs), "--seed", str(args.seed), "--threads", str(args.threads)]
        if args.all_epochs:
            cmd.append("--all-epochs")
        # stderr goes to a file: a pipe nobody reads until the end could fill up and block the worker.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                      text=True, cwd=ROOT)

    def wait_ready(self) -> None:
        self._read_until(READY_TAG)

    def train_one_epoch(self) -> None:
        """Give the worker its turn and wait until its epoch is done (or it ended)."""
        self._send("go")
        self._read_until(EPOCH_TAG)

    @property
    def done(self) -> bool:
        return self.result is not None

    def close(self) -> None:
        if self._proc.poll() is None:
            self._send("stop")
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._stderr.close()

    def _send(self, command: str) -> None:
        try:
            self._proc.stdin.write(command + "\n")
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass  # it has ended; _read_until will say how

    def _read_until(self, tag: str) -> None:
        """Read the worker's output up to a ``tag`` line; an epoch marked last, its result or its end settle it."""
        for line in self._proc.stdout:
            if line.startswith(RESULT_TAG):
                self.result = RunResult(**json.loads(line[len(RESULT_TAG):]))
                return
            if line.startswith(tag):
                if tag == EPOCH_TAG and json.loads(line[len(EPOCH_TAG):]).get("last"):
                    continue  # its result follows
                return
        self._proc.wait()
        self._stderr.seek(0)
        last = (self._stderr.read().strip().splitlines() or [f"exit code {self._proc.returncode}"])[-1]
        self.result = RunResult(self.framework, self.arch, status=f"error: {last}")


def run_lockstep(frameworks: list[str], sizes: tuple[int, ...], args: argparse.Namespace, epochs: int,
                 first: int = 0) -> list[RunResult]:
    """Train ``sizes`` with every framework in turn, one epoch each, until each has finished.

    The order of the turns rotates from one epoch to the next (starting with ``frameworks[first]``),
    so no framework always runs right after another.
    """
    results: dict[str, RunResult] = {}
    workers: list[Worker] = []
    try:
        for fw in frameworks:
            if importlib.util.find_spec(MODULE_OF[fw]) is None:
                results[fw] = RunResult(fw, arch_name(sizes), status="not installed")
            else:
                workers.append(Worker(fw, sizes, args, epochs))
        for w in workers:
            w.wait_ready()  # data loaded; nobody trains yet
        turn = first
        while live := [w for w in workers if not w.done]:
            start = turn % len(live)
            for w in live[start:] + live[:start]:
                w.train_one_epoch()
                time.sleep(SETTLE_SECONDS)
            turn += 1
    finally:
        for w in workers:
            w.close()
    for w in workers:
        results[w.framework] = w.result
    return [results[fw] for fw in frameworks]


def seconds_per_epoch(r: RunResult) -> float:
    timed = r.epoch_seconds[WARMUP_EPOCHS:WARMUP_EPOCHS + TIMED_EPOCHS] or r.epoch_seconds[-1:]
    return statistics.median(timed) if timed else float("nan")


def time_to(r: RunResult, target: float) -> str:
    total = 0.0
    for epoch, (sec, acc) in enumerate(zip(r.epoch_seconds, r.test_acc), start=1):
        total += sec
        if acc >= target:
            return f"{total:.1f} s (ep {epoch})"
    return f"not reached in {len(r.test_acc)} epochs"


def median_seconds_per_epoch(runs: list[RunResult]) -> float:
    """The median over rounds of each run's s/epoch (nan when no run of them worked)."""
    values = [seconds_per_epoch(r) for r in runs if r.status == "ok"]
    return statistics.median(values) if values else float("nan")


def epoch_ratios(ours: RunResult, other: RunResult) -> list[float]:
    """ours / other for each timed epoch of one round, paired epoch by epoch (empty if either failed).

    Why epoch by epoch: this machine's speed drifts by 20-40% over minutes (docs/PERFORMANCE.md);
    in lockstep, epoch e of ours and epoch e of the other were trained seconds apart and share the
    conditions of that moment, which a ratio of medians taken minutes apart does not.
    """
    if ours.status != "ok" or other.status != "ok":
        return []
    timed = slice(WARMUP_EPOCHS, WARMUP_EPOCHS + TIMED_EPOCHS)
    pairs = list(zip(ours.epoch_seconds[timed], other.epoch_seconds[timed]))
    if not pairs and ours.epoch_seconds and other.epoch_seconds:  # --quick: the last epoch of each
        pairs = [(ours.epoch_seconds[-1], other.epoch_seconds[-1])]
    return [a / b for a, b in pairs]


def paired_ratios(ours: list[RunResult], other: list[RunResult]) -> list[list[float]]:
    """:func:`epoch_ratios` round by round, for the rounds where both ran."""
    return [r for r in (epoch_ratios(a, b) for a, b in zip(ours, other)) if r]


def _median_ratio(ours: list[RunResult], other: list[RunResult]) -> str:
    pooled = [x for rnd in paired_ratios(ours, other) for x in rnd]
    return f"{statistics.median(pooled):.2f}" if pooled else ""


def build_tables(rounds: list[list[RunResult]], rates: dict[str, float], floors: dict[str, float]):
    """Per-run and summary tables. Accuracy columns come from the first round (the only one trained
    to 98%); s/epoch is the median over all rounds, each round's value listed beside it."""
    import pandas as pd

    runs_of: dict[tuple[str, str], list[RunResult]] = {}
    for results in rounds:
        for r in results:
            runs_of.setdefault((r.arch, r.framework), []).append(r)
    by_key = {key: runs[0] for key, runs in runs_of.items()}
    detail, summary = [], []
    for arch in dict.fromkeys(r.arch for r in rounds[0]):
        sizes = parse_arch(arch)
        flops_epoch = train_flops_per_sample(sizes) * (60000 - VAL_SIZE)
        ours = by_key.get((arch, "ours"))
        spe_of = {}
        for fw in FRAMEWORKS:
            r = by_key.get((arch, fw))
            if r is None:
                continue
            if r.status != "ok":
                detail.append({"arch": arch, "framework": fw, "s/epoch": r.status})
                continue
            spe = median_seconds_per_epoch(runs_of[(arch, fw)])
            spe_of[fw] = spe
            per_round = [f"{seconds_per_epoch(x):.2f}" if x.status == "ok" else "failed"
                         for x in runs_of[(arch, fw)]]
            n_timed = len(r.epoch_seconds[WARMUP_EPOCHS:WARMUP_EPOCHS + TIMED_EPOCHS])
            gflops = flops_epoch / spe / 1e9
            run_rates = r.sgemm_gflops or rates
            acc5 = (f"{100 * r.test_acc[ACC_AT_EPOCH - 1]:.2f}%" if len(r.test_acc) >= ACC_AT_EPOCH
                    else f"({100 * r.test_acc[-1]:.2f}% @ ep {len(r.test_acc)})")
            detail.append({
                "arch": arch, "framework": fw,
                "s/epoch": f"{spe:.2f}" + ("" if n_timed == TIMED_EPOCHS else f" (median of {n_timed})"),
                "each round": " / ".join(per_round),
                "warm-up s": f"{r.epoch_seconds[0]:.2f}",
                "test acc @5": acc5,
                "to 97%": time_to(r, 0.97), "to 98%": time_to(r, 0.98),
                "best acc": f"{100 * max(r.test_acc):.2f}%",
                "GFLOP/s": f"{gflops:.1f}",
                "sgemm GFLOP/s": f"{run_rates['representative']:.0f} / {run_rates['large']:.0f}",
                "% sgemm(bs128)": f"{100 * gflops / run_rates['representative']:.0f}%",
                "% sgemm(large)": f"{100 * gflops / run_rates['large']:.0f}%",
                "ours/this": "" if fw == "ours" else _median_ratio(runs_of.get((arch, "ours"), []),
                                                                   runs_of[(arch, fw)]),
            })
        floor = ours.gemm_floor if ours and ours.status == "ok" and ours.gemm_floor == ours.gemm_floor \
            else floors[arch]
        row = {"arch": arch, "GEMM floor s/epoch": f"{floor:.2f}"}
        for fw in FRAMEWORKS:
            row[f"{fw} s/epoch"] = f"{spe_of[fw]:.2f}" if fw in spe_of else "n/a"
        for fw, limit in (("torch", MAX_RATIO_TORCH), ("sklearn", MAX_RATIO_SKLEARN)):
            rounds_of_pairs = paired_ratios(runs_of.get((arch, "ours"), []), runs_of.get((arch, fw), []))
            if rounds_of_pairs:
                ratio = statistics.median([x for rnd in rounds_of_pairs for x in rnd])
                row[f"ours/{fw}"] = f"{ratio:.2f} ({'met' if ratio <= limit else 'MISSED'}: <= {limit})"
                row[f"ours/{fw} each round"] = " / ".join(f"{statistics.median(rnd):.2f}" for rnd in rounds_of_pairs)
            else:
                row[f"ours/{fw}"] = "n/a"
        if "ours" in spe_of:
            row["ours/GEMM floor"] = f"{spe_of['ours'] / floor:.2f}"
        summary.append(row)
    return pd.DataFrame(detail).fillna(""), pd.DataFrame(summary).fillna("")


def render(df, markdown: bool) -> str:
    if markdown:
        try:
            return df.to_markdown(index=False)
        except ImportError:  # to_markdown needs the optional 'tabulate'
            pass
    return df.to_string(index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", type=parse_arch, action="append",
                        help="architecture such as 784-128-64-10; repeat for several "
                             f"(default: {', '.join(DEFAULT_ARCHS)})")
    parser.add_argument("--epochs", type=int, default=None,
                        help="epoch cap per run, warm-up included (default 20; 2 with --quick)")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS),
                        help="comma-separated subset of ours,torch,sklearn (default: all)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 2 epochs (warm-up + 1 timed), no accuracy targets")
    parser.add_argument("--all-epochs", action="store_true",
                        help="train every capped epoch even after 98%% is reached (default: stop once "
                             "every column is known)")
    parser.add_argument("--threads", type=int, default=2, help="threads for every framework (default 2)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of runs, interleaved (every framework and architecture once per round); "
                             "s/epoch is the median over rounds, so a burst of load from elsewhere moves it less "
                             "(default 3; rounds after the first train only the warm-up and timed epochs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true", help="print markdown tables (needs tabulate)")
    parser.add_argument("--json", type=Path, default=None, help="also write the raw per-epoch results here")
    parser.add_argument("--profile", action="store_true",
                        help="instead of the comparison: where our epoch's time goes, per architecture")
    parser.add_argument("--worker", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.epochs is None:
        args.epochs = 2 if args.quick else 20
    if args.epochs < 1:
        parser.error(f"--epochs must be at least 1, got {args.epochs}")
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.worker:
        worker_main(args)
        return 0

    frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = [f for f in frameworks if f not in FRAMEWORKS]
    if unknown or not frameworks:
        parser.error(f"--frameworks takes a comma-separated subset of {','.join(FRAMEWORKS)}, "
                     f"got {args.frameworks!r}")
    archs = args.arch or [parse_arch(a) for a in DEFAULT_ARCHS]
    limit_threads(args.threads)
    if args.profile:
        print(f"load    : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15-min load average)")
        for sizes in archs:
            profile_ours(sizes, args.seed, top=18)
        return 0

    print("# MNIST MLP speed benchmark: ours (NumPy) vs PyTorch CPU vs scikit-learn")
    for line in machine_lines(args.threads):
        print(line)
    print(f"load    : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15-min load average, start)")
    print(f"setup   : batch {BATCH_SIZE}, Adam lr {LR}, float32, ReLU, train 55,000 / val 5,000 / test 10,000;"
          f" epoch cap {args.epochs}; seed {args.seed}", flush=True)

    rates = measure_rates()
    print(f"sgemm   : {rates['representative']:.1f} GFLOP/s for (128x784)@(784x800), "
          f"{rates['large']:.1f} GFLOP/s for (2048x2048)@(2048x2048)", flush=True)
    floors = {arch_name(s): gemm_floor_seconds(s, 60000 - VAL_SIZE) for s in archs}

    rounds: list[list[RunResult]] = []
    for round_no in range(1, args.rounds + 1):
        # Only the first round trains to 98%; the others repeat the timed epochs.
        epochs = args.epochs if round_no == 1 else min(args.epochs, WARMUP_EPOCHS + TIMED_EPOCHS)
        results = []
        for sizes in archs:
            t0 = time.perf_counter()
            # Each round starts the turns with a different framework.
            ran = run_lockstep(frameworks, sizes, args, epochs, first=(round_no - 1) % len(frameworks))
            results.extend(ran)
            print(f"  round {round_no}: {arch_name(sizes):16s} "
                  + ", ".join(f"{r.framework} {r.status if r.status != 'ok' else f'{len(r.epoch_seconds)} epochs'}"
                              for r in ran)
                  + f" in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
        rounds.append(results)

    detail, summary = build_tables(rounds, rates, floors)
    results = rounds[0]
    print()
    print(f"## Per run (s/epoch: median of 3 epochs after 1 warm-up epoch, then the median over "
          f"{args.rounds} round(s); times exclude test evaluation; accuracy columns from round 1)")
    print(render(detail, args.markdown))
    print()
    print("## Ours against the others (targets: ours/torch <= 0.8, ours/sklearn <= 0.5; each ratio is the median "
          "of ours / theirs over the timed epochs of every round, epoch e of ours against epoch e of theirs, "
          "trained in turn seconds apart; 'each round': that round's median)")
    print(render(summary, args.markdown))
    print()
    for line in versions_of_workers(results):
        print(line)
    for r in results:
        if r.framework == "ours" and r.status == "ok":
            print(f"ours    : {r.notes}")
            break
    print(f"FLOPs   : per training sample 6*sum(fan_in*fan_out) - 2*784*h1 (forward, dW, dX except layer 1); "
          f"x 55,000 per epoch; biases, activations, optimizer, validation not counted")
    print("GEMM floor: the same batch-128 NumPy matmuls of one epoch, timed alone (no other work), in ours' worker")
    print("sgemm GFLOP/s: (128x784)@(784x800) / (2048x2048)@(2048x2048), measured in each run's own process "
          "just before it trains; the % columns divide by these")
    print(f"load    : {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15-min load average, end)")
    if args.json:
        args.json.write_text(json.dumps({"rates": rates, "floors": floors,
                                         "rounds": [[asdict(r) for r in rs] for rs in rounds]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
