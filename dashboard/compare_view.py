"""Paired A/B runs on the Runs page: "run again with one change", then the two runs side by side.

The pairing itself and what changed on the test set are lab/compare.py's; this module draws the
choice of run, knob and value, starts run B, and shows curves, the B − A confusion matrix, per-digit
changes, the digits that flipped and one first-layer unit in both runs.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard import explain
from dashboard.data import dataset_name, get_dataset
from dashboard.knobs import BATCHES, L2S, LRS
from dashboard.session import SessionData, set_run
from figures import compare as fc
from figures.evaluate import digit_gallery_figure
from figures.runs import overlay_figure
from lab.compare import CHANGEABLE, change_text, compare, one_change
from lab.format import fmt_bytes, fmt_pct
from lab.labels import noun
from lab.memory import memory_budget_bytes, run_memory_bytes
from lab.params import SPECS, config_to_knobs
from lab.runs import RunRecord
from lab.training_run import TrainingRun
from nn.config import ACTIVATIONS, INITS, OPTIMIZERS, SCHEDULES

GALLERY = 30  # digits per flipped gallery (three rows of ten)
_ARCHITECTURES = ("none", "32", "64", "128", "256", "512", "1024", "128-64", "256-128", "512-256", "1024-1024")
OPTIONS = {
    "lr": LRS, "optimizer": OPTIMIZERS, "schedule": SCHEDULES, "batch_size": BATCHES,
    "epochs": (1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 40), "hidden": tuple(SPECS["hidden"].parse(a) for a in _ARCHITECTURES),
    "activation": ACTIVATIONS, "init": INITS, "dropout": (0.0, 0.1, 0.2, 0.3, 0.4, 0.5), "l2": L2S,
    "shift": (0, 1, 2, 3, 4), "rotate": (0.0, 5.0, 10.0, 15.0, 20.0), "noise": (0.0, 0.05, 0.1, 0.2, 0.3),
    "warmup": (0.0, 0.25, 0.5, 1.0, 2.0),
}


def _next_index(ladder: tuple, current: Any) -> int:
    """Where run A's value's neighbour (the next notch up, else the one below) sits once A's value is left out."""
    return min(ladder.index(current), len(ladder) - 2) if current in ladder else 0


def _name(record: RunRecord) -> str:
    return record.name if not record.change else f"{record.name} ({record.change})"


def again_panel(session: SessionData, records: list[RunRecord]) -> None:
    """Pick a run, one knob and its new value; start run B with everything else, the seed included, the same."""
    repeatable = [r for r in records if r.config is not None]
    if not repeatable:
        st.info("Only a run with its training settings can be repeated (an uploaded file may lack them).")
        return
    by_id = {r.run_id: r for r in repeatable}
    ids = list(by_id)
    default = session.current if session.current in by_id else ids[-1]
    c1, c2, c3 = st.columns(3)
    base_id = c1.selectbox("Run A", ids, index=ids.index(default), format_func=lambda i: _name(by_id[i]),
                           key="ab_base", help="The run to repeat.")
    knob = c2.selectbox("Change", list(CHANGEABLE), format_func=CHANGEABLE.get, key="ab_knob",
                        help="The one setting run B changes; the seed, split, batch order and augmentation "
                             "stream stay those of run A.")
    base = by_id[base_id]
    current = config_to_knobs(base.config)[knob]
    options = [o for o in OPTIONS[knob] if o != current]
    value = c3.selectbox("New value", options, index=_next_index(OPTIONS[knob], current),
                         format_func=SPECS[knob].render, key=f"ab_value_{knob}",
                         help=f"Run A has {SPECS[knob].render(current)}.")
    try:
        config = one_change(base.config, knob, value)
    except ValueError as exc:
        st.error(f"Cannot repeat {base.name} with this change: {exc}.")
        return
    text = change_text(base.config, knob, value)
    st.markdown(f"**Run B** = {base.name} with **{text}**; the same seed ({base.config.seed}), split, batch "
                "order and augmentation stream, so whatever differs comes from that one change.")
    need, budget = run_memory_bytes(config), memory_budget_bytes()
    busy = session.run is not None and session.run.is_active
    if need > budget:
        st.error(f"Run B would need about {fmt_bytes(need)}, more than the {fmt_bytes(budget)} a run may use here.")
    if st.button("Run again with this change", key="ab_start", type="primary", icon=":material/call_split:",
                 disabled=busy or need > budget,
                 help="Train run B in the background (watch it on Train); it joins the table when it ends."):
        data = get_dataset()
        run = TrainingRun(config, data.x_train, data.y_train, dataset=dataset_name())
        set_run(session, run, parent=base.run_id, change=text)
        run.start()
        st.rerun()
    if busy:
        st.caption("A run is training; start run B when it has ended.")


