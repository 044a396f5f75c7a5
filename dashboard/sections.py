"""A page's sections as tabs, only the open one drawn, its name in the URL and remembered for the session.

Evaluate, Inspect and Draw each show a dozen charts. Drawn all at once, every step of the epoch slider had
chromium redraw every chart that changed (plotly draws a changed figure from scratch), 0.6-1.7 s a step;
with one section open, a step redraws the few charts in view (docs/PERFORMANCE.md). The open tab is bound
to the URL (``?in_section=Layer+map``), so a link opens a section, and kept under a durable key, so a page
opens where the learner left it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


@dataclass(frozen=True)
class OpenSection:
    name: str  # the open tab's label
    body: DeltaGenerator  # draw the section inside ``with section.body:``


def _remembered(key: str) -> str:
    return f"_{key}_open"


def page_sections(names: Sequence[str], key: str) -> OpenSection:
    """Tabs named ``names``; only the open one should be drawn (every tab's code runs otherwise)."""
    remembered = st.session_state.get(_remembered(key))
    if key not in st.session_state and key not in st.query_params and remembered in names:
        st.session_state[key] = remembered  # back on the page: the section it was left on
    tabs = st.tabs(list(names), key=key, bind="query-params", on_change="rerun")
    for name, tab in zip(names, tabs):
        if tab.open:
            st.session_state[_remembered(key)] = name
            return OpenSection(name, tab)
    return OpenSection(names[0], tabs[0])  # not reached: one tab is always open


def open_section(key: str, name: str) -> None:
    """Open a page's section from a callback (on that page) or before going to the page."""
    st.session_state[_remembered(key)] = name
    if key in st.session_state:
        st.session_state[key] = name
