"""The mirror path against a local HTTP server on 127.0.0.1: good, truncated, wrong, missing, stalling."""

from __future__ import annotations

import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from conftest import IDX_NAMES, idx_bytes, make_fake_mnist
from nn.data import DataError, load_mnist
from nn.data.cache import CACHE_FILE


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        server: MirrorServer = self.server  # type: ignore[assignment]
        server.requests.append(self.path)
        if server.stall:
            server.release.wait(10)  # never answer while the test is running
            return
        body = server.files.get(self.path)
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(server.claimed.get(self.path, len(body))))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {}
        self.claimed: dict[str, int] = {}  # a Content-Length that lies
        self.requests: list[str] = []
        self.stall = False
        self.release = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/mnist/"

    def serve(self, arrays: dict[str, np.ndarray]) -> None:
        for key, name in IDX_NAMES.items():
            self.files[f"/mnist/{name}.gz"] = gzip.compress(idx_bytes(arrays[key]))


@pytest.fixture
def server():
    srv = MirrorServer()
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join(5)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


def _nothing_cached(cache_dir) -> bool:
    return not (cache_dir / CACHE_FILE).exists() and not list(cache_dir.glob("*.tmp"))


def test_good_mirror_files_are_verified_and_cached(server, fake_mnist, tmp_path):
    server.serve(fake_mnist.arrays)
    calls = []
    ds = load_mnist("mirror", mirror=server.url, cache_dir=tmp_path, expected=fake_mnist.expected,
                    progress=lambda *a: calls.append(a))
    for key, a in fake_mnist.arrays.items():
        np.testing.assert_array_equal(getattr(ds, key), a)
    assert ds.source == f"mirror ({server.url})" and ds.verified
    assert ds.cache_path == tmp_path / CACHE_FILE and ds.cache_path.exists()
    # Progress reported each download's bytes against its Content-Length.
    size = len(server.files["/mnist/train-images-idx3-ubyte.gz"])
    assert ("download train-images-idx3-ubyte.gz", size, size) in calls
    # Offline afterwards: the cache alone serves it.
    server.files.clear()
    again = load_mnist("cache", cache_dir=tmp_path, expected=fake_mnist.expected)
    assert again.source == f"cache (from mirror ({server.url}))"
    np.testing.assert_array_equal(again.x_train, fake_mnist.arrays["x_train"])


def test_mirror_from_environment_variable(server, fake_mnist, tmp_path, monkeypatch):
    server.serve(fake_mnist.arrays)
    monkeypatch.setenv("MNIST_MIRROR", "http://127.0.0.1:9/nothing-here/ " + server.url)
    ds = load_mnist("mirror", cache_dir=tmp_path, expected=fake_mnist.expected, timeout=5)
    assert ds.source == f"mirror ({server.url})"
    assert [a.source for a in ds.attempts] == ["mirror http://127.0.0.1:9/nothing-here/"]


def test_truncated_file_is_rejected_and_nothing_cached(server, fake_mnist, tmp_path):
    server.serve(fake_mnist.arrays)
    path = "/mnist/t10k-images-idx3-ubyte.gz"
    server.files[path] = server.files[path][: len(server.files[path]) // 2]
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte.gz: corrupt or truncated gzip stream"):
        load_mnist("mirror", mirror=server.url, cache_dir=tmp_path, expected=fake_mnist.expected)
    assert _nothing_cached(tmp_path)


def test_connection_closed_early_is_a_truncated_download(server, fake_mnist, tmp_path):
    server.serve(fake_mnist.arrays)
    path = "/mnist/train-labels-idx1-ubyte.gz"
    server.claimed[path] = len(server.files[path]) + 1000
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz: truncated download"):
        load_mnist("mirror", mirror=server.url, cache_dir=tmp_path, expected=fake_mnist.expected)
    assert _nothing_cached(tmp_path)


def test_wrong_content_fails_verification_and_is_never_cached(server, fake_mnist, tmp_path):
    server.serve(make_fake_mnist(seed=1).arrays)  # well-formed files, other pixels
    with pytest.raises(DataError, match=r"SHA-256 mismatch, not the real MNIST: x_train .*; y_train") as info:
        load_mnist("mirror", mirror=server.url, cache_dir=tmp_path, expected=fake_mnist.expected)
    assert _nothing_cached(tmp_path)
    assert "x_test" in str(info.value) and "y_test" in str(info.value)


def test_missing_file_names_the_http_error(server, fake_mnist, tmp_path):
    server.serve(fake_mnist.arrays)
    del server.files["/mnist/t10k-labels-idx1-ubyte.gz"]
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz: HTTP 404"):
        load_mnist("mirror", mirror=server.url, cache_dir=tmp_path, expected=fake_mnist.expected)
    assert _nothing_cached(tmp_path)


def test_stalling_server_times_out_quickly(server, fake_mnist, tmp_path):
    server.stall = True
    start = time.monotonic()
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: timed out after 0.5 s"):
        load_mnist("mirror", mirror=server.url, cache_dir=tmp_path, expected=fake_mnist.expected, timeout=0.5)
    assert time.monotonic() - start < 5
    assert server.requests == ["/mnist/train-images-idx3-ubyte.gz"]
    assert _nothing_cached(tmp_path)


def test_bad_mirror_url_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="must start with http://, https:// or file://, got 'ftp://x/'"):
        load_mnist("mirror", mirror="ftp://x/", cache_dir=tmp_path)
