"""Save and load a network as a plain ``.npz`` file: NumPy arrays and one JSON string, never pickle.

The file holds ``W1, b1, ..., WL, bL`` (``W`` as (fan_in, fan_out), layer 1
first) and ``config``, a JSON object:

    {"format": "mnist-mlp", "version": 1,
     "layer_sizes": [784, 256, 128, 10], "activation": ["relu", "relu"],
     "input_scaling": "x/255",            # pixels in [0, 255] are divided by 255
     "model": {...ModelConfig fields...},
     "accuracy": 0.981, "dataset_sha256": {...}, "train_config": {...},   # when known
     "meta": {...whatever the caller passed...}}

so anyone with NumPy alone can run the network::

    f = np.load("model.npz"); h = x.reshape(-1, 784) / 255
    for l in range(1, L): h = np.maximum(h @ f[f"W{l}"] + f[f"b{l}"], 0)
    logits = h @ f[f"WL"] + f[f"bL"]

Loading trusts nothing: a file can be malformed, truncated, mismatched or
hostile (a "model" uploaded to the dashboard). Every check has its own
:class:`ModelFileError` message, and sizes are checked from the zip directory
and the ``.npy`` headers *before* any large array is allocated.
"""

from __future__ import annotations

import io
import json
import math
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nn.config import ModelConfig
from nn.model import MLP

FORMAT = "mnist-mlp"
VERSION = 1
INPUT_SCALING = "x/255"
MAX_FILE_BYTES = 1 << 30  # refuse to even read more than 1 GiB
MAX_CONFIG_BYTES = 1 << 20  # the JSON config: 1 MiB is plenty
DEFAULT_MAX_PARAMS = 120_000_000  # above the largest network ModelConfig allows (6 x 4096 wide: ~87 M)


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message says why in plain words."""


# ------------------------------------------------------------------------------------------ saving


def _json_safe(value: Any) -> Any:
    """``value`` with tuples as lists, NumPy scalars as Python numbers, NaN/inf as None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return _json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "value") and isinstance(value.value, str):  # a str Enum such as RunState
        return value.value
    raise ValueError(f"meta value {value!r} of type {type(value).__name__} cannot be stored as JSON")


def model_config_json(model: MLP, meta: dict[str, Any] | None = None) -> str:
    """The ``config`` JSON string :func:`save_model` writes."""
    meta = _json_safe(dict(meta or {}))
    cfg = model.config
    doc: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "layer_sizes": list(cfg.layer_sizes),
        "activation": list(cfg.activations),
        "input_scaling": INPUT_SCALING,
        "model": _json_safe(
            {
                "hidden": cfg.hidden, "activation": cfg.activation, "init": cfg.init, "init_scale": cfg.init_scale,
                "dropout": cfg.dropout, "leaky_slope": cfg.leaky_slope, "input_size": cfg.input_size,
                "n_classes": cfg.n_classes, "dtype": cfg.dtype,
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
    doc["meta"] = meta
    return json.dumps(doc, sort_keys=True, allow_nan=False)


def save_model(target: str | os.PathLike | BinaryIO, model: MLP, meta: dict[str, Any] | None = None) -> None:
    """Write ``model`` (and JSON-safe ``meta``) to a path or a binary file object as ``.npz``.

    A path is written atomically (a temporary file renamed into place), so a
    crash never leaves half a model behind.
    """
    arrays = {"config": np.array(model_config_json(model, meta))}
    for l, (W, b) in enumerate(zip(model.weights, model.biases), start=1):
        arrays[f"W{l}"] = W
        arrays[f"b{l}"] = b
    if hasattr(target, "write"):
        np.savez(target, **arrays)
        return
    path = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)  # given a file object, np.savez does not append ".npz" to the name
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ------------------------------------------------------------------------------------------ loading


def _read_source(source: str | os.PathLike | bytes | BinaryIO) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read(MAX_FILE_BYTES + 1)
        if not isinstance(data, (bytes, bytearray)):
            raise ModelFileError("the file object must be opened in binary mode")
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ModelFileError(f"{path} is {path.stat().st_size:,} bytes, more than the {MAX_FILE_BYTES:,} allowed")
            data = path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    else:
        raise ModelFileError(f"expected a path, bytes or a binary file object, got {type(source).__name__}")
    if len(data) > MAX_FILE_BYTES:
        raise ModelFileError(f"the file is larger than the {MAX_FILE_BYTES:,} bytes allowed")
    return bytes(data)


def _open_zip(data: bytes) -> zipfile.ZipFile:
    if not data:
        raise ModelFileError("the file is empty")
    if data[:1] == b"\x80" or data[:2] in (b"(d", b"(l"):
        raise ModelFileError("the file is a Python pickle; models are only read from .npz, never unpickled")
    if not data.startswith(b"PK"):
        raise ModelFileError("not a .npz file (it is not a zip archive)")
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ModelFileError(f"the zip archive is damaged or truncated ({exc})") from None
    return archive


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    try:
        return archive.read(info)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, RuntimeError) as exc:
        raise ModelFileError(f"{info.filename} cannot be read: the archive is damaged or truncated ({exc})") from None
    except Exception as exc:  # zlib.error and friends from a corrupt compressed stream
        raise ModelFileError(f"{info.filename} cannot be decompressed ({exc})") from None


