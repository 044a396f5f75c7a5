"""The knobs in this session's URL: read once when the session starts, written back when they change.

The conversions (knobs <-> config <-> query values, with every hostile value refused) are in lab/params.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from lab.params import SPECS, knobs_from_query, knobs_to_query


def read_query_once(session: Any) -> None:
    """On a session's first run, take the knobs from the URL; show (once) what had to be ignored."""
    if not session.params_read:
        session.params_read = True
        session.knobs, session.notices = knobs_from_query(st.query_params.to_dict())
    for notice in session.notices:
        st.warning(notice, icon=":material/link_off:")
    session.notices = []


def write_query(knobs: Mapping[str, Any]) -> None:
    """Reflect the knobs in the URL (only if they changed, to keep reruns cheap)."""
    wanted = knobs_to_query(knobs)
    current = {k: v for k, v in st.query_params.to_dict().items() if k in SPECS}
    if current != wanted:
        for key in set(current) - set(wanted):
            del st.query_params[key]
        st.query_params.update(wanted)


def open_train_with(session: Any, knobs: Mapping[str, Any]) -> None:
    """Put ``knobs`` on the Train page (its widgets reseed from them) and go there, the URL showing them."""
    session.knobs = dict(knobs)
    for key in [k for k in st.session_state if str(k).startswith("k_")]:
        del st.session_state[key]
    st.switch_page("app_pages/train.py", query_params=knobs_to_query(knobs))
