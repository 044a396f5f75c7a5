"""The Train page's dataset choice: MNIST digits (default) or Fashion-MNIST clothes, kept in the session and URL.

Changing it forgets the current model (it was trained on the other dataset), so every page's labels and
test set always match the model shown. A dataset that is not installed says how to install it.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from dashboard.data import CHOICE_KEY, dataset_name, load_other
from dashboard.session import SessionData, set_run
from lab.datasets import DATASETS, DEFAULT
from nn.data.fashion import FASHION_DIR, FASHION_ENV
from nn.data.sources import IDX_FILES

DATASET_MESSAGE_KEY = "_dataset_message"  # what the Train page says about the last change


def installed(name: str) -> bool:
    """Whether the dataset's files are there (cheap: no reading); MNIST is fetched by the app itself."""
    if name == DEFAULT:
        return True
    folder = Path(os.environ.get(FASHION_ENV) or FASHION_DIR)
    return all((folder / (f + ".gz")).is_file() for f in IDX_FILES.values())


def use_dataset(session: SessionData, pick: str) -> bool:
    """Make ``pick`` the session's dataset (the Train page's choice, or a lesson's setup), putting away a model
    trained on the other one; False when it cannot be loaded (the Train page then says how to install it)."""
    current = dataset_name()
    if pick == current:
        return True
    if pick != DEFAULT:
        _, error = load_other(pick)
        if error is not None:
            st.session_state[DATASET_MESSAGE_KEY] = ("error", error)
            return False
    st.session_state[CHOICE_KEY] = pick
    had_model = session.run is not None or session.uploaded is not None
    set_run(session, None)
    session.uploaded = None
    if had_model:
        st.session_state[DATASET_MESSAGE_KEY] = ("info", f"Now on {DATASETS[pick].title}: the model trained on "
                                                  f"{DATASETS[current].title} was put away. Press Start to train one.")
    return True


def _on_pick(session: SessionData) -> None:
    use_dataset(session, st.session_state["dataset_pick"])


def dataset_selector(session: SessionData) -> None:
    """The choice, its message (install hint, or what changed), and the URL's ``data`` value."""
    names = list(DATASETS)
    st.session_state["dataset_pick"] = dataset_name()
    st.selectbox("Dataset", names, key="dataset_pick", on_change=_on_pick, args=(session,),
                 format_func=lambda n: DATASETS[n].title + ("" if installed(n) else " (not installed)"),
                 help="What to train on: MNIST's handwritten digits, or Fashion-MNIST's photos of clothes (same "
                      "size, harder). Every page's labels follow.")
    message = st.session_state.pop(DATASET_MESSAGE_KEY, None)
    if message is not None:
        (st.error if message[0] == "error" else st.info)(message[1])
    elif not all(installed(n) for n in names):
        missing = [n for n in names if not installed(n)]
        st.caption(" ".join(DATASETS[n].install for n in missing))
    if dataset_name() == DEFAULT:
        if "data" in st.query_params:
            del st.query_params["data"]
    elif st.query_params.get("data") != dataset_name():
        st.query_params["data"] = dataset_name()
