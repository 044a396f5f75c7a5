"""The readers on good files written here, and on a corpus of malformed ones."""

from __future__ import annotations

import gzip
import io
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

from conftest import IDX_NAMES, idx_bytes
from nn.data import read_idx, read_mnist_csv, read_mnist_idx, read_mnist_npz

# ---------------------------------------------------------------- good files


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, fake_mnist, gz):
    fake_mnist.write_idx(tmp_path, gz=gz)
    suffix = ".gz" if gz else ""
    for key, name in IDX_NAMES.items():
        got = read_idx(tmp_path / (name + suffix))
        np.testing.assert_array_equal(got, fake_mnist.arrays[key])
        assert got.dtype == np.uint8
    out = read_mnist_idx(*(tmp_path / (IDX_NAMES[k] + suffix) for k in IDX_NAMES))
    for key in IDX_NAMES:
        np.testing.assert_array_equal(out[key], fake_mnist.arrays[key])


def test_idx_reads_other_types_in_native_byte_order(tmp_path):
    values = np.array([[1, -2, 70000], [3, 4, -5]], dtype=np.int32)
    header = bytes([0, 0, 0x0C, 2]) + struct.pack(">II", 2, 3)
    path = tmp_path / "ints.idx"
    path.write_bytes(header + values.astype(">i4").tobytes())
    got = read_idx(path)
    np.testing.assert_array_equal(got, values)
    assert got.dtype == np.dtype("int32")


def test_idx_from_an_open_file(tmp_path, fake_mnist):
    data = gzip.compress(idx_bytes(fake_mnist.arrays["y_train"]))
    np.testing.assert_array_equal(read_idx(io.BytesIO(data)), fake_mnist.arrays["y_train"])


def test_npz_round_trip(tmp_path, fake_mnist):
    path = fake_mnist.write_npz(tmp_path / "mnist.npz")
    out = read_mnist_npz(path)
    for key, a in fake_mnist.arrays.items():
        np.testing.assert_array_equal(out[key], a)
        assert out[key].dtype == np.uint8 and out[key].shape == a.shape


def test_npz_compressed_and_extra_keys(tmp_path, fake_mnist):
    path = tmp_path / "mnist.npz"
    np.savez_compressed(path, extra=np.arange(3), **fake_mnist.arrays)
    np.testing.assert_array_equal(read_mnist_npz(path)["x_test"], fake_mnist.arrays["x_test"])


@pytest.mark.parametrize("header", [True, False])
def test_csv_round_trip_header_optional(tmp_path, fake_mnist, header):
    fake_mnist.write_csv(tmp_path, header=header)
    calls = []
    x, y = read_mnist_csv(tmp_path / "mnist_train.csv", progress=lambda *a: calls.append(a), chunk_rows=7)
    np.testing.assert_array_equal(x, fake_mnist.arrays["x_train"])
    np.testing.assert_array_equal(y, fake_mnist.arrays["y_train"])
    assert x.dtype == y.dtype == np.uint8 and x.shape == (40, 28, 28)
    # One call per chunk of 7 rows; bytes done rise to the file's size.
    size = (tmp_path / "mnist_train.csv").stat().st_size
    assert len(calls) == 6 and calls[-1] == ("read mnist_train.csv", size, size)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)


def test_csv_from_a_stream(fake_mnist, tmp_path):
    fake_mnist.write_csv(tmp_path)
    data = (tmp_path / "mnist_test.csv").read_bytes()
    x, y = read_mnist_csv(io.BytesIO(data), total_bytes=len(data))
    np.testing.assert_array_equal(x, fake_mnist.arrays["x_test"])
    np.testing.assert_array_equal(y, fake_mnist.arrays["y_test"])


