"""The Lessons page's blocks: pick a lesson, commit a prediction, set up the run, watch it, check it.

Progress lives in this session (``st.session_state``) and in the page's URL (lab/lesson_progress.py),
so a copied link resumes. Lessons are read from ``lessons/*.toml`` at most every 30 s, so a teacher's
new file appears without a restart.
"""

from __future__ import annotations

import streamlit as st

from dashboard.data import dataset_name
from dashboard.dataset_choice import DATASET_MESSAGE_KEY, installed, use_dataset
from dashboard.params import open_train_with
from dashboard.session import TRAIN_PAGE, SessionData, run_history
from lab.datasets import dataset_info
from lab.lesson_check import FAIL, PASS, WAIT, CheckResult, check_lesson
from lab.lesson_file import Lesson, load_lessons
from lab.lesson_progress import QUERY_KEYS, Progress, progress_from_query
from lab.page_sections import section_link

_PROGRESS_KEY = "_lesson_progress"
PAGE_PATHS = {"home": "app_pages/home.py", "data": "app_pages/data.py", "train": TRAIN_PAGE,
              "step": "app_pages/step.py", "evaluate": "app_pages/evaluate.py",
              "inspect": "app_pages/inspect.py", "draw": "app_pages/draw.py", "lessons": "app_pages/lessons.py"}
PAGE_TITLES = {"home": "Home", "data": "Data", "train": "Train", "step": "Step through", "evaluate": "Evaluate",
               "inspect": "Inspect", "draw": "Draw", "lessons": "Lessons"}  # draw: the dataset's title


@st.cache_resource(ttl=30, show_spinner=False)
def lessons() -> tuple[list[Lesson], list[str]]:
    """The lessons and one line per refused file (re-read at most every 30 s)."""
    return load_lessons()


def progress(all_lessons: list[Lesson]) -> Progress:
    """This session's progress; on its first use, taken from the URL (a link resumes)."""
    found = st.session_state.get(_PROGRESS_KEY)
    if found is None:
        found = progress_from_query(st.query_params.to_dict(), all_lessons)
        st.session_state[_PROGRESS_KEY] = found
    return found


def write_progress_query(state: Progress) -> None:
    """Mirror the progress in the URL (other parameters are left alone)."""
    wanted = state.to_query()
    current = {k: v for k, v in st.query_params.to_dict().items() if k in QUERY_KEYS}
    if current != wanted:
        for key in set(current) - set(wanted):
            del st.query_params[key]
        st.query_params.update(wanted)


def pick_lesson(all_lessons: list[Lesson], state: Progress) -> Lesson:
    """The lesson chooser (done ones ticked, another dataset's named); returns the open lesson: at first the
    first lesson not done on the session's dataset."""
    ids = [lesson.id for lesson in all_lessons]
    here = dataset_name()
    titles = {lesson.id: lesson.title + ("" if lesson.dataset == here else f" · {dataset_info(lesson.dataset).short}")
              for lesson in all_lessons}
    if state.current not in ids:
        state.current = next((lesson.id for lesson in all_lessons if lesson.id not in state.done
                              and lesson.dataset == here), next((i for i in ids if i not in state.done), ids[0]))
    if st.session_state.get("lesson_pick") not in ids:  # first visit, or back on this page
        st.session_state["lesson_pick"] = state.current
    choice = st.selectbox("Lesson", ids, key="lesson_pick",
                          format_func=lambda i: ("✓ " if i in state.done else "") + titles[i],
                          help="Pick a guided experiment; a tick marks the ones your runs have passed.")
    state.current = choice
    st.caption(f"{len(state.done & set(ids))} of {len(ids)} lessons done")
    return all_lessons[ids.index(choice)]


def prediction(lesson: Lesson, state: Progress) -> bool:
    """The question and the learner's prediction; True once it is committed."""
    st.markdown(lesson.question)
    committed = state.guesses.get(lesson.id)
    choice = st.radio("Your prediction", range(len(lesson.choices)), index=committed,
                      format_func=lambda i: lesson.choices[i], key=f"guess_{lesson.id}_{committed}",
                      disabled=committed is not None,
                      help="Commit to an answer before you run the experiment: it sticks better.")
    if committed is None:
        if st.button("Commit my prediction", key="btn_commit", disabled=choice is None, type="primary",
                     help="Lock in your prediction; then set up the run."):
            state.guesses[lesson.id] = int(choice)
            st.rerun()
        st.caption("Commit a prediction first; then the run can be set up.")
        return False
    return True


def setup_button(lesson: Lesson, session: SessionData) -> None:
    """Load the lesson's dataset and settings into the Train page (through its URL) and go there."""
    changes = ", ".join(f"{k} = {v}" for k, v in lesson.setup.items())
    info = dataset_info(lesson.dataset)
    st.caption(f"The run: the {lesson.preset} preset with {changes or 'no changes'}, on {info.title}.")
    if not installed(lesson.dataset):
        st.warning(f"This lesson trains on {info.title}. {info.install}", icon=":material/dataset:")
    if st.button("Set up the run", key="btn_setup", icon=":material/science:", type="primary",
                 help="Put the lesson's dataset and settings on the Train page; press Start there."):
        if use_dataset(session, lesson.dataset):
            open_train_with(session, lesson.knobs)
        else:
            st.session_state.pop(DATASET_MESSAGE_KEY, None)
            st.error(f"The run was not set up: {info.install}", icon=":material/dataset:")


def watch_list(lesson: Lesson) -> None:
    """What to look at while it runs, each with a link to its page."""
    for item in lesson.watch:
        with st.container(horizontal=True, vertical_alignment="center"):
            title = dataset_info(lesson.dataset).draw_title if item.page == "draw" else PAGE_TITLES[item.page]
            link = f"{title}: {item.section}" if item.section else title
            st.page_link(PAGE_PATHS[item.page], label=link, icon=":material/visibility:",
                         query_params=section_link(item.page, item.section))
            st.markdown(item.look)


def check(lesson: Lesson, session: SessionData, state: Progress) -> CheckResult:
    """The check on the learner's latest run with the lesson's settings, and the explanation."""
    result = check_lesson(lesson, run_history(session))
    show = {PASS: st.success, FAIL: st.error, WAIT: st.info}.get(result.status, st.info)
    show(f"**{result.headline}**" + (f" (run {result.run_id})" if result.run_id else ""))
    for line in result.lines:
        st.markdown(f"- {line}")
    st.markdown(result.explanation)
    if result.status == PASS:
        state.done.add(lesson.id)
    if result.status in (PASS, FAIL):
        guess = state.guesses.get(lesson.id)
        same = guess == lesson.answer
        st.markdown(f"**Your prediction {'matches' if same else 'differs from'} the lesson's answer.** "
                    f"The answer: *{lesson.choices[lesson.answer]}* {lesson.why}")
    return result
