"""Plotly charts that update in place while a run is live (the Train page's loss, epoch and rate charts).

``st.plotly_chart`` keys its element by a hash of the figure, so a figure that changed is a new element:
the browser mounts it and plotly draws it from scratch. Twice a second, with the browser on the same two
cores as the training, that cost the training about a core (docs/PERFORMANCE.md). This module shows the
figures in one small component of our own (``assets/live_charts.html``) that keeps each chart's node
and calls ``Plotly.react``, which redraws only what changed. The figures themselves still come from the
pure builders in ``figures/``.

Rasters (figures/raster.py: the live filters and digits) travel the same way and are drawn on a
canvas, without plotly.

The component's page loads the installed plotly package's own ``plotly.min.js`` (so the JavaScript
always matches the Python side's JSON). Streamlit serves a component only from one folder and refuses
symlinks out of it, so the two files are copied once into a folder of the user's cache. If that folder
cannot be written, the charts fall back to ``st.plotly_chart``.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly
import plotly.graph_objects as go
import plotly.io
import streamlit as st
import streamlit.components.v1 as components

from figures.raster import Raster, raster_from_json
from nn.data.cache import default_cache_dir

ASSET = Path(__file__).resolve().parent / "assets" / "live_charts.html"
PLOTLY_JS = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy so that a reader (another session's server thread) never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def component_dir(base: Path | None = None) -> Path:
    """The folder Streamlit serves the component from: our page plus plotly's script, made once.

    Its name carries the plotly version and a hash of our page, so an upgrade of either gets a fresh
    folder and a browser never mixes an old page with a new script.
    """
    page = ASSET.read_bytes()
    tag = f"{plotly.__version__}-{hashlib.sha256(page).hexdigest()[:12]}"
    folder = (base or default_cache_dir()) / f"live-charts-{tag}"
    folder.mkdir(parents=True, exist_ok=True)
    # Compared byte for byte (once per server process): the browser runs these files, so a truncated
    # or altered copy is replaced, never served.
    for source, target in ((PLOTLY_JS, folder / "plotly.min.js"), (ASSET, folder / "index.html")):
        if not target.exists() or not filecmp.cmp(source, target, shallow=False):
            _copy_atomically(source, target)
    return folder


@st.cache_resource(show_spinner=False)
def _component() -> Any | None:
    """The declared component, or None when its folder cannot be made (then charts use st.plotly_chart)."""
    try:
        folder = component_dir()
    except OSError:
        return None
    return components.declare_component("live_charts", path=str(folder))


def figure_json(fig: go.Figure | Raster) -> str:
    """The figure as plotly's JSON (numpy arrays travel as compact typed arrays), or the raster's."""
    return fig.to_json() if isinstance(fig, Raster) else fig.to_json(validate=False)


def _fallback(text: str, *, key: str, clickable: bool) -> None:
    """One figure's JSON through Streamlit's own elements (the component's folder could not be made)."""
    raster = raster_from_json(text)
    if raster is None:
        clicks = {"on_select": "rerun", "selection_mode": "points"} if clickable else {}
        st.plotly_chart(plotly.io.from_json(text), key=key, width="stretch", config={"displayModeBar": False},
                        **clicks)
        return
    marks = " · ".join(f"{label.strong} {label.text}".strip() for label in raster.labels if label.strong)
    st.image(raster.rgba(), caption=raster.title + (f": {marks}" if marks else ""),
             width=int(raster.pixels.shape[1] * raster.zoom))


def live_charts(figures: Sequence[go.Figure | Raster | str], captions: Sequence[str], *, key: str,
                clickable: bool = False) -> None:
    """Show ``figures`` (figures or their JSON) one under the other, each with its caption below.

    Call it with the same ``key`` on every rerun: the charts then stay in the page and only the ones
    whose JSON changed are redrawn. ``clickable``: a click on a point with customdata reruns the app with
    ``st.session_state[key]`` holding it as ``st.plotly_chart(on_select="rerun")`` would.
    """
    if len(captions) != len(figures):
        raise ValueError(f"need one caption per figure, got {len(captions)} for {len(figures)}")
    texts = [f if isinstance(f, str) else figure_json(f) for f in figures]
    component = _component()
    if component is None:
        for i, (text, caption) in enumerate(zip(texts, captions)):
            _fallback(text, key=key if clickable and len(texts) == 1 else f"{key}_{i}", clickable=clickable)
            if caption:
                st.caption(caption)
        return
    component(figures=texts, captions=list(captions), key=key, default=None, clickable=clickable)


def chart_in_place(figure: go.Figure, *, key: str, clickable: bool = False) -> None:
    """One chart that stays on the page from rerun to rerun (``Plotly.react``), where ``st.plotly_chart``
    would mount a changed figure anew: for the charts a step of the epoch slider changes."""
    live_charts([figure], [""], key=key, clickable=clickable)
