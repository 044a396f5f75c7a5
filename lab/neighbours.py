"""The nearest training digits of a test or drawn digit: in pixels, and in each hidden layer's activations.

    index = neighbour_index(model, x_train, y_train)     # once per model version: ~46 MB for 784-256-128-10
    found = look_up(index, model, x, k=8)                  # one exact search per space, nearest first
    found, _ = search(model, x_train, y_train, x, k=8)     # the same, without keeping an index (searched once)

Pixel space uses the shared uint8 training images themselves (only their norms are new). Each hidden layer's
activations for the 60,000 training digits are stored in float32 when they fit in ``INDEX_BUDGET`` (88 MB for
784-256-128-10), else in float16 (half the memory, a relative rounding of 1/2048; a query then takes about
ten times longer, since NumPy converts float16 one number at a time), else not at all.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from lab.evaluation import frozen
from lab.format import fmt_bytes
from lab.labels import noun
from nn.data import to_float
from nn.explain.ablation import hidden_activations
from nn.explain.neighbours import CHUNK, CosineIndex, Neighbours, cosine_index, nearest

INDEX_BUDGET = 256 * 2**20  # the most one model version's index may hold (a few sessions share a server)


def store_dtype(n: int, widths: list[int]) -> type | None:
    """float32 if ``n`` rows of ``sum(widths)`` activations fit in the budget, else float16, else None."""
    for dtype in (np.float32, np.float16):
        if n * sum(widths) * np.dtype(dtype).itemsize <= INDEX_BUDGET:
            return dtype
    return None


@dataclass(frozen=True)
class NeighbourIndex:
    """One cosine index per space: ``spaces[0]`` is "pixels", then "hidden 1", ...; ``labels`` (N,) of the rows."""

    spaces: list[str]
    indexes: list[CosineIndex]
    labels: np.ndarray
    seconds: float  # how long building the hidden layers' part took
    too_wide: bool = False  # hidden layers left out: their activations would not fit in INDEX_BUDGET

    @property
    def model_bytes(self) -> int:
        """Memory this model version's index adds: the hidden layers' activations and every space's norms."""
        pixel_rows = self.indexes[0].rows.nbytes  # the shared training images: not a copy
        return sum(ix.nbytes for ix in self.indexes) - pixel_rows


@dataclass(frozen=True)
class Found:
    """The ``k`` nearest training digits in one space: positions in the training set, cosine, labels."""

    space: str
    indices: np.ndarray
    similarity: np.ndarray
    labels: np.ndarray

    def majority(self) -> tuple[int, int]:
        """(digit, count): the label most of the neighbours have (the lower digit on a tie)."""
        counts = np.bincount(self.labels, minlength=10)
        return int(np.argmax(counts)), int(counts.max())


def pixel_index(images: np.ndarray) -> CosineIndex:
    """Pixel space over the training images ``(N, 28, 28)`` uint8, without copying them (once per server)."""
    index = cosine_index(np.asarray(images).reshape(len(images), -1))
    frozen(index.inv_norms)
    return index


def neighbour_index(model: Any, images: np.ndarray, labels: np.ndarray, pixels: CosineIndex | None = None
                    ) -> NeighbourIndex:
    """Every space's index for ``model`` over the training ``images`` (uint8), built chunk by chunk."""
    start_time = time.perf_counter()
    n = len(images)
    pixels = pixel_index(images) if pixels is None else pixels
    widths = [W.shape[1] for W in model.weights[:-1]]
    store = store_dtype(n, widths)
    too_wide = store is None
    if too_wide:  # a network this wide gets the pixel space only
        widths = []
    acts = [np.empty((n, w), store) for w in widths]
    for start in range(0, n if acts else 0, CHUNK):  # never the whole training set as floats at once (188 MB)
        for kept, a in zip(acts, hidden_activations(model, to_float(images[start: start + CHUNK]))):
            kept[start: start + CHUNK] = a
    hidden = [cosine_index(a) for a in acts]
    for ix in hidden:
        frozen(ix.rows, ix.inv_norms)
    labels = np.asarray(labels).astype(np.int64)
    frozen(labels)
    return NeighbourIndex(spaces=["pixels"] + [f"hidden {l + 1}" for l in range(len(widths))],
                          indexes=[pixels] + hidden, labels=labels, seconds=time.perf_counter() - start_time,
                          too_wide=too_wide)


def look_up(index: NeighbourIndex, model: Any, x: np.ndarray, k: int) -> list[Found]:
    """The ``k`` nearest training digits of one image ``x`` (784,) in [0, 1], in every space of ``index``."""
    x = np.asarray(x, dtype=np.float32).reshape(1, -1)
    hidden = hidden_activations(model, x)[: len(index.indexes) - 1]
    queries = [x] + [a.astype(ix.rows.dtype) for a, ix in zip(hidden, index.indexes[1:])]  # rounded as the rows are
    found = []
    for space, ix, q in zip(index.spaces, index.indexes, queries):
        result = nearest(ix, q, k)
        found.append(Found(space=space, indices=result.indices[0], similarity=result.similarity[0],
                           labels=index.labels[result.indices[0]]))
    return found


