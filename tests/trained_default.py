"""A session-wide fixture: the ``default`` preset (784-256-128-10) trained for one epoch on the real MNIST.

Import it into a test module marked ``realdata``: ``from tests.trained_default import default_net``.
Each importing module registers the fixture anew, so the network itself is kept here, trained once.
"""

from __future__ import annotations

import pytest

from nn.model import MLP
from nn.presets import get_preset
from nn.trainer import Trainer

_TRAINED: dict[str, MLP] = {}


@pytest.fixture(scope="session")
def default_net(mnist) -> MLP:
    """The default network after one epoch (about 96% on the test set): trained enough to explain."""
    if "default" not in _TRAINED:
        trainer = Trainer(get_preset("default").replace(epochs=1), mnist.x_train, mnist.y_train)
        trainer.run()
        _TRAINED["default"] = trainer.model
    return _TRAINED["default"]
