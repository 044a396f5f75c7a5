"""Class: everyone's runs on one leaderboard, the teacher's challenges, and the teacher's controls."""

import streamlit as st

from dashboard import class_view as cv
from dashboard import classroom as cr
from dashboard import lessons_view as lv
from lab.class_store import ClassStoreError

st.title("Class")
state = cr.class_state()
if not state.enabled:
    st.info("This server is not running a class. Start it with `MNIST_CLASS=1` and a teacher key in "
            "`MNIST_CLASS_KEY` (or `class_key` in Streamlit's secrets).", icon=":material/groups:")
    st.stop()
if not state.ready:
    st.error(f"The class features are off: {state.error}. Everything else works; move or delete the file and "
             "restart the server to start a fresh class.", icon=":material/database:")
    st.stop()
st.caption("Every run trained on this server, measured by the server. Press Start on the Train page and your run "
           "appears here.")
try:
    cv.your_name(state)
except ClassStoreError as exc:
    st.error(f"The class store cannot be used now: {exc}", icon=":material/database:")
    st.stop()
st.header("Leaderboard")
cv.leaderboard(state)
with st.expander("Teacher", expanded=cr.is_teacher(), icon=":material/key:"):
    all_lessons, _ = lv.lessons()
    cv.teacher_panel(state, {lesson.id: lesson.title for lesson in all_lessons})
