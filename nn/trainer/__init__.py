"""The trainer: the training loop (trainer.py), its controls (controls.py), what it records (telemetry.py).

``from nn.trainer import Trainer`` is the public entry; see nn/fit.py for the same training as a plain
loop a learner reads in one sitting.
"""

from nn.engine.buffers import memory_estimate  # what a run of a config needs, for a UI to show first
from nn.trainer.trainer import CHECKPOINT_EVERY, DEAD_SAMPLE, EXPLOSION_FACTOR, LrChange, Trainer, TrainResult

__all__ = ["CHECKPOINT_EVERY", "DEAD_SAMPLE", "EXPLOSION_FACTOR", "LrChange", "TrainResult", "Trainer", "memory_estimate"]
