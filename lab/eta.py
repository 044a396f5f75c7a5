"""A run's time left, steady enough to read: from the mean time of the epochs so far, not the last few batches.

The speed over the last batches swings with everything else the server does (another session's page, a
team of threads formed or dropped), and so did an estimate built on it: 5:10, 8:10, 4:33, 6:56, 3:11 on
one run. Whole epochs average that out, and they include the validation each epoch ends with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def time_left(epoch_seconds: Sequence[float], epoch_train_seconds: Sequence[float], *, epochs_planned: int,
              batch: int, batches_per_epoch: int, seconds_per_batch: float) -> float:
    """Seconds until the run's last epoch ends (NaN when unknown).

    ``epoch_seconds``: each finished epoch's time, validation included; ``epoch_train_seconds``: the same
    without validation. ``batch``: batches done in the epoch after the finished ones (0 or
    ``batches_per_epoch`` between epochs). ``seconds_per_batch``: the mean since the run started, used
    before the first epoch ends (when its validation cost is still unknown).
    """
    done, bpe = len(epoch_seconds), max(batches_per_epoch, 1)
    in_progress = 0 < batch < bpe
    if done == 0:
        left = epochs_planned * bpe - (batch if in_progress else 0)
        return left * seconds_per_batch if math.isfinite(seconds_per_batch) and seconds_per_batch > 0 else math.nan
    total = sum(epoch_seconds) / done
    train = min(sum(epoch_train_seconds) / len(epoch_train_seconds), total) if epoch_train_seconds else total
    full_epochs = max(epochs_planned - done - (1 if in_progress else 0), 0)
    current = (bpe - batch) / bpe * train + (total - train) if in_progress else 0.0
    return full_epochs * total + current
