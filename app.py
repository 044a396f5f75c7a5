"""Entrypoint: `streamlit run app.py`. Sets up the session, the navigation and the sidebar run status."""

from pathlib import Path

# Imported here, before any page: with fast reruns a page switch can start a new script run while the
# previous one is still importing these, which otherwise fails intermittently with a half-imported module.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import streamlit as st

from dashboard.params import read_query_once
from dashboard.session import get_session
from dashboard.widgets import sidebar_status

ROOT = Path(__file__).resolve().parent

st.set_page_config(page_title="MNIST from scratch", page_icon=":material/draw:", layout="wide")


def _page(path: str, title: str, icon: str, **kwargs) -> st.Page | None:
    """A page, or None while its file does not exist yet (pages plug in as they are written)."""
    return st.Page(path, title=title, icon=icon, **kwargs) if (ROOT / path).exists() else None


sections = {
    "Start": [_page("pages/home.py", "Home", ":material/home:", default=True),
              _page("pages/data.py", "Data", ":material/grid_view:")],
    "Learn": [_page("pages/train.py", "Train", ":material/model_training:")],
    "Look inside": [_page("pages/evaluate.py", "Evaluate", ":material/fact_check:"),
                    _page("pages/inspect.py", "Inspect", ":material/biotech:"),
                    _page("pages/draw.py", "Draw a digit", ":material/draw:")],
}
navigation = st.navigation({name: [p for p in pages if p] for name, pages in sections.items()
                            if any(pages)})

session = get_session()
read_query_once(session)
sidebar_status(page_shows_run=navigation.url_path == "train")
navigation.run()
