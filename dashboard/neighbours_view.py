"""Which training digits a test or drawn digit looks like, in pixels and in each hidden layer (lab/neighbours.py)."""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard import why
from dashboard.data import get_dataset
from dashboard.session import ModelView
from dashboard.timeline import nearby
from figures.neighbours import neighbours_figure
from lab.labels import noun


@st.fragment  # the slider reruns this section only
def neighbours_section(view: ModelView, x: np.ndarray, what: str, *, key: str) -> None:
    """The k nearest training digits of ``x`` (784,) in [0, 1] in every space; ``what`` names the digit."""
    st.header(f"Which training {noun(plural=True)} it looks like")
    st.caption(f"The training {noun(plural=True)} nearest to {what}: first by their pixels, then by what each hidden layer "
               "makes of them (cosine similarity of the activations: 1 is the same pattern). Early on, neighbours "
               "share strokes; in the last hidden layer they share the network's answer.")
    k = st.columns(4)[0].slider("How many neighbours", 4, 16, 8, key=f"{key}_k",
                                help=f"Training {noun(plural=True)} shown per space, nearest first.")
    lookup = why.neighbours(view, x, int(k), where=key)
    images = get_dataset().x_train
    for j, found in enumerate(lookup.found):
        st.plotly_chart(neighbours_figure(found, images[found.indices]), key=f"{key}_nn_{j}", width="stretch")
    st.caption(f"Under each {noun()}: its label and cosine similarity. Every search is exact: all {lookup.n_digits:,} "
               f"training {noun(plural=True)} are compared. {lookup.cost} Pixel space reads the training images every "
               "session already shares.")
    # The same digit as last time: the user is moving along the timeline (not drawing), so the slider's next
    # step will want the neighbours at the points around this one. Searched now, in the background.
    shown = f"_{key}_nn_digit"
    digit = why.digit_key(x)
    if st.session_state.get(shown) == digit:
        why.look_ahead(nearby(view), x, int(k))
    st.session_state[shown] = digit
