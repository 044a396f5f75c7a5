"""Two app servers on one machine share one class through its SQLite file: a student trains on each, and
the leaderboard of either server shows both runs, finished, with the server's numbers.

Students are protocol-level clients (tests/st_protocol.py: Streamlit's websocket protocol, as in
bench/class_load.py)."""

from __future__ import annotations

import urllib.parse

import pytest

from lab.params import config_to_knobs, knobs_to_query
from nn.presets import PRESETS
from tests.browser import streamlit_server
from tests.st_protocol import student

pytestmark = pytest.mark.realdata


def quick_query(**changes: str) -> str:
    """The Quick preset's link, with some of its query parameters changed."""
    return urllib.parse.urlencode({**knobs_to_query(config_to_knobs(PRESETS["quick"])), **changes})


def test_two_servers_share_one_class(mnist, tmp_path) -> None:
    env = {"MNIST_CLASS": "1", "MNIST_CLASS_KEY": "k" * 20, "MNIST_DATA_DIR": str(tmp_path)}
    with streamlit_server(env=env) as first, streamlit_server(env=env) as second:
        student(first, query=quick_query(), class_page=True)
        rows = student(second, query=quick_query(hidden="16"), class_page=True).table_rows()
    assert sorted(r["Architecture"] for r in rows) == ["784-128-10", "784-16-10"]
    assert all(r["State"] == "finished" and r["Test acc"].endswith("%") for r in rows), rows
    assert (tmp_path / "class.sqlite3").exists()
