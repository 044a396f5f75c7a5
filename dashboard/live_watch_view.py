"""The Train page's live view of the network itself: a grid of first-layer filters and a strip of test digits
with the network's current answers, redrawn in place about once a second; and the slow-motion control.

The samples are taken in the training thread by lab/live_watch.py's ``Watch`` (once a second), which every
new run of the session gets (``attach``, called by ``set_run``); this module draws the latest one, inside
the live panel's fragment (dashboard/train_view.py), so the page reruns once per tick for both.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from dashboard import explain
from dashboard.live_charts import figure_json, live_charts
from dashboard.session import SessionData
from figures.live import digit_strip_figure, filter_scale, live_filters_figure
from lab.labels import noun
from lab.live_watch import SLOW_RATES, UNITS, Watch, strip_indices

SHOW = "live_watch_on"  # durable: sample and show the filters and digits
SLOW = "live_slow"  # durable: batches per second, 0 = full speed
FILTERS_CAPTION = ("{where}. The same units' weights from each pixel, on one colour scale (blue raises the "
                   "unit's input, red lowers it; ±max is ±{scale:.2g}): watch random noise turn into strokes, "
                   "mostly within the first epoch.")
def strip_caption(where: str, right: int, n: int) -> str:
    return (f"{where}: {right} of {n} right. Fixed test {noun(plural=True)} the network never trains on; under "
            "each, its answer and confidence, green when right, red when wrong.")


def attach(run: Any) -> None:
    """Give a new run its watch (before it starts), with this session's choices."""
    data = explain.test_data()
    idx = strip_indices(data.labels)
    watch = Watch(data.X[idx], data.labels[idx])
    watch.sampling = bool(st.session_state.get(SHOW, True))
    watch.set_rate(st.session_state.get(SLOW) or None)
    run.watch = watch


def _apply(session: SessionData) -> None:
    watch = getattr(session.run, "watch", None) if session.run is not None else None
    if watch is not None:
        watch.sampling = bool(st.session_state[SHOW])
        watch.set_rate(st.session_state[SLOW] or None)


def panel(session: SessionData) -> None:
    """The controls, then the filters and digits (inside the live panel's fragment: redrawn with it)."""
    st.session_state.setdefault(SHOW, True)
    st.session_state.setdefault(SLOW, 0)
    row = st.columns([2, 3], vertical_alignment="bottom")
    row[0].toggle(f"Watch the filters and {noun(plural=True)}", key=SHOW, on_change=_apply, args=(session,),
                  help=f"Show a few first-layer filters and the network's answers for 12 test {noun(plural=True)} while it trains.")
    row[1].select_slider("Slow motion", [0, *sorted(SLOW_RATES)], key=SLOW, on_change=_apply, args=(session,),
                         format_func=lambda r: "off" if r == 0 else f"{r:g} batches/s",
                         help="Cap the training speed so a fast run can be watched (off: full speed). Applies "
                              "to the running training at once and to the next ones.")
    if st.session_state[SHOW]:
        _body(session)


def _placeholders() -> tuple[list[str], list[str]]:
    """Before a run: blank filters and the strip's digits without answers, in the layouts the run will update.

    The browser draws them while the user sets the knobs, so the first update during training is a
    cheap redraw of data, not the first drawing of two charts.
    """
    data = explain.test_data()
    idx = strip_indices(data.labels)
    figures = [figure_json(live_filters_figure(np.zeros((data.X.shape[1], UNITS), np.float32))),
               figure_json(digit_strip_figure(data.images[idx], data.labels[idx], None))]
    return figures, ["The first layer's filters appear here when a run starts.",
                     f"The network's answers for these {noun(plural=True)} appear here when a run starts."]


def _body(session: SessionData) -> None:
    # The component is on the page from its first render on, after one container for the note above it.
    run = session.run
    watch = getattr(run, "watch", None) if run is not None else None
    sample = watch.latest() if watch is not None else None
    with st.container():
        if sample is None and run is not None and run.is_active:
            st.caption(f"The filters and {noun(plural=True)} move with the first batch.")
    cache = session.figures
    uploaded = session.uploaded if run is None else None
    if sample is None and uploaded is not None:  # a loaded model holds still: draw it once
        key = ("upload", uploaded.version)
        if cache.get("watch", (None,))[0] != key:
            model = uploaded.model
            filters = np.asarray(model.weights[0][:, :UNITS], dtype=np.float32)
            cache["watch"] = (key, *_figures("The uploaded model", filters, model.predict_proba))
        live_charts(*cache["watch"][1:], key="live_watch")
        return
    if sample is None:
        if "watch_empty" not in cache:
            cache["watch_empty"] = _placeholders()
        live_charts(*cache["watch_empty"], key="live_watch")
        return
    where = f"Epoch {sample.epoch}, step {sample.step}" if sample.epoch else "At the start"
    key = (run.run_id, sample.step)
    if cache.get("watch", (None,))[0] != key:
        cache["watch"] = (key, *_figures(where, sample.filters, lambda _: sample.proba))
    live_charts(*cache["watch"][1:], key="live_watch")


def _figures(where: str, filters: np.ndarray, answers: Any) -> tuple[list[str], list[str]]:
    """The filters and the strip's answers (``answers(X)``: probabilities for the strip's images), with captions."""
    data = explain.test_data()
    idx = strip_indices(data.labels)
    labels = data.labels[idx]
    proba = answers(data.X[idx])
    right = int((proba.argmax(axis=1) == labels).sum())
    figures = [figure_json(live_filters_figure(filters)),
               figure_json(digit_strip_figure(data.images[idx], labels, proba))]
    captions = [FILTERS_CAPTION.format(where=where, scale=filter_scale(filters)), strip_caption(where, right, len(labels))]
    return figures, captions
