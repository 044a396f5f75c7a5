"""The trainer: the training loop (trainer.py), its controls (controls.py), what it records (telemetry.py).

``from nn.trainer import Trainer`` is the public entry; see nn/fit.py for the same training as a plain
loop a learner reads in one sitting.
"""

from nn.engine.buffers import memory_estimate  # what a run of a config needs, for a UI to show first
from nn.engine.threads import check_team_size, default_team_size, usable_cores  # the threads= option
from nn.trainer.guard import CHECKPOINT_EVERY, EXPLOSION_FACTOR
from nn.trainer.results import LrChange, TrainResult
from nn.trainer.trainer import DEAD_SAMPLE, Trainer

__all__ = ["CHECKPOINT_EVERY", "DEAD_SAMPLE", "EXPLOSION_FACTOR", "LrChange", "TrainResult", "Trainer",
           "check_team_size", "default_team_size", "memory_estimate", "usable_cores"]
