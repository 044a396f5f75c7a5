"""Entrypoint: `streamlit run app.py`. Sets up the session, the navigation and the sidebar run status."""

# Imported here, before any page: with fast reruns a page switch can start a new script run while the
# previous one is still importing these, which otherwise fails intermittently with a half-imported module.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import streamlit as st

from dashboard.params import read_query_once
from dashboard.session import get_session
from dashboard.timing import timed_run
from dashboard.widgets import sidebar_status
from lab.reclaim import fix_malloc_thresholds
from lab.threads import limit_blas_threads

st.set_page_config(page_title="MNIST from scratch", page_icon=":material/draw:", layout="wide")
limit_blas_threads()
fix_malloc_thresholds()  # a finished run's freed arrays go back to the OS (lab/reclaim.py)

navigation = st.navigation({
    "Start": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
              st.Page("app_pages/data.py", title="Data", icon=":material/grid_view:")],
    "Learn": [st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
              st.Page("app_pages/step.py", title="Step through", icon=":material/footprint:")],
    "Look inside": [st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
                    st.Page("app_pages/inspect.py", title="Inspect", icon=":material/biotech:"),
                    st.Page("app_pages/draw.py", title="Draw a digit", icon=":material/draw:")],
})

session = get_session()
read_query_once(session)
sidebar_status(page_shows_run=navigation.url_path == "train")
with timed_run(navigation.url_path or "home"):  # only when MNIST_TIMING_LOG is set (bench/class_load.py)
    navigation.run()
