"""Runs: every run of this session side by side (table, curves), and any of them made current or downloaded."""

import streamlit as st

from dashboard import compare_view, runs
from dashboard.session import TRAIN_PAGE, get_session

st.title("Runs")
st.caption("Every run of this session, finished, stopped or diverged, and every model you uploaded: compare "
           "their settings and scores, overlay their curves, and pick the one Evaluate, Inspect and Draw show.")

session = get_session()
records = runs.kept_records(session)
if session.book_notice:
    st.info(session.book_notice, icon=":material/inventory_2:")
    session.book_notice = ""
runs.live_runs_notice(session)
if not records:
    st.info("No finished run yet: train one on the Train page (the quick preset takes seconds).",
            icon=":material/model_training:")
    st.page_link(TRAIN_PAGE, label="Go to Train", icon=":material/arrow_forward:")
    st.stop()

st.header("All runs")
runs.runs_table_panel(session, records)
runs.run_actions(session, records)

st.header("Curves side by side")
runs.overlay_panel(records)

st.header("Run again with one change")
st.caption("A paired run: the same seed, split, batch order and augmentation as the run it repeats, one setting "
           "changed, so the difference between the two is that setting's doing.")
compare_view.again_panel(session, records)

st.header("Compare two runs")
compare_view.compare_panel(records)
