"""``python -m nn fetch``: verified data and where it is, or one line and exit code 2."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from nn.cli import main
from nn.cli.fetch import _Bars
from nn.data import loader
from nn.data.cache import CACHE_FILE

ROOT = Path(__file__).resolve().parents[1]


def test_fetch_from_user_files_reports_where_it_cached(tmp_path, fake_mnist, monkeypatch, capsys):
    monkeypatch.setattr(loader, "MNIST_SHA256", fake_mnist.expected)  # small stand-in for the real hashes
    files = fake_mnist.write_idx(tmp_path / "files")
    code = main(["fetch", "--source", "files", "--path", str(files), "--cache-dir", str(tmp_path / "c")])
    out, err = capsys.readouterr()
    assert code == 0
    assert "MNIST verified (SHA-256 of all four arrays): 40 training and 12 test images" in out
    assert f"cached at {tmp_path / 'c' / CACHE_FILE}" in out
    assert err == ""  # no progress bars when stderr is not a terminal

    code = main(["fetch", "--cache-dir", str(tmp_path / "c"), "--quiet"])
    out, err = capsys.readouterr()
    assert code == 0 and "from cache (from files" in out and err == ""


def test_refresh_discards_the_cache_first(tmp_path, fake_mnist, monkeypatch, capsys):
    monkeypatch.setattr(loader, "MNIST_SHA256", fake_mnist.expected)
    files = fake_mnist.write_npz(tmp_path / "mnist.npz")
    args = ["fetch", "--path", str(files), "--cache-dir", str(tmp_path / "c"), "--quiet"]
    assert main(args) == 0 and main(args) == 0
    assert "from cache" in capsys.readouterr().out.splitlines()[-2]
    assert main(args + ["--refresh"]) == 0
    assert "from files" in capsys.readouterr().out


def test_hash_mismatch_is_one_line_and_exit_2(tmp_path, fake_mnist, capsys):
    files = fake_mnist.write_idx(tmp_path / "files")  # well-formed, but not the real MNIST
    code = main(["fetch", "--source", "files", "--path", str(files), "--cache-dir", str(tmp_path / "c")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[-1].startswith("error: could not obtain verified MNIST (tried files: ")
    assert "SHA-256 mismatch" in err
    assert not (tmp_path / "c" / CACHE_FILE).exists()


@pytest.mark.parametrize("args,message", [
    (["--source", "cache"], "cache: no cache at"),
    (["--source", "mirror", "--mirror", "ftp://example.org/"], "must start with http://"),
    (["--source", "cache", "--refresh"], "cannot be combined with --source cache"),
])
def test_expected_failures_print_one_line_without_traceback(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "nn", "fetch", "--cache-dir", str(tmp_path), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and message in proc.stderr
    assert "Traceback" not in proc.stderr


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_on_a_terminal(monkeypatch):
    screen = _Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    bars = _Bars()
    for done in (0, 4096, 8192):
        bars("download train-images-idx3-ubyte.gz", done, 8192)
    first = bars.bar
    assert (first.n, first.total, first.unit) == (8192, 8192, "B")
    bars("verify SHA-256", 4, 4)  # a new stage closes the old bar and opens its own
    assert bars.bar is not first and (bars.bar.n, bars.bar.total) == (4, 4)
    bars.close()
    text = screen.getvalue()
    assert "download train-images-idx3-ubyte.gz:   0%" in text and "0.00/8.00k" in text
    assert "verify SHA-256" in text
