"""Per-browser-session state: the current run or uploaded model, the knobs, and the "current model" view.

Everything a session owns hangs off one ``SessionData`` object in ``st.session_state``. Pages read the
model they should show through ``current_model()``, which hands out a consistent copy of the weights
(never the arrays being trained), cached per version so a rerun does not copy again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.departure import tab_guard
from lab.training_run import TrainingRun

_KEY = "_mnist_session"
TRAIN_PAGE = "app_pages/train.py"


@dataclass
class ModelView:
    """The model a page should show, frozen at one version.

    ``model`` is a copy (safe to read while training continues); ``version`` changes whenever the
    weights do, so pages can cache expensive results (test-set predictions, PCA) per version.
    """

    model: Any  # nn.model.MLP
    version: str
    source: str  # "training", "trained" or "uploaded"
    history: pd.DataFrame | None = None  # one row per epoch
    snapshots: list = field(default_factory=list)  # [(epoch, W1 copy)]
    meta: dict = field(default_factory=dict)  # what the .npz said (uploaded) or the train config (trained)

    @property
    def description(self) -> str:
        """Which model this is, as the pages say it ("the model you trained")."""
        return _SOURCES.get(self.source, self.source)


_SOURCES = {"training": "the run in progress (weights at its last completed epoch)",
            "trained": "the model you trained", "uploaded": "the uploaded model"}


@dataclass
class SessionData:
    """Everything one browser session owns."""

    run: TrainingRun | None = None
    uploaded: ModelView | None = None  # set by a successful upload; a new run clears it
    knobs: dict | None = None  # the Train page's values (durable across page switches)
    notices: list[str] = field(default_factory=list)  # e.g. query values that were ignored
    params_read: bool = False
    upload_message: tuple[str, str] | None = None  # (kind, text): the last upload's result, kept on the page
    _view: ModelView | None = None  # cached per version
    figures: dict = field(default_factory=dict)  # live charts: name -> (key, figure JSON), rebuilt on change
    _npz: Any = None  # (version, bytes, file name) of the model download
    left_at: float | None = None  # time.monotonic() when the tab disconnected; None while it is here

    def drop_caches(self) -> None:
        """Forget what is rebuilt on demand: the model view (weights copy, history), live figures, the .npz."""
        self._view = None
        self.figures = {}
        self._npz = None


def get_session() -> SessionData:
    """This session's data, created on first use, and its tab-gone guard registered."""
    data = st.session_state.get(_KEY)
    if data is None:
        data = SessionData()
        st.session_state[_KEY] = data
    tab_guard(data)
    return data


def set_run(data: SessionData, run: TrainingRun | None) -> None:
    """Make ``run`` this session's run, stopping and releasing any previous one."""
    old = data.run
    if old is not None and old is not run:
        old.stop()
        old.join(timeout=2.0)
        old.release()
    data.run = run
    data._view = None
    if run is not None:
        data.uploaded = None


def current_model() -> ModelView | None:
    """The model pages should show: the run's (live, a copy per epoch) or an uploaded one; None if neither."""
    data = get_session()
    if data.uploaded is not None:
        return data.uploaded
    run = data.run
    if run is None:
        return None
    model, version = run.model_copy()
    if model is None:
        return None
    source = "training" if run.is_active else "trained"
    if data._view is not None and data._view.version == version and data._view.source == source:
        return data._view
    trainer = run.trainer
    history = None
    snapshots: list = []
    if trainer is not None:
        try:
            history = trainer.history()
        except Exception:  # history is a nicety; a view without it still works  # noqa: BLE001
            history = None
        snapshots = list(getattr(trainer, "snapshots", []) or [])
    data._view = ModelView(model=model, version=version, source=source,
                           history=history, snapshots=snapshots, meta={"train_config": run.config.to_dict()})
    return data._view


def uploaded_view(model: Any, meta: dict, raw: bytes) -> ModelView:
    """The view of an uploaded model; the run record the file kept (history, snapshots) leaves meta for the view."""
    digest = hashlib.sha256(raw).hexdigest()[:12]
    meta = dict(meta)
    history, snapshots = meta.pop("history", None), meta.pop("snapshots", None)
    return ModelView(model=model, version=f"upload:{digest}", source="uploaded", meta=meta,
                     history=pd.DataFrame(history) if history else None, snapshots=list(snapshots or []))


def require_model() -> ModelView:
    """The current model; without one, the standard notice and the page stops here."""
    view = current_model()
    if view is None:
        no_model_notice()
        st.stop()
    return view


def no_model_notice() -> None:
    """The standard message for pages that need a model, with a link to where to get one."""
    st.info("No model yet: train one on the Train page (the quick preset takes seconds) or upload a saved "
            "`.npz` there.", icon=":material/model_training:")
    st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/arrow_forward:")
