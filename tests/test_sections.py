"""Evaluate, Inspect and Draw draw one section (a tab) at a time: which one, from a click, a link or memory.

A timeline step redraws what is on the page; with every section drawn, chromium redrew a dozen charts per step.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import tomllib

from lab.lesson_file import LessonError, load_lessons, parse_lesson
from lab.page_sections import SECTIONS, section_link
from tests.page_sections import DRAW, EVALUATE, INSPECT, open_section
from tests.test_pages_explain import app, chart_specs, trained, trained_view, with_view  # noqa: F401
from tests.test_timeline_steps import dataset  # noqa: F401  (test digit 0 has clean ink: Draw answers it)

PAGES = {"evaluate": ("app_pages/evaluate.py", EVALUATE), "inspect": ("app_pages/inspect.py", INSPECT),
         "draw": ("app_pages/draw.py", DRAW)}


def titles(at) -> list[str]:
    return [s["layout"]["title"]["text"] for s in chart_specs(at)]


def open_page(app, trained, page: str):  # noqa: F811
    at = with_view(app(), trained_view(trained))
    at.session_state["draw_source"] = "example"  # Draw answers a test digit: all its sections exist
    return at.switch_page(PAGES[page][0]).run()


@pytest.mark.parametrize("page", PAGES)
def test_each_page_has_its_sections_as_tabs_and_opens_the_first(app, trained, page) -> None:  # noqa: F811
    at = open_page(app, trained, page)
    assert not at.exception, at.exception
    labels = [tab.label for tab in at.tabs]
    assert tuple(labels[:len(SECTIONS[page])]) == SECTIONS[page]
    assert at.session_state[PAGES[page][1]] == SECTIONS[page][0]


def test_only_the_open_section_is_drawn(app, trained) -> None:  # noqa: F811
    at = open_page(app, trained, "inspect")
    assert any("First-layer filters" in t for t in titles(at))
    assert not any("principal components" in t for t in titles(at))
    open_section(at, INSPECT, "Layer map")
    assert any("principal components" in t for t in titles(at))
    assert not any("First-layer filters" in t for t in titles(at))


def test_a_link_opens_a_section_and_a_bad_one_opens_the_first(app, trained) -> None:  # noqa: F811
    at = with_view(app(), trained_view(trained))
    at.query_params[EVALUATE] = "Confidence"
    at.switch_page("app_pages/evaluate.py").run()
    assert any("Answer only when sure" in h.value for h in at.header)
    at = with_view(app(), trained_view(trained))
    at.query_params[EVALUATE] = "<b>Nope</b>"
    at.switch_page("app_pages/evaluate.py").run()
    assert not at.exception, at.exception
    assert any("Confusion matrix" in h.value for h in at.header)


def test_a_page_opens_the_section_it_was_left_on(app, trained) -> None:  # noqa: F811
    at = open_page(app, trained, "inspect")
    open_section(at, INSPECT, "Weights and gradients")
    del at.query_params[INSPECT]  # the sidebar's links carry no parameter
    at.switch_page("app_pages/evaluate.py").run()
    assert any("Confusion matrix" in h.value for h in at.header)
    at.switch_page("app_pages/inspect.py").run()
    assert any("Weights and gradients" in h.value for h in at.header)


def test_following_a_digit_from_the_layer_map_opens_the_section_that_follows_it(app, trained) -> None:  # noqa: F811
    at = open_page(app, trained, "inspect")
    open_section(at, INSPECT, "Layer map")
    at.session_state["in_map"] = {"selection": {"points": [{"customdata": 42}]}}  # a click on test digit 42
    at.run()
    at.button(key="in_follow").click().run()
    assert not at.exception, at.exception
    assert at.session_state[INSPECT] == "Through the layers"
    assert any("Test digit #42 " in t for t in titles(at))


def test_section_links_name_real_sections() -> None:
    assert section_link("inspect", "Layer map") == {"in_section": "Layer map"}
    assert section_link("train", None) == {}
    with pytest.raises(ValueError, match="'evaluate' has no section 'Filters'"):
        section_link("evaluate", "Filters")


def lesson_watching(page: str, section: str | None) -> dict:
    """The sigmoid lesson's file, its first watch item on ``page`` (and ``section``)."""
    data = tomllib.loads(Path("lessons/sigmoid-deep.toml").read_text())
    data["watch"][0] = {"page": page, "look": "Look."} | ({"section": section} if section else {})
    return data


def test_a_lesson_links_to_a_section_and_a_wrong_one_is_refused_in_a_line() -> None:
    assert parse_lesson("ok", lesson_watching("inspect", "Layer map")).watch[0].section == "Layer map"
    assert parse_lesson("plain", lesson_watching("inspect", None)).watch[0].section is None
    with pytest.raises(LessonError, match=r"watch\[0\]\.section = 'Layer maps'; inspect's sections are Filters"):
        parse_lesson("typo", lesson_watching("inspect", "Layer maps"))
    with pytest.raises(LessonError, match="train's sections are none"):
        parse_lesson("nosections", lesson_watching("train", "Filters"))


def test_every_lesson_section_opens_on_its_page() -> None:
    lessons, problems = load_lessons()
    assert not problems
    linked = [(w.page, w.section) for lesson in lessons for w in lesson.watch if w.section]
    assert len(linked) >= 5 and all(section in SECTIONS[page] for page, section in linked)


def test_charts_drawn_in_place_fall_back_to_streamlits_and_clicks_still_pick(app, trained, monkeypatch) -> None:  # noqa: F811
    from dashboard import live_charts

    def read_only(base=None):
        raise PermissionError("read-only cache")

    live_charts._component.clear()
    monkeypatch.setattr(live_charts, "component_dir", read_only)
    try:
        at = open_page(app, trained, "inspect")
        open_section(at, INSPECT, "Layer map")
        assert not at.get("component_instance")
        assert any("principal components" in t for t in titles(at))  # Streamlit's own chart, under the same key
        assert "in_map" in [c.key for c in at.get("plotly_chart")]
        at.session_state["in_map"] = {"selection": {"points": [{"customdata": 7}]}}  # what its click sends
        at.run()
        assert any("Test digit #7" in t for t in titles(at))
    finally:
        live_charts._component.clear()
