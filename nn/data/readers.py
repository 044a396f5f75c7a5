"""Readers for the formats MNIST is published in: IDX, Keras-style npz, Kaggle-style CSV.

Each reader returns arrays or raises ``ValueError`` saying precisely what is
wrong and where. Nothing here trusts a size written in a file: a header that
claims 10^9 images is compared with the bytes actually present before any
memory is allocated, and an npz that would need unpickling is refused.

Shapes: images ``(n, 28, 28)`` uint8 (0-255), labels ``(n,)`` uint8 (0-9).
"""

from __future__ import annotations

import gzip
import io
import math
import os
import re
import zipfile
import zlib
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

PathOrFile = str | os.PathLike | BinaryIO
Progress = Callable[[str, int, int | None], None]

SIDE = 28
PIXELS = SIDE * SIDE
N_CLASSES = 10
KEYS = ("x_train", "y_train", "x_test", "y_test")

# MNIST's largest array is 47 MB; EMNIST's is about 0.6 GB. Anything past this is a lie or a mistake.
MAX_ARRAY_BYTES = 2**31
MAX_IDX_DIMS = 8
_CHUNK = 1 << 20
MAX_DEFLATE_RATIO = 1032  # deflate's ceiling: one 258-byte match per 2 bits, roughly

# IDX type codes (the third byte of the magic number) and their big-endian dtypes.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def _name(source: PathOrFile) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _read_at_most(f: BinaryIO, limit: int) -> bytearray:
    """Read up to ``limit`` bytes in chunks, so memory follows the data present, not the data claimed."""
    data = bytearray()
    while len(data) < limit:
        block = f.read(min(_CHUNK, limit - len(data)))
        if not block:
            break
        data += block
    return data


def _read_exact(f: BinaryIO, need: int) -> np.ndarray:
    """Read ``need`` bytes straight into one array; only for sizes already checked against the file."""
    buf = np.empty(need, dtype=np.uint8)
    view, done = memoryview(buf), 0
    while done < need:
        n = f.readinto(view[done:done + 4 * _CHUNK])
        if not n:
            break
        done += n
    return buf[:done]


# ---------------------------------------------------------------- IDX


def read_idx(path: PathOrFile, *, max_bytes: int = MAX_ARRAY_BYTES) -> np.ndarray:
    """Read one IDX file (gzip-compressed or raw; detected from its first bytes, not its name).

    Returns the array in native byte order with the shape the header declares,
    e.g. ``(60000, 28, 28)`` uint8 for ``train-images-idx3-ubyte``.
    """
    name = _name(path)
    own = isinstance(path, (str, os.PathLike))
    raw = open(path, "rb") if own else path
    try:
        start = raw.read(2)
        if not start:
            raise ValueError(f"{name}: empty file")
        if start == _GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                try:
                    return _read_idx_stream(gz, name, None, max_bytes)
                except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
                    raise ValueError(f"{name}: corrupt or truncated gzip stream ({exc})") from None
        raw.seek(0)
        size = os.fstat(raw.fileno()).st_size if own else None
        return _read_idx_stream(raw, name, size, max_bytes)
    finally:
        if own:
            raw.close()


