"""The Train page's moving parts: model summary, run controls, live panel, model download and upload."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import streamlit as st

from dashboard.budget_view import visitor_budget
from dashboard.live_charts import figure_json, live_charts
from dashboard.session import SessionData, current_model, set_run, uploaded_view
from dashboard.uploads import drop_upload, uploader_key
from dashboard.widgets import LIVE_INTERVAL_S, metric_tiles, phase_label
from figures.training import batch_loss_figure, epoch_metrics_figure, epochs_frame, lr_figure
from lab.format import fmt_bytes, fmt_pct
from lab.limiter import get_limiter
from lab.memory import memory_budget_bytes, run_memory_bytes
from lab.snapshot import FAILED, WAITING
from lab.training_run import TrainingRun
from nn.config import TrainConfig
from nn.events import RunState
from nn.model import param_count

MAX_UPLOAD_BYTES = 200 * 2**20
LIVE_POINTS = 500  # per line on the live charts: plenty for a chart a few hundred pixels wide
LIVE_CAPTIONS = (
    "The faint line is every batch's loss; the dark line is its running average. It should fall steadily; a "
    "jump after a learning-rate change (dashed line) means the step got too big.",
    "Train vs validation after each epoch: when validation accuracy stalls while training keeps improving, "
    "the network starts to memorise rather than generalise.",
    "The learning rate used at each step: the schedule and warm-up shape it; your changes are marked.",
)


def model_summary(config: TrainConfig) -> bool:
    """Parameter count and memory, live as the knobs move; False (with the reason) if it would not fit."""
    params = param_count(config.model)
    need = run_memory_bytes(config)
    budget = memory_budget_bytes()
    sizes = " → ".join(str(s) for s in config.model.layer_sizes)
    st.markdown(f"**{params:,}** parameters · **{fmt_bytes(need)}** to train",
                help=f"Weights and biases of the layers {sizes}; memory for weights, gradients, optimizer state, "
                     "batch buffers and filter snapshots, estimated before anything is built.")
    st.caption(f"Layers {sizes}")
    if need > budget:
        st.error(f"This network would need about {fmt_bytes(need)} to train, more than the "
                 f"{fmt_bytes(budget)} a run may use on this server. Make the hidden layers narrower or fewer, "
                 "or lower the batch size.", icon=":material/memory:")
        return False
    return True


# ----- controls --------------------------------------------------------------------------------------
def _new_run(session: SessionData, config: TrainConfig, images: np.ndarray, labels: np.ndarray,
             *, paused: bool = False) -> TrainingRun:
    run = TrainingRun(config, images, labels, start_paused=paused, budget=visitor_budget())
    set_run(session, run)
    return run.start()


def controls(session: SessionData, config: TrainConfig | None, images: np.ndarray, labels: np.ndarray) -> None:
    """Start, pause/resume, +1 epoch, +1 batch, stop, reset; and the live learning-rate control."""
    run = session.run
    phase = run.phase if run is not None else None
    active = run is not None and run.is_active
    can_start = config is not None and not active
    row = st.container(horizontal=True, gap="small")
    cols = [row] * 6
    if cols[0].button("Start", type="primary", disabled=not can_start, key="btn_start", icon=":material/play_arrow:",
                      help="Build a fresh network with these settings and train it in the background.",
                      width="content"):
        _new_run(session, config, images, labels)
        st.rerun()
    if phase == RunState.PAUSED.value:
        if cols[1].button("Resume", key="btn_resume", width="content",
                          help="Continue training from where it paused."):
            run.resume()
            st.rerun()
    elif cols[1].button("Pause", key="btn_pause", disabled=not active, width="content",
                        help="Hold training after the current batch; nothing is lost."):
        run.pause()
        st.rerun()
    step_ok = (active and phase == RunState.PAUSED.value) or (not active and config is not None)
    if cols[2].button("+1 epoch", key="btn_epoch", disabled=not step_ok,
                      width="content", help="Train exactly one more epoch, then pause (starts a paused run if none)."):
        if not active:
            run = _new_run(session, config, images, labels, paused=True)
        run.step_epoch()
        st.rerun()
    if cols[3].button("+1 batch", key="btn_batch", disabled=not step_ok,
                      width="content", help="Take exactly one optimizer step, then pause."):
        if not active:
            run = _new_run(session, config, images, labels, paused=True)
        run.step_batch()
        st.rerun()
    if cols[4].button("Stop", key="btn_stop", disabled=not active, width="content",
                      help="End the run now; the model trained so far is kept."):
        run.stop()
        run.join(timeout=2.0)
        st.rerun()
    if cols[5].button("Reset", key="btn_reset", disabled=run is None and session.uploaded is None, width="content",
                      help="Stop any run and forget the model (the settings stay)."):
        set_run(session, None)
        session.uploaded = None
        st.rerun()
    if active:
        _live_lr(run)


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


# ----- the live panel --------------------------------------------------------------------------------
def live_panel(session: SessionData) -> None:
    """Status, tiles, progress and charts; redraws itself twice a second while the run is active."""
    run = session.run
    interval = LIVE_INTERVAL_S if run is not None and run.is_active else None
    st.fragment(run_every=interval)(_live_body)(session)


def _live_body(session: SessionData) -> None:
    # The charts are always the fragment's second element, after one container for everything that
    # comes and goes above them: an element that changed position would be mounted afresh, and the
    # charts' page loads plotly once, while the user is still setting the knobs, then only updates.
    with st.container():
        figures = _status(session)
    live_charts(figures, LIVE_CAPTIONS if figures else [], key="live_charts")


def _status(session: SessionData) -> list[str]:
    """Status line, notices, progress and tiles; returns the live figures' JSON (none before the first batch)."""
    run = session.run
    if run is None:
        if session.uploaded is not None:
            st.success(f"Using the uploaded model ({session.uploaded.meta.get('summary', 'loaded')}). "
                       "Evaluate and Inspect show it; Start trains a new one.", icon=":material/upload_file:")
        else:
            st.info("Set the knobs (or pick a preset) and press **Start**. The quick preset trains in seconds.",
                    icon=":material/arrow_back:")
        return []
    run.heartbeat()
    snap = run.snapshot()
    st.markdown(f"**Run {snap.run_id}** · {phase_label(snap)}")
    if snap.phase == WAITING:
        training, waiting = get_limiter().counts()
        st.info(f"The server is training {training} model(s) at once, its limit; this run starts when a slot "
                f"frees up (number {snap.queue_position or 1} in line).", icon=":material/hourglass_top:")
    elif snap.phase == RunState.DIVERGED.value:
        # The engine's reason says what blew up and what to try; add the usual advice only if it gave none.
        reason = snap.reason or (f"The loss stopped being a finite number. Lower the learning rate (try "
                                 f"{snap.current_lr / 10:g}); the model keeps its last good weights.")
        st.error(f"**Training diverged.** {reason}", icon=":material/warning:")
        st.caption("The last good weights are kept: you can still evaluate, inspect and download them.")
    elif snap.phase == FAILED:
        st.error(f"The run failed: {snap.error}", icon=":material/error:")
    elif snap.over_budget:
        st.warning(snap.reason[:1].upper() + snap.reason[1:], icon=":material/timer_off:")
    elif snap.phase == RunState.EARLY_STOPPED.value:
        st.success(f"Stopped early: {snap.reason or 'the validation loss stopped improving'}. The best weights "
                   "were kept.", icon=":material/check_circle:")
    st.progress(snap.progress, text=f"epoch {snap.epoch or 0} of {snap.epochs_planned}, "
                                    f"batch {snap.batch} of {snap.batches_per_epoch or '?'}")
    if not snap.is_active and snap.epochs_done:
        per_epoch = sum(e.seconds for e in snap.epochs) / snap.epochs_done
        st.caption(f"Trained {snap.epochs_done} epoch(s) in {snap.elapsed_seconds:.1f} s of training time "
                   f"({per_epoch:.2f} s per epoch, validation included).")
    metric_tiles(snap)
    if snap.step == 0:
        st.caption("The charts appear with the first batch.")
        return []
    bpe = max(snap.batches_per_epoch, 1)
    loss = _cached(session, "loss", (snap.run_id, snap.step, snap.lr_changes),
                   lambda: batch_loss_figure(snap.batch_losses, bpe, lr_changes=snap.lr_changes,
                                             max_points=LIVE_POINTS))
    epochs = _cached(session, "epochs", (snap.run_id, snap.epochs_done, snap.epochs_planned),
                     lambda: epoch_metrics_figure(epochs_frame(snap.epochs), snap.epochs_planned))
    # The learning rate moves slowly (schedules) or jumps (your changes): a redraw per 1% of the run will do.
    lr_key = (snap.run_id, snap.step * 100 // max(bpe * snap.epochs_planned, 1), snap.lr_changes,
              snap.is_active)
    lr = _cached(session, "lr", lr_key,
                 lambda: lr_figure(snap.batch_lrs, bpe, lr_changes=snap.lr_changes, max_points=LIVE_POINTS))
    return [loss, epochs, lr]


