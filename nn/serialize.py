"""Save and load a network as a plain ``.npz`` file: NumPy arrays and one JSON string, never pickle.

The file holds ``W1, b1, ..., WL, bL`` (``W`` as (fan_in, fan_out), layer 1
first), ``config`` (a JSON string, described in nn/model_doc.py) and,
when known, the run's per-epoch ``history`` and first-layer ``snapshots``
(nn/run_record.py) and its ``timeline`` of whole-network checkpoints
(nn/run_timeline.py). Anyone with NumPy alone can run the network::

    f = np.load("model.npz"); h = x.reshape(-1, 784) / 255
    for l in range(1, L): h = np.maximum(h @ f[f"W{l}"] + f[f"b{l}"], 0)
    logits = h @ f[f"WL"] + f[f"bL"]

Loading trusts nothing: a file can be malformed, truncated, mismatched or
hostile (a "model" uploaded to the dashboard). Every check has its own
:class:`ModelFileError` message. The member count and the zip directory's size
are bounded before the directory is read (nn/bounded_zip.py); the config is
bounded in size, nesting and numbers before it is parsed; every array is then
decompressed with a running limit of what the config says it may hold (its
shape at float64, plus a ``.npy`` header), whatever the zip directory claims.
"""

from __future__ import annotations

import io
import math
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nn import run_record, run_timeline
from nn.bounded_zip import ArchiveError, check_claim, open_archive, read_member
from nn.config import ModelConfig
from nn.model import MLP, param_count
from nn.model_doc import FORMAT, INPUT_SCALING, VERSION, ModelFileError, config_json, model_config, parse
from nn.trainer.telemetry import Checkpoint

__all__ = ["FORMAT", "INPUT_SCALING", "VERSION", "ModelFileError", "load_model", "model_config_json", "save_model"]

MAX_FILE_BYTES = 1 << 30  # refuse to even read more than 1 GiB
MAX_CONFIG_BYTES = 1 << 20  # the JSON config: 1 MiB is plenty
MAX_MEMBERS = 64  # a model file has at most 18: config, W and b of 7 layers, history, snapshots, timeline
MAX_DIRECTORY_BYTES = 256 * 2**10  # the zip directory of 64 members with long names
NPY_HEADER_BYTES = 4096  # numpy writes headers of 128 bytes; this is generous
DEFAULT_MAX_PARAMS = 120_000_000  # above the largest network ModelConfig allows (6 x 4096 wide: ~87 M)
_SHOWN = 3  # names listed in a message before "and N more"
_RECORD = (run_record.HISTORY, run_record.SNAPSHOTS, run_timeline.TIMELINE)


# ------------------------------------------------------------------------------------------ saving


def model_config_json(model: MLP, meta: dict[str, Any] | None = None) -> str:
    """The ``config`` JSON string :func:`save_model` writes (without a run record)."""
    return config_json(model.config, meta)


def save_model(
    target: str | os.PathLike | BinaryIO, model: MLP, meta: dict[str, Any] | None = None, *,
    history: Sequence[Mapping[str, Any]] | None = None, snapshots: Sequence[tuple[int, np.ndarray]] | None = None,
    timeline: Sequence[Checkpoint] | None = None,
) -> None:
    """Write ``model`` (and JSON-safe ``meta``) to a path or a binary file object as ``.npz``.

    ``history`` is the trainer's rows (``TrainResult.history``: one dict of numbers per epoch),
    ``snapshots`` its ``[(epoch, W1 copy)]`` and ``timeline`` its ``[Checkpoint]``; all optional.
    :func:`load_model` returns them in ``meta["history"]``, ``meta["snapshots"]`` and
    ``meta["timeline"]``, and they are taken from there when not passed, so
    ``save_model(path, *load_model(path))`` keeps everything. A path is written atomically (a
    temporary file renamed into place), so a crash never leaves half a model behind.
    """
    meta = dict(meta or {})
    kept_history, kept_snapshots = meta.pop("history", None), meta.pop("snapshots", None)
    kept_timeline = meta.pop("timeline", None)
    record, record_arrays = run_record.encode(kept_history if history is None else history,
                                              kept_snapshots if snapshots is None else snapshots,
                                              model.weights[0].shape)
    points, point_arrays = run_timeline.encode(kept_timeline if timeline is None else timeline,
                                               param_count(model.config))
    record.update(points)
    record_arrays.update(point_arrays)
    arrays = {"config": np.array(config_json(model.config, meta, record))}
    for l, (W, b) in enumerate(zip(model.weights, model.biases), start=1):
        arrays[f"W{l}"] = W
        arrays[f"b{l}"] = b
    arrays.update(record_arrays)
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


