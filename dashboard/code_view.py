"""Show a textbook function's source beside what it computes, read from the file at run time (lab/code.py)."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lab.code import listing


def code_expander(obj: Any, what: str, *, marker: str | None = None, expanded: bool = False) -> None:
    """An expander with ``obj``'s source; ``marker`` picks a line to point at."""
    shown = listing(obj)
    with st.expander(f"The code that computes {what}: `{shown.name}` ({shown.where})", expanded=expanded):
        st.code(shown.marked(marker, "# <--") if marker else shown.text, language="python")
