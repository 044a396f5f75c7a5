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
from lab.run_summary import RunSummary, summarize_run
from lab.runs import RunBook, RunRecord
from lab.saved_model import epochs_planned
from lab.training_run import TrainingRun

_KEY = "_mnist_session"
MAX_PAST_RUNS = 20  # summaries of replaced runs kept per session (a few KB each)
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
    weights_at: str = ""  # a run's: which weights these are ("weights at the end of epoch 2 of 40 (live…)")
    timeline: list = field(default_factory=list)  # [nn.trainer.telemetry.Checkpoint], the run's whole-network copies
    epochs_planned: int = 0
    point: str = ""  # where on the timeline these weights are ("epoch 3 of 8 (live)"); empty: not said
    label: str = ""  # names a kept run made current ("Run 2 (made current on the Runs page)")
    val_idx: Any = None  # a run's validation images (positions in the training file); None: from meta's config

    @property
    def description(self) -> str:
        """Which model this is, as the pages say it ("the run in progress: weights at the end of epoch 2 of 40",
        "the model you trained, at epoch 3 of 8")."""
        what = self.label or _SOURCES.get(self.source, self.source)
        rewound = self.point and not self.point.endswith("(live)")  # the slider moved back in time
        if self.weights_at and not rewound:
            return f"{what}: {self.weights_at}"
        return f"{what}, at {self.point}" if self.point else what


_SOURCES = {"training": "the run in progress", "trained": "the model you trained", "uploaded": "the uploaded model"}


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
    past_runs: list[RunSummary] = field(default_factory=list)  # runs this session replaced, oldest first
    controls_drawn: Any = None  # (can_start, lab.run_controls.ControlState) the Train page last drew
    book: RunBook = field(default_factory=RunBook)  # every run of the session (the Runs page)
    current: str | None = None  # the kept run made current on the Runs page (None: the latest run or upload)
    book_notice: str = ""  # e.g. which old runs made room for a new one
    _record_view: ModelView | None = None
    left_at: float | None = None  # time.monotonic() when the tab disconnected; None while it is here

    def drop_caches(self) -> None:
        """Forget what is rebuilt on demand: the model view (weights copy, history), live figures, the .npz."""
        self._view = None
        self._record_view = None
        self.figures = {}


def get_session() -> SessionData:
    """This session's data, created on first use, and its tab-gone guard registered."""
    data = st.session_state.get(_KEY)
    if data is None:
        data = SessionData()
        st.session_state[_KEY] = data
    tab_guard(data)
    return data


def set_run(data: SessionData, run: TrainingRun | None, *, parent: str | None = None, change: str = "") -> None:
    """Make ``run`` this session's run (and its current model), stopping any previous one and keeping its record.

    ``parent`` and ``change``: the run ``run`` repeats with one change (paired A/B runs).
    """
    old = data.run
    dropped: list[str] = []
    if old is not None and old is not run:
        old.stop()
        old.join(timeout=2.0)
        data.past_runs = [*data.past_runs, summarize_run(old)][-MAX_PAST_RUNS:]
        dropped = data.book.refresh()  # its record is taken before its trainer goes
        old.release()
    data.run = run
    data._view = None
    data.current = None
    if run is not None:
        from dashboard.live_watch_view import attach  # lazy: it reads the test set through dashboard.explain

        if getattr(run, "watch", False) is None:
            attach(run)  # live filters, digits and slow motion, from its first batch
        data.uploaded = None
        dropped += data.book.add_run(run, parent=parent, change=change)
    if dropped:
        data.book_notice = (f"{', '.join(dropped)} made room for the new run: a session keeps "
                            f"{data.book.limit} runs within {data.book.memory_limit // 2**20} MB.")


def record_view(data: SessionData, record: RunRecord) -> ModelView:
    """The view of a kept run (cached while it stays the one shown)."""
    cached = data._record_view
    if cached is not None and cached.version == record.version:
        return cached
    meta = {"train_config": record.config.to_dict()} if record.config is not None else {}
    data._record_view = ModelView(
        model=record.model, version=record.version, source=record.source, history=record.history,
        label=f"{record.name} (made current on the Runs page)",
        snapshots=list(record.snapshots), meta=meta, timeline=list(record.timeline),
        epochs_planned=epochs_planned(meta, record.timeline))
    return data._record_view


def run_history(data: SessionData) -> list[RunSummary]:
    """This session's runs, oldest first: the replaced ones, then the current one."""
    return data.past_runs + ([summarize_run(data.run)] if data.run is not None else [])


def current_model() -> ModelView | None:
    """The model pages should show: a kept run made current, else the run's (live, a copy per epoch) or an
    uploaded one; None if none."""
    data = get_session()
    if data.current is not None:
        data.book.refresh(keep=data.current)
        entry = data.book.get(data.current)
        if entry is not None and entry.record is not None:
            return record_view(data, entry.record)
        if entry is None:
            data.current = None  # deleted
    if data.uploaded is not None:
        return data.uploaded
    run = data.run
    if run is None:
        return None
    model, version, weights_at = run.described_model_copy()
    if model is None:
        return None
    source = "training" if run.is_active else "trained"
    if data._view is not None and data._view.version == version and data._view.source == source:
        data._view.weights_at = weights_at  # the same weights; the run's phase may have moved on
        if run.trainer is not None:  # checkpoints inside epoch 1 arrive before the next model copy
            data._view.timeline = list(getattr(run.trainer, "timeline", []) or [])
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
    timeline = list(getattr(trainer, "timeline", []) or []) if trainer is not None else []
    val_idx = getattr(trainer, "val_idx", None)  # a copy: the view must not keep the trainer alive
    data._view = ModelView(model=model, version=version, source=source,
                           history=history, snapshots=snapshots, meta={"train_config": run.config.to_dict()},
                           weights_at=weights_at, timeline=timeline, epochs_planned=run.config.epochs,
                           val_idx=None if val_idx is None else val_idx.copy())
    return data._view


def uploaded_view(model: Any, meta: dict, raw: bytes) -> ModelView:
    """The view of an uploaded model; the run record the file kept (history, snapshots, timeline) leaves meta
    for the view."""
    digest = hashlib.sha256(raw).hexdigest()[:12]
    meta = dict(meta)
    history, snapshots = meta.pop("history", None), meta.pop("snapshots", None)
    timeline = list(meta.pop("timeline", None) or [])
    return ModelView(model=model, version=f"upload:{digest}", source="uploaded", meta=meta,
                     history=pd.DataFrame(history) if history else None, snapshots=list(snapshots or []),
                     timeline=timeline, epochs_planned=epochs_planned(meta, timeline))


def require_model() -> ModelView:
    """The current model; without one, the standard notice and the page stops here."""
    view = current_model()
    if view is None:
        no_model_notice()
        st.stop()
    return view


def no_model_notice() -> None:
    """The standard message for pages that need a model, with a link to where to get one."""
    st.info("No model yet: train one on the Train page (the quick preset takes 5-10 seconds) or upload a saved "
            "`.npz` there.", icon=":material/model_training:")
    st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/arrow_forward:")
