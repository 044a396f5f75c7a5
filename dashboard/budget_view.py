"""The server's time budget per run, for this visitor: decided from where they connect, shown before Start."""

from __future__ import annotations

import streamlit as st

from lab.budget import RunBudget, is_remote, run_budget


def visitor_budget() -> RunBudget:
    """The budget for runs this visitor starts (lab/budget.py; a browser on the server itself is local)."""
    return run_budget(remote_visitor=is_remote(st.context.ip_address))  # AppTest's mock address is no str: local


def budget_note() -> None:
    """One line under the run controls when this server limits a run's training time (and a bad setting, if any)."""
    budget = visitor_budget()
    if budget.max_seconds is not None:
        st.caption(f":material/timer: {budget.describe()}")
    if budget.notice:
        st.caption(f":material/settings: {budget.notice}")