@pytest.mark.parametrize("header", [True, False])
def test_csv_with_windows_line_ends_and_a_byte_order_mark(fake_mnist, tmp_path, header):
    fake_mnist.write_csv(tmp_path, header=header)
    text = (tmp_path / "mnist_test.csv").read_text()
    data = ("\ufeff" + text.replace("\n", "\r\n")).encode("utf-8")
    x, y = read_mnist_csv(io.BytesIO(data))
    np.testing.assert_array_equal(x, fake_mnist.arrays["x_test"])  # the first row is not taken for a header
    np.testing.assert_array_equal(y, fake_mnist.arrays["y_test"])


# ---------------------------------------------------------------- the malformed corpus


def _idx(code: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape) + payload


def _u8(shape: tuple[int, ...], value: int = 0) -> bytes:
    return np.full(shape, value, dtype=np.uint8).tobytes()


def _npy_member(shape: tuple[int, ...], descr: str, payload: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def _npz(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
    return buf.getvalue()


def _good_npz_members(**replace: bytes) -> dict[str, bytes]:
    members = {
        "x_train": _npy_member((3, 28, 28), "|u1", _u8((3, 28, 28))),
        "y_train": _npy_member((3,), "|u1", _u8((3,))),
        "x_test": _npy_member((2, 28, 28), "|u1", _u8((2, 28, 28))),
        "y_test": _npy_member((2,), "|u1", _u8((2,))),
    }
    members.update(replace)
    return members


def _savez_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _pickled_npz() -> bytes:
    good = {k: np.zeros((1, 28, 28) if k[0] == "x" else 1, np.uint8) for k in IDX_NAMES}
    good["x_train"] = np.array([{"payload": "os.system"}], dtype=object)
    return _savez_bytes(**good)


def _csv(rows: list[str], header: bool = True) -> bytes:
    head = ["label," + ",".join(f"pixel{i}" for i in range(784))] if header else []
    return ("\n".join(head + rows) + "\n").encode()


def _row(label: object = 3, fill: str = "0", **cells: str) -> str:
    values = [str(label)] + [fill] * 784
    for col, text in cells.items():
        values[int(col.removeprefix("c"))] = text
    return ",".join(values)


def _corrupt_stored_npz() -> bytes:
    good = _npz(_good_npz_members())
    pos = good.index(b"x_train.npy") + 400  # inside that member's pixel bytes
    return good[:pos] + b"\x07" + good[pos + 1:]


def _npz_directory_lies(field_offset: int, value: int) -> bytes:
    """A good npz whose central directory entry for y_test.npy claims another size."""
    data = bytearray(_npz(_good_npz_members()))
    entry = data.index(b"PK\x01\x02")  # central directory entries: name at +46, sizes at +20 and +24
    while not data[entry + 46:].startswith(b"y_test.npy"):
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + field_offset:entry + field_offset + 4] = struct.pack("<I", value)
    return bytes(data)


def _good_idx_set(**replace: bytes) -> dict[str, bytes]:
    files = {"x_train": _idx(8, (3, 28, 28), _u8((3, 28, 28))), "y_train": _idx(8, (3,), _u8((3,))),
             "x_test": _idx(8, (2, 28, 28), _u8((2, 28, 28))), "y_test": _idx(8, (2,), _u8((2,)))}
    files.update(replace)
    return files


# (kind, reader, file contents, regex the message must match)
CORPUS = [
    ("idx empty file", "idx", b"", r"empty file"),
    ("idx truncated magic", "idx", b"\x00\x00", r"truncated header: 2 bytes"),
    ("idx bad magic", "idx", b"PK\x03\x04" + bytes(20), r"bad magic number 0x504b0304"),
    ("idx unknown type", "idx", bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 9]), r"unknown IDX data type 0x07"),
    ("idx zero dimensions", "idx", bytes([0, 0, 8, 0]), r"declares 0 dimensions"),
    ("idx truncated sizes", "idx", bytes([0, 0, 8, 3, 0, 0, 0, 9]), r"3 dimensions need 12 bytes"),
    ("idx truncated data", "idx", _idx(8, (10, 28, 28), bytes(100)),
     r"truncated data: .*7,840 bytes, the file holds 100"),
    ("idx trailing bytes", "idx", _idx(8, (2,), bytes(5)), r"3 unexpected bytes after the 2 bytes"),
    ("idx absurd size", "idx", _idx(8, (10**9, 28, 28), bytes(10)), r"more than the [\d,]+-byte limit"),
    ("idx gzip truncated", "idx", gzip.compress(_idx(8, (50, 28, 28), np.arange(39200).astype("u1").tobytes()))[:-30],
     r"corrupt or truncated gzip stream"),
    ("idx gzip header lies", "idx", gzip.compress(_idx(8, (2_000_000, 28, 28), bytes(100))),
     r"truncated data: .*1,568,000,000 bytes, the stream holds 100"),
    ("idx images wrong dimensions", "idx set", _good_idx_set(x_train=_idx(8, (3, 784), _u8((3, 784)))),
     r"wrong dimensions: images must be \(n, 28, 28\), got shape \(3, 784\)"),
    ("idx labels wrong dimensions", "idx set", _good_idx_set(y_test=_idx(8, (2, 1), _u8((2, 1)))),
     r"wrong dimensions: labels must be \(n,\), got shape \(2, 1\)"),
    ("idx images wrong dtype", "idx set", _good_idx_set(x_test=_idx(0x0C, (2, 28, 28), bytes(4 * 1568))),
     r"images have dtype int32; expected uint8"),
    ("idx label out of range", "idx set", _good_idx_set(y_train=_idx(8, (3,), bytes([1, 10, 2]))),
     r"label out of 0-9: label 10 at index 1"),
    ("idx count mismatch", "idx set", _good_idx_set(y_train=_idx(8, (4,), bytes(4))), r"3 images but 4 labels"),
    ("npz empty file", "npz", b"", r"empty file"),
    ("npz not a zip", "npz", b"this is not a zip archive at all", r"not an npz archive"),
    ("npz truncated archive", "npz", _npz(_good_npz_members())[:1500], r"not an npz archive"),
    ("npz pickle inside", "npz", _pickled_npz(), r"x_train\]: holds Python objects .* a pickle inside"),
    ("npz missing keys", "npz", _npz({k: v for k, v in _good_npz_members().items() if k != "y_test"}),
     r"missing keys y_test \(it holds: x_test, x_train, y_train\)"),
    ("npz wrong dtype", "npz", _npz(_good_npz_members(x_train=_npy_member((3, 28, 28), "<f4", bytes(9408)))),
     r"images have dtype float32; expected uint8"),
    ("npz header lies about size", "npz", _npz(_good_npz_members(y_train=_npy_member((10**6,), "|u1", bytes(3)))),
     r"y_train\]: truncated or padded data: header declares shape \(1000000,\)"),
    ("npz absurd size", "npz", _npz(_good_npz_members(x_test=_npy_member((10**9, 28, 28), "|u1", bytes(3)))),
     r"x_test\]: header declares shape .* more than the"),
    ("npz directory claims more than the archive", "npz", _npz_directory_lies(20, 10**9),
     r"y_test\]: the zip directory claims 1,000,000,000 stored bytes, the whole archive has"),
    ("npz directory claims impossible size", "npz", _npz_directory_lies(24, 4 * 10**9),
     r"y_test\]: the zip directory claims 4,000,000,000 bytes from \d+ stored"),
    ("npz not an npy member", "npz", _npz(_good_npz_members(y_test=b"garbage, not numpy")),
     r"y_test\]: not a valid .npy array"),
    ("npz corrupt member", "npz", _corrupt_stored_npz(), r"corrupt archive member: Bad CRC-32"),
    ("npz label out of range", "npz", _npz(_good_npz_members(y_test=_npy_member((2,), "|u1", bytes([3, 255]))),),
     r"test: label out of 0-9: label 255 at index 1"),
    ("csv empty file", "csv", b"", r"empty file"),
    ("csv blank lines only", "csv", b"\n\n  \n", r"empty file"),
    ("csv header only", "csv", _csv([]), r"no data rows after the header"),
    ("csv wrong column count", "csv", _csv([",".join(["0"] * 784)], header=False),
     r"wrong column count: the first row has 784 columns, expected 785 .*Kaggle test.csv"),
    ("csv ragged short row", "csv", _csv([_row(), "3,0,0"]), r"ragged rows: data row 2 has 3 values"),
    ("csv ragged long row", "csv", _csv([_row(), _row(), _row() + ",0"]),
     r"ragged rows: data row 3 has 786 values, expected 785"),
    ("csv non-numeric cell", "csv", _csv([_row(c5="abc")]), r"non-numeric cell 'abc' in data row 1, column 6"),
    ("csv NaN cell", "csv", _csv([_row(), _row(c3="NaN")]), r"NaN in data row 2, column 4"),
    ("csv empty cell", "csv", _csv([_row(c700="")]), r"missing value \(empty cell\) in data row 1, column 701"),
    ("csv not a whole number", "csv", _csv([_row(c1="0.5")]), r"not a whole number: '0.5' in data row 1"),
    ("csv label out of range", "csv", _csv([_row(), _row(label=12)]), r"label out of 0-9: 12 in data row 2"),
    ("csv pixel too large", "csv", _csv([_row(c9="256")]), r"pixel out of 0-255: 256 in data row 1, column 10"),
    ("csv negative pixel", "csv", _csv([_row(), _row(c784="-1")]),
     r"pixel out of 0-255: -1 in data row 2, column 785"),
    ("csv huge number", "csv", _csv([_row(c2="1" * 30)]), r"value out of range: '1{30}'"),
]


