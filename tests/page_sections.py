"""Open a section (a tab) of Evaluate, Inspect or Draw in an AppTest, as a click on its tab would."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from lab.page_sections import SECTION_PARAMETERS, SECTIONS

EVALUATE, INSPECT, DRAW = (SECTION_PARAMETERS[p] for p in ("evaluate", "inspect", "draw"))  # tab keys, URL parameters
EVALUATE_SECTIONS, INSPECT_SECTIONS, DRAW_SECTIONS = (SECTIONS[p] for p in ("evaluate", "inspect", "draw"))


def open_section(at: AppTest, key: str, name: str) -> AppTest:
    """Open the tab ``name`` of the page's sections (``key``) and rerun the page.

    AppTest cannot click a tab. The tabs are bound to the URL: the test sets the URL's parameter as a link
    would, and the state a click sets (a link naming the first tab is no change: its URL has no parameter).
    """
    at.query_params[key] = name
    at.session_state[key] = name
    return at.run()
