"""What a step of the epoch slider costs: back at a point already shown, nothing is computed again.

The expensive results (the test-set evaluation, the layer sample, the calibration, the ablation's answers, the
prototypes, the nearest training digits, a drawing's contrast, ...) are cached per timeline point. These tests
count the calls into ``lab``/``nn`` behind those caches while the slider goes once forward over every point
and then back: the way back must call none of them. Before the caches were sized for a timeline, Inspect and
Draw rebuilt the nearest-neighbour index (a pass of the 60,000 training digits) on every step.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
import pytest

from dashboard import explain, why
from nn.data import MnistDataset
from tests.page_sections import DRAW, EVALUATE, EVALUATE_SECTIONS, INSPECT, INSPECT_SECTIONS, open_section
from tests.test_pages_explain import app, bars_dataset, chart_specs, with_view  # noqa: F401
from tests.test_pages_timeline import run, timeline_slider, timeline_view  # noqa: F401

# (module, name) of each computation a timeline point needs, as the dashboard's caches call it
COMPUTATIONS = [(explain, "evaluate"), (explain, "compute_layer_sample"), (explain, "weight_gradients"),
                (explain, "pca"), (explain, "snapshot_histograms"), (why, "calibrate"), (why, "ablation_base"),
                (why, "digit_prototypes"), (why, "unit_prototype"), (why, "neighbour_index"), (why, "look_up"),
                (why, "search"), (why, "contrast")]


@pytest.fixture(scope="module")
def dataset() -> MnistDataset:
    """The bars of tests/test_pages_explain.py, with test digit 0 clean ink on black (Draw's example must find
    ink in it to answer, explain and look up its neighbours; the bars' noisy background reads as blank)."""
    bars = bars_dataset()
    x_test = bars.x_test.copy()
    x_test[0] = 0
    x_test[0, 6:22, 12:16] = 255  # a "1"
    x_test.flags.writeable = False
    return dataclasses.replace(bars, x_test=x_test)


@pytest.fixture
def calls(monkeypatch) -> Counter:
    counts: Counter = Counter()
    for module, name in COMPUTATIONS:
        original = getattr(module, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return counts


# Every section a timeline point changes (a page draws one section at a time), with a computation it must call
# at each new point: the way back over the points must call none.
SECTIONS = [("app_pages/evaluate.py", EVALUATE, name, "evaluate") for name in EVALUATE_SECTIONS] + [
    ("app_pages/inspect.py", INSPECT, name, computation) for name, computation in (
        ("Filters", "compute_layer_sample"), ("Through the layers", "evaluate"),
        ("Weights and gradients", "weight_gradients"), ("Layer map", "pca"), ("Switch units off", "ablation_base"),
        ("Prototypes", "digit_prototypes"), ("Nearest neighbours", "search"))] + [
    ("app_pages/draw.py", DRAW, name, computation) for name, computation in (
        ("Why not another", "contrast"), ("Nearest neighbours", "search"))]


@pytest.mark.parametrize("page, key, section, computation", SECTIONS, ids=[f"{p[10:-3]}: {s}" for p, _, s, _ in SECTIONS])
def test_stepping_back_to_points_already_shown_computes_nothing(app, run, calls, page, key, section,  # noqa: F811
                                                                 computation) -> None:
    at = with_view(app(), timeline_view(run))
    at.session_state["draw_source"] = "example"  # Draw reads a test digit: its answer, contrast and neighbours
    at.switch_page(page).run()
    open_section(at, key, section)
    assert not at.exception, at.exception
    points = len(timeline_slider(at).options)
    for index in range(points):  # the first visit of every point computes its results
        timeline_slider(at).set_value(index).run()
        assert not at.exception, at.exception
    first = Counter(calls)
    assert first[computation] >= points - 1

    calls.clear()
    for index in reversed(range(points - 1)):
        timeline_slider(at).set_value(index).run()
        assert not at.exception, at.exception
    assert calls == Counter(), f"computed again on the way back over {points} points: {dict(calls)}"


def test_inspect_draws_only_the_open_tab_of_the_digit_through_the_layers(app, run) -> None:  # noqa: F811
    at = with_view(app(), timeline_view(run))
    at.switch_page("app_pages/inspect.py").run()
    open_section(at, INSPECT, "Through the layers")
    assert not at.exception, at.exception

    def layer_charts() -> list[str]:
        titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
        return [t for t in titles if "units have z > 0 for this digit" in t or t.startswith("Output layer:")]

    assert [t.split(":")[0] for t in layer_charts()] == ["Hidden 1"]  # the first tab, alone
    assert [tab.label for tab in at.tabs if tab.label not in INSPECT_SECTIONS] == ["Hidden 1", "Hidden 2", "Output scores"]
    at.session_state["in_layer_tab"] = "Output scores"
    at.run()
    assert not at.exception, at.exception
    assert [t.split(":")[0] for t in layer_charts()] == ["Output layer"]


def test_the_next_points_neighbours_are_searched_ahead_and_the_step_there_takes_them(app, run, monkeypatch) -> None:  # noqa: F811
    """On an idle server, Nearest neighbours at one point searches the next point's in the background once the
    same digit is shown again (the user moves along the timeline); the step there finds them done: the page's
    own thread searches nothing."""
    import threading

    from dashboard.timeline import nearby

    threads: list[str] = []
    search = why.search

    def counted(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return search(*args, **kwargs)

    monkeypatch.setattr(why, "search", counted)
    for cache in (why._ahead, why._looked_up, why._neighbours):
        cache.clear()
    view = timeline_view(run)
    at = with_view(app(), view)
    at.switch_page("app_pages/inspect.py").run()
    open_section(at, INSPECT, "Nearest neighbours")
    assert not why._ahead().jobs  # a digit shown for the first time (a new drawing, say): nothing searched ahead
    timeline_slider(at).set_value(2).run()
    assert not at.exception, at.exception
    point = view.timeline[2]
    here = dataclasses.replace(view, version=f"r9-test:cp{point.step}{point.kind[0]}")
    after, before = nearby(here)
    assert [after.version, before.version] == [f"r9-test:cp{p.step}{p.kind[0]}" for p in view.timeline[3:0:-2]]
    np.testing.assert_array_equal(np.concatenate([p.reshape(-1) for p in after.model.parameters()]),
                                  view.timeline[3].params)
    jobs = {key[0]: job for key, job in why._ahead().jobs.items()}
    assert after.version in jobs and before.version in jobs
    jobs[after.version].result(timeout=60)  # done in the background
    def by_the_page() -> int:
        return sum(not name.startswith("ahead") for name in threads)

    before_step = by_the_page()
    timeline_slider(at).set_value(3).run()
    assert not at.exception, at.exception
    assert by_the_page() == before_step
    assert after.version not in {key[0] for key in why._ahead().jobs}  # taken
    assert any("This first search at this point passed every training" in c.value for c in at.caption)
