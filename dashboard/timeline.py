"""The one epoch slider Evaluate, Inspect and Draw share: every panel shows the model at the chosen checkpoint.

The position lives under one durable session key and in the URL (``?epoch=3``, ``?epoch=0.0625``,
``?epoch=now``), so each page opens where the last one left it. ``None`` follows the newest weights,
which is what a live run's pages show until the user picks an earlier point. A play toggle steps
through the checkpoints; while a run trains and the slider follows it, the page redraws at each new one.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import numpy as np
import streamlit as st

from dashboard.session import ModelView, get_session
from lab.format import fmt_bytes
from lab.timeline import describe, label, model_at, nearest, parse_position, timeline_bytes, url_value
from nn.trainer.telemetry import INNER_FRACTIONS, Checkpoint

POSITION = "timeline_position"  # durable: a position in epochs, or None for the newest weights
SLIDER = "timeline_slider"  # the widget's key, with the number of points after it (see rewind)
PLAY = "timeline_play"
RUN = "_timeline_run"  # the run the position belongs to: a new run starts at its newest weights
URL_SEEN = "_timeline_url"  # the URL value this page wrote last; any other came from the user
QUERY = "epoch"
NOW = "now"
PLAY_STEP_S = 1.0  # one checkpoint per second while playing
LIVE_CHECK_S = 2.0  # how often a page following a live run looks for a new checkpoint


@st.cache_resource(show_spinner=False, max_entries=16)
def _model_at(version: str, _config, _checkpoint: Checkpoint):
    return model_at(_config, _checkpoint)


def _run_key(view: ModelView) -> str:
    """The run a view's weights belong to: a run's id, or an uploaded file's whole version (one per file)."""
    return view.version if view.version.startswith("upload:") else view.version.split(":", 1)[0]


def _points(view: ModelView) -> list[Checkpoint | None]:
    """The slider's points: the checkpoints, then None ("now") if the view's weights are none of them.

    A live run's model copy lags its newest checkpoint (it is taken at epoch ends) and then equals an
    earlier one; after "+1 batch" on a paused run it is newer than all of them.
    """
    points: list[Checkpoint | None] = list(view.timeline)
    if points:
        flat = np.concatenate([p.reshape(-1) for p in view.model.parameters()])
        if not any(np.array_equal(c.params, flat) for c in reversed(view.timeline)):
            points.append(None)
    return points


def _read_url() -> None:
    """Adopt a position the user put in the URL (one this page did not write); refuse a bad one in a line."""
    raw = st.query_params.get(QUERY)
    if raw is None or raw == st.session_state.get(URL_SEEN):
        return
    st.session_state[URL_SEEN] = raw
    if raw == NOW:
        st.session_state[POSITION] = None
        return
    position = parse_position(raw)
    if position is None:
        shown = raw if len(raw) <= 16 else raw[:16] + "…"
        st.warning(f"Ignored the link's `epoch={shown}` (not a number of epochs); showing the newest weights.",
                   icon=":material/link_off:")
        st.session_state[POSITION] = None
    else:
        st.session_state[POSITION] = position


def _index(points: Sequence[Checkpoint | None]) -> int:
    position = st.session_state.get(POSITION)
    if position is None:
        return len(points) - 1
    checkpoints = [p for p in points if p is not None]
    return nearest(checkpoints, float(position))


def _set_index(points: Sequence[Checkpoint | None], index: int) -> None:
    point = points[index]
    st.session_state[POSITION] = None if index == len(points) - 1 or point is None else point.position


def _picked(points: Sequence[Checkpoint | None], key: str) -> None:
    if _in_fragment_rerun():
        # The slider is in no fragment: a change that arrives with a timer's fragment run is the browser
        # echoing its value from before the last redraw (seen in chromium: it pinned a live page to an old epoch).
        return
    _set_index(points, int(st.session_state[key]))


def follow_newest() -> None:
    """Back to the newest weights (the slider's far right), as a live run's pages start."""
    st.session_state[POSITION] = None


def _play_toggled(points: Sequence[Checkpoint | None]) -> None:
    if st.session_state.get(PLAY) and _index(points) == len(points) - 1:
        _set_index(points, 0)  # play from the start when the slider is at the end


def _in_fragment_rerun() -> bool:
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def _tick(points: Sequence[Checkpoint | None]) -> None:
    """While playing: the next checkpoint, a second later; at the end, stop."""
    if not _in_fragment_rerun():
        return
    following = _index(points) + 1
    if following >= len(points):
        st.session_state[PLAY] = False
    else:
        _set_index(points, following)
    st.rerun(scope="app")


