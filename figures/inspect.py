"""Figures for the Inspect page: what the network learned, layer by layer.

The numbers they show are computed in lab/ (lab/units.py, lab/histograms.py). Figures are built in one
``go.Figure`` call from dicts (see figures/tiles.py for why).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from figures.palette import DIGIT_COLORS, DIVERGING_SCALE, LINE_COLORS, diverging_range, pixel_kwargs
from figures.style import clear_of_toolbar, inner_ticks, layout, log_axis, spaced_ticktext
from figures.tiles import click_targets, image_axes, tile_images
from lab.format import fmt_pct
from lab.histograms import histogram
from lab.labels import label, noun
from lab.snapshots import snapshot_histograms

IMAGE_SIDE = 28
NEGATIVE_COLOR = "#b2182b"  # the red end of RdBu: below zero
POSITIVE_COLOR = "#2166ac"  # the blue end: above zero
LAYER_COLORS = ("#4e79a7", "#e15759", "#59a14f", "#b07aa1", "#f28e2b", "#76b7b2", "#9c755f")


def layer_name(index: int, n_layers: int) -> str:
    """``"hidden 1"`` .. for hidden layers, ``"output"`` for the last of ``n_layers`` weight layers."""
    return "output" if index == n_layers - 1 else f"hidden {index + 1}"


# ---------------------------------------------------------------------------------------------- filters

def filter_grid_figure(W1: np.ndarray, units: Sequence[int], *, shared_scale: bool = True, cols: int = 12,
                       zrange: tuple[float, float] | None = None, selected: int | None = None,
                       hover: Sequence[str] | None = None, title: str | None = None,
                       px_per_pixel: float = 2.4) -> go.Figure:
    """First-layer weights ``W1: (784, h)`` of ``units`` as 28x28 images in a grid, in that order.

    ``shared_scale``: one colour scale for every filter (compare strengths); otherwise each filter is
    divided by its own largest |w| (compare shapes). ``zrange`` fixes the shared scale (e.g. the same
    range over all epochs of an animation). Clicking a filter reports its unit index as customdata.
    """
    W1 = np.asarray(W1)
    if W1.ndim != 2 or W1.shape[0] != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(f"W1 must be (784, h), got shape {W1.shape}")
    units = np.asarray(units, dtype=np.int64)
    if units.size == 0:
        raise ValueError("units is empty: choose at least one filter to show")
    if units.min() < 0 or units.max() >= W1.shape[1]:
        raise ValueError(f"units must be in [0, {W1.shape[1]}), got {units.min()}..{units.max()}")
    filters = W1[:, units].T.reshape(-1, IMAGE_SIDE, IMAGE_SIDE).astype(np.float32)
    if shared_scale:
        zmin, zmax = zrange if zrange is not None else diverging_range(filters, quantile=0.999)
        bar_title = "weight"
    else:
        peak = np.abs(filters).reshape(len(filters), -1).max(axis=1)
        filters = filters / np.where(peak > 0, peak, 1.0)[:, None, None]
        zmin, zmax = -1.0, 1.0
        bar_title = "weight ÷ the<br>filter's max |w|"
    mosaic = tile_images(filters, cols, gap=3)
    heatmap = {"type": "heatmap", "z": mosaic.z, "colorscale": DIVERGING_SCALE, "zmin": zmin, "zmax": zmax,
               "zmid": 0.0, "hoverinfo": "skip", "colorbar": {"title": {"text": bar_title}, "thickness": 14}}
    labels = list(hover) if hover is not None else [f"unit {u}" for u in units]
    shapes = []
    if selected is not None and selected in set(units.tolist()):
        cx, cy = mosaic.centers[int(np.flatnonzero(units == selected)[0])]
        half = IMAGE_SIDE / 2 + 0.5
        shapes.append({"type": "rect", "x0": cx - half, "x1": cx + half, "y0": cy - half, "y1": cy + half,
                       "line": {"color": LINE_COLORS["marker"], "width": 3}})
    rows, width = mosaic.z.shape
    return go.Figure(data=[heatmap, click_targets(mosaic.centers, units, labels, size=22)], layout=layout(
        title or f"First-layer filters: the weights from each pixel into {len(units)} hidden units",
        height=60 + int(px_per_pixel * rows), legend=False, shapes=shapes,
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, clickmode="event+select", dragmode=False,
        plot_bgcolor="white", **image_axes(x_range=(-1.5, width + 0.5), y_range=(rows + 0.5, -1.5))))


def filter_hover(W1: np.ndarray, active: np.ndarray, units: Sequence[int]) -> list[str]:
    """Hover text of each filter in the grid: its weight norm and how often it is active."""
    norms = np.linalg.norm(W1, axis=0)
    return [f"unit {u}: ‖w‖ = {norms[u]:.2f}, active on {fmt_pct(active[u])} of {noun(plural=True)} — click to open" for u in units]


def mistake_labels(mistakes: pd.DataFrame) -> dict[int, str]:
    """Mistakes as the Inspect selectbox names them, by test index: {12: "#12: true 4 → 9 (97% sure)"};
    ``mistakes`` indexed by test index (one pass over the rows, not one lookup per option)."""
    return {int(i): f"#{i}: true {label(t)} → {label(p)} ({fmt_pct(c)} sure)"
            for i, t, p, c in zip(mistakes.index, mistakes["true"], mistakes["predicted"], mistakes["confidence"])}


def filter_figure(w: np.ndarray, unit: int, *, zrange: tuple[float, float] | None = None) -> go.Figure:
    """One filter ``w: (784,)`` large: blue pixels raise the unit's input, red ones lower it."""
    w = np.asarray(w, dtype=np.float64).reshape(IMAGE_SIDE, IMAGE_SIDE)
    zmin, zmax = zrange if zrange is not None else diverging_range(w)
    heatmap = {"type": "heatmap", "z": w, "colorscale": DIVERGING_SCALE, "zmin": zmin, "zmax": zmax, "zmid": 0.0,
               "colorbar": {"title": {"text": "weight"}, "thickness": 14},
               "hovertemplate": "row %{y}, column %{x}: w = %{z:.3f}<extra></extra>"}
    return go.Figure(data=[heatmap], layout=layout(
        f"Unit {unit}: its weight from each pixel", height=360, legend=False,
        margin={"l": 10, "r": 10, "t": 50, "b": 10}, **image_axes()))


