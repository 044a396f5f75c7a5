"""The learning-rate changes a user made during a run, as the charts mark them: a burst counts as one.

Three presses of an arrow key on the live learning-rate slider are three changes a few batches apart;
marked one by one, their labels pile up ("lr→0.0030.005 0.01"). What the learner did was one change,
from the rate before the burst to the rate after it.
"""

from __future__ import annotations

from collections.abc import Sequence

# Changes applied within this many seconds of the previous one join its burst. Each key press reruns the
# page before the run sees it: on a busy 2-core server three quick presses reached the run 0.9-1.6 s apart.
COALESCE_S = 3.0


def coalesce(changes: Sequence[tuple[int, float, float]], window_s: float = COALESCE_S
             ) -> tuple[tuple[int, float], ...]:
    """``(step, lr, seconds)`` changes in the order applied -> ``(step, lr)`` marks, one per burst.

    A change applied within ``window_s`` of the one before it joins that one's burst; a burst is marked
    at its first change's step with its last change's rate (the rate the run went on with).
    """
    marks: list[tuple[int, float]] = []
    last_at: float | None = None
    for step, lr, at in changes:
        if last_at is not None and at - last_at <= window_s:
            marks[-1] = (marks[-1][0], float(lr))
        else:
            marks.append((int(step), float(lr)))
        last_at = at
    return tuple(marks)