def _read_idx_stream(f: BinaryIO, name: str, size: int | None, max_bytes: int) -> np.ndarray:
    magic = f.read(4)
    if len(magic) == 0:
        raise ValueError(f"{name}: empty file")
    if len(magic) < 4:
        raise ValueError(f"{name}: truncated header: {len(magic)} bytes, an IDX magic number needs 4")
    if magic[:2] != b"\x00\x00":
        raise ValueError(
            f"{name}: bad magic number 0x{magic.hex()}: an IDX file starts with 0x0000 then a type byte "
            "and a dimension count (0x00000803 for images, 0x00000801 for labels)"
        )
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise ValueError(f"{name}: unknown IDX data type 0x{code:02X} in magic number 0x{magic.hex()} "
                         f"(known: {known})")
    if not 1 <= ndim <= MAX_IDX_DIMS:
        raise ValueError(f"{name}: IDX header declares {ndim} dimensions; expected 1 to {MAX_IDX_DIMS}")
    dims_raw = f.read(4 * ndim)
    if len(dims_raw) < 4 * ndim:
        raise ValueError(f"{name}: truncated header: {ndim} dimensions need {4 * ndim} bytes of sizes, "
                         f"found {len(dims_raw)}")
    shape = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=">u4"))
    dtype = np.dtype(IDX_DTYPES[code])
    need = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on absurd headers
    if need > max_bytes:
        raise ValueError(f"{name}: header declares shape {shape} = {need:,} bytes, more than the "
                         f"{max_bytes:,}-byte limit; the header is corrupt")
    header = 4 + 4 * ndim
    if size is not None:  # raw file: compare with its length before reading anything
        have = size - header
        if have < need:
            raise ValueError(f"{name}: truncated data: header declares shape {shape} = {need:,} bytes, "
                             f"the file holds {have:,}")
        if have > need:
            raise ValueError(f"{name}: {have - need:,} unexpected bytes after the {need:,} bytes of data "
                             f"the header declares for shape {shape}")
    data = _read_exact(f, need) if size is not None else _read_at_most(f, need + 1)
    if len(data) < need:
        raise ValueError(f"{name}: truncated data: header declares shape {shape} = {need:,} bytes, "
                         f"the stream holds {len(data):,}")
    if len(data) > need:
        raise ValueError(f"{name}: unexpected bytes after the {need:,} bytes of data the header "
                         f"declares for shape {shape}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def check_mnist_pair(images: np.ndarray, labels: np.ndarray, where: str) -> None:
    """Raise ValueError unless images are (n, 28, 28) uint8 and labels (n,) uint8 in 0-9."""
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"{where}: wrong dimensions: images must be (n, 28, 28), got shape {images.shape}")
    if labels.ndim != 1:
        raise ValueError(f"{where}: wrong dimensions: labels must be (n,), got shape {labels.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"{where}: images have dtype {images.dtype}; expected uint8 pixels 0-255")
    if labels.dtype != np.uint8:
        raise ValueError(f"{where}: labels have dtype {labels.dtype}; expected uint8 digits 0-9")
    if len(images) != len(labels):
        raise ValueError(f"{where}: {len(images)} images but {len(labels)} labels")
    if len(labels) and labels.max() >= N_CLASSES:
        bad = int(np.argmax(labels >= N_CLASSES))
        raise ValueError(f"{where}: label out of 0-9: label {int(labels[bad])} at index {bad}")


def read_mnist_idx(train_images: PathOrFile, train_labels: PathOrFile,
                   test_images: PathOrFile, test_labels: PathOrFile) -> dict[str, np.ndarray]:
    """Read the four standard IDX files into ``{"x_train", "y_train", "x_test", "y_test"}``."""
    out = {
        "x_train": read_idx(train_images), "y_train": read_idx(train_labels),
        "x_test": read_idx(test_images), "y_test": read_idx(test_labels),
    }
    check_mnist_pair(out["x_train"], out["y_train"], f"{_name(train_images)} + {_name(train_labels)}")
    check_mnist_pair(out["x_test"], out["y_test"], f"{_name(test_images)} + {_name(test_labels)}")
    return out


# ---------------------------------------------------------------- npz


def read_mnist_npz(path: PathOrFile, *, max_bytes: int = MAX_ARRAY_BYTES) -> dict[str, np.ndarray]:
    """Read a Keras-style ``mnist.npz`` (keys x_train, y_train, x_test, y_test) without ever unpickling.

    Each ``.npy`` header is checked (dtype, shape, size against the bytes stored)
    before its data is read. Extra keys are ignored.
    """
    name = _name(path)
    if isinstance(path, (str, os.PathLike)):
        archive_size = os.path.getsize(path)
    else:
        here = path.tell()
        archive_size = path.seek(0, io.SEEK_END) - here
        path.seek(here)
    if archive_size == 0:
        raise ValueError(f"{name}: empty file")
    try:
        zf = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{name}: not an npz archive (a zip of .npy files): {exc}") from None
    with zf:
        members = {n.removesuffix(".npy"): n for n in zf.namelist() if n.endswith(".npy")}
        missing = [k for k in KEYS if k not in members]
        if missing:
            held = ", ".join(sorted(members)) or "no arrays"
            raise ValueError(f"{name}: missing keys {', '.join(missing)} (it holds: {held})")
        for k in KEYS:
            _check_member_sizes(zf.getinfo(members[k]), archive_size, f"{name}[{k}]")
        out = {k: _read_npy_member(zf, members[k], f"{name}[{k}]", max_bytes) for k in KEYS}
    check_mnist_pair(out["x_train"], out["y_train"], f"{name} train")
    check_mnist_pair(out["x_test"], out["y_test"], f"{name} test")
    return out


def _check_member_sizes(info: zipfile.ZipInfo, archive_size: int, where: str) -> None:
    """The sizes a zip directory declares, against the archive's real length (before any allocation)."""
    if info.compress_size > archive_size:
        raise ValueError(f"{where}: the zip directory claims {info.compress_size:,} stored bytes, "
                         f"the whole archive has {archive_size:,}")
    stored = info.compress_type == zipfile.ZIP_STORED
    if (stored and info.file_size != info.compress_size) or (
            info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 1024):
        raise ValueError(f"{where}: the zip directory claims {info.file_size:,} bytes from "
                         f"{info.compress_size:,} stored, more than any compression allows")


def _read_npy_member(zf: zipfile.ZipFile, member: str, where: str, max_bytes: int) -> np.ndarray:
    info = zf.getinfo(member)
    fmt = np.lib.format
    try:
        with zf.open(info) as f:
            try:
                version = fmt.read_magic(f)
                if version == (1, 0):
                    shape, fortran, dtype = fmt.read_array_header_1_0(f)
                elif version == (2, 0):
                    shape, fortran, dtype = fmt.read_array_header_2_0(f)
                else:
                    raise ValueError(f"unsupported .npy format version {version}")
            except ValueError as exc:
                raise ValueError(f"{where}: not a valid .npy array: {exc}") from None
            if dtype.hasobject:
                raise ValueError(f"{where}: holds Python objects (dtype {dtype}), a pickle inside the npz; "
                                 "loading it would run arbitrary code, so it is refused")
            need = math.prod(shape) * dtype.itemsize
            if need > max_bytes:
                raise ValueError(f"{where}: header declares shape {shape} = {need:,} bytes, more than the "
                                 f"{max_bytes:,}-byte limit")
            have = info.file_size - f.tell()
            if have != need:
                raise ValueError(f"{where}: truncated or padded data: header declares shape {shape} "
                                 f"({need:,} bytes) but {have:,} bytes are stored")
            data = _read_exact(f, need)
            if len(data) != need or f.read(1):  # reading to the end also makes zipfile check the CRC
                raise ValueError(f"{where}: truncated data: expected {need:,} bytes, read {len(data):,}")
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"{where}: corrupt archive member: {exc}") from None
    order = "F" if fortran else "C"
    return np.frombuffer(data, dtype=dtype).reshape(shape, order=order).astype(
        dtype.newbyteorder("="), copy=False)


