"""The Class page's blocks: your name, the live leaderboard (filtered by challenge), the teacher's controls.

Names are shown only as data in tables or plain text, never as Markdown, so a name cannot inject markup.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboard import classroom as cr
from lab.app_link import settings_from_link
from lab.class_board import KINDS, Challenge, board_frame, csv_bytes, make_challenge, settle, standings
from lab.class_names import MAX_NAME_CHARS, clean_name
from lab.class_record import snapshot_row
from lab.class_settings import models_path
from lab.class_share import DOWNLOADS, downloadable, downloads_allowed, file_name, shared_model_bytes
from lab.class_store import ClassStoreError, RunRow
from lab.reaper import live_runs

BOARD_TICK_S = 3.0
ALL_RUNS = "All runs"


def your_name(state: cr.ClassState) -> None:
    """This tab's display name, and a form to change it."""
    _, name = cr.member(state)
    st.text(f"You appear on the leaderboard as: {name}")
    with st.form("class_name_form", border=False):
        new = st.text_input("Your name", max_chars=MAX_NAME_CHARS, key="class_name_input",
                            help=f"What the class sees next to your runs (at most {MAX_NAME_CHARS} characters).")
        if st.form_submit_button("Change my name"):
            try:
                cr.rename(state, clean_name(new))
            except ValueError as exc:
                st.error(f"Name not changed: {exc}.")
            else:
                st.rerun()


def _live_rows() -> dict[str, RunRow]:
    """This process's class runs as they stand this instant."""
    out = {}
    for run in live_runs():
        owner = getattr(run, "owner", None)
        if owner is not None:
            out[run.run_id] = snapshot_row(run, owner, run.snapshot())
    return out


def current_rows(state: cr.ClassState) -> list[RunRow]:
    return settle(state.store.runs(), _live_rows())


def challenges(state: cr.ClassState) -> list[Challenge]:
    out = []
    for cid, kind, target in state.store.challenges():
        try:
            out.append(make_challenge(cid, kind, target))
        except ValueError:
            continue  # written by another version of the app: not shown
    return out


def leaderboard(state: cr.ClassState) -> None:
    """Every run on the server, or one challenge's standings; redraws itself every few seconds."""
    st.fragment(run_every=BOARD_TICK_S)(_board_body)(state)


def _board_body(state: cr.ClassState) -> None:
    try:
        rows, found = current_rows(state), challenges(state)
    except ClassStoreError as exc:
        st.error(f"The leaderboard cannot be read now: {exc}", icon=":material/database:")
        return
    titles = {c.title: c for c in found}
    pick = st.selectbox("Show", [ALL_RUNS, *titles], key="class_board_filter",
                        help="Every run on this server, or the runs that meet one of the teacher's challenges.")
    frame = board_frame(rows) if pick == ALL_RUNS else standings(rows, titles[pick])
    st.caption(f"{len(frame)} run(s) · updated {time.strftime('%H:%M:%S')} · every number measured by the server")
    st.dataframe(frame, hide_index=True, width="stretch", key="class_board")
    run_download(state, rows)
    if cr.is_teacher():
        st.download_button("Download as CSV", csv_bytes(frame), file_name="class-results.csv", mime="text/csv",
                           key="btn_class_csv", icon=":material/download:",
                           help="This table (all runs, or the challenge shown) for a spreadsheet.")


def _choice(row: RunRow, member_id: str) -> str:
    acc = f"test {row.test_acc:.2%}" if row.test_acc is not None else "no test accuracy"
    shape = "784-10" if row.hidden == "none" else f"784-{row.hidden}-10"
    return f"{'(yours) ' if row.member_id == member_id else ''}{row.name} · {shape} · {acc} · {row.run_id}"


def run_download(state: cr.ClassState, rows: list[RunRow]) -> None:
    """A finished run's model file: your own always, everyone's while the teacher allows it (the teacher's tab:
    always). The rule is checked again on the server when the button is pressed (the file is made then, not
    sent with the page)."""
    member_id, _ = cr.member(state)
    teacher = cr.is_teacher()  # this tab's session on the server, never what the browser says
    allowed = teacher or downloads_allowed(state.settings.get())
    found = {row.run_id: row for row in downloadable(rows, member_id, allowed, models_path())}
    st.caption("As the teacher you can download every finished run." if teacher else
               "The teacher allows downloading everyone's finished runs." if allowed else
               "You can download your own finished runs; the teacher can allow downloading everyone's.")
    if not found:
        return
    row = st.container(horizontal=True, vertical_alignment="bottom")
    pick = row.selectbox("Run to download", list(found), key="class_download_pick",
                         format_func=lambda run_id: _choice(found[run_id], member_id),
                         help="A finished run's weights and settings as a .npz file; upload it on the Train page.")
    if pick is not None:
        row.download_button("Download .npz", lambda: shared_model_bytes(state.store, models_path(), pick, member_id, teacher=teacher),
                            file_name=file_name(found[pick]), mime="application/octet-stream",
                            key="btn_class_download", icon=":material/download:", on_click="ignore",
                            help="The run's model file, if you may have it when you press the button.")


