"""The "why did it answer that" results, cached per model version like dashboard/explain.py (the math: nn/explain/).

Each cache holds one shared, read-only object per model version; ``max_entries`` bounds what many sessions
and a live run (a new version every epoch) can pin in memory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import streamlit as st

from dashboard.data import get_dataset
from dashboard.data_stats import data_stats
from dashboard.explain import PER_POINT, test_data
from dashboard.session import ModelView
from lab.ablation import AblationBase, ablation_base, most_used_units
from lab.calibration import CalibrationReport, calibrate, validation_indices
from lab.contrast import Contrast, contrast
from lab.cores import spare_cores
from lab.neighbours import (Ahead, FirstSeen, Found, NeighbourIndex, index_cost, look_up, neighbour_index,
                             pixel_index, search, search_cost)
from lab.prototypes import digit_prototypes, unit_prototype
from nn.explain.neighbours import CosineIndex
from nn.explain.prototypes import PrototypeParams, Prototypes


@st.cache_resource(show_spinner="Fitting a temperature on the validation images…", max_entries=PER_POINT)
def _calibration(version: str, _model: Any, _val: np.ndarray | None) -> CalibrationReport:
    ds = get_dataset()
    images = None if _val is None else ds.x_train[_val]
    labels = None if _val is None else ds.y_train[_val]
    return calibrate(_model, test_data(), images, labels)


def calibration(view: ModelView) -> CalibrationReport:
    """Reliability before and after temperature scaling for the current model (once per version)."""
    val = validation_indices(view.val_idx, view.meta, len(get_dataset().y_train))
    return _calibration(view.version, view.model, val)


@st.cache_resource(show_spinner="Running the test images through the hidden layers…", max_entries=4)
def _ablation_base(version: str, _model: Any) -> AblationBase:
    return ablation_base(_model, test_data())


def ablation(view: ModelView) -> AblationBase:
    """The intact network's hidden activations and answers on the test set (once per version; 15 MB for the
    default network, so only four are kept)."""
    return _ablation_base(view.version, view.model)


@st.cache_resource(show_spinner=False, max_entries=PER_POINT)
def _intact(version: str, _model: Any) -> AblationBase:
    return ablation_base(_model, test_data(), activations=False)


def intact(view: ModelView) -> AblationBase:
    """The intact network's answers on the test set without its activations (~100 KB, kept per timeline point):
    what the ablation section compares with while nothing is switched off."""
    return _intact(view.version, view.model)


@st.cache_resource(show_spinner=False, max_entries=64)
def _most_used(version: str, layer: int, digit: int, k: int, _model: Any) -> np.ndarray:
    return most_used_units(_model, test_data(), layer, digit, k)


def most_used(view: ModelView, layer: int, digit: int, k: int) -> np.ndarray:
    """The ``k`` units of hidden ``layer`` that give most to ``digit``'s score (per version)."""
    return _most_used(view.version, layer, digit, k, view.model)


@st.cache_resource(show_spinner=False, max_entries=64)
def _contrast(version: str, digest: str, predicted: int, other: int, _model: Any, _x: np.ndarray) -> Contrast:
    return contrast(_model, _x, predicted, other)


def contrast_of(version: str, model: Any, x: np.ndarray, predicted: int, other: int) -> Contrast:
    """lab.contrast.contrast, once per model version, digit and pair (rewinding the timeline back to a point
    shown before reuses it; ~30 KB each)."""
    x = np.ascontiguousarray(x).reshape(-1)  # as given: the cached result is exactly the uncached one
    return _contrast(version, f"{x.dtype}:{_digest(x)}", int(predicted), int(other), model, x)


def _digest(x: np.ndarray) -> str:
    return hashlib.sha256(x.tobytes()).hexdigest()[:16]


def _as_digit(x: np.ndarray) -> np.ndarray:
    """``x`` as the neighbour searches take it (and name it): (784,) float32, contiguous."""
    return np.ascontiguousarray(x, dtype=np.float32).reshape(-1)


def digit_key(x: np.ndarray) -> str:
    """A short name for the digit ``x`` (784,), the same for the same pixels."""
    return _digest(_as_digit(x))


def class_means() -> np.ndarray:
    """(10, 28, 28) the average training digit of each class, 0..255 (the Data page's, once per server)."""
    ds = get_dataset()
    return data_stats(ds, f"{ds.source}:{len(ds.x_train)}").means


@st.cache_resource(show_spinner="Drawing the ten perfect pictures (gradient ascent)…", max_entries=PER_POINT)
def _digit_prototypes(version: str, params: PrototypeParams, _model: Any) -> Prototypes:
    return digit_prototypes(_model, class_means(), params)


