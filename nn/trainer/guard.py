"""The divergence guard: notices a loss that exploded or became NaN, keeps the last good weights, explains.

A loss that is NaN or infinite or has exploded (over ``EXPLOSION_FACTOR`` times where it started), or
weights that are NaN or infinite, end a run as DIVERGED; the weights go back to the last copy known to
be good (taken every ``CHECKPOINT_EVERY`` batches and at every epoch's end), and the reason says what
happened and what to try, in plain language.
"""

from __future__ import annotations

import math

import numpy as np

from nn.model import MLP

CHECKPOINT_EVERY = 50  # batches between copies of the last good weights
# A loss this many times above max(ln C, first batch's loss) counts as diverged: a softmax that
# gave even 1 in 10^100 to the right class would be far below it. Without this a run at a huge
# learning rate rarely reaches NaN (the loss is computed stably); it just blows up and its ReLUs die.
EXPLOSION_FACTOR = 100.0

# What to suggest after a divergence, per optimizer: a learning rate that usually works.
_SAFE_LR = {"sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "adam": 1e-3, "adamw": 1e-3}
_NAMES = {"sgd": "SGD", "momentum": "momentum", "nesterov": "Nesterov", "adam": "Adam", "adamw": "AdamW"}


class DivergenceGuard:
    """Watches one run of ``model`` trained by the optimizer named ``optimizer``."""

    def __init__(self, model: MLP, optimizer: str) -> None:
        self.model = model
        self.optimizer = optimizer
        self.limit = math.inf  # set from the first batch's loss
        self._good = model.get_params()  # last weights known to be good, overwritten in place
        self._good_at = (0, 0)  # (epoch, batch) they come from

    def loss_problem(self, loss: float) -> str | None:
        """What is wrong with a batch's loss ("The loss exploded to 4.04e+05"), or None when it is fine."""
        if self.limit == math.inf:
            self.limit = EXPLOSION_FACTOR * max(math.log(self.model.config.n_classes), loss)
        if loss <= self.limit:  # false for NaN
            return None
        return f"The loss became {word(loss)}" if not math.isfinite(loss) else f"The loss exploded to {loss:.3g}"

    def keep(self, epoch: int, batch: int) -> None:
        """Remember the current weights as good (after ``batch`` of ``epoch``), if they are finite."""
        if self.model.all_finite():
            for kept, live in zip(self._good, self.model.parameters()):
                np.copyto(kept, live)
            self._good_at = (epoch, batch)

    def restore(self, what: str, lr: float) -> str:
        """Put the last good weights back; returns the reason to show, with advice."""
        self.model.set_params(self._good)
        safe = _SAFE_LR[self.optimizer]
        if lr > safe:
            advice = f"the steps were too large. Lower the learning rate (try {safe:g} for {_NAMES[self.optimizer]})."
        else:
            advice = ("the learning rate is already modest, so look at the initialisation "
                      "(try 'he' for ReLU, 'xavier' for tanh/sigmoid) or a smaller init scale.")
        epoch, batch = self._good_at
        where = "the initial weights" if epoch == 0 else f"the weights from epoch {epoch}, batch {batch}"
        # 3 digits: at batch 2 of a cosine schedule from 1 the rate is 0.999999, which read as a bug
        return f"{what} (learning rate {lr:.3g}): {advice} The model keeps {where}, the last good ones."


def word(x: float) -> str:
    """NaN or infinite, in words."""
    return "NaN" if math.isnan(x) else "infinite"


class EarlyStopping:
    """Tracks the best validation loss; after ``patience`` epochs without improvement, the best weights return.

    Without a patience it only tracks the best epoch (None without validation).
    """

    def __init__(self, model: MLP, patience: int | None) -> None:
        self.model = model
        self.patience = patience
        self._left = patience
        self.best_val = math.inf
        self.best_epoch: int | None = None
        self._best: list[np.ndarray] | None = None  # weights with the lowest validation loss

    def stop_after(self, epoch: int, val_loss: float) -> str | None:
        """After ``epoch``: the reason to stop (the best weights are then back in the model), or None."""
        if val_loss < self.best_val:
            self.best_val, self.best_epoch = val_loss, epoch
            if self.patience is not None:
                self._best = self.model.get_params()
                self._left = self.patience
            return None
        if self.patience is None:
            return None
        self._left -= 1
        if self._left > 0:
            return None
        self.model.set_params(self._best)
        return (f"The validation loss has not improved for {self.patience} epochs (best {self.best_val:.4f} "
                f"after epoch {self.best_epoch}), so training stopped and the weights from epoch "
                f"{self.best_epoch} were restored.")
