"""The verified cache: where it lives, how it is written, read and locked.

One file, ``mnist-v1.npz`` (uncompressed uint8 arrays, 55 MB, plus a small JSON
``meta``), in the user's cache directory. Writes go to a temporary file in the
same directory and are renamed over the old one, so a reader sees either the
old file or the new one, never half of one. Zip's CRC-32 catches a corrupt
file; the SHA-256 check on every load catches anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import numpy as np

from nn.data.readers import _read_npy_member, read_mnist_npz
from nn.data.verify import KEYS, MNIST_SHA256, verify_arrays

APP_NAME = "mnist-from-scratch"
CACHE_ENV = "MNIST_CACHE_DIR"
CACHE_FILE = "mnist-v1.npz"
LOCK_FILE = CACHE_FILE + ".lock"
_TMP_PREFIX = "." + CACHE_FILE + "."
_TMP_SUFFIX = ".tmp"


def default_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """The argument, else ``$MNIST_CACHE_DIR``, else ``$XDG_CACHE_HOME/mnist-from-scratch``, else ``~/.cache/...``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / APP_NAME


def cache_file(cache_dir: str | os.PathLike | None = None) -> Path:
    """Full path of the cache file in ``default_cache_dir(cache_dir)``."""
    return default_cache_dir(cache_dir) / CACHE_FILE


def write_cache(path: Path, arrays: Mapping[str, np.ndarray], meta: Mapping[str, object]) -> None:
    """Write the four arrays and ``meta`` atomically: a temporary file, fsync, then ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, suffix=_TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **{k: np.ascontiguousarray(arrays[k]) for k in KEYS},
                                meta=np.array(json.dumps(dict(meta), sort_keys=True)))
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the data is public
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not possible on every platform, and harmless to skip.
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_cache(path: Path, expected: Mapping[str, str] = MNIST_SHA256) -> tuple[dict[str, np.ndarray], dict]:
    """Read and verify the cache; ValueError (or VerificationError) if it is corrupt or holds other data.

    Raises FileNotFoundError when there is no cache.
    """
    arrays = read_mnist_npz(path)
    meta: dict = {}
    with zipfile.ZipFile(path) as zf:
        if "meta.npy" in zf.namelist():
            raw = _read_npy_member(zf, "meta.npy", f"{path}[meta]", 1 << 20)
            if raw.dtype.kind != "U" or raw.ndim != 0:
                raise ValueError(f"{path}[meta]: expected a JSON string, got dtype {raw.dtype}")
            try:
                meta = json.loads(str(raw))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}[meta]: not valid JSON ({exc})") from None
    verify_arrays(arrays, expected)
    return arrays, meta


def discard(path: Path) -> None:
    """Remove a bad cache file (missing already is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def remove_stale_temporaries(directory: Path) -> int:
    """Delete temporary files left by a writer that died; call only while holding the lock."""
    removed = 0
    for tmp in directory.glob(_TMP_PREFIX + "*" + _TMP_SUFFIX):
        with contextlib.suppress(OSError):
            tmp.unlink()
            removed += 1
    return removed


@contextlib.contextmanager
def cache_lock(directory: Path, timeout: float = 900.0, poll: float = 0.05,
               on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on the cache directory, so concurrent first loads fetch once.

    The lock is ``fcntl.flock`` on a lock file: the kernel releases it if the
    holder dies. Where ``fcntl`` does not exist (Windows) this does not lock;
    atomic writes still keep the cache whole. ``on_wait`` is called once if
    another process holds the lock.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / LOCK_FILE, "a+b") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                    on_wait = None
                if time.monotonic() > deadline:
                    raise TimeoutError(f"another process has held {directory / LOCK_FILE} "
                                       f"for over {timeout:.0f} s") from None
                time.sleep(poll)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
