"""Open a section (a tab) of Evaluate, Inspect or Draw in an AppTest, as a click on its tab would."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

EVALUATE, INSPECT, DRAW = "ev_section", "in_section", "draw_section"  # the pages' tab keys (also URL parameters)
EVALUATE_SECTIONS = ("Confusion matrix", "Mistakes", "Confidence", "Per class")
INSPECT_SECTIONS = ("Filters", "Through the layers", "Weights and gradients", "Layer map", "Switch units off",
                    "Prototypes", "Nearest neighbours")
DRAW_SECTIONS = ("Why this answer", "Preprocessing", "First hidden layer", "Why not another", "Nearest neighbours")


def open_section(at: AppTest, key: str, name: str) -> AppTest:
    """Open the tab ``name`` of the page's sections (``key``) and rerun the page.

    AppTest cannot click a tab. The tabs are bound to the URL: the test sets the URL's parameter as a link
    would, and the state a click sets (a link naming the first tab is no change: its URL has no parameter).
    """
    at.query_params[key] = name
    at.session_state[key] = name
    return at.run()