def load_model(
    source: str | os.PathLike | bytes | BinaryIO, *, max_params: int = DEFAULT_MAX_PARAMS
) -> tuple[MLP, dict[str, Any]]:
    """Read a model saved by :func:`save_model` from a path, bytes or a binary file object.

    Returns ``(model, meta)``: ``meta`` is the dict given to ``save_model``, with ``accuracy``
    filled in from ``test_accuracy`` when only that is known, and, when the file holds them,
    ``history`` (a list of dicts of floats, one per epoch), ``snapshots`` (a list of
    ``(epoch, W1)``) and ``timeline`` (a list of ``Checkpoint``, read-only, in the network's dtype).
    Raises :class:`ModelFileError` for anything that is not a valid model.
    """
    archive = _open_zip(_read_source(source))
    infos = _members(archive)
    doc = _read_config(archive, infos)
    config = model_config(doc, max_params)
    expected = _expected_arrays(doc, config)
    _check_names(infos, expected, config.layer_sizes)
    for name, (_, most) in expected.items():  # every directory claim first; the data only after
        _bounded(check_claim, infos[name], most + NPY_HEADER_BYTES)
    arrays = {name: _read_array(archive, infos[name], name, shape, most, nan_ok=name == run_record.HISTORY)
              for name, (shape, most) in expected.items()}

    model = MLP(config, np.random.default_rng(0))  # the random start is overwritten right away
    with np.errstate(over="raise"):
        try:
            model.set_params([arrays[name] for name in expected if name not in _RECORD])  # W1, b1, W2, ...
        except FloatingPointError:
            raise ModelFileError(f"the weights do not fit in {config.dtype}") from None
    history, snapshots = _bounded(run_record.decode, doc, arrays)
    timeline = _bounded(run_timeline.decode, doc, arrays, config.dtype)

    meta = doc.get("meta", {})
    meta = dict(meta) if isinstance(meta, dict) else {}
    if "accuracy" not in meta and isinstance(doc.get("accuracy"), (int, float)):
        meta["accuracy"] = doc["accuracy"]
    if history is not None:
        meta["history"] = history
    if snapshots is not None:
        meta["snapshots"] = snapshots
    if timeline is not None:
        meta["timeline"] = timeline
    return model, meta


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
    return _bounded(open_archive, data, max_members=MAX_MEMBERS, max_directory_bytes=MAX_DIRECTORY_BYTES)


def _bounded(read: Any, *args: Any, **kwargs: Any) -> Any:
    """``read(*args, **kwargs)``, its archive or record errors told as a ModelFileError."""
    try:
        return read(*args, **kwargs)
    except (ArchiveError, run_record.RecordError) as exc:
        raise ModelFileError(str(exc)) from None


def _few(names: list[str], *, quote: bool = True) -> str:
    """The first few of ``names`` (a name from a file quoted and cut to 40 characters), and how many more."""
    shown = ", ".join(repr(name[:40]) if quote else name for name in names[:_SHOWN])
    return shown + (f" and {len(names) - _SHOWN:,} more" if len(names) > _SHOWN else "")


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """Array name -> directory entry; anything but a top-level ``.npy`` member is refused."""
    infos: dict[str, zipfile.ZipInfo] = {}
    odd: list[str] = []
    for info in archive.infolist():
        if info.filename.endswith(".npy") and "/" not in info.filename:
            infos[info.filename[:-4]] = info
        else:
            odd.append(info.filename)
    pickles = [name for name in odd if name.endswith((".pkl", ".pickle"))]
    if pickles:
        raise ModelFileError(f"the archive holds a pickle ({_few(pickles)}); models are never unpickled")
    if odd:
        raise ModelFileError(f"unexpected member{'s' if len(odd) > 1 else ''} {_few(odd)} in the archive "
                             "(only .npy arrays belong)")
    return infos