# ---------------------------------------------------------------- CSV


def read_mnist_csv(path: PathOrFile, *, progress: Progress | None = None, total_bytes: int | None = None,
                   chunk_rows: int = 10_000) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-style CSV: one image per row, ``label`` then 784 pixels 0-255; header optional.

    Returns ``(images (n, 28, 28) uint8, labels (n,) uint8)``. ``progress`` is
    called as ``progress("read NAME", bytes_done, bytes_total)``; for a stream,
    pass its length as ``total_bytes`` (a path's length is looked up).
    """
    import pandas as pd  # lazily: the rest of nn/ needs only numpy

    name = _name(path)
    own = isinstance(path, (str, os.PathLike))
    f = open(path, "rb") if own else path
    try:
        if not f.seekable():  # the error path re-reads lines, so it needs to seek
            f = io.BytesIO(f.read())
        start = f.tell()
        total = os.fstat(f.fileno()).st_size - start if own else total_bytes
        first = f.readline()
        while first and not first.strip():
            first = f.readline()
        if not first.strip():
            raise ValueError(f"{name}: empty file")
        cells = first.removeprefix(b"\xef\xbb\xbf").rstrip(b"\r\n").split(b",")  # a UTF-8 BOM is not a header
        has_header = not cells[0].strip().lstrip(b"+-").isdigit()
        if len(cells) != 1 + PIXELS:
            what = "header" if has_header else "first row"
            hint = " (a Kaggle test.csv has no label column)" if len(cells) == PIXELS else ""
            raise ValueError(f"{name}: wrong column count: the {what} has {len(cells)} columns, expected "
                             f"{1 + PIXELS} (label then {PIXELS} pixels){hint}")
        if not has_header:
            f.seek(start)
        first_row = 1 if has_header else 0  # data row i is line i + first_row (0-based, blanks aside)
        stage = f"read {os.path.basename(name)}"
        blocks = []
        done_rows = 0
        try:
            reader = pd.read_csv(f, header=None, na_filter=False, chunksize=chunk_rows, engine="c")
        except pd.errors.EmptyDataError:
            raise ValueError(f"{name}: no data rows after the header") from None
        try:
            for chunk in reader:
                block = _check_csv_chunk(chunk, f, start, first_row, done_rows, name)
                blocks.append(block)
                done_rows += len(block)
                if progress is not None:
                    progress(stage, min(f.tell() - start, total) if total else done_rows, total)
        except pd.errors.ParserError as exc:
            raise ValueError(f"{name}: ragged rows: {_parser_detail(exc)}") from None
        finally:
            reader.close()
        if not blocks:
            raise ValueError(f"{name}: no data rows after the header")
        table = np.concatenate(blocks)
    finally:
        if own:
            f.close()
    labels = np.ascontiguousarray(table[:, 0])
    images = np.ascontiguousarray(table[:, 1:]).reshape(-1, SIDE, SIDE)
    return images, labels


def _parser_detail(exc: Exception) -> str:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found is None:
        return str(exc).strip()
    expected, line, saw = found.groups()
    return f"data row {line} has {saw} values, expected {expected}"


def _check_csv_chunk(chunk, f: BinaryIO, start: int, first_row: int, offset: int, name: str) -> np.ndarray:
    """Validate one pandas chunk and return it as a (rows, 785) uint8 array."""
    if chunk.shape[1] != 1 + PIXELS:
        raise ValueError(f"{name}: wrong column count: {chunk.shape[1]} columns, expected {1 + PIXELS}")
    bad_cols = [c for c in chunk.columns if chunk[c].dtype.kind not in "iu"]
    if bad_cols:
        raise ValueError(_diagnose_cell(chunk, bad_cols, f, start, first_row, offset, name))
    values = chunk.to_numpy(dtype=np.int64)
    labels = values[:, 0]
    if labels.min() < 0 or labels.max() >= N_CLASSES:
        row = int(np.argmax((labels < 0) | (labels >= N_CLASSES)))
        raise ValueError(f"{name}: label out of 0-9: {int(labels[row])} in data row {offset + row + 1}")
    pixels = values[:, 1:]
    if pixels.min() < 0 or pixels.max() > 255:
        row, col = np.argwhere((pixels < 0) | (pixels > 255))[0]
        raise ValueError(f"{name}: pixel out of 0-255: {int(pixels[row, col])} in data row "
                         f"{offset + row + 1}, column {col + 2}")
    return values.astype(np.uint8)


def _diagnose_cell(chunk, bad_cols, f, start, first_row, offset, name) -> str:
    """Find the first cell that is not a whole number and say exactly what it is."""
    import pandas as pd

    col = bad_cols[0]
    numeric = pd.to_numeric(chunk[col], errors="coerce")
    is_int = numeric.notna() & (numeric == numeric.round())
    row = int(np.argmax(~is_int.to_numpy()))
    data_row = offset + row + 1
    cell = str(chunk[col].iloc[row]).strip()
    line = _line_of_row(f, start, first_row + offset + row)
    n_values = len(line.split(b",")) if line is not None else None
    if n_values is not None and n_values != 1 + PIXELS:
        return f"{name}: ragged rows: data row {data_row} has {n_values} values, expected {1 + PIXELS}"
    where = f"data row {data_row}, column {col + 1}"
    if cell == "":
        return f"{name}: missing value (empty cell) in {where}"
    if cell.lower() in ("nan", "na", "n/a", "null", "none", "-nan"):
        return f"{name}: NaN in {where} ({cell!r}); every pixel must be a whole number 0-255"
    if not pd.isna(numeric.iloc[row]):
        value = float(numeric.iloc[row])
        if value != round(value):
            return f"{name}: not a whole number: {cell!r} in {where}"
        return f"{name}: value out of range: {cell!r} in {where}"
    return f"{name}: non-numeric cell {cell!r} in {where}"


def _line_of_row(f: BinaryIO, start: int, index: int) -> bytes | None:
    """The raw text of the index-th non-blank line (0-based), re-read for an error message."""
    try:
        f.seek(start)
    except (OSError, ValueError):
        return None
    seen = -1
    for line in f:
        if line.strip():
            seen += 1
            if seen == index:
                return line.rstrip(b"\r\n")
    return None