def _npy_header(name: str, raw: bytes) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) from a ``.npy`` member, without reading its data."""
    stream = io.BytesIO(raw)
    try:
        version = np.lib.format.read_magic(stream)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
        else:
            raise ModelFileError(f"array {name} uses .npy format version {version}, which is not supported")
    except ModelFileError:
        raise
    except Exception as exc:
        raise ModelFileError(f"array {name} is not a valid .npy array ({exc})") from None
    return tuple(shape), dtype, stream.tell()


def _load_array(name: str, raw: bytes) -> np.ndarray:
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        raise ModelFileError(f"array {name} cannot be loaded ({exc})") from None


def _parse_config(raw: bytes) -> dict[str, Any]:
    shape, dtype, offset = _npy_header("config", raw)
    if dtype.hasobject:
        raise ModelFileError("config holds a Python object (it would need pickle); it must be a JSON string")
    if shape != () or dtype.kind != "U":
        raise ModelFileError(f"config must be a single JSON string, got an array of shape {shape} and dtype {dtype}")
    if len(raw) - offset != dtype.itemsize:
        raise ModelFileError("config is truncated")
    text = str(_load_array("config", raw))
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"config is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(doc, dict):
        raise ModelFileError(f"config must be a JSON object, got {type(doc).__name__}")
    return doc


def _model_config(doc: dict[str, Any], max_params: int) -> ModelConfig:
    if doc.get("format", FORMAT) != FORMAT:
        raise ModelFileError(f"config format is {doc.get('format')!r}, expected {FORMAT!r}")
    version = doc.get("version", VERSION)
    if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
        raise ModelFileError(f"config version {version!r} is newer than this program understands ({VERSION})")
    scaling = doc.get("input_scaling", INPUT_SCALING)
    if scaling != INPUT_SCALING:
        raise ModelFileError(f"input scaling {scaling!r} is not supported (only {INPUT_SCALING!r})")
    sizes = doc.get("layer_sizes")
    if (
        not isinstance(sizes, list) or len(sizes) < 2
        or not all(isinstance(s, int) and not isinstance(s, bool) for s in sizes)
    ):
        raise ModelFileError(f"config layer_sizes must be a list of at least two integers, got {sizes!r}")
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
        raise ModelFileError(f"config layer_sizes must be positive, got {sizes!r}")
    n_params = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    if n_params > max_params:
        raise ModelFileError(f"config describes {n_params:,} parameters, more than the {max_params:,} allowed")
    try:
        config = ModelConfig(**fields)
    except TypeError as exc:
        raise ModelFileError(f"config model has unknown or missing fields ({exc})") from None
    except ValueError as exc:
        raise ModelFileError(f"config describes an invalid network: {exc}") from None
    if list(config.layer_sizes) != sizes:
        raise ModelFileError(f"config layer_sizes {sizes} disagree with its model fields {list(config.layer_sizes)}")
    return config


def load_model(
    source: str | os.PathLike | bytes | BinaryIO, *, max_params: int = DEFAULT_MAX_PARAMS
) -> tuple[MLP, dict[str, Any]]:
    """Read a model saved by :func:`save_model` from a path, bytes or a binary file object.

    Returns ``(model, meta)``: ``meta`` is the dict given to ``save_model``,
    with ``accuracy`` filled in from ``test_accuracy`` when only that is known.
    Raises :class:`ModelFileError` for anything that is not a valid model.
    """
    archive = _open_zip(_read_source(source))
    infos = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy") or "/" in info.filename:
            if info.filename.endswith((".pkl", ".pickle")):
                raise ModelFileError(f"the archive holds a pickle ({info.filename}); models are never unpickled")
            raise ModelFileError(f"unexpected member {info.filename!r} in the archive (only .npy arrays belong)")
        infos[info.filename[:-4]] = info
    if "config" not in infos:
        raise ModelFileError("no config in the file (is it a model saved by this program?)")
    if infos["config"].file_size > MAX_CONFIG_BYTES:
        raise ModelFileError(f"config is {infos['config'].file_size:,} bytes, more than the {MAX_CONFIG_BYTES:,} allowed")

    doc = _parse_config(_read_member(archive, infos["config"]))
    config = _model_config(doc, max_params)
    sizes = config.layer_sizes
    n_layers = len(sizes) - 1
    expected = {}
    for l in range(1, n_layers + 1):
        expected[f"W{l}"] = (sizes[l - 1], sizes[l])
        expected[f"b{l}"] = (sizes[l],)
    missing = [name for name in expected if name not in infos]
    if missing:
        raise ModelFileError(f"missing array(s) {', '.join(missing)} for layer sizes {list(sizes)}")
    extra = sorted(set(infos) - set(expected) - {"config"})
    if extra:
        raise ModelFileError(f"unexpected array(s) {', '.join(extra)} for layer sizes {list(sizes)}")

    # Check every header and size from the zip directory first; read the data only after.
    for name, shape in expected.items():
        claimed = infos[name].file_size
        budget = math.prod(shape) * 8 + 4096  # float64 data plus a generous header
        if claimed > budget:
            raise ModelFileError(f"array {name} claims {claimed:,} bytes; {shape} floats need at most {budget:,}")

    params = []
    for name, shape in expected.items():
        raw = _read_member(archive, infos[name])
        found_shape, dtype, offset = _npy_header(name, raw)
        if dtype.hasobject:
            raise ModelFileError(f"array {name} holds Python objects (it would need pickle); refused")
        if dtype.kind != "f" or dtype.itemsize not in (4, 8):
            raise ModelFileError(f"array {name} has dtype {dtype}; expected float32 or float64")
        if found_shape != shape:
            raise ModelFileError(_shape_message(name, found_shape, shape, sizes))
        if len(raw) - offset != math.prod(shape) * dtype.itemsize:
            raise ModelFileError(f"array {name} is truncated: {len(raw) - offset:,} bytes of data for shape {shape}")
        array = _load_array(name, raw)
        if not np.isfinite(array).all():
            raise ModelFileError(f"array {name} contains NaN or infinite values")
        params.append(array)

    model = MLP(config, np.random.default_rng(0))  # the random start is overwritten right away
    with np.errstate(over="raise"):
        try:
            model.set_params(params)  # expected (and so params) runs W1, b1, W2, b2, ...
        except FloatingPointError:
            raise ModelFileError(f"the weights do not fit in {config.dtype}") from None

    meta = doc.get("meta", {})
    meta = dict(meta) if isinstance(meta, dict) else {}
    if "accuracy" not in meta and isinstance(doc.get("accuracy"), (int, float)):
        meta["accuracy"] = doc["accuracy"]
    return model, meta


def _shape_message(name: str, found: tuple[int, ...], shape: tuple[int, ...], sizes: tuple[int, ...]) -> str:
    message = f"array {name} has shape {found}, expected {shape} for layer sizes {list(sizes)}"
    if name.startswith("W") and len(found) == 2 and found[::-1] == shape:
        message += " (it looks transposed: W must be (fan_in, fan_out))"
    return message

