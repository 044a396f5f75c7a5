"""Evaluate and Inspect while a run trains: a note that ticks with the run and a button to the newest weights.

The pages compute everything (test-set predictions, PCA, ...) for one copy of the weights; redoing that at
every epoch's end would take the CPU from the training, so the learner decides when to move on.
"""

from __future__ import annotations

import streamlit as st

from dashboard.session import ModelView, get_session
from dashboard.timeline import follow_newest

TICK_S = 2.0  # how often the note looks for a newer copy of the weights


def live_weights_note(view: ModelView) -> None:
    """Under the page's "Showing ..." line: during a run, whether newer weights exist, and a button to them."""
    if view.source != "training":
        return
    st.fragment(run_every=TICK_S)(_note)(view.version)


def _note(shown_version: str) -> None:
    run = get_session().run
    if run is None:
        return
    _, version, weights_at = run.described_model_copy()
    if version == shown_version:
        st.caption(":material/update: These are the newest weights; the run copies them again at the end of "
                   "each epoch.")
        return
    row = st.container(horizontal=True, vertical_alignment="center", gap="small")
    row.caption(f":material/update: Newer weights are ready: {weights_at}.")
    if row.button("Show the newest weights", key="refresh_weights", icon=":material/refresh:",
                  help="Recompute this page for the run's latest copy of the weights."):
        follow_newest()  # also when the epoch slider had been moved back
        st.rerun(scope="app")
