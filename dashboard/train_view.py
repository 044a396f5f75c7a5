"""The Train page's moving parts: model summary, live panel, model download and upload (the run buttons:
dashboard/run_buttons.py)."""

from __future__ import annotations

import io
from typing import Any

import streamlit as st

from dashboard import live_watch_view
from dashboard.live_charts import figure_json, live_charts
from dashboard.run_buttons import controls_are_stale
from dashboard.session import ModelView, SessionData, current_model, set_run, uploaded_view
from dashboard.uploads import drop_upload, uploader_key
from dashboard.widgets import LIVE_INTERVAL_S, in_fragment_rerun, metric_tiles, phase_label
from figures.training import batch_loss_figure, epoch_metrics_figure, epochs_frame, lr_figure
from lab.format import fmt_bytes
from lab.limiter import get_limiter
from lab.memory import memory_budget_bytes, run_memory_bytes
from lab.saved_model import accuracy_summary
from lab.snapshot import FAILED, WAITING, progress_line
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


# ----- the live panel --------------------------------------------------------------------------------
def live_panel(session: SessionData) -> None:
    """Status, tiles, progress, charts, then the filters and digits; redraws itself twice a second while the
    run is active."""
    run = session.run
    interval = LIVE_INTERVAL_S if run is not None and run.is_active else None
    st.fragment(run_every=interval)(_live_body)(session)


def _live_body(session: SessionData) -> None:
    # The charts are always the fragment's second element, after one container for everything that
    # comes and goes above them, and the filters and digits its third: an element that changed position
    # would be mounted afresh, and the charts' page loads plotly once, while the user is still setting
    # the knobs, then only updates.
    with st.container():
        figures = _status(session)
    live_charts(figures, LIVE_CAPTIONS if figures else [], key="live_charts")
    with st.container():  # the filters and digits ride the same timer: one rerun a tick, not two
        live_watch_view.panel(session)


def _status(session: SessionData) -> list[str]:
    """Status line, notices, progress and tiles; returns the live figures' JSON (none before the first batch)."""
    run = session.run
    if run is None:
        if session.uploaded is not None:
            st.success(f"Using the uploaded model ({session.uploaded.meta.get('summary', 'loaded')}). "
                       "Evaluate and Inspect show it; Start trains a new one.", icon=":material/upload_file:")
        else:
            st.info("Set the knobs (or pick a preset) and press **Start**. The quick preset trains in 5-10 seconds.",
                    icon=":material/arrow_back:")
        return []
    run.heartbeat()
    snap = run.snapshot()
    if in_fragment_rerun() and controls_are_stale(session, snap):
        st.rerun(scope="app")  # the phase moved on: redraw the buttons and the sidebar with it
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
    st.progress(snap.progress, text=progress_line(snap))  # with the time left, from the mean epoch so far
    if not snap.is_active and snap.epochs_done:
        per_epoch = sum(e.seconds for e in snap.epochs) / snap.epochs_done
        st.caption(f"Trained {snap.epochs_done} epoch(s) in {snap.elapsed_seconds:.1f} s of training time "
                   f"({per_epoch:.2f} s per epoch, validation included).")
    metric_tiles(snap)
    if snap.step == 0 and snap.diverged is None:
        st.caption("The charts appear with the first batch.")
        return []
    bpe = max(snap.batches_per_epoch, 1)
    gone = snap.diverged
    loss = _cached(session, "loss", (snap.run_id, snap.step, snap.lr_changes, gone),
                   lambda: batch_loss_figure(snap.batch_losses, bpe, lr_changes=snap.lr_changes,
                                             max_points=LIVE_POINTS, diverged=gone))
    epochs = _cached(session, "epochs", (snap.run_id, snap.epochs_done, snap.epochs_planned, gone),
                     lambda: epoch_metrics_figure(epochs_frame(snap.epochs), snap.epochs_planned, diverged=gone,
                                                  batches_per_epoch=bpe))
    # The learning rate moves slowly (schedules) or jumps (your changes): a redraw per 1% of the run will do.
    lr_key = (snap.run_id, snap.step * 100 // max(bpe * snap.epochs_planned, 1), snap.lr_changes,
              snap.is_active, gone)
    lr = _cached(session, "lr", lr_key,
                 lambda: lr_figure(snap.batch_lrs, bpe, lr_changes=snap.lr_changes, max_points=LIVE_POINTS,
                                   diverged=gone))
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
def model_file(view: ModelView) -> bytes:
    """The model as a .npz file (no pickle) with its history, W_1 snapshots (for Inspect) and timeline."""
    from nn.serialize import save_model

    meta: dict[str, Any] = dict(view.meta)
    if view.history is not None and len(view.history) and "val_acc" in view.history:
        meta["val_accuracy"] = float(view.history["val_acc"].iloc[-1])
    history = view.history.to_dict("records") if view.history is not None and len(view.history) else None
    buffer = io.BytesIO()
    save_model(buffer, view.model, meta, history=history, snapshots=view.snapshots, timeline=view.timeline)
    return buffer.getvalue()


