"""Lessons: short guided experiments that ask, set up a run, say what to watch and check the learner's run."""

import streamlit as st

from dashboard import lessons_view as lv
from dashboard.session import get_session

session = get_session()
st.title("Lessons")
st.caption("Each lesson asks a question, lets you commit to a prediction, sets up the run on the Train page and "
           "then checks what your own run showed. The link in your address bar keeps your place.")
all_lessons, errors = lv.lessons()
for error in errors:
    st.warning(f"A lesson file was skipped: {error}", icon=":material/description:")
if not all_lessons:
    st.info("No lessons found in the lessons/ folder.")
    st.stop()

state = lv.progress(all_lessons)
lesson = lv.pick_lesson(all_lessons, state)
st.header(lesson.title)
with st.container(border=True):
    st.subheader("1. Predict")
    committed = lv.prediction(lesson, state)
if committed:
    with st.container(border=True):
        st.subheader("2. Run it")
        lv.setup_button(lesson, session)
    with st.container(border=True):
        st.subheader("3. Watch")
        lv.watch_list(lesson)
    with st.container(border=True):
        st.subheader("4. Check your run")
        lv.check(lesson, session, state)
lv.write_progress_query(state)
