"""Entrypoint: `streamlit run app.py`. Sets up the session, the navigation and the sidebar run status."""

# Imported here, before any page: with fast reruns a page switch can start a new script run while the
# previous one is still importing these, which otherwise fails intermittently with a half-imported module.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import streamlit as st

from dashboard.classroom import class_sidebar, keep_identity
from dashboard.data import dataset_now, use_dataset_labels
from dashboard.params import read_query_once
from dashboard.session import get_session
from dashboard.timing import timed_run
from dashboard.widgets import sidebar_status
from lab.class_settings import class_enabled
from lab.reclaim import fix_malloc_thresholds
from lab.threads import limit_blas_threads

st.set_page_config(page_title="MNIST from scratch", page_icon=":material/draw:", layout="wide")
limit_blas_threads()
fix_malloc_thresholds()  # a finished run's freed arrays go back to the OS (lab/reclaim.py)
use_dataset_labels()  # before the navigation: the Draw page's title follows the dataset

navigation = st.navigation({
    "Start": [st.Page("app_pages/home.py", title="Home", icon=":material/home:", default=True),
              st.Page("app_pages/data.py", title="Data", icon=":material/grid_view:")],
    "Learn": [st.Page("app_pages/lessons.py", title="Lessons", icon=":material/school:"),
              st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
              st.Page("app_pages/runs.py", title="Runs", icon=":material/stacked_line_chart:"),
              st.Page("app_pages/step.py", title="Step through", icon=":material/footprint:"),
              *([st.Page("app_pages/classroom.py", title="Class", icon=":material/groups:")] if class_enabled() else [])],
    "Look inside": [st.Page("app_pages/evaluate.py", title="Evaluate", icon=":material/fact_check:"),
                    st.Page("app_pages/inspect.py", title="Inspect", icon=":material/biotech:"),
                    st.Page("app_pages/draw.py", title=dataset_now().draw_title, icon=":material/draw:")],
})

session = get_session()
read_query_once(session)
keep_identity()
sidebar_status()
class_sidebar(session)
with timed_run(navigation.url_path or "home"):  # only when MNIST_TIMING_LOG is set (bench/class_load.py)
    navigation.run()
