"""The class on this server: its store (once per process), this tab's student (kept across reloads by a random
token in the address, lab/class_identity.py), recording runs, the teacher's key, and the teacher's broadcast
and pause as every page sees them (the sidebar).

A store that cannot be opened (corrupt, locked, unwritable) turns the class features off with one line on
the Class page; training and every other page go on as without a class.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from lab.class_auth import KeyCheck, KeyGuard
from lab.class_identity import QUERY_KEY, looks_like_token, new_token, token_hash
from lab.class_names import made_up_name
from lab.class_record import RunOwner, record_end, record_start
from lab.class_settings import class_enabled, models_path, store_path, teacher_key_from_env
from lab.class_store import CachedSettings, ClassStore, ClassStoreError
from lab.limiter import get_limiter
from lab.params import knobs_from_query
from lab.run_hooks import add_end_hook

CLASS_PAGE = "app_pages/classroom.py"
_MEMBER_KEY = "_class_member"
_TEACHER_KEY = "_class_teacher"
BROADCAST_TICK_S = 5.0  # how often a page looks for the teacher's broadcast


@dataclass
class ClassState:
    """This process's view of the class."""

    enabled: bool
    guard: KeyGuard
    store: ClassStore | None = None
    error: str | None = None  # why the store could not be opened
    settings: CachedSettings | None = None

    @property
    def ready(self) -> bool:
        return self.store is not None


def _teacher_key() -> str | None:
    key = teacher_key_from_env()
    if key is None:
        try:
            key = st.secrets.get("class_key")
        except Exception:  # noqa: BLE001 (no secrets file is the usual case)
            key = None
    return str(key) if key else None


@st.cache_resource(show_spinner=False)
def class_state() -> ClassState:
    """The class (or its absence) for this server process; opens the store and installs the hooks once."""
    state = ClassState(enabled=class_enabled(), guard=KeyGuard(_teacher_key()))
    if not state.enabled:
        return state
    try:
        state.store = ClassStore(store_path())
        settings = CachedSettings(ClassStore(store_path(), timeout_s=0.5))
    except ClassStoreError as exc:
        state.error = str(exc)
        return state
    state.settings = settings
    add_end_hook(record_end)
    get_limiter().hold = lambda: bool(settings.get().get("paused"))
    return state


def member(state: ClassState) -> tuple[str, str]:
    """(id, display name) of this tab's student: the one its link's token names, else a new one with a made-up
    name, whose token goes into the address so a reload stays the same student."""
    found = st.session_state.get(_MEMBER_KEY) or _from_link(state)
    if found is None:
        token = new_token(_teacher_key())
        found = (uuid.uuid4().hex, made_up_name(np.random.default_rng()), token)
        state.store.join(*found[:2])
        state.store.add_token(token_hash(token), found[0])
    st.session_state[_MEMBER_KEY] = found
    _show_token(found[2])
    return found[0], found[1]


def _from_link(state: ClassState) -> tuple[str, str, str] | None:
    """The student the address's token names (a made-up or unknown token names nobody)."""
    token = st.query_params.get(QUERY_KEY)
    if not looks_like_token(token):
        return None
    known = state.store.member_by_token(token_hash(token))
    return (*known, token) if known is not None else None


def _show_token(token: str) -> None:
    if st.query_params.get(QUERY_KEY) != token:
        st.query_params[QUERY_KEY] = token


def keep_identity() -> None:
    """On every page (app.py): a student's tab keeps its token in the address, which a page switch may drop;
    a new tab whose link holds a known token becomes that student. A made-up or unknown token is removed:
    the tab is nobody until it joins (the Class page, or Start), then it gets a fresh student and token."""
    state = class_state()
    if not state.ready:
        return
    try:
        if st.session_state.get(_MEMBER_KEY) is not None:
            member(state)
        elif QUERY_KEY in st.query_params:
            found = _from_link(state)
            if found is None:
                del st.query_params[QUERY_KEY]
            else:
                st.session_state[_MEMBER_KEY] = found
    except ClassStoreError:
        pass  # the Class page says what is wrong with the store


def rename(state: ClassState, name: str) -> None:
    """Change this tab's own name (the only name a tab can change)."""
    member_id, _ = member(state)
    state.store.join(member_id, name)
    st.session_state[_MEMBER_KEY] = (member_id, name, st.session_state[_MEMBER_KEY][2])


def claim_run(run: Any) -> None:
    """Tag a new run with this tab's student and record its start (nothing when there is no class)."""
    state = class_state()
    if not state.ready:
        return
    from dashboard.data import dataset_name, get_dataset

    try:
        member_id, _ = member(state)
        dataset = get_dataset()
        run.owner = RunOwner(member_id, dataset_name(), state.store, dataset.x_test, dataset.y_test,
                             models=models_path())
        record_start(run)
    except ClassStoreError:
        pass  # the run trains anyway; the Class page says what is wrong with the store


def is_teacher() -> bool:
    return st.session_state.get(_TEACHER_KEY) is True


def unlock(state: ClassState, attempt: str) -> KeyCheck:
    """Check a teacher key typed in this tab (rate-limited per tab and per server)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    result = state.guard.check(attempt, ctx.session_id if ctx is not None else "?")
    if result.ok:
        st.session_state[_TEACHER_KEY] = True
    return result


def set_setting(state: ClassState, key: str, value: Any) -> None:
    state.store.set_setting(key, value)
    state.settings.forget()


# ----- what every page shows ------------------------------------------------------------------------
def class_sidebar(session: Any) -> None:
    """The teacher's broadcast and a paused queue, in the sidebar of every page (only when a class runs)."""
    state = class_state()
    if state.ready:
        with st.sidebar:
            st.fragment(run_every=BROADCAST_TICK_S)(_sidebar_body)(state, session)


def _sidebar_body(state: ClassState, session: Any) -> None:
    settings = state.settings.get()
    if settings.get("paused"):
        st.caption(":material/pause_circle: The teacher paused the class: new runs wait to start.")
    message = settings.get("broadcast")
    if not isinstance(message, dict) or not message.get("text"):
        return
    with st.container(border=True, key="class_broadcast"):
        st.caption(":material/campaign: From the teacher")
        st.text(str(message["text"])[:500])
        kind, target = message.get("kind"), message.get("target")
        if kind in ("lesson", "settings") and st.button(
                "Open the lesson" if kind == "lesson" else "Load these settings", key="btn_broadcast_open",
                help="Go where the teacher's message points (your own run and settings stay yours until you start)."):
            _follow(kind, target, session)


def _follow(kind: str, target: Any, session: Any) -> None:
    from dashboard import lessons_view as lv
    from dashboard.params import open_train_with

    if kind == "lesson":
        all_lessons, _ = lv.lessons()
        lv.progress(all_lessons).current = str(target)
        st.session_state.pop("lesson_pick", None)
        st.switch_page(lv.PAGE_PATHS["lessons"])
    elif isinstance(target, dict):
        knobs, _ = knobs_from_query(target)
        open_train_with(session, knobs)
