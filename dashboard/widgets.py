"""Small pieces of UI shared by several pages: the sidebar run status and the metric tiles."""

from __future__ import annotations

import math

import streamlit as st

from dashboard.session import get_session
from lab.format import fmt_num, fmt_pct, fmt_rate
from lab.labels import noun
from lab.snapshot import FAILED, STARTING, WAITING, RunSnapshot
from nn.events import RunState

LIVE_INTERVAL_S = 0.5  # the sidebar and the live charts redraw twice a second while a run is active

PHASE_LABELS = {
    WAITING: (":material/hourglass_top:", "waiting for a free training slot"),
    STARTING: (":material/hourglass_top:", "starting"),
    RunState.IDLE.value: (":material/radio_button_unchecked:", "idle"),
    RunState.RUNNING.value: (":material/play_circle:", "training"),
    RunState.PAUSED.value: (":material/pause_circle:", "paused"),
    RunState.FINISHED.value: (":material/check_circle:", "finished"),
    RunState.STOPPED.value: (":material/stop_circle:", "stopped"),
    RunState.DIVERGED.value: (":material/warning:", "diverged"),
    RunState.EARLY_STOPPED.value: (":material/check_circle:", "stopped early (no more improvement)"),
    FAILED: (":material/error:", "failed"),
}


def phase_label(snap: RunSnapshot) -> str:
    icon, text = PHASE_LABELS.get(snap.phase, (":material/help:", snap.phase))
    if snap.phase == WAITING and snap.queue_position:
        text += f" (number {snap.queue_position} in line)"
    return f"{icon} {text}"


def metric_tiles(snap: RunSnapshot) -> None:
    """The numbers a learner watches, always in this order: accuracy, loss, epoch, speed (the time left is on
    the progress bar above: five tiles did not fit one row of the Train page at 1280-1440 px)."""
    last = snap.epochs[-1] if snap.epochs else None
    prev = snap.epochs[-2] if len(snap.epochs) > 1 else None
    row = st.container(horizontal=True, gap="small")
    split = "Val"
    acc = last.val_acc if last else float("nan")
    loss = last.val_loss if last else float("nan")
    if last is not None and not math.isfinite(acc):  # no validation set: the training numbers, named so
        split, acc, loss = "Train", last.train_acc, last.train_loss
    acc_delta = None
    loss_delta = None
    if last is not None and prev is not None:
        pa = prev.val_acc if split == "Val" else prev.train_acc
        pl = prev.val_loss if split == "Val" else prev.train_loss
        if math.isfinite(acc) and math.isfinite(pa):
            acc_delta = f"{100 * (acc - pa):+.2f} pts"
        if math.isfinite(loss) and math.isfinite(pl):
            loss_delta = f"{loss - pl:+.4f}"
    images = (f"held-out validation {noun(plural=True)}" if split == "Val"
              else f"training {noun(plural=True)} (this run has no validation set)")
    row.metric(f"{split} accuracy", fmt_pct(acc, 2), acc_delta,
               help=f"Share of the {images} the model gets right (after each epoch).", width="content", border=True)
    row.metric(f"{split} loss", fmt_num(loss), loss_delta, delta_color="inverse",
               help=f"Mean cross-entropy on the {images}; lower is better.", width="content", border=True)
    row.metric("Epoch", f"{snap.epochs_done} / {snap.epochs_planned}",
               help="Complete passes over the training images.", width="content", border=True)
    speed = snap.samples_per_sec
    if not math.isfinite(speed) and last is not None:
        speed = last.samples_per_sec  # paused or ended: the last epoch's speed
    row.metric("Samples/s", fmt_rate(speed),
               help="Training images processed per second (recently while running, else the last epoch).",
               width="content", border=True)


def in_fragment_rerun() -> bool:
    """True when only fragments are rerunning (a timer tick), False during a full script run."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return bool(ctx is not None and ctx.fragment_ids_this_run)


def _status_body(was_live: bool = False) -> None:
    data = get_session()
    run = data.run
    if was_live and (run is None or not run.is_active) and in_fragment_rerun():
        st.rerun(scope="app")  # the run just ended: redraw the whole page (buttons, final charts)
    if run is None:
        if data.uploaded is not None:
            st.caption(":material/upload_file: uploaded model loaded")
        else:
            st.caption(":material/radio_button_unchecked: no model yet")
        return
    run.heartbeat()
    snap = run.snapshot()
    st.markdown(f"**Run** {phase_label(snap)}")
    last = snap.epochs[-1] if snap.epochs else None
    if last is not None and not math.isfinite(last.val_acc):  # no validation set
        accuracy = f"train accuracy {fmt_pct(last.train_acc, 2)}"
    else:
        accuracy = f"validation accuracy {fmt_pct(last.val_acc, 2) if last is not None else 'n/a'}"
    st.caption(f"epoch {snap.epochs_done}/{snap.epochs_planned} · {accuracy}")
    st.progress(snap.progress)
    if snap.phase == FAILED and snap.error:
        st.caption(snap.error)


def sidebar_status() -> None:
    """Render the run status in the sidebar; it redraws itself while a run is active.

    It ticks as often as the Train page's live panel, so the two never disagree for longer than one tick.
    """
    data = get_session()
    live = data.run is not None and data.run.is_active
    with st.sidebar:
        st.fragment(run_every=LIVE_INTERVAL_S if live else None)(_status_body)(live)
