"""The live-chart component's folder: our page beside the installed plotly's own script, made once."""

from __future__ import annotations

import plotly.graph_objects as go
import pytest

from dashboard import live_charts


def test_component_folder_holds_our_page_and_plotlys_script(tmp_path) -> None:
    folder = live_charts.component_dir(tmp_path)
    assert (folder / "index.html").read_bytes() == live_charts.ASSET.read_bytes()
    assert (folder / "plotly.min.js").read_bytes() == live_charts.PLOTLY_JS.read_bytes()
    assert b'script.src = "plotly.min.js"' in (folder / "index.html").read_bytes()  # loaded beside it
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]  # no temporary left behind


def test_component_folder_is_reused_and_repaired(tmp_path) -> None:
    folder = live_charts.component_dir(tmp_path)
    (folder / "plotly.min.js").write_bytes(b"truncated")  # e.g. a copy cut short by a full disk
    assert live_charts.component_dir(tmp_path) == folder
    assert (folder / "plotly.min.js").read_bytes() == live_charts.PLOTLY_JS.read_bytes()
    script = bytearray(live_charts.PLOTLY_JS.read_bytes())
    script[:7] = b"alert()"  # same size, other content
    (folder / "plotly.min.js").write_bytes(bytes(script))
    live_charts.component_dir(tmp_path)
    assert (folder / "plotly.min.js").read_bytes() == live_charts.PLOTLY_JS.read_bytes()
    assert len(list(tmp_path.iterdir())) == 1


def test_a_changed_page_gets_a_new_folder(tmp_path, monkeypatch) -> None:
    first = live_charts.component_dir(tmp_path)
    page = tmp_path / "page.html"
    page.write_text(live_charts.ASSET.read_text() + "<!-- changed -->")
    monkeypatch.setattr(live_charts, "ASSET", page)
    second = live_charts.component_dir(tmp_path)
    assert second != first and (second / "index.html").read_text().endswith("<!-- changed -->")


def test_one_caption_per_figure_is_required() -> None:
    with pytest.raises(ValueError, match="one caption per figure, got 1 for 2"):
        live_charts.live_charts([go.Figure(), go.Figure()], ["only one"], key="x")