def _read(kind: str, contents, tmp_path):
    if kind == "idx set":
        paths = []
        for key, data in contents.items():
            paths.append(tmp_path / IDX_NAMES[key])
            paths[-1].write_bytes(data)
        return read_mnist_idx(*paths)
    path = tmp_path / {"idx": "bad-idx1-ubyte", "npz": "bad.npz", "csv": "bad.csv"}[kind]
    path.write_bytes(contents)
    return {"idx": read_idx, "npz": read_mnist_npz, "csv": read_mnist_csv}[kind](path)


@pytest.mark.parametrize("name,kind,contents,message", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_file_gives_its_own_clear_error(tmp_path, name, kind, contents, message):
    with pytest.raises(ValueError, match=message) as info:
        _read(kind, contents, tmp_path)
    if kind != "idx set":  # the message says which file is wrong
        assert "bad" in str(info.value)


def test_every_kind_of_malformation_has_a_distinct_message(tmp_path):
    """Cases sharing an expected message are one kind (an empty file, say); kinds never share one."""
    messages = set()
    for name, kind, contents, _ in CORPUS:
        folder = tmp_path / name.replace(" ", "_")
        folder.mkdir()
        with pytest.raises(ValueError) as info:
            _read(kind, contents, folder)
        messages.add(str(info.value).replace(str(folder), ""))
    kinds = {(kind.split()[0], message) for _, kind, _, message in CORPUS}
    assert len(kinds) >= 15
    assert len(messages) == len(kinds)


@pytest.mark.parametrize("gz", [False, True])
def test_lying_header_is_caught_before_allocating(tmp_path, gz):
    """A header claiming 1.5 GB of images in a 100-byte file must not allocate anything like that."""
    data = _idx(8, (2_000_000, 28, 28), bytes(100))
    path = tmp_path / "lie-idx3-ubyte"
    path.write_bytes(gzip.compress(data) if gz else data)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="truncated data"):
            read_idx(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20


def test_npz_with_pickle_is_refused_without_unpickling(tmp_path, monkeypatch):
    import pickle

    def explode(*args, **kwargs):
        raise AssertionError("the reader tried to unpickle")

    monkeypatch.setattr(pickle, "load", explode)
    monkeypatch.setattr(pickle, "loads", explode)
    path = tmp_path / "evil.npz"
    path.write_bytes(_pickled_npz())
    with pytest.raises(ValueError, match="pickle"):
        read_mnist_npz(path)
