"""The server-side timing log of page runs: written only when MNIST_TIMING_LOG asks for it."""

from __future__ import annotations

import json

import pytest

from dashboard.timing import timed_run


def test_no_log_unless_asked(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MNIST_TIMING_LOG", raising=False)
    with timed_run("train"):
        pass
    assert list(tmp_path.iterdir()) == []


def test_each_run_appends_one_line_even_when_the_run_is_cut_short(tmp_path, monkeypatch) -> None:
    log = tmp_path / "timing.jsonl"
    monkeypatch.setenv("MNIST_TIMING_LOG", str(log))
    with timed_run("train"):
        pass
    with pytest.raises(RuntimeError), timed_run("evaluate"):  # st.rerun() and st.stop() end a run by raising
        raise RuntimeError("rerun")
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [line["page"] for line in lines] == ["train", "evaluate"]
    assert all(line["seconds"] >= 0 and line["t"] > 0 for line in lines)
