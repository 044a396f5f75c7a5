"""The cache: where it lives, atomic writes, corrupt files replaced, two processes racing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_fake_mnist
from nn.data import DataError, load_mnist
from nn.data import cache as cache_mod
from nn.data.cache import CACHE_FILE, default_cache_dir, read_cache, write_cache

ROOT = Path(__file__).resolve().parents[1]


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("MNIST_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "mnist-from-scratch"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")  # the XDG spec says so
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "mnist-from-scratch"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "mnist-from-scratch"
    monkeypatch.setenv("MNIST_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert default_cache_dir(tmp_path / "arg") == tmp_path / "arg"


def test_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    old, new = make_fake_mnist(seed=1), make_fake_mnist(seed=2)
    path = tmp_path / CACHE_FILE
    write_cache(path, old.arrays, {"source": "old"})

    def crash(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_mod.np, "savez", crash)
    with pytest.raises(OSError, match="No space left"):
        write_cache(path, new.arrays, {"source": "new"})
    arrays, meta = read_cache(path, old.expected)  # the old cache, whole
    assert meta["source"] == "old"
    np.testing.assert_array_equal(arrays["x_train"], old.arrays["x_train"])
    assert sorted(p.name for p in tmp_path.iterdir()) == [CACHE_FILE]


def _fresh_cache(tmp_path, fake) -> tuple[Path, Path]:
    files = fake.write_idx(tmp_path / "files")
    ds = load_mnist("files", paths=files, cache_dir=tmp_path / "cache", expected=fake.expected)
    assert ds.cache_path == tmp_path / "cache" / CACHE_FILE
    return files, ds.cache_path


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip_a_pixel_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[data.index(b"x_train.npy") + 1000] ^= 0xFF
    path.write_bytes(bytes(data))


def _other_data(path: Path) -> None:
    write_cache(path, make_fake_mnist(seed=7).arrays, {"source": "someone else"})


@pytest.mark.parametrize("damage,reason", [
    (_truncate, "not an npz archive"),
    (_flip_a_pixel_byte, "Bad CRC-32"),
    (_other_data, "SHA-256 mismatch"),
    (lambda p: p.write_bytes(b""), "empty file"),
])
def test_corrupt_cache_is_discarded_and_fetched_again(tmp_path, fake_mnist, damage, reason):
    files, path = _fresh_cache(tmp_path, fake_mnist)
    damage(path)
    ds = load_mnist(paths=files, cache_dir=path.parent, expected=fake_mnist.expected)
    assert ds.source.startswith("files")
    first = ds.attempts[0]
    assert first.source == "cache" and reason in first.reason and first.reason.endswith("discarded")
    arrays, _ = read_cache(path, fake_mnist.expected)  # the replacement is whole and verified
    np.testing.assert_array_equal(arrays["y_test"], fake_mnist.arrays["y_test"])
    assert load_mnist(cache_dir=path.parent, expected=fake_mnist.expected).source.startswith("cache")


def test_loaded_arrays_are_read_only(tmp_path, fake_mnist):
    _, path = _fresh_cache(tmp_path, fake_mnist)
    ds = load_mnist("cache", cache_dir=path.parent, expected=fake_mnist.expected)
    for a in ds.arrays().values():
        assert not a.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        ds.x_train[0, 0, 0] = 1


def test_cache_only_without_a_cache_says_how_to_fetch(tmp_path):
    with pytest.raises(DataError, match=r"cache: no cache at .*\n.*python -m nn fetch") as info:
        load_mnist("cache", cache_dir=tmp_path)
    assert [a.source for a in info.value.attempts] == ["cache"]


def test_unusable_cache_dir_still_returns_the_data(tmp_path, fake_mnist):
    files = fake_mnist.write_idx(tmp_path / "files")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    ds = load_mnist("files", paths=files, cache_dir=blocker / "cache", expected=fake_mnist.expected)
    assert ds.cache_path is None
    assert ds.attempts[0].source == "cache" and "will not be cached" in ds.attempts[0].reason
    np.testing.assert_array_equal(ds.x_test, fake_mnist.arrays["x_test"])


def test_stale_temporary_files_are_cleaned_up(tmp_path, fake_mnist):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    stale = cache_dir / f".{CACHE_FILE}.dead-writer.tmp"
    stale.write_bytes(b"left by a crash")
    files = fake_mnist.write_idx(tmp_path / "files")
    load_mnist("files", paths=files, cache_dir=cache_dir, expected=fake_mnist.expected)
    assert not stale.exists()


_RACER = """
import json, sys, time
from nn.data import load_mnist
cache_dir, files, expected = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
def slow(stage, done, total):
    if stage.startswith("files"):
        time.sleep(0.4)  # hold the lock long enough for the other process to arrive
ds = load_mnist(cache_dir=cache_dir, paths=files, expected=expected, progress=slow)
print(json.dumps({"source": ds.source, "y_test": ds.y_test.tolist()}))
"""


def test_two_processes_racing_the_first_load_make_one_good_cache(tmp_path, fake_mnist):
    files = fake_mnist.write_idx(tmp_path / "files")
    cache_dir = tmp_path / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", _RACER, str(cache_dir), str(files), json.dumps(fake_mnist.expected)]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    results.sort(key=lambda r: r["source"])
    assert [r["source"].split(" ")[0] for r in results] == ["cache", "files"]  # one fetched, one waited
    for r in results:
        assert r["y_test"] == fake_mnist.arrays["y_test"].tolist()
    assert sorted(p.name for p in cache_dir.iterdir()) == [CACHE_FILE, CACHE_FILE + ".lock"]
    read_cache(cache_dir / CACHE_FILE, fake_mnist.expected)


def test_a_waiting_caller_is_told_and_then_served(tmp_path, fake_mnist):
    """While another holder has the lock, load_mnist reports that it waits, then uses the fresh cache."""
    import threading

    files = fake_mnist.write_idx(tmp_path / "files")
    cache_dir = tmp_path / "cache"
    stages = []
    with cache_mod.cache_lock(cache_dir):
        worker = threading.Thread(target=lambda: stages.append(load_mnist(
            paths=files, cache_dir=cache_dir, expected=fake_mnist.expected,
            progress=lambda stage, done, total: stages.append(stage))))
        worker.start()
        worker.join(0.5)
        assert worker.is_alive() and stages == ["wait for another process fetching MNIST"]
        write_cache(cache_dir / CACHE_FILE, fake_mnist.arrays, {"source": "the other process"})
    worker.join(10)
    ds = stages[-1]
    assert ds.source == "cache (from the other process)"