def _cached(session: SessionData, name: str, key: Any, build: Any) -> str:
    """The JSON of figure ``name`` for ``key``, rebuilt only when the key changes.

    An unchanged figure is sent as the same JSON, so the browser need not redraw it either: this keeps
    the live page cheap for the training thread that shares the CPU.
    """
    cache = session.figures
    if name not in cache or cache[name][0] != key:
        cache[name] = (key, figure_json(build()))
    return cache[name][1]


# ----- files ------------------------------------------------------------------------------------------
def _model_bytes(session: SessionData) -> tuple[bytes, str] | None:
    from nn.serialize import save_model

    view = current_model()
    if view is None:
        return None
    cached = getattr(session, "_npz", None)
    if cached is not None and cached[0] == view.version:
        return cached[1], cached[2]
    meta: dict[str, Any] = dict(view.meta)
    if view.history is not None and len(view.history) and "val_acc" in view.history:
        meta["val_accuracy"] = float(view.history["val_acc"].iloc[-1])
    history = view.history.to_dict("records") if view.history is not None and len(view.history) else None
    buffer = io.BytesIO()
    save_model(buffer, view.model, meta, history=history, snapshots=view.snapshots)  # so Inspect has them back
    name = f"mnist-mlp-{'-'.join(map(str, view.model.config.hidden)) or 'softmax'}-{view.version.replace(':', '-')}.npz"
    session._npz = (view.version, buffer.getvalue(), name)
    return session._npz[1], name