def search(model: Any, images: np.ndarray, labels: np.ndarray, x: np.ndarray, k: int,
           pixels: CosineIndex | None = None, *, workers: int = 1) -> tuple[list[Found], float]:
    """What ``look_up(neighbour_index(model, images, labels, pixels), model, x, k)`` finds, without an index.

    The training ``images`` go through the network one chunk at a time (on ``workers`` threads: the matrix
    products release the GIL), each chunk's rows are compared with ``x`` (784,) in [0, 1] as the index would
    store them, and only each chunk's ``k`` nearest are kept. For a model version searched once (a new point
    of the timeline) this is the index's cost without its ~90 MB. Returns what it found and the seconds it took.
    """
    start_time = time.perf_counter()
    pixels = pixel_index(images) if pixels is None else pixels
    x = np.asarray(x, dtype=np.float32).reshape(1, -1)
    store = store_dtype(len(images), [W.shape[1] for W in model.weights[:-1]])
    queries = [a.astype(store) for a in hidden_activations(model, x)] if store is not None else []

    def chunk(start: int) -> list[Neighbours]:
        acts = hidden_activations(model, to_float(images[start: start + CHUNK]))
        return [nearest(cosine_index(a.astype(store)), q, k) for a, q in zip(acts, queries)]  # rounded as stored

    starts = list(range(0, len(images) if queries else 0, CHUNK))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        per_chunk = list(pool.map(chunk, starts))
    labels = np.asarray(labels).astype(np.int64)
    found = [_merged("pixels", [nearest(pixels, x, k)], [0], labels, k)]
    for layer in range(len(queries)):
        found.append(_merged(f"hidden {layer + 1}", [c[layer] for c in per_chunk], starts, labels, k))
    return found, time.perf_counter() - start_time


def _merged(space: str, found: list[Neighbours], offsets: list[int], labels: np.ndarray, k: int) -> Found:
    """The ``k`` nearest of the chunks' nearest (``offsets``: each chunk's first row): by cosine, then lower row."""
    indices = np.concatenate([f.indices[0] + offset for f, offset in zip(found, offsets)])
    similarity = np.concatenate([f.similarity[0] for f in found])
    best = np.lexsort((indices, -similarity))[:k]
    return Found(space=space, indices=indices[best], similarity=similarity[best], labels=labels[indices[best]])


class FirstSeen:
    """Which keys (model versions) came before, the newest ``size`` of them; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size, self.seen, self.lock = size, OrderedDict[Any, None](), threading.Lock()

    def __contains__(self, key: Any) -> bool:
        with self.lock:
            return key in self.seen

    def first(self, key: Any) -> bool:
        """True the first time ``key`` comes (or again once ``size`` newer keys have pushed it out)."""
        with self.lock:
            new = key not in self.seen
            self.seen[key] = None
            self.seen.move_to_end(key)
            while len(self.seen) > self.size:
                self.seen.popitem(last=False)
            return new


class Ahead:
    """Work done ahead on one background thread (the searches at the timeline's next points), kept until taken.

    At most ``size`` jobs are kept: submitting more cancels the oldest that has not started, so a user
    racing along the slider leaves no queue behind.
    """

    def __init__(self, size: int = 4) -> None:
        self.size, self.lock, self.jobs = size, threading.Lock(), OrderedDict[Any, Future]()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ahead")

    def submit(self, key: Any, job: Any) -> None:
        """Run ``job()`` for ``key`` unless it is queued, running or done already."""
        with self.lock:
            if key in self.jobs:
                return
            self.jobs[key] = self.pool.submit(job)
            while len(self.jobs) > self.size:
                _, old = self.jobs.popitem(last=False)
                old.cancel()  # no effect on one already running: it finishes, and is dropped

    def take(self, key: Any) -> Any | None:
        """The result for ``key`` (waiting if its job is running), or None if there is none to be had."""
        with self.lock:
            job = self.jobs.pop(key, None)
        if job is None or job.cancelled():
            return None
        try:
            return job.result()
        except Exception:  # noqa: BLE001 - the caller then computes it itself, and meets any error there
            return None


def search_cost(spaces: int, seconds: float) -> str:
    """What a search without an index cost, in one sentence for the page."""
    if spaces <= 1:
        return "Only pixel space is searched."
    return (f"This first search at this point passed every training {noun()} through the network ({seconds:.2f} s, "
            f"nothing kept); another {noun()} at the same point builds an index, then each search is instant.")


def index_cost(index: NeighbourIndex) -> str:
    """What the index keeps for this model, in one sentence for the page."""
    n = len(index.labels)
    if index.too_wide:
        return (f"This network's hidden layers are too wide to index {n:,} training {noun(plural=True)} within "
                f"{fmt_bytes(INDEX_BUDGET)}, so only pixel space is searched.")
    if len(index.indexes) == 1:
        return "This model has no hidden layer, so only pixel space is searched."
    width = sum(ix.rows.shape[1] for ix in index.indexes[1:])
    dtype = index.indexes[1].rows.dtype
    return (f"The index for this model keeps every hidden layer's activations of every training {noun()} ({n:,} × "
            f"{width} numbers in {dtype}) and one norm per {noun()} and space: {fmt_bytes(index.model_bytes)}, built "
            f"once per model version in {index.seconds:.1f} s.")
