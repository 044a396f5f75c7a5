"""Whether this server runs a class, and where the class's store lives (from the environment)."""

from __future__ import annotations

import os
from pathlib import Path

CLASS_ENV = "MNIST_CLASS"  # 1/true/yes/on: this server runs a class
KEY_ENV = "MNIST_CLASS_KEY"  # the teacher's key (or `class_key` in Streamlit's secrets)
DATA_ENV = "MNIST_DATA_DIR"  # the app's data directory (the class store lives there)
STORE_FILE = "class.sqlite3"
MODELS_FOLDER = "class-models"  # beside the store: finished runs' model files


def class_enabled() -> bool:
    return os.environ.get(CLASS_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def teacher_key_from_env() -> str | None:
    key = os.environ.get(KEY_ENV, "")
    return key if key.strip() else None


def data_dir() -> Path:
    """``$MNIST_DATA_DIR``, else ``$XDG_DATA_HOME/mnist-from-scratch``, else ``~/.local/share/mnist-from-scratch``."""
    explicit = os.environ.get(DATA_ENV, "")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / "mnist-from-scratch"


def store_path() -> Path:
    return data_dir() / STORE_FILE


def models_path() -> Path:
    """Where finished class runs' model files are kept for download (lab/class_share.py)."""
    return data_dir() / MODELS_FOLDER
