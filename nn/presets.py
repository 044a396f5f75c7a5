"""Named training recipes: ``quick``, ``default`` and ``best``.

Each is an ordinary :class:`TrainConfig`; the CLI (``--preset``) and the
dashboard start from one and let any knob override it. Measured on the real
MNIST on a shared 2-core machine (numbers vary with the load; see the
measurements in the project's closing notes):

* ``quick``: a newcomer's first run, slow enough to watch it learn: a small
  network on 20,000 training images for 6 epochs (about 96-97% test accuracy;
  3.5-6 s of training alone, one epoch a second or so in the app).
* ``default``: the everyday run, tuned to pass 98.0% test accuracy within 15
  seconds of training: two ReLU layers, Adam with a cosine decay (98.20% in
  7.2-10.1 s).
* ``best``: still a multilayer perceptron, but wide, regularised by dropout
  and trained on randomly shifted and rotated digits for long enough to pass
  98.8% test accuracy (minutes, not seconds: 99.21% after 347 s of training
  on the 2-core machine, its two layers shared by a thread team; 99.17% in
  390 s before the team).
"""

from __future__ import annotations

from nn.config import AugmentConfig, ModelConfig, TrainConfig

PRESETS: dict[str, TrainConfig] = {
    "quick": TrainConfig(
        model=ModelConfig(hidden=(128,)),
        optimizer="adam",
        lr=2e-3,
        batch_size=64,
        epochs=6,
        train_subset=20_000,
    ),
    "default": TrainConfig(
        model=ModelConfig(hidden=(256, 128)),
        optimizer="adam",
        lr=2e-3,
        schedule="cosine",
        batch_size=128,
        epochs=8,
    ),
    "best": TrainConfig(
        model=ModelConfig(hidden=(1024, 1024), dropout=0.3),
        optimizer="adam",
        lr=1e-3,
        schedule="cosine",
        warmup_epochs=1,
        batch_size=128,
        epochs=40,
        augment=AugmentConfig(shift=2, rotate=10),
    ),
}


def get_preset(name: str) -> TrainConfig:
    """The preset called ``name``; a ValueError lists the choices."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