def model_file_name(view: ModelView) -> str:
    return f"mnist-mlp-{'-'.join(map(str, view.model.config.hidden)) or 'softmax'}-{view.version.replace(':', '-')}.npz"


def download_and_upload(session: SessionData) -> None:
    c1, c2 = st.columns(2)
    with c1:
        drawn = session.controls_drawn  # with the buttons above: the same phase, the same answer
        view = current_model() if drawn is not None and drawn[1].download else None
        if view is not None:
            # Made when clicked, not kept per session: with the timeline a file holds tens of MB.
            st.download_button("Download model (.npz)", data=lambda: model_file(view), file_name=model_file_name(view),
                               mime="application/octet-stream",
                               key="btn_download", icon=":material/download:",
                               help="Weights and settings as a NumPy .npz file (no pickle); upload it here later.")
        else:
            st.button("Download model (.npz)", disabled=True, key="btn_download_off", icon=":material/download:",
                      help="Available once a model exists and training is paused or finished.")
    with c2:
        upload = st.file_uploader("Upload a saved model (.npz)", type=["npz"], key=uploader_key("upload_model"),
                                  on_change=_upload_changed, args=(session,),
                                  help="A file saved by this app or `python -m nn train`; it is checked first.")
        handle_upload(session, upload)


def _upload_changed(session: SessionData) -> None:
    """The uploader's callback: Streamlit runs it before the script, so the status, the buttons and the
    sidebar are drawn with the new model in place, not one interaction late."""
    _read_upload_once(session, st.session_state.get(uploader_key("upload_model")))


def _read_upload_once(session: SessionData, upload: Any) -> bool:
    """Load ``upload`` and drop it (dashboard/uploads.py: its bytes leave the server, the widget comes
    back empty); the one-line result stays. True when a file was read."""
    if upload is None:
        return False
    session.upload_message = _load_upload(session, upload)
    drop_upload("upload_model", upload)
    return True


def handle_upload(session: SessionData, upload: Any) -> None:
    """Validate and load an uploaded model once (normally the callback already did), then drop the file;
    a bad file changes nothing. The result stays on the page as one line: a refusal until the next
    upload, a success while the uploaded model is the current one."""
    if _read_upload_once(session, upload):
        st.rerun()
    kind, text = session.upload_message or ("info", "")
    if kind == "success" and session.uploaded is None:
        return
    if text:
        {"error": st.error, "success": st.success, "warning": st.warning}.get(kind, st.info)(text)


def _load_upload(session: SessionData, upload: Any) -> tuple[str, str]:
    from dashboard.runs import add_upload
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
    accuracies = accuracy_summary(meta)
    view.meta["summary"] = " → ".join(map(str, config.layer_sizes)) + (f", {accuracies}" if accuracies else "")
    set_run(session, None)
    session.uploaded = view
    add_upload(session, model, meta, view.version, upload.name)  # the Runs page keeps it beside the trained runs
    return "success", f"Loaded {upload.name}: layers {view.meta['summary']}."