def _pick_pair(records: list[RunRecord]) -> tuple[str, str]:
    """The latest paired run and its parent, else the last two runs."""
    ids = [r.run_id for r in records]
    for record in reversed(records):
        if record.parent in ids:
            return record.parent, record.run_id
    return ids[-2], ids[-1]


def compare_panel(records: list[RunRecord]) -> None:
    """Two runs side by side: curves, B − A confusion, per-digit change, flipped digits, one unit in both."""
    if len(records) < 2:
        st.info("Keep two runs (or run one again with a change) to compare them here.")
        return
    by_id = {r.run_id: r for r in records}
    ids = list(by_id)
    a_id, b_id = _pick_pair(records)
    c1, c2 = st.columns(2)
    a_id = c1.selectbox("A", ids, index=ids.index(a_id), format_func=lambda i: _name(by_id[i]), key="cmp_a",
                        help="The reference run.")
    b_id = c2.selectbox("B", ids, index=ids.index(b_id), format_func=lambda i: _name(by_id[i]), key="cmp_b",
                        help="The run compared with A.")
    a, b = by_id[a_id], by_id[b_id]
    if a_id == b_id:
        st.caption("Pick two different runs.")
        return
    if b.parent == a.run_id:
        st.markdown(f"{b.name} repeats {a.name} with **{b.change}**, everything else the same.")
    else:
        st.caption("These two runs are not a pair made here: they may differ in several settings (the table "
                   "above lists which) and in their random draws.")
    left, right = st.columns(2)
    for column, metric in ((left, "loss"), (right, "accuracy")):
        column.plotly_chart(overlay_figure([a, b], metric), key=f"cmp_{metric}", width="stretch")
    data = explain.test_data()
    ev_a, ev_b = explain.evaluation_of(a.version, a.model), explain.evaluation_of(b.version, b.model)
    result = compare(ev_a, ev_b, data.labels)
    cols = st.columns(4)
    cols[0].metric(f"Test accuracy {a.name}", fmt_pct(result.accuracy_a, 2))
    cols[1].metric(f"Test accuracy {b.name}", fmt_pct(result.accuracy_b, 2),
                   delta=f"{100 * (result.accuracy_b - result.accuracy_a):+.2f} points")
    cols[2].metric("Wrong → right", f"{len(result.fixed):,}", help=f"Test {noun(plural=True)} {a.name} got wrong, {b.name} right.")
    cols[3].metric("Right → wrong", f"{len(result.broken):,}", help=f"Test {noun(plural=True)} {a.name} got right, {b.name} wrong.")
    left, right = st.columns(2)
    left.plotly_chart(fc.confusion_diff_figure(result.confusion_diff, a.name, b.name), key="cmp_cm", width="stretch")
    left.caption(f"Each cell: how many more (blue) or fewer (red) test {noun(plural=True)} {b.name} puts there than {a.name}. "
                 "Blue on the diagonal is good (more right answers); blue elsewhere is a mistake made more often.")
    right.plotly_chart(fc.recall_change_figure(result.recall_change, a.name, b.name), key="cmp_recall",
                       width="stretch")
    right.caption(f"Per true {noun()}, the change in the share predicted right. Small changes of a point or less "
                  "can be noise from the random draws, unless the runs are a pair.")
    for indices, title, key in ((result.fixed, f"Wrong in {a.name}, right in {b.name}", "cmp_fixed"),
                                (result.broken, f"Right in {a.name}, wrong in {b.name}", "cmp_broken")):
        _flipped(data, indices, title, key, ev_a.predicted, ev_b.predicted)
    st.caption(f"Under each {noun()}: its test index, then A's answer → B's answer.")
    _unit(a, b)


def _flipped(data, indices, title: str, key: str, pred_a, pred_b) -> None:
    if len(indices) == 0:
        st.caption(f"{title}: none.")
        return
    shown = indices[:GALLERY]
    captions = [f"#{i}: {pred_a[i]} → {pred_b[i]}" for i in shown]
    more = f" (the {len(shown)} B is surest of)" if len(indices) > len(shown) else ""
    st.plotly_chart(digit_gallery_figure(data.images[shown], captions, shown, title=f"{title}: {len(indices):,}{more}",
                                         cols=10, px_per_pixel=2.5), key=key, width="stretch")


def _unit(a: RunRecord, b: RunRecord) -> None:
    w_a, w_b = a.model.weights[0], b.model.weights[0]
    if w_a.shape != w_b.shape:
        st.caption("The two runs' first layers differ in size, so their units do not correspond.")
        return
    unit = st.number_input("First-layer unit", 0, w_a.shape[1] - 1, 0, key="cmp_unit",
                           help="The same unit in both runs: with the same seed and architecture it started "
                                "from the same random weights.")
    st.plotly_chart(fc.unit_pair_figure(w_a[:, unit], w_b[:, unit], int(unit), a.name, b.name), key="cmp_unit_fig",
                    width="stretch")
    st.caption("Blue pixels raise the unit's input, red ones lower it; one colour scale for both, so a faint "
               "filter is a small one.")