def class_effect_figure(effect: np.ndarray, unit: int) -> go.Figure:
    """Bars per class of ``effect: (C,)`` relative to the mean over classes.

    Softmax ignores anything that raises every logit equally, so only the differences matter: a bar
    above zero means this unit's activation pushes that digit up against the others.
    """
    effect = np.asarray(effect, dtype=np.float64)
    relative = effect - effect.mean()
    bar = {"type": "bar", "x": [label(c) for c in range(len(relative))], "y": relative,
           "marker": {"color": [POSITIVE_COLOR if v >= 0 else NEGATIVE_COLOR for v in relative]},
           "hovertemplate": f"{noun()} %{{x}}: %{{y:+.3f}}<extra></extra>"}
    return go.Figure(data=[bar], layout=layout(
        f"Which {noun()}s unit {unit} pushes up or down", noun(),
        f"change in logit per unit of activation<br>(relative to the average {noun()})", height=360, legend=False,
        xaxis={"type": "category"},
        yaxis={"zeroline": True, "zerolinecolor": LINE_COLORS["neutral"], "zerolinewidth": 1.5}))


def filter_stats_frame(W1: np.ndarray, b1: np.ndarray, active: np.ndarray, unit: int) -> pd.DataFrame:
    """A small table of one first-layer unit's numbers, for showing next to its filter."""
    w = np.asarray(W1)[:, unit].astype(np.float64)
    rows = [
        ("weight norm ‖w‖", f"{np.linalg.norm(w):.3f}"),
        ("largest positive weight", f"{w.max():+.3f}"),
        ("largest negative weight", f"{w.min():+.3f}"),
        ("bias b", f"{float(np.asarray(b1)[unit]):+.3f}"),
        (f"active on (share of sampled test {noun(plural=True)})", fmt_pct(active[unit], 1)),
    ]
    return pd.DataFrame(rows, columns=["statistic", "value"])


