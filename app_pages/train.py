"""Train: set the knobs, press Start, watch it learn (controls left, live charts right)."""

import streamlit as st

from dashboard import knobs as kn
from dashboard import lr_range_view
from dashboard.budget_view import budget_note
from dashboard.data import get_dataset
from dashboard.dataset_choice import dataset_selector
from dashboard.params import write_query
from dashboard.run_buttons import controls
from dashboard.session import get_session
from dashboard.train_view import download_and_upload, live_panel, model_summary
from lab.params import knobs_to_config, presets

session = get_session()
st.title("Train a network")
st.caption("Pick a preset or set every knob yourself, press **Start**, and watch it learn. Training runs in the "
           "background: switch pages freely. The link in your address bar restores these settings.")
dataset = get_dataset()

left, right = st.columns([1, 2.3], gap="medium")
with left:
    st.subheader("Settings")
    dataset_selector(session)
    named = presets()
    for col, (name, preset) in zip(st.columns(len(named)), named.items()):
        col.button(name.capitalize(), key=f"preset_{name}", on_click=kn.apply_preset, args=(preset,),
                   width="stretch", help=kn.PRESET_HELP.get(name, f"Load the {name} preset."))
    knobs = kn.knob_widgets(session.knobs)
    session.knobs = knobs
    write_query(knobs)
    try:
        config = knobs_to_config(knobs)
    except ValueError as exc:
        st.error(f"These settings do not fit together: {exc}")
        config = None
    with st.container(border=True):
        fits = config is not None and model_summary(config)
    st.button("Reset settings to the defaults", key="btn_reset_knobs", on_click=kn.reset_knobs,
              icon=":material/settings_backup_restore:", help="Back to the default preset's settings.")
    lr_range_view.panel(config if fits else None, dataset.x_train, dataset.y_train)

with right:
    # What comes and goes above the live charts sits in one container, so the charts keep their place in
    # the column: moved, they would be mounted afresh (a second of blank charts when a run ends).
    with st.container():
        controls(session, config if fits else None, dataset.x_train, dataset.y_train)
        budget_note()
        if session.run is not None and session.run.is_active and config is not None and config != session.run.config:
            st.caption(":material/info: Changed settings apply to the next run (press Start after this one ends).")
    live_panel(session)
    st.divider()
    download_and_upload(session)
