"""What the user picked on Evaluate and Inspect, kept in ``st.session_state`` so clicks and boxes agree.

A click on a chart and the number box or selectbox next to it name the same thing (a confusion cell,
a unit, a test digit). Each pick lives under one durable key; the boxes are synced from it before
they are drawn, and their callbacks write back to it. The Evaluate page hands a digit to Inspect
through ``INSPECT_DIGIT``.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from dashboard.explain import new_selection
from dashboard.sections import open_section
from lab.page_sections import SECTION_PARAMETERS
from lab.selection import selected_customdata

INSPECT_DIGIT = "inspect_digit"  # the test digit Inspect follows through the network
INSPECT_UNIT = "inspect_unit"  # the first-layer unit Inspect shows large
INSPECT_SECTION = SECTION_PARAMETERS["inspect"]  # Inspect's open section (a tab), also its URL parameter
THROUGH_THE_LAYERS = "Through the layers"  # the section that follows one digit


def confusion_cell(pairs: list[tuple[int, int, int]], chart_key: str = "ev_cm") -> tuple[int, int]:
    """The (true, predicted) cell to show: the most confused pair at first, then the last click or pick."""
    if "ev_true" not in st.session_state:
        first = pairs[0] if pairs else (0, 0, 0)
        st.session_state["ev_true"], st.session_state["ev_pred"] = first[0], first[1]
    clicked = new_selection(chart_key)
    if clicked and isinstance(clicked[0], (list, tuple)):
        st.session_state["ev_true"], st.session_state["ev_pred"] = int(clicked[0][0]), int(clicked[0][1])
    return st.session_state["ev_true"], st.session_state["ev_pred"]


def clicked_digit(chart_key: str) -> int | None:
    """The test index of the digit clicked in a chart (its customdata), or None."""
    chosen = selected_customdata(st.session_state.get(chart_key))
    return int(chosen[0]) if chosen else None


def open_in_inspect(index: int) -> None:
    """Make ``index`` the digit the Inspect page opens."""
    st.session_state[INSPECT_DIGIT] = int(index)


def follow_digit(index: int) -> None:
    """Callback: follow ``index`` through the network, in the Inspect section that does."""
    open_in_inspect(index)
    open_section(INSPECT_SECTION, THROUGH_THE_LAYERS)


def unit(default: int, chart_key: str = "in_filters", box_key: str = "in_unit_box") -> int:
    """The unit to show (first visit: ``default``; then a click on the filter grid, or its box), box synced."""
    if INSPECT_UNIT not in st.session_state:
        st.session_state[INSPECT_UNIT] = int(default)
    clicked = new_selection(chart_key)
    if clicked:
        st.session_state[INSPECT_UNIT] = int(clicked[0])
    st.session_state[box_key] = st.session_state[INSPECT_UNIT]
    return int(st.session_state[INSPECT_UNIT])


def pick_unit(box_key: str = "in_unit_box") -> None:
    """Callback of the unit's number box."""
    st.session_state[INSPECT_UNIT] = int(st.session_state[box_key])


def digit(n_test: int, default: int, box_key: str = "in_digit_box") -> int:
    """The digit to follow (``default`` on a first visit or when it is not in this test set); syncs its box."""
    if not 0 <= st.session_state.get(INSPECT_DIGIT, -1) < n_test:
        st.session_state[INSPECT_DIGIT] = int(default)
    st.session_state[box_key] = int(st.session_state[INSPECT_DIGIT])
    return int(st.session_state[INSPECT_DIGIT])


def pick_digit(key: str) -> None:
    """Callback of a box or selectbox that names a test digit (None: nothing chosen)."""
    if st.session_state[key] is not None:
        open_in_inspect(st.session_state[key])


def random_digit(n_test: int) -> None:
    """Callback of "Random digit"."""
    open_in_inspect(np.random.default_rng().integers(n_test))
