"""The JSON ``config`` of a model file: written from a network, and read back without trusting it.

    {"format": "mnist-mlp", "version": 1,
     "layer_sizes": [784, 256, 128, 10], "activation": ["relu", "relu"],
     "input_scaling": "x/255",            # pixels in [0, 255] are divided by 255
     "model": {...ModelConfig fields...},
     "accuracy": 0.981, "dataset_sha256": {...}, "train_config": {...},   # when known
     "history": {...}, "snapshots": {...},                              # when stored (nn/run_record.py)
     "timeline": {...},                                                 # when stored (nn/run_timeline.py)
     "meta": {...whatever the caller passed...}}

Reading bounds the document before trusting any of it: nesting at most
:data:`MAX_JSON_DEPTH` levels, numbers at most :data:`MAX_NUMBER_CHARS`
characters, no NaN or infinity, and a network no larger than the caller allows.
"""

from __future__ import annotations

import json
import math
from itertools import pairwise
from typing import Any

import numpy as np

from nn import strict_json
from nn.config import ModelConfig

FORMAT = "mnist-mlp"
VERSION = 1
INPUT_SCALING = "x/255"
MAX_JSON_DEPTH = 32  # a config saved here nests 5 levels (meta -> train_config -> model -> hidden)
MAX_NUMBER_CHARS = 32  # a float64 needs at most 24 characters, a 64-bit integer 20


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message says why in one line."""


def _json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` with tuples as lists, NumPy scalars as Python numbers, NaN/inf as None."""
    if depth > MAX_JSON_DEPTH - 2:  # meta sits two levels down in the config
        raise ValueError(f"meta is nested more than {MAX_JSON_DEPTH - 2} levels deep; a model file could not be "
                         "read back")
    if isinstance(value, dict):
        return {str(k): _json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v, depth + 1) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist(), depth)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > MAX_NUMBER_CHARS - 1:
        raise ValueError(f"meta holds an integer of {len(str(abs(value))):,} digits; a model file could not be read back")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "value") and isinstance(value.value, str):  # a str Enum such as RunState
        return value.value
    raise ValueError(f"meta value {value!r} of type {type(value).__name__} cannot be stored as JSON")


def config_json(config: ModelConfig, meta: dict[str, Any] | None = None, record: dict[str, Any] | None = None) -> str:
    """The ``config`` JSON string for a network of ``config``, with ``meta`` and the run record's entries."""
    meta = _json_safe(dict(meta or {}))
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "layer_sizes": list(config.layer_sizes),
        "activation": list(config.activations),
        "input_scaling": INPUT_SCALING,
        "model": _json_safe(
            {
                "hidden": config.hidden, "activation": config.activation, "init": config.init,
                "init_scale": config.init_scale, "dropout": config.dropout, "leaky_slope": config.leaky_slope,
                "input_size": config.input_size, "n_classes": config.n_classes, "dtype": config.dtype,
            }
        ),
    }
    accuracy = meta.get("accuracy", meta.get("test_accuracy"))
    if accuracy is not None:
        doc["accuracy"] = accuracy
    dataset = meta.get("dataset")
    if isinstance(dataset, dict) and "sha256" in dataset:
        doc["dataset_sha256"] = dataset["sha256"]
    if "train_config" in meta:
        doc["train_config"] = meta["train_config"]
    doc.update(record or {})
    doc["meta"] = meta
    return json.dumps(doc, sort_keys=True, allow_nan=False)


def parse(text: str) -> dict[str, Any]:
    """The config document of ``text``, bounded as the module says; ModelFileError otherwise."""
    try:
        doc = strict_json.loads(text, max_depth=MAX_JSON_DEPTH, max_number_chars=MAX_NUMBER_CHARS)
    except strict_json.JSONLimitError as exc:
        raise ModelFileError(f"config {exc}") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"config must be a JSON object, got {type(doc).__name__}")
    return doc


def model_config(doc: dict[str, Any], max_params: int) -> ModelConfig:
    """The network the document describes, refused before anything is built if it is not sane."""
    if doc.get("format", FORMAT) != FORMAT:
        raise ModelFileError(f"config format is {str(doc.get('format'))[:40]!r}, expected {FORMAT!r}")
    version = doc.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ModelFileError(f"config version {str(version)[:40]} is newer than this program understands ({VERSION})")
    scaling = doc.get("input_scaling", INPUT_SCALING)
    if scaling != INPUT_SCALING:
        raise ModelFileError(f"input scaling {str(scaling)[:40]!r} is not supported (only {INPUT_SCALING!r})")
    sizes = doc.get("layer_sizes")
    if (
        not isinstance(sizes, list) or not 2 <= len(sizes) <= 64
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
    ):
        raise ModelFileError(f"config layer_sizes must be a list of 2 to 64 integers, got {str(sizes)[:80]}")
    fields = doc.get("model", {})
    if not isinstance(fields, dict):
        raise ModelFileError(f"config model must be a JSON object, got {type(fields).__name__}")
    fields = dict(fields)
    fields.setdefault("hidden", sizes[1:-1])
    fields.setdefault("activation", doc.get("activation", "relu"))
    fields.setdefault("input_size", sizes[0])
    fields.setdefault("n_classes", sizes[-1])
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in fields.items()}
    # The file may come from anywhere: the sizes must be sane before MLP allocates anything.
    if any(s < 1 for s in sizes):
        raise ModelFileError(f"config layer_sizes must be positive, got {str(sizes)[:80]}")
    n_params = sum(a * b + b for a, b in pairwise(sizes))
    if n_params > max_params:
        raise ModelFileError(f"config describes {n_params:,} parameters, more than the {max_params:,} allowed")
    try:
        config = ModelConfig(**fields)
    except TypeError as exc:
        raise ModelFileError(f"config model has unknown or missing fields ({str(exc)[:200]})") from None
    except ValueError as exc:
        raise ModelFileError(f"config describes an invalid network: {str(exc)[:200]}") from None
    if list(config.layer_sizes) != sizes:
        raise ModelFileError(f"config layer_sizes {sizes} disagree with its model fields {list(config.layer_sizes)}")
    return config
