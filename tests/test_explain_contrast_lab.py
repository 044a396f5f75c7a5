"""The Draw and Evaluate "why not another digit?" numbers: what the page shows is what nn/explain computes."""

from __future__ import annotations

import numpy as np
import pytest

from lab.contrast import contrast, default_other
from nn.config import ModelConfig
from nn.explain.flip import smallest_flip
from nn.explain.saliency import integrated_gradients
from nn.model import MLP


def test_the_contrast_is_the_attribution_and_the_flip_of_nn_explain() -> None:
    model = MLP(ModelConfig(hidden=(16,), dtype="float64"), np.random.default_rng(0))
    rng = np.random.default_rng(1)
    x = rng.random(784) * (rng.random(784) < 0.25)
    predicted = int(model.predict(x[None])[0])
    other = (predicted + 3) % 10
    c = contrast(model, x, predicted, other)
    ig = integrated_gradients(model, x, predicted, other)
    np.testing.assert_allclose(c.attribution.ravel(), ig.pixels)
    assert c.explained == pytest.approx(ig.pixels.sum()) and c.margin == pytest.approx(ig.margin)
    flip = smallest_flip(model, x[None], other)
    np.testing.assert_allclose(c.new_image.ravel(), flip.x_new[0])
    np.testing.assert_allclose(c.change.ravel(), flip.x_new[0] - x)
    assert c.success == bool(flip.success[0]) and c.l2 == pytest.approx(flip.l2[0])
    assert c.visible == int((np.abs(c.change) > 0.1).sum()) and c.changed >= c.visible
    assert int(np.argmax(c.new_proba)) == (other if c.success else int(model.predict(flip.x_new)[0]))
    assert c.new_proba.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="other than the answer"):
        contrast(model, x, predicted, predicted)


def test_the_default_comparison_is_the_label_of_a_mistake_else_the_runner_up() -> None:
    proba = np.array([0.05, 0.6, 0.05, 0.2, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01])
    assert default_other(proba, 1) == 3
    assert default_other(proba, 1, label=1) == 3
    assert default_other(proba, 1, label=7) == 7
    assert default_other(proba, 3) == 1  # an answer that is not the top class: the top class
