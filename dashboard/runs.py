"""The Runs page's moving parts: the session's kept runs as a table, their actions, overlaid curves.

The records and the table are lab/runs.py's; this module adds what needs Streamlit: each run's test
accuracy (through the Evaluate page's cached evaluation), the download of a run, making one current.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import explain
from dashboard.session import SessionData, get_session
from figures.runs import METRICS, X_AXES, overlay_figure
from lab.format import fmt_bytes, fmt_pct
from lab.labels import noun
from lab.runs import RunRecord, runs_table, table_csv
from lab.snapshot import TERMINAL_PHASES, progress_line
from lab.step_session import train_config_for
from nn.config import TrainConfig

MAX_OVERLAY = 6


def kept_records(session: SessionData) -> list[RunRecord]:
    """The session's ended runs, oldest first, each with its test accuracy filled in."""
    dropped = session.book.refresh(keep=session.current)
    if dropped:
        session.book_notice = (f"{', '.join(dropped)} made room: a session keeps runs holding up to "
                               f"{fmt_bytes(session.book.memory_limit)}.")
    records = session.book.records()
    for record in records:
        if not math.isfinite(record.test_accuracy):
            record.test_accuracy = explain.evaluation_of(record.version, record.model).accuracy
    return records


REFRESH_S = 1.0  # while a run trains, how often the Runs page looks whether it ended


def live_runs_notice(session: SessionData) -> None:
    """Say which run is training and how far it is; when it ends, redraw the page so it joins the table."""
    live = [e for e in session.book.entries if e.live is not None]
    if not live:
        return
    st.fragment(run_every=REFRESH_S)(_live_notice_body)(session, [e.run_id for e in live])


def _live_notice_body(session: SessionData, run_ids: list[str]) -> None:
    entries = [session.book.get(run_id) for run_id in run_ids]
    if any(e is None or e.live is None or (e.live.phase in TERMINAL_PHASES and not e.live.alive) for e in entries):
        st.rerun()  # the whole page: the ended run joins the table, the curves and the pickers
    for entry in entries:
        st.caption(f":material/model_training: {entry.name} is training ({progress_line(entry.live.snapshot())}); "
                   "it joins the table when it ends.")


def add_upload(session: SessionData, model: Any, meta: dict, version: str, name: str) -> None:
    """Keep an uploaded model in the book beside the trained runs (its curves and timeline when the file had them)."""
    from lab.runs import RunRecord

    history = meta.get("history")
    config = train_config_for(meta, None) if meta.get("train_config") else None
    record = RunRecord(run_id=version, name=name, source="uploaded", status="uploaded",
                       config=config if isinstance(config, TrainConfig) else None, model=model, version=version,
                       history=pd.DataFrame(history) if history else None,
                       snapshots=list(meta.get("snapshots") or []), timeline=list(meta.get("timeline") or []))
    if session.book.get(version) is None:
        dropped = session.book.add_record(record)
        if dropped:
            session.book_notice = f"{', '.join(dropped)} made room for {name}: a session keeps {session.book.limit} runs."


def make_current(run_id: str) -> None:
    """Callback: Evaluate, Inspect and Draw show this run from now on."""
    session = get_session()
    latest = session.run.run_id if session.run is not None else None
    session.current = None if run_id == latest and session.uploaded is None else run_id
    session._record_view = None


def delete(run_id: str) -> None:
    """Callback: forget an ended run (the current model falls back to the latest run)."""
    session = get_session()
    if session.book.delete(run_id) and session.current == run_id:
        session.current = None


def record_bytes(record: RunRecord) -> bytes:
    """The run as a model file (.npz, no pickle), with its history, W_1 snapshots and timeline."""
    from nn.serialize import save_model

    meta: dict[str, Any] = {"train_config": record.config.to_dict()} if record.config is not None else {}
    history = None
    if record.history is not None and len(record.history):
        history = record.history.to_dict("records")
        if "val_acc" in record.history and math.isfinite(float(record.history["val_acc"].iloc[-1])):
            meta["val_accuracy"] = float(record.history["val_acc"].iloc[-1])
    buffer = io.BytesIO()
    save_model(buffer, record.model, meta, history=history, snapshots=list(record.snapshots),
               timeline=list(record.timeline))
    return buffer.getvalue()


def file_stem(record: RunRecord) -> str:
    hidden = "-".join(map(str, record.model.config.hidden)) or "softmax"
    return f"mnist-mlp-{hidden}-{record.name.lower().replace(' ', '')}"


def runs_table_panel(session: SessionData, records: list[RunRecord]) -> pd.DataFrame:
    """The table (sortable by any column), its CSV, and what the book holds."""
    table = runs_table(records)
    book = session.book
    st.caption(f"{len(book.entries)} of {book.limit} runs kept, holding {fmt_bytes(book.memory_bytes())} of "
               f"{fmt_bytes(book.memory_limit)} (final weights, the timeline and filter snapshots, the curves). "
               "The oldest run makes room for a new one when the session is full; delete runs you no longer need.")
    shown = table.drop(columns=["id"])
    pct = {c: st.column_config.NumberColumn(c, format="percent") for c in ("final val acc", "best val acc",
                                                                          "test acc")}
    st.dataframe(shown, hide_index=True, width="stretch", key="runs_table", column_config={
        **pct, "time (s)": st.column_config.NumberColumn("time (s)", format="%.1f"),
        "memory (MB)": st.column_config.NumberColumn("memory (MB)", format="%.1f"),
        "parameters": st.column_config.NumberColumn("parameters", format="localized")})
    st.caption("Click a column's header to sort by it. Only the settings that differ between the runs get a "
               f"column; 'change' is what a paired run changed. Test accuracy is on the 10,000 test {noun(plural=True)}.")
    st.download_button("Download the table (CSV)", table_csv(table), file_name="runs.csv", mime="text/csv",
                       key="runs_csv", icon=":material/download:", help="The table above as a CSV file.")
    return table


