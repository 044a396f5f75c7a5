"""Draw's "why not another digit?": the map and the flip the page draws are nn/explain's, for the chosen digit."""

from __future__ import annotations

import json

import numpy as np

from lab.preprocess import preprocess
from nn.explain.flip import smallest_flip
from nn.explain.saliency import integrated_gradients
from tests.page_sections import DRAW, open_section
from tests.test_page_draw import app, small_model, tiny_dataset  # noqa: F401
from tests.test_pages_explain import decoded


def spec_titled(at, words: str) -> dict:
    return decoded(next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if words in c.proto.spec))


def test_draw_explains_the_answer_against_a_chosen_digit_and_flips_to_it(app) -> None:
    model = small_model()
    at = app(model).run()
    at.segmented_control(key="draw_source").set_value("example").run()
    open_section(at, DRAW, "Why not another")
    assert not at.exception, at.exception
    x = preprocess(tiny_dataset().x_test[0]).x
    proba = model.predict_proba(x)[0]
    predicted = int(proba.argmax())
    label = int(tiny_dataset().y_test[0])
    other = label if label != predicted else int(np.argsort(-proba)[1])  # a mistake: its label, else the runner-up
    ig = integrated_gradients(model, x[0], predicted, other)
    spec = spec_titled(at, f"Why {predicted} and not {other}")
    np.testing.assert_allclose(np.asarray(spec["data"][0]["z"]).ravel(), ig.pixels, rtol=1e-5, atol=1e-6)

    target = next(d for d in range(10) if d not in (predicted, other))
    at.selectbox(key=f"draw_why_other_{predicted}").set_value(target).run()
    assert not at.exception, at.exception
    flip = smallest_flip(model, x, target)
    spec = spec_titled(at, f"The change that makes it a {target}")
    assert f"L2 {flip.l2[0]:.2f}" in spec["layout"]["title"]["text"]
    np.testing.assert_allclose(np.asarray(spec["data"][0]["z"]).ravel(), flip.delta[0], atol=1e-6)
    assert any("Integrated gradients, not SmoothGrad" in c.value for c in at.caption)
    assert any(f"Make the network answer {target}" in c.value for c in at.caption)


def test_draw_shows_the_nearest_training_digits_in_every_space(app) -> None:
    model = small_model()
    at = app(model).run()
    at.segmented_control(key="draw_source").set_value("example").run()
    open_section(at, DRAW, "Nearest neighbours")
    at.slider(key="draw_why_k").set_value(5).run()
    assert not at.exception, at.exception
    x = preprocess(tiny_dataset().x_test[0]).x
    train = tiny_dataset().x_train.reshape(20, -1).astype(np.float64)
    sims = train @ x[0] / (np.linalg.norm(train, axis=1) * np.linalg.norm(x[0]))
    pixels = spec_titled(at, "In pixels it looks like")
    shown = [int(i) for i in next(t for t in pixels["data"] if t.get("mode") == "markers")["customdata"]]
    assert shown == np.argsort(-sims, kind="stable")[:5].tolist()
    assert spec_titled(at, "In hidden 1 it looks like")
    assert any("built once per model version" in c.value for c in at.caption)