def _read_config(archive: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo]) -> dict[str, Any]:
    if "config" not in infos:
        raise ModelFileError("no config in the file (is it a model saved by this program?)")
    raw = _bounded(read_member, archive, infos["config"], MAX_CONFIG_BYTES + NPY_HEADER_BYTES)
    shape, dtype, offset = _npy_header("config", raw)
    if dtype.hasobject:
        raise ModelFileError("config holds a Python object (it would need pickle); it must be a JSON string")
    if shape != () or dtype.kind != "U":
        raise ModelFileError(f"config must be a single JSON string, got an array of shape {shape} and dtype {dtype}")
    if len(raw) - offset != dtype.itemsize:
        raise ModelFileError("config is truncated")
    return parse(str(_load_array("config", raw)))


def _expected_arrays(doc: dict[str, Any], config: ModelConfig) -> dict[str, tuple[tuple[int, ...], int]]:
    """Array name -> (shape, most bytes of data): the layers W1, b1, ..., then the run record's arrays."""
    sizes = config.layer_sizes
    expected: dict[str, tuple[tuple[int, ...], int]] = {}
    for l in range(1, len(sizes)):
        for name, shape in ((f"W{l}", (sizes[l - 1], sizes[l])), (f"b{l}", (sizes[l],))):
            expected[name] = (shape, math.prod(shape) * 8)
    expected.update(_bounded(run_record.expected_arrays, doc, (sizes[0], sizes[1])))
    expected.update(_bounded(run_timeline.expected_arrays, doc, param_count(config)))
    return expected


def _check_names(infos: dict[str, zipfile.ZipInfo], expected: dict[str, Any], sizes: tuple[int, ...]) -> None:
    missing = [name for name in expected if name not in infos]
    if missing:
        raise ModelFileError(f"missing array(s) {_few(missing, quote=False)} for layer sizes {list(sizes)}")
    extra = sorted(set(infos) - set(expected) - {"config"})
    if extra:
        raise ModelFileError(f"unexpected array(s) {_few(extra)} for layer sizes {list(sizes)}")


def _read_array(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, shape: tuple[int, ...], most: int,
                *, nan_ok: bool = False) -> np.ndarray:
    """The float array ``name`` of exactly ``shape``, at most ``most`` bytes of data, finite (NaN if ``nan_ok``)."""
    raw = _bounded(read_member, archive, info, most + NPY_HEADER_BYTES)
    found_shape, dtype, offset = _npy_header(name, raw)
    if dtype.hasobject:
        raise ModelFileError(f"array {name} holds Python objects (it would need pickle); refused")
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        raise ModelFileError(f"array {name} has dtype {dtype}; expected float32 or float64")
    if found_shape != shape:
        raise ModelFileError(_shape_message(name, found_shape, shape))
    size = math.prod(shape) * dtype.itemsize
    if size > most:
        raise ModelFileError(f"array {name} needs {size:,} bytes, more than the {most:,} allowed")
    if len(raw) - offset != size:
        raise ModelFileError(f"array {name} is truncated: {len(raw) - offset:,} bytes of data for shape {shape}")
    array = _load_array(name, raw)
    if nan_ok and np.isinf(array).any():
        raise ModelFileError(f"array {name} contains infinite values")
    if not nan_ok and not np.isfinite(array).all():
        raise ModelFileError(f"array {name} contains NaN or infinite values")
    return array


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
    except Exception as exc:  # noqa: BLE001 -- numpy's header parser raises several kinds on a hostile header
        raise ModelFileError(f"array {name} is not a valid .npy array ({str(exc)[:200]})") from None
    return tuple(shape), dtype, stream.tell()


def _load_array(name: str, raw: bytes) -> np.ndarray:
    try:
        return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)
    except ValueError as exc:
        raise ModelFileError(f"array {name} cannot be loaded ({str(exc)[:200]})") from None


def _shape_message(name: str, found: tuple[int, ...], shape: tuple[int, ...]) -> str:
    message = f"array {name} has shape {str(found)[:80]}, expected {shape}"
    if name.startswith("W") and len(found) == 2 and found[::-1] == shape:
        message += " (it looks transposed: W must be (fan_in, fan_out))"
    return message