def run_actions(session: SessionData, records: list[RunRecord]) -> None:
    """Pick one run: make it current, download it, delete it."""
    by_id = {r.run_id: r for r in records}
    ids = list(by_id)
    current = session.current if session.current in by_id else ids[-1]
    chosen = st.selectbox("Run", ids, index=ids.index(current), format_func=lambda i: by_id[i].name,
                          key="runs_pick", help="The run the buttons beside act on.")
    record = by_id[chosen]
    row = st.container(horizontal=True, gap="small")
    shown_now = session.current == chosen or (session.current is None and _is_latest(session, chosen))
    row.button("Make current", key="runs_current", on_click=make_current, args=(chosen,), disabled=shown_now,
               icon=":material/visibility:", help="Evaluate, Inspect and Draw show this run from now on.")
    # The file is made when clicked (not on every rerun): with the timeline it holds tens of MB.
    row.download_button("Download .npz", lambda: record_bytes(record), file_name=f"{file_stem(record)}.npz",
                        mime="application/octet-stream", key="runs_download", icon=":material/download:",
                        help="Weights, settings, history, filter snapshots and the timeline (the epoch slider); "
                             "upload it on the Train page later.")
    if record.config is not None:
        row.download_button("Export as a script (.py)", _script(record), file_name=f"{file_stem(record)}.py",
                            mime="text/x-python", key="runs_script", icon=":material/code:",
                            help="A standalone NumPy script written from the textbook code and this run's settings: "
                                 "it trains the same network from scratch on your MNIST files and evaluates it.")
    row.button("Delete", key="runs_delete", on_click=delete, args=(chosen,), icon=":material/delete:",
               help="Forget this run and free its memory.")
    if shown_now:
        st.caption(f":material/visibility: {record.name} is the current model of Evaluate, Inspect and Draw.")
    if record.config is not None:
        st.caption(f"To check the script against this run: `python {file_stem(record)}.py --data MNIST_DIR --compare "
                   f"{file_stem(record)}.npz` (the same seed gives the same network, up to float rounding"
                   + ("; the learning rates you changed by hand are not replayed" if _changed_by_hand(record) else "")
                   + ").")


def _script(record: RunRecord) -> bytes:
    from nn.export import export_script

    return export_script(record.config, title=f"{record.name} of the MNIST-from-scratch app").encode("utf-8")


def _changed_by_hand(record: RunRecord) -> bool:
    """Whether the run's learning rates depart from its schedule (a live change)."""
    from nn.schedules import Schedule

    if record.config is None or not record.batch_lrs.size or not record.batches_per_epoch:
        return False
    schedule = Schedule(record.config, record.batches_per_epoch)
    planned = np.array([schedule.lr(s) for s in range(record.batch_lrs.size)], np.float32)
    return not np.allclose(planned, record.batch_lrs, rtol=1e-5)


def _is_latest(session: SessionData, run_id: str) -> bool:
    if session.uploaded is not None:
        return session.uploaded.version == run_id
    return session.run is not None and session.run.run_id == run_id


def overlay_panel(records: list[RunRecord]) -> None:
    """Choose 2-6 runs; their loss, accuracy and learning-rate curves on shared axes."""
    trained = [r for r in records if r.batch_losses.size or (r.history is not None and len(r.history))]
    if len(trained) < 2:
        st.info("Train a second run to overlay its curves on the first one's.", icon=":material/stacked_line_chart:")
        return
    names = {r.run_id: r.name for r in trained}
    chosen = st.multiselect("Runs to overlay", list(names), default=list(names)[-2:], format_func=names.get,
                            max_selections=MAX_OVERLAY, key="runs_overlay",
                            help=f"Pick 2 to {MAX_OVERLAY} runs; each gets one colour on every chart.")
    x_axis = st.segmented_control("Horizontal axis", list(X_AXES), format_func=X_AXES.get, default="epoch",
                                  key="runs_x", required=True,
                                  help="Per epoch compares passes over the data; per training image seen "
                                       "compares runs with different subsets or batch sizes fairly.")
    picked = [r for r in trained if r.run_id in chosen]
    if len(picked) < 2:
        st.caption("Pick at least two runs.")
        return
    for metric in METRICS:
        st.plotly_chart(overlay_figure(picked, metric, x_axis), key=f"runs_{metric}", width="stretch")
    best = max(picked, key=lambda r: r.test_accuracy if math.isfinite(r.test_accuracy) else -1)
    st.caption(f"Solid: training; dotted: validation. Of these, {best.name} scores best on the test {noun(plural=True)} "
               f"({fmt_pct(best.test_accuracy, 2)}).")