def download_and_upload(session: SessionData) -> None:
    c1, c2 = st.columns(2)
    with c1:
        run = session.run
        ready = current_model() is not None and not (run is not None and run.phase == RunState.RUNNING.value)
        if ready:
            data, name = _model_bytes(session)
            st.download_button("Download model (.npz)", data=data, file_name=name, mime="application/octet-stream",
                               key="btn_download", icon=":material/download:",
                               help="Weights and settings as a NumPy .npz file (no pickle); upload it here later.")
        else:
            st.button("Download model (.npz)", disabled=True, key="btn_download_off", icon=":material/download:",
                      help="Available once a model exists and training is paused or finished.")
    with c2:
        upload = st.file_uploader("Upload a saved model (.npz)", type=["npz"], key=uploader_key("upload_model"),
                                  help="A file saved by this app or `python -m nn train`; it is checked first.")
        handle_upload(session, upload)


def handle_upload(session: SessionData, upload: Any) -> None:
    """Validate and load an uploaded model, then drop the file (dashboard/uploads.py); a bad file changes nothing.

    The result stays on the page as one line: a refusal until the next upload, a success while the
    uploaded model is the current one.
    """
    if upload is not None:
        session.upload_message = _load_upload(session, upload)
        drop_upload("upload_model", upload)
        st.rerun()
    kind, text = session.upload_message or ("info", "")
    if kind == "success" and session.uploaded is None:
        return
    if text:
        {"error": st.error, "success": st.success, "warning": st.warning}.get(kind, st.info)(text)


def _load_upload(session: SessionData, upload: Any) -> tuple[str, str]:
    from nn.serialize import ModelFileError, load_model

    if session.run is not None and session.run.is_active:
        return "warning", "Stop the current run before loading another model; nothing was changed."
    raw = upload.getvalue()
    if len(raw) > MAX_UPLOAD_BYTES:
        return "error", f"{upload.name} is {fmt_bytes(len(raw))}; models here are at most {fmt_bytes(MAX_UPLOAD_BYTES)}. Nothing was changed."
    try:
        model, meta = load_model(raw)
    except ModelFileError as exc:
        return "error", f"{upload.name} is not a model this app can load: {exc}. Nothing was changed."
    config = model.config
    if config.input_size != 784 or config.n_classes != 10:
        return "error", (f"{upload.name} expects {config.input_size} inputs and {config.n_classes} classes; MNIST "
                         "needs 784 and 10. Nothing was changed.")
    view = uploaded_view(model, meta, raw)
    accuracy = meta.get("accuracy", meta.get("val_accuracy"))
    sizes = " → ".join(map(str, config.layer_sizes))
    view.meta["summary"] = f"{sizes}" + (f", accuracy {fmt_pct(float(accuracy), 2)}" if _is_number(accuracy) else "")
    set_run(session, None)
    session.uploaded = view
    return "success", f"Loaded {upload.name}: layers {view.meta['summary']}."


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)