def teacher_panel(state: cr.ClassState, lesson_ids: dict[str, str]) -> None:
    """The key form; once unlocked, challenges, broadcast and the queue's pause."""
    if not cr.is_teacher():
        with st.form("class_key_form", border=False):
            key = st.text_input("Teacher key", type="password", key="class_key_input",
                                help="The key the server was started with; never put it in a link.")
            if st.form_submit_button("Unlock teacher controls"):
                result = cr.unlock(state, key)
                (st.success if result.ok else st.error)(result.message)
                if result.ok:
                    st.rerun()
        return
    try:
        _challenge_controls(state)
        _broadcast_controls(state, lesson_ids)
        _pause_control(state)
        _download_control(state)
    except ClassStoreError as exc:
        st.error(f"Not saved: {exc}", icon=":material/database:")


def _challenge_controls(state: cr.ClassState) -> None:
    st.subheader("Challenges")
    with st.form("class_challenge_form", border=False):
        kind = st.selectbox("Challenge", list(KINDS), key="class_challenge_kind", format_func=lambda k: KINDS[k].replace("{target:,.0f}", "N")
                            .replace("{pct}", "X%"), help="What the runs compete on; checked on the server's numbers.")
        target = st.number_input("Target (parameter limit, or accuracy to reach as 0-1)", value=20_000.0,
                                 min_value=0.0, key="class_challenge_target", help="N parameters at most, or the accuracy to reach, e.g. 0.98.")
        if st.form_submit_button("Set challenge"):
            try:
                made = make_challenge(0, kind, float(target))
            except ValueError as exc:
                st.error(f"Not set: {exc}.")
            else:
                state.store.add_challenge(made.kind, made.target)
                st.rerun()
    for challenge in challenges(state):
        cols = st.columns([4, 1])
        cols[0].text(challenge.title)
        if cols[1].button("Remove", key=f"btn_challenge_rm_{challenge.id}", help="Take this challenge away."):
            state.store.remove_challenge(challenge.id)
            st.rerun()


def _broadcast_controls(state: cr.ClassState, lesson_ids: dict[str, str]) -> None:
    st.subheader("Broadcast")
    with st.form("class_broadcast_form", border=False):
        text = st.text_input("Message", max_chars=300, key="class_broadcast_text", help="Shown in every student's sidebar.")
        lesson = st.selectbox("Point to a lesson", ["", *lesson_ids], key="class_broadcast_lesson", format_func=lambda i: lesson_ids.get(i, "(none)"),
                              help="Students get a button that opens this lesson.")
        link = st.text_input("...or to Train settings (paste the Train page's address)", key="class_broadcast_link",
                             help="Students get a button that loads these settings on their Train page.")
        if st.form_submit_button("Send to everyone"):
            try:
                kind, target = ("lesson", lesson) if lesson else (("settings", settings_from_link(link)) if link.strip()
                                                                  else ("none", None))
            except ValueError as exc:
                st.error(f"Not sent: {exc}.")
                return
            cr.set_setting(state, "broadcast", {"text": text.strip() or "(no message)", "kind": kind,
                                                "target": target, "at": time.time()})
            st.success("Sent.")
    if st.button("Clear the broadcast", key="btn_broadcast_clear", help="Remove the message from every sidebar."):
        cr.set_setting(state, "broadcast", None)


def _pause_control(state: cr.ClassState) -> None:
    st.subheader("Queue")
    paused = bool(state.settings.get().get("paused"))
    label = "Resume the class's queue" if paused else "Pause the class's queue"
    if st.button(label, key="btn_class_pause", help="While paused, runs that wait for a training slot do not "
                 "start (runs already training go on)."):
        cr.set_setting(state, "paused", not paused)
        st.rerun()
    st.caption("Paused: new runs wait." if paused else "Running: runs start as training slots free up.")


def _download_control(state: cr.ClassState) -> None:
    st.subheader("Downloads")
    st.session_state["class_downloads_toggle"] = downloads_allowed(state.settings.get())  # another tab may change it
    st.toggle("Students may download each other's finished runs", key="class_downloads_toggle",
              on_change=_set_downloads, args=(state,),
              help="Off: each student downloads only their own runs. The server checks this at every download.")


def _set_downloads(state: cr.ClassState) -> None:
    try:
        cr.set_setting(state, DOWNLOADS, bool(st.session_state["class_downloads_toggle"]))
    except ClassStoreError as exc:
        st.error(f"Not saved: {exc}", icon=":material/database:")
