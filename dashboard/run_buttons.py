"""The Train page's run buttons (Start, Pause/Resume, +1 epoch, +1 batch, Stop, Reset) and the live
learning-rate control, drawn from one rule of the run's phase (lab/run_controls.py)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.budget_view import visitor_budget
from dashboard.classroom import claim_run
from dashboard.data import dataset_name
from dashboard.session import SessionData, set_run
from lab.run_controls import control_state
from lab.snapshot import TERMINAL_PHASES, RunSnapshot
from lab.training_run import TrainingRun
from nn.config import TrainConfig
from nn.events import RunState

SETTLE_S = 0.5  # after Pause/Resume/+1 batch, wait this long at most for the run to get there before redrawing
PAUSED = {RunState.PAUSED.value} | TERMINAL_PHASES
RESUMED = {RunState.RUNNING.value} | TERMINAL_PHASES


def _new_run(session: SessionData, config: TrainConfig, images: np.ndarray, labels: np.ndarray,
             *, paused: bool = False) -> TrainingRun:
    run = TrainingRun(config, images, labels, start_paused=paused, budget=visitor_budget(),
                      dataset=dataset_name())
    claim_run(run)  # a class on this server records it
    set_run(session, run)
    return run.start()


def controls(session: SessionData, config: TrainConfig | None, images: np.ndarray, labels: np.ndarray) -> None:
    """Start, pause/resume, +1 epoch, +1 batch, stop, reset; and the live learning-rate control."""
    run = session.run
    can_start = config is not None
    shown = control_state(run.phase if run is not None else None, can_start=can_start,
                          has_model=run is not None or session.uploaded is not None)
    session.controls_drawn = (can_start, shown)  # the live panel redraws the page when these go stale
    row = st.container(horizontal=True, gap="small")
    if row.button("Start", type="primary", disabled=not shown.start, key="btn_start", icon=":material/play_arrow:",
                  help="Build a fresh network with these settings and train it in the background.",
                  width="content"):
        _new_run(session, config, images, labels)
        st.rerun()
    if shown.resume:
        if row.button("Resume", key="btn_resume", width="content",
                      help="Continue training from where it paused."):
            run.resume()
            run.wait_for_phase(RESUMED, timeout=SETTLE_S)
            st.rerun()
    elif row.button("Pause", key="btn_pause", disabled=not shown.pause, width="content",
                    help="Hold training after the current batch; nothing is lost."):
        run.pause()
        run.wait_for_phase(PAUSED, timeout=SETTLE_S)
        st.rerun()
    if row.button("+1 epoch", key="btn_epoch", disabled=not shown.step, width="content",
                  help="Train exactly one more epoch, then pause (with no run in progress, a new run starts "
                       "and pauses after its first epoch)."):
        if not shown.resume:
            run = _new_run(session, config, images, labels, paused=True)
        run.step_epoch()
        st.rerun()
    if row.button("+1 batch", key="btn_batch", disabled=not shown.step, width="content",
                  help="Take exactly one optimizer step, then pause."):
        if not shown.resume:
            run = _new_run(session, config, images, labels, paused=True)
        run.step_batch()
        run.wait_for_phase(PAUSED, timeout=SETTLE_S)
        st.rerun()
    if row.button("Stop", key="btn_stop", disabled=not shown.stop, width="content",
                  help="End the run now; the model trained so far is kept."):
        run.stop()
        run.join(timeout=2.0)
        st.rerun()
    if row.button("Reset", key="btn_reset", disabled=not shown.reset, width="content",
                  help="Stop any run and forget the model (the settings stay)."):
        set_run(session, None)
        session.uploaded = None
        st.rerun()
    if shown.live_lr:
        _live_lr(run)


def controls_are_stale(session: SessionData, snap: RunSnapshot | None) -> bool:
    """True when the buttons drawn by the last full run no longer fit the run's phase (redraw the page)."""
    if session.controls_drawn is None:
        return False
    can_start, shown = session.controls_drawn
    run = session.run
    now = control_state(snap.phase if snap is not None else None, can_start=can_start,
                        has_model=run is not None or session.uploaded is not None)
    return now != shown


def _live_lr(run: TrainingRun) -> None:
    from dashboard.knobs import LRS

    current = run.snapshot().current_lr
    options = sorted(set(LRS) | {current})

    def apply() -> None:
        value = st.session_state["live_lr"]
        if value != run.snapshot().current_lr:
            run.set_lr(float(value))

    if st.session_state.get("live_lr_run") != run.run_id:
        st.session_state["live_lr_run"] = run.run_id
        st.session_state["live_lr"] = current
    st.select_slider("Learning rate now (applies from the next step; marked on the charts)", options,
                     key="live_lr", format_func=lambda v: f"{v:g}", on_change=apply,
                     help="Change the learning rate of the running training; the schedule continues from it.")