# ---------------------------------------------------------------------------------------------- one digit

def digit_figure(image: np.ndarray, title: str, *, height: int = 300) -> go.Figure:
    """One digit ``image: (28, 28)`` uint8, dark ink on light paper, the right way up."""
    image = np.asarray(image).reshape(IMAGE_SIDE, IMAGE_SIDE)
    heatmap = {"type": "heatmap", "z": image, "hovertemplate": "row %{y}, column %{x}: %{z}<extra></extra>",
               **pixel_kwargs()}
    spec = layout(title, height=height, legend=False, margin={"l": 10, "r": 10, "b": 10}, **image_axes())
    return go.Figure(data=[heatmap], layout=clear_of_toolbar(spec))


def layer_activity_figure(pre: np.ndarray, post: np.ndarray, name: str, activation: str) -> go.Figure:
    """One digit's pre-activations ``z: (k,)`` (top) and activations ``f(z): (k,)`` (bottom) per unit."""
    pre = np.asarray(pre, dtype=np.float64).ravel()
    post = np.asarray(post, dtype=np.float64).ravel()
    units = np.arange(pre.size)
    bars = [
        {"type": "bar", "x": units, "y": pre, "marker": {"color": np.where(pre >= 0, POSITIVE_COLOR, NEGATIVE_COLOR),
                                                         "line": {"width": 0}},
         "name": "z", "xaxis": "x", "yaxis": "y", "hovertemplate": "unit %{x}: z = %{y:.3f}<extra></extra>"},
        {"type": "bar", "x": units, "y": post, "marker": {"color": LINE_COLORS["smooth"], "line": {"width": 0}},
         "name": f"{activation}(z)", "xaxis": "x", "yaxis": "y2",
         "hovertemplate": "unit %{x}: " + activation + "(z) = %{y:.3f}<extra></extra>"},
    ]
    active = int((pre > 0).sum())
    return go.Figure(data=bars, layout=layout(
        f"{name.capitalize()}: {active} of {pre.size} units have z > 0 for this {noun()}", height=360, legend=False,
        bargap=0.05,
        xaxis={"title": {"text": "unit"}, "anchor": "y2"},
        yaxis={"title": {"text": "pre-activation z"}, "domain": [0.55, 1.0]},
        yaxis2={"title": {"text": f"{activation}(z)"}, "domain": [0.0, 0.45]}))


# ---------------------------------------------------------------------------------------------- training dynamics