def _watch_live(count: int) -> None:
    """A live run that the slider follows: redraw the page when its timeline has grown."""
    if not _in_fragment_rerun():
        return
    run = get_session().run
    trainer = run.trainer if run is not None else None
    grown = trainer is not None and len(trainer.timeline) != count
    if grown or run is None or not run.is_active:
        st.rerun(scope="app")


def _point_text(view: ModelView, point: Checkpoint | None, live: bool) -> str:
    if point is None:
        return "its latest weights" + (" (live)" if live else "")
    return describe(point, view.epochs_planned, live=live)


def _budget_caption(view: ModelView, budget: int | None) -> str:
    checkpoints = view.timeline
    inside = sum(c.kind == "inside" for c in checkpoints)
    kept = f"{len(checkpoints)} copies of the whole network ({fmt_bytes(timeline_bytes(checkpoints))}"
    kept += f" of the run's {fmt_bytes(budget)} budget)" if budget else ")"
    fractions = ", ".join(f"1/{round(1 / f)}" for f in INNER_FRACTIONS)
    where = f"the start, {inside} points inside epoch 1 ({fractions} of it) and epoch ends" if inside else \
        "the start and epoch ends"
    return (f"Timeline: {kept}: {where}; when the budget is full, every other epoch is dropped. "
            "Evaluate, Inspect and Draw all show the point chosen here.")


def rewind(view: ModelView) -> ModelView:
    """Draw the epoch slider (with play) and return ``view`` at the chosen point; panels then say which.

    A model without a timeline (a file saved without one) is returned as it is, with a one-line note.
    """
    if not view.timeline:
        st.caption(":material/timeline: This model has no timeline (a training run keeps one, and so does the "
                   "file saved from it by this version): the pages show its final weights.")
        return view
    if st.session_state.get(RUN) != _run_key(view):
        st.session_state[RUN] = _run_key(view)
        st.session_state[POSITION] = None  # a new run: follow its newest weights
    _read_url()
    points = _points(view)
    index = _index(points)
    live = view.source == "training"
    labels = [label(p) if p is not None else NOW for p in points]
    # One key per number of points: a value the browser sends from before the timeline grew (a click or a
    # page switch racing a redraw) belongs to the old key and moves nothing (it pinned a live page to an old epoch).
    key = f"{SLIDER}:{len(points)}"
    st.session_state[key] = index
    left, right = st.columns([6, 1], vertical_alignment="bottom")
    left.select_slider("Epoch shown", options=list(range(len(points))), format_func=labels.__getitem__, key=key,
                       on_change=_picked, args=(points, key),
                       help="Rewind every panel of Evaluate, Inspect and Draw to the network as it was at this "
                            "point of its training (the slider's far right follows the newest weights).")
    right.toggle("Play", key=PLAY, on_change=_play_toggled, args=(points,),
                 help="Step through the timeline, one point a second, from here to the end.")
    budget = (view.meta.get("train_config") or {}).get("snapshot_budget_bytes")
    st.caption(_budget_caption(view, budget))
    point = points[index]
    latest = index == len(points) - 1
    value = url_value(point) if point is not None else NOW
    if st.query_params.get(QUERY) != value:
        st.query_params[QUERY] = value
    st.session_state[URL_SEEN] = value
    if st.session_state.get(PLAY):
        st.fragment(run_every=PLAY_STEP_S)(_tick)(points)
    elif live and latest:
        st.fragment(run_every=LIVE_CHECK_S)(_watch_live)(len(view.timeline))
    text = _point_text(view, point, live and latest)
    if latest:
        return dataclasses.replace(view, point=text)
    version = f"{_run_key(view)}:cp{point.step}{point.kind[0]}"
    return dataclasses.replace(view, model=_model_at(version, view.model.config, point), version=version, point=text)


def nearby(view: ModelView) -> list[ModelView]:
    """``view`` (as ``rewind`` returned it) at the points one step of the slider away, the next one first: for
    work a page may do ahead. At the newest weights, the checkpoints before them."""
    if not view.timeline:
        return []
    base = re.sub(r":cp\d+[a-z]$", "", view.version)  # the run's key, from a rewound view's version too
    run = base if base.startswith("upload:") else base.split(":", 1)[0]
    names = [f"{run}:cp{p.step}{p.kind[0]}" for p in view.timeline]
    here = names.index(view.version) if view.version in names else len(names)
    picks = [here + 1, here - 1] if here < len(names) else [here - 1, here - 2]
    return [dataclasses.replace(view, model=_model_at(names[j], view.model.config, view.timeline[j]), version=names[j])
            for j in picks if 0 <= j < len(names)]


def at(view: ModelView) -> str:
    """A section title's suffix naming the point shown (" · epoch 3 of 8 (live)"); empty without a timeline."""
    return f" · {view.point}" if view.point else ""
