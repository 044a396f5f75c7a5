"""Uploads are read once, then dropped: a 150 MB file must not sit in the server's memory while it sits
in the upload widget.

Streamlit keeps an uploaded file's bytes for as long as the widget holds it (until the user removes it
or the session ends). So once a page has read an upload, ``drop_upload`` deletes the file from
Streamlit's store and moves the widget to a fresh key: the next run draws an empty uploader, and the
page shows the one-line result it kept.
"""

from __future__ import annotations

from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx


def uploader_key(base: str) -> str:
    """The key of the uploader called ``base`` now: ``base`` itself until its first upload was read."""
    generation = st.session_state.get(_generation(base), 0)
    return base if generation == 0 else f"{base}_{generation}"


def drop_upload(base: str, upload: Any) -> None:
    """Forget an upload that has been read: its bytes leave the server, the widget comes back empty.

    Call ``st.rerun()`` afterwards for the empty widget to show at once.
    """
    ctx = get_script_run_ctx()
    file_id = getattr(upload, "file_id", None)
    remove = getattr(getattr(ctx, "uploaded_file_mgr", None), "remove_file", None)  # not every store has it
    if ctx is not None and file_id and remove is not None:
        remove(session_id=ctx.session_id, file_id=file_id)
    st.session_state[_generation(base)] = st.session_state.get(_generation(base), 0) + 1


def _generation(base: str) -> str:
    return f"_{base}_generation"