def prototypes(view: ModelView, params: PrototypeParams) -> Prototypes:
    """The ten class prototypes for the current model and these settings (once per version and settings)."""
    return _digit_prototypes(view.version, params, view.model)


@st.cache_resource(show_spinner=False, max_entries=4 * PER_POINT)
def _unit_prototype(version: str, unit: int, params: PrototypeParams, _model: Any) -> tuple[Prototypes, float]:
    return unit_prototype(_model, class_means(), unit, params)


def prototype_of_unit(view: ModelView, unit: int, params: PrototypeParams) -> tuple[Prototypes, float]:
    """The input that most excites first-layer ``unit``, and the gain its penalties were divided by (per version)."""
    return _unit_prototype(view.version, int(unit), params, view.model)


@st.cache_resource(show_spinner=False, max_entries=1)
def _pixel_index(key: str) -> CosineIndex:
    return pixel_index(get_dataset().x_train)


def _shared_pixels(ds: Any) -> CosineIndex:
    """Pixel space over the dataset's training images, one index per server (keyed by the shared array)."""
    return _pixel_index(f"{ds.source}:{id(ds.x_train)}")


@st.cache_resource(show_spinner="Indexing the 60,000 training images in every layer (once per model version)…",
                   max_entries=2)
def _neighbour_index(version: str, _model: Any) -> NeighbourIndex:
    ds = get_dataset()
    return neighbour_index(_model, ds.x_train, ds.y_train, _shared_pixels(ds))


@dataclass(frozen=True)
class Lookup:
    """A digit's nearest training digits in every space, with what the index behind them costs (for the caption)."""

    found: list[Found]
    n_digits: int  # training digits compared
    cost: str  # what the search cost: lab.neighbours.index_cost or search_cost


@st.cache_resource(show_spinner=False)
def _first_searches() -> FirstSeen:
    return FirstSeen(4 * PER_POINT)


@st.cache_resource(show_spinner=False)
def _ahead() -> Ahead:
    return Ahead()


@st.cache_resource(show_spinner=False)
def _looked_up() -> FirstSeen:
    return FirstSeen(64)  # the lookups the cache below holds (at most), so that none is searched ahead again


def look_ahead(views: list[ModelView], x: np.ndarray, k: int) -> None:
    """Search ``x``'s neighbours at ``views`` (the slider's next points) in the background, on an idle server
    only: a step there then finds them done instead of taking the search's half second."""
    from nn.trainer import usable_cores

    workers = spare_cores()
    if workers < usable_cores():
        return  # a training is running: the cores are its
    ds = get_dataset()
    pixels = _shared_pixels(ds)
    x = _as_digit(x)
    digest = _digest(x)
    for view in views:
        key = (view.version, digest, int(k))
        if key not in _looked_up():
            _ahead().submit(key, partial(search, view.model, ds.x_train, ds.y_train, x, int(k), pixels,
                                         workers=workers))


@st.cache_resource(show_spinner=False, max_entries=64)
def _neighbours(version: str, digest: str, k: int, _x: np.ndarray, _model: Any, _where: str) -> Lookup:
    ds = get_dataset()
    _looked_up().first((version, digest, k))
    searched = _ahead().take((version, digest, k))  # searched while the page showed the point before
    if searched is None and _first_searches().first(f"{_where}:{version}"):
        # A model version's first search from a section (a new point of the timeline, most often) goes without
        # an index: the same answer in half the time, on the cores no training is using. A second one from the
        # same section (another digit, another drawing) builds the index, which any later search then reuses.
        searched = search(_model, ds.x_train, ds.y_train, _x, k, _shared_pixels(ds), workers=spare_cores())
    if searched is not None:
        found, seconds = searched
        return Lookup(found=found, n_digits=len(ds.y_train), cost=search_cost(len(found), seconds))
    index = _neighbour_index(version, _model)
    return Lookup(found=look_up(index, _model, _x, k), n_digits=len(index.labels), cost=index_cost(index))


def neighbours(view: ModelView, x: np.ndarray, k: int, where: str = "") -> Lookup:
    """The ``k`` nearest training digits of ``x`` (784,) in every space; reruns with the same digit reuse them.

    Only a new lookup searches: rewinding to a point already seen with this digit does not search again. The
    first search from section ``where`` at a model version keeps no index; a second builds one (~90 MB for the
    default network), which a cache of two versions may have dropped since.
    """
    x = _as_digit(x)
    return _neighbours(view.version, _digest(x), int(k), x, view.model, where)
