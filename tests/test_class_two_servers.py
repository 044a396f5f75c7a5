"""Two app servers on one machine share one class through its SQLite file: a student trains on each, and
the leaderboard of either server shows both runs, finished, with the server's numbers.

Students are protocol-level clients (Streamlit's websocket protocol, as bench/class_leaderboard_load.py)."""

from __future__ import annotations

import asyncio
import io
import time
import urllib.parse

import pyarrow as pa
import pytest
import websockets

from bench.class_leaderboard_load import Tab, quick_query
from tests.browser import streamlit_server

pytestmark = pytest.mark.realdata


async def train_and_read_board(url: str, query: str) -> list[dict]:
    async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream", subprotocols=["streamlit"],
                                  max_size=64 * 2**20) as ws:
        tab = Tab(ws)
        page = await tab.rerun("train", query)
        start = next(e.button.id for e in page if e.WhichOneof("type") == "button" and e.button.label == "Start")
        page = await tab.rerun("train", query, (start,))
        deadline = time.monotonic() + 120
        while "finished" not in " ".join(e.markdown.body for e in page if e.WhichOneof("type") == "markdown"):
            assert time.monotonic() < deadline, "the run did not finish"
            await asyncio.sleep(1.0)
            page = await tab.rerun("train", query)
        await asyncio.sleep(0.5)
        board = await tab.rerun("classroom")
        (frame,) = [e.dataframe for e in board if e.WhichOneof("type") == "dataframe"]
        return pa.ipc.open_stream(io.BytesIO(frame.arrow_data.data)).read_all().to_pylist()


def test_two_servers_share_one_class(mnist, tmp_path) -> None:
    env = {"MNIST_CLASS": "1", "MNIST_CLASS_KEY": "k" * 20, "MNIST_DATA_DIR": str(tmp_path)}
    small = urllib.parse.urlencode({**dict(urllib.parse.parse_qsl(quick_query())), "hidden": "16"})
    with streamlit_server(env=env) as first, streamlit_server(env=env) as second:
        asyncio.run(train_and_read_board(first, quick_query()))
        rows = asyncio.run(train_and_read_board(second, small))
    assert sorted(r["Architecture"] for r in rows) == ["784-128-10", "784-16-10"]
    assert all(r["State"] == "finished" and r["Test acc"].endswith("%") for r in rows), rows
    assert (tmp_path / "class.sqlite3").exists()