def per_layer_lines_figure(epochs: Sequence[int], values: np.ndarray, *, title: str, y_title: str,
                           log_y: bool = False, percent: bool = False, names: Sequence[str] | None = None
                           ) -> go.Figure:
    """One line per layer of ``values: (epochs, layers)`` against epoch."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[0] != len(epochs):
        raise ValueError(f"values must be (epochs={len(epochs)}, layers), got {values.shape}")
    lines = [{"type": "scatter", "x": list(epochs), "y": values[:, j], "mode": "lines+markers",
              "name": names[j] if names is not None else f"layer {j + 1}",
              "line": {"color": LAYER_COLORS[j % len(LAYER_COLORS)], "width": 2}}
             for j in range(values.shape[1])]
    yaxis: dict = log_axis(values) if log_y else {}
    if percent:
        yaxis.update(tickformat=".0%", rangemode="tozero")
    return go.Figure(data=lines, layout=layout(title, "epoch", y_title, height=320, yaxis=yaxis,
                                               xaxis={"dtick": max(1, len(epochs) // 10)}))


def distribution_bands_figure(epochs: Sequence[int], quantiles: np.ndarray, *, title: str, y_title: str,
                              color: str = LAYER_COLORS[0]) -> go.Figure:
    """How one layer's value distribution moved over the epochs, drawn as nested bands.

    ``quantiles: (epochs, 7)`` holds the values at the 1st, 5th, 25th, 50th, 75th, 95th and 99th
    percentiles (``nn.events.DISTRIBUTION_QUANTILES``) after each epoch: the widest band spans 1-99 %, the
    darkest 25-75 %, and the line is the median.
    """
    q = np.asarray(quantiles, dtype=np.float64)
    if q.ndim != 2 or q.shape != (len(epochs), 7):
        raise ValueError(f"quantiles must be (epochs={len(epochs)}, 7), got {q.shape}")
    x = [int(e) for e in epochs]
    traces = []
    for (lo, hi), opacity, name in (((0, 6), 0.15, "1-99 %"), ((1, 5), 0.3, "5-95 %"), ((2, 4), 0.55, "25-75 %")):
        traces.append({"type": "scatter", "x": x, "y": q[:, lo], "mode": "lines", "line": {"width": 0},
                       "showlegend": False, "hoverinfo": "skip"})
        traces.append({"type": "scatter", "x": x, "y": q[:, hi], "mode": "lines", "line": {"width": 0},
                       "fill": "tonexty", "fillcolor": _with_alpha(color, opacity), "name": name,
                       "hovertemplate": f"epoch %{{x}}: {name} band up to %{{y:.3g}}<extra></extra>"})
    traces.append({"type": "scatter", "x": x, "y": q[:, 3], "mode": "lines+markers", "name": "median",
                   "line": {"color": color, "width": 2}, "hovertemplate": "epoch %{x}: median %{y:.3g}<extra></extra>"})
    # No legend: in a half-width column it collides with the title; the caption and hover name the bands.
    return go.Figure(data=traces, layout=layout(title, "epoch", y_title, height=320, legend=False,
                                                xaxis={"dtick": max(1, len(x) // 10)}))


def _with_alpha(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


HALF_COLUMN_PLOT_PX = 380  # the plot area of a chart in half of Inspect's width at 1280-1440 px
TICK_CHAR_PX = 7.0  # a tick label's character at the layout's 13 px font


def histograms_figure(arrays: Sequence[np.ndarray], names: Sequence[str], *, title: str, x_title: str
                      ) -> go.Figure:
    """One small histogram per layer side by side, each on its own x range (layers differ in scale)."""
    n = len(arrays)
    if n == 0:
        raise ValueError("no arrays to show")
    gap = 0.08
    width = (1 - gap * (n - 1)) / n
    traces, axes, notes = [], {}, []
    for j, values in enumerate(arrays):
        density, centres = histogram(values)
        sx = "" if j == 0 else str(j + 1)
        traces.append({"type": "bar", "x": centres, "y": density, "name": names[j], "xaxis": f"x{sx}",
                       "yaxis": f"y{sx}", "marker": {"color": LAYER_COLORS[j % len(LAYER_COLORS)],
                                                     "line": {"width": 0}},
                       "hovertemplate": "%{x:.3g}: density %{y:.3g}<extra></extra>"})
        left = j * (width + gap)
        low, high = (float(centres.min()), float(centres.max())) if centres.size else (0.0, 0.0)
        ticks = inner_ticks(low, high) if centres.size else []
        room = HALF_COLUMN_PLOT_PX * width / TICK_CHAR_PX  # the panel's width in characters of its tick labels
        axes[f"xaxis{sx}"] = {"domain": [left, left + width], "anchor": f"y{sx}", "tickvals": ticks,
                              "ticktext": spaced_ticktext(ticks, low, high, room), "tickangle": 0,
                              "title": {"text": x_title}}
        axes[f"yaxis{sx}"] = {"anchor": f"x{sx}", **({"title": {"text": "density"}} if j == 0 else {})}
        notes.append({"text": names[j], "x": left + width / 2, "y": 1.0, "xref": "paper", "yref": "paper",
                      "xanchor": "center", "yanchor": "bottom", "showarrow": False})
    return go.Figure(data=traces, layout=layout(title, height=300, legend=False, bargap=0, annotations=notes,
                                                margin={"t": 70}, **axes))


def snapshot_distribution_figure(snapshots: Sequence[tuple[int, np.ndarray]] | None = None, *, bins: int = 60,
                                 histograms: tuple[list[int], np.ndarray, np.ndarray] | None = None) -> go.Figure:
    """How the first layer's weight distribution spread out over training: one column per snapshot.

    Pass ``snapshots`` or their precomputed :func:`snapshot_histograms`.
    """
    epochs, centres, density = histograms if histograms is not None else snapshot_histograms(snapshots or [],
                                                                                             bins=bins)
    heatmap = {"type": "heatmap", "x": epochs, "y": centres, "z": np.log10(density + 1e-3), "colorscale": "Viridis",
               "colorbar": {"title": {"text": "log10<br>density"}, "thickness": 14},
               "hovertemplate": "epoch %{x}, w ≈ %{y:.3f}: log10 density %{z:.2f}<extra></extra>"}
    return go.Figure(data=[heatmap], layout=layout(
        "Layer-1 weight distribution per epoch", "epoch (0 = at initialisation)", "weight value",
        height=320, legend=False))


# ---------------------------------------------------------------------------------------------- layer map

def pca_map_figure(coords: np.ndarray, labels: np.ndarray, predicted: np.ndarray, indices: np.ndarray, *,
                   layer: str, explained: Sequence[float], selected: int | None = None) -> go.Figure:
    """Digits as points at ``coords: (n, 2)`` (their first two principal components), one colour per
    true label; mistakes drawn as black-outlined crosses. customdata is each point's test index."""
    coords = np.asarray(coords, dtype=np.float32)
    labels = np.asarray(labels).astype(np.int64)
    predicted = np.asarray(predicted).astype(np.int64)
    indices = np.asarray(indices).astype(np.int64)
    if not (coords.shape == (len(labels), 2) and len(predicted) == len(labels) == len(indices)):
        raise ValueError(f"coords (n, 2), labels, predicted and indices must agree: {coords.shape}, "
                         f"{labels.shape}, {predicted.shape}, {indices.shape}")
    traces = []
    right = predicted == labels
    for d in range(10):
        mask = (labels == d) & right
        traces.append({"type": "scatter", "x": coords[mask, 0], "y": coords[mask, 1], "mode": "markers",
                       "name": label(d), "marker": {"color": DIGIT_COLORS[d], "size": 6, "opacity": 0.75},
                       "customdata": indices[mask],
                       "hovertemplate": "test #%{customdata}: a " + label(d) + ", predicted right<extra></extra>"})
    wrong = ~right
    traces.append({"type": "scatter", "x": coords[wrong, 0], "y": coords[wrong, 1], "mode": "markers",
                   "name": "mistake", "customdata": indices[wrong],
                   "marker": {"color": [DIGIT_COLORS[d] for d in labels[wrong]], "size": 10, "symbol": "x",
                              "line": {"color": "black", "width": 1}},
                   "text": [f"true {label(t)}, predicted {label(p)}" for t, p in zip(labels[wrong], predicted[wrong])],
                   "hovertemplate": "test #%{customdata}: %{text}<extra></extra>"})
    if selected is not None and selected in set(indices.tolist()):
        i = int(np.flatnonzero(indices == selected)[0])
        traces.append({"type": "scatter", "x": [coords[i, 0]], "y": [coords[i, 1]], "mode": "markers",
                       "name": "selected", "hoverinfo": "skip",
                       "marker": {"size": 18, "symbol": "circle-open", "color": "black",
                                  "line": {"color": "black", "width": 2.5}}})
    ex = list(explained) + [0.0, 0.0]
    spec = layout(
        f"{layer.capitalize()}: {len(labels):,} test {noun(plural=True)} placed by their activations (first two principal "
        "components)", f"PC 1 ({fmt_pct(ex[0])} of variance)", f"PC 2 ({fmt_pct(ex[1])} of variance)", height=560,
        clickmode="event+select", dragmode="pan")
    spec["legend"] = {"title": {"text": f"true {noun()}"}, "orientation": "v", "x": 1.02, "xanchor": "left",
                      "y": 1.0, "yanchor": "top"}
    return go.Figure(data=traces, layout=spec)
