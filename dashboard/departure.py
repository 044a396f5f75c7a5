"""When a browser tab leaves: free everything its session owns once it has been gone for the grace period.

Streamlit keeps a closed tab's session for reconnects and drops it only when another visitor disconnects
after its TTL, and the Python objects in it then wait for a full garbage collection. So a
session-scoped cache holds a ``_TabGuard``; its ``on_release`` (Streamlit calls it when the tab's
connection closes) hands the guard to the reaper (lab/reaper.py), which calls ``release()`` after the
grace period unless the tab came back: the run is stopped and released (trainer, engine, model copies),
the uploaded model and cached views dropped, and Streamlit's own session closed (its state, uploaded
files, fragments). A tab that comes back later starts afresh; its settings are in its URL.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from lab.reaper import watch
from lab.runs import RunBook

if TYPE_CHECKING:
    from dashboard.session import SessionData


class _TabGuard:
    """One session's departure record: its data, its Streamlit session id, the server's event loop."""

    def __init__(self, data: SessionData) -> None:
        self.data = data
        ctx = get_script_run_ctx()
        self.session_id = ctx.session_id if ctx is not None else None
        self.loop: asyncio.AbstractEventLoop | None = None  # seen when the tab disconnects

    @property
    def left_at(self) -> float | None:
        return self.data.left_at

    def release(self) -> None:
        """Free what the departed session holds (reaper thread; the tab has not come back)."""
        data = self.data
        if data.left_at is None or self._reconnected():
            return
        run, data.run = data.run, None
        if run is not None:
            run.stop()
            run.join(timeout=5.0)
            run.release()
        data.uploaded = None
        data.book = RunBook(data.book.limit, data.book.memory_limit)  # its kept runs hold models and timelines
        data.current = None
        data.drop_caches()
        if self.loop is not None and self.session_id is not None:
            _close_session(self.loop, self.session_id)


    def _reconnected(self) -> bool:
        """True when Streamlit has this session connected again (a reconnect that ran no script yet)."""
        if self.loop is None or self.session_id is None:
            return False
        from streamlit.runtime import Runtime

        return Runtime.exists() and Runtime.instance().is_active_session(self.session_id)


def _close_session(loop: asyncio.AbstractEventLoop, session_id: str, timeout: float = 5.0) -> None:
    """Have Streamlit shut the session down for good, on its event loop as it requires; wait for that."""
    from streamlit.runtime import Runtime

    done = threading.Event()

    def close_if_still_gone() -> None:
        try:
            runtime = Runtime.instance()
            if not runtime.is_active_session(session_id):  # it may have reconnected meanwhile
                runtime.close_session(session_id)
        finally:
            done.set()

    try:
        loop.call_soon_threadsafe(close_if_still_gone)
    except RuntimeError:  # the loop is closed: the server is shutting down, its sessions with it
        return
    done.wait(timeout)


def _on_tab_gone(guard: _TabGuard) -> None:
    data = guard.data
    data.left_at = time.monotonic()
    data.drop_caches()  # cheap to rebuild if the tab reconnects
    if data.run is not None:
        data.run.tab_gone()  # the reaper stops it unless the tab reconnects within the grace period
    try:
        guard.loop = asyncio.get_running_loop()  # Streamlit's disconnect runs on its event loop
    except RuntimeError:  # a cache cleared by a script or a test: there is no session to close later
        guard.loop = None
    watch(guard)


@st.cache_resource(scope="session", on_release=_on_tab_gone, show_spinner=False)
def tab_guard(_data: SessionData) -> _TabGuard:
    """This session's guard (created on a first visit, and again when a tab reconnects)."""
    _data.left_at = None  # here (again): nothing to release
    return _TabGuard(_data)
