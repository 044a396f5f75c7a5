"""Figures of the Step-through page: the network as a picture, a unit's weighted sum, softmax, the
gradient of a filter, and the gradient check's error against eps. Pure functions of lab/step_through's
numbers; plotly only."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from figures.palette import DIGIT_COLORS, LINE_COLORS, diverging_kwargs, pixel_kwargs
from figures.style import finish
from figures.tiles import image_axes
from lab.labels import label, labels, noun
from lab.step_through import OutputStep, Pass, UnitForward
from nn.model import MLP

MAX_SHOWN = 16  # units drawn per column of the network picture; wider layers show a sample
_SIDE = 28


def shown_units(model: MLP, p: Pass, row: int, selected: tuple[int, int]) -> list[np.ndarray]:
    """Per column (inputs, then layers 1..L), the units the picture draws, in index order.

    A column of at most MAX_SHOWN units shows all of them; a wider one shows the selected unit, the units
    most strongly tied to it (by |weight x activation|), then the most active ones.
    """
    layer, unit = selected
    columns = []
    for c, v in enumerate(_column_values(model, p, row)):
        if v.size <= MAX_SHOWN:
            columns.append(np.arange(v.size))
            continue
        picks: list[int] = [unit] if c == layer else []
        if c == layer - 1:  # feeds the selected unit: the strongest contributions to its sum
            picks += list(np.argsort(-np.abs(v * model.weights[layer - 1][:, unit]))[:MAX_SHOWN])
        elif c == layer + 1 and layer < model.n_layers:  # fed by it
            picks += list(np.argsort(-np.abs(model.weights[layer][unit, :]))[:MAX_SHOWN])
        picks += list(np.argsort(-np.abs(v), kind="stable")[:MAX_SHOWN])
        columns.append(np.sort(np.array(list(dict.fromkeys(picks))[:MAX_SHOWN])))
    return columns


def network_figure(model: MLP, p: Pass, row: int, selected: tuple[int, int]) -> go.Figure:
    """Columns of units coloured by their value for the digit; the selected unit's weights as edges
    (width = |w|, blue positive, red negative).

    Each marker carries ``customdata`` = (column, unit) so a click can select it (column 0: an input pixel).
    """
    layer, unit = selected
    columns = shown_units(model, p, row, selected)
    values = _column_values(model, p, row)
    ys = [np.linspace(1, 0, len(units)) if len(units) > 1 else np.array([0.5]) for units in columns]
    fig = go.Figure()
    for (c0, u0), (c1, u1), w, width in _edges(model, columns, selected):
        fig.add_trace(go.Scatter(
            x=[c0, c1], y=[ys[c0][np.searchsorted(columns[c0], u0)], ys[c1][np.searchsorted(columns[c1], u1)]],
            mode="lines", hoverinfo="skip", showlegend=False,
            line={"width": width, "color": "#2166ac" if w > 0 else "#b2182b"}))
    for c, units in enumerate(columns):
        v = values[c][units]
        scale = max(float(np.max(np.abs(values[c]))), 1e-12)  # each column on its own scale
        name, what = _column_names(model, c)
        fig.add_trace(go.Scatter(
            x=np.full(len(units), c), y=ys[c], mode="markers", showlegend=False,
            marker={"size": 16, "color": v / scale, "colorscale": "RdBu", "cmin": -1, "cmax": 1,
                    "line": {"width": [4 if (c == layer and u == unit) else 1 for u in units], "color": "black"}},
            customdata=np.stack([np.full(len(units), c), units], axis=1),
            hovertemplate=[f"{name} {u}<br>{what} = {val:.4g}<extra></extra>" for u, val in zip(units, v)],
        ))
    ticks = [f"{_column_names(model, c)[0]}s<br>({len(columns[c])} of {values[c].size} shown)"
             if values[c].size > len(columns[c]) else f"{_column_names(model, c)[0]}s<br>({values[c].size})"
             for c in range(len(columns))]
    fig.update_xaxes(tickvals=list(range(len(columns))), ticktext=ticks, showgrid=False, zeroline=False)
    fig.update_yaxes(visible=False, range=[-0.08, 1.08])
    return finish(fig, f"The network for this {noun()}: layer {layer}, unit {unit} selected", height=430,
                  legend=False, clickmode="event+select", dragmode=False)


def _column_values(model: MLP, p: Pass, row: int) -> list[np.ndarray]:
    """Per column: the input pixels x, each hidden layer's h, the output logits, for digit ``row``."""
    return [p.cache.inputs[0][row]] + [p.cache.acts[l][row] for l in range(model.n_layers - 1)] + [p.logits[row]]


def _column_names(model: MLP, c: int) -> tuple[str, str]:
    if c == 0:
        return "input pixel", "x"
    if c == model.n_layers:
        return "output", "logit z"
    return f"layer {c} unit", "h"


def _edges(model: MLP, columns: list[np.ndarray], selected: tuple[int, int]):
    """((column, unit) from, (column, unit) to, weight, line width) for the selected unit's shown weights."""
    layer, unit = selected
    edges = [((layer - 1, int(i)), (layer, unit), float(model.weights[layer - 1][i, unit]))
             for i in columns[layer - 1]]
    if layer < model.n_layers:
        edges += [((layer, unit), (layer + 1, int(k)), float(model.weights[layer][unit, k]))
                  for k in columns[layer + 1]]
    scale = max(max(abs(w) for _, _, w in edges), 1e-12)
    return [(a, b, w, 0.5 + 5.5 * abs(w) / scale) for a, b, w in edges]


def weighted_sum_figure(f: UnitForward) -> go.Figure:
    """First layer: the digit, the unit's weights and their product as three 28x28 images. Deeper: the
    terms of the sum as bars, largest first."""
    if f.layer == 1 and f.inputs.size == _SIDE * _SIDE:
        fig = make_subplots(rows=1, cols=3, horizontal_spacing=0.04, subplot_titles=(
            f"input x (the {noun()})", f"weights W[:, {f.unit}]", "x times W: each pixel's vote"))
        fig.add_trace(go.Heatmap(z=f.inputs.reshape(_SIDE, _SIDE) * 255, **pixel_kwargs(),
                                 hovertemplate="x = %{z:.0f}/255<extra></extra>"), 1, 1)
        fig.add_trace(go.Heatmap(z=f.weights.reshape(_SIDE, _SIDE), **diverging_kwargs(f.weights),
                                 showscale=False, hovertemplate="w = %{z:.4f}<extra></extra>"), 1, 2)
        fig.add_trace(go.Heatmap(z=f.products.reshape(_SIDE, _SIDE), **diverging_kwargs(f.products),
                                 colorbar={"title": "x·w", "len": 0.9},
                                 hovertemplate="x·w = %{z:.4f}<extra></extra>"), 1, 3)
        for i in range(1, 4):
            axes = image_axes()
            fig.update_xaxes(axes["xaxis"] | {"scaleanchor": f"y{'' if i == 1 else i}"}, row=1, col=i)
            fig.update_yaxes(axes["yaxis"], row=1, col=i)
        return finish(fig, f"Layer 1, unit {f.unit}: z = Σ x·w + b = {f.total:.4g} + {f.bias:.4g} = {f.z:.4g}",
                      height=300, legend=False)
    order = f.top
    fig = go.Figure(go.Bar(x=[f"h{int(i)}" for i in order], y=f.products[order],
                           marker={"color": np.where(f.products[order] >= 0, "#2166ac", "#b2182b")},
                           customdata=np.stack([f.inputs[order], f.weights[order]], axis=1),
                           hovertemplate="%{x}: h = %{customdata[0]:.4g} × w = %{customdata[1]:.4g}"
                                         " = %{y:.4g}<extra></extra>"))
    return finish(fig, f"Layer {f.layer}, unit {f.unit}: the {len(order)} largest terms h·w of its sum",
                  "input from the layer below", "h · w", height=300, legend=False)


def softmax_figure(out: OutputStep) -> go.Figure:
    """The ten probabilities, each bar in its digit's colour; the true digit outlined."""
    fig = go.Figure(go.Bar(
        x=list(labels()), y=out.probs, marker={
            "color": list(DIGIT_COLORS), "line": {"width": [4 if k == out.label else 0 for k in range(10)],
                                                  "color": "black"}},
        customdata=np.stack([out.logits, out.exps], axis=1),
        hovertemplate=f"{noun()} %{{x}}: z = %{{customdata[0]:.4g}}, exp(z − max) = %{{customdata[1]:.4g}}, "
                      "p = %{y:.4f}<extra></extra>"))
    return finish(fig, f"Softmax: p_k = exp(z_k) / Σ exp; the true {noun()} {label(out.label)} (outlined) has "
                       f"p = {out.probs[out.label]:.4f}, loss −log p = {out.loss:.4f}",
                  noun(), "probability", height=280, legend=False, yaxis={"range": [0, 1]})


def filter_gradient_figure(dW_column: np.ndarray, unit: int) -> go.Figure:
    """dL/dW_1[:, j] as a 28x28 image: the step adds −lr times this to the unit's filter."""
    fig = go.Figure(go.Heatmap(z=dW_column.reshape(_SIDE, _SIDE), **diverging_kwargs(dW_column),
                               colorbar={"title": "dL/dw"}, hovertemplate="dL/dw = %{z:.3g}<extra></extra>"))
    fig.update_layout(**image_axes())
    return finish(fig, f"Gradient of unit {unit}'s filter: the step adds −lr × this to the weights",
                  height=320, legend=False)


def eps_figure(eps: np.ndarray, errors: np.ndarray, chosen: float) -> go.Figure:
    """Relative error of the finite difference against eps (log-log), with the chosen eps marked."""
    shown = np.maximum(errors, 1e-17)  # an exact 0 has no place on a log axis
    fig = go.Figure(go.Scatter(x=eps, y=shown, mode="lines+markers", line={"color": LINE_COLORS["train"]},
                               hovertemplate="eps = %{x:.0e}: relative error %{y:.1e}<extra></extra>"))
    fig.add_vline(x=chosen, line={"color": LINE_COLORS["marker"], "dash": "dot"})
    low, high = float(np.log10(shown).min()), float(np.log10(shown).max())
    return finish(fig, "Finite difference vs backprop: rounding error on the left, truncation on the right",
                  "eps (log scale)", "relative error (log scale)", height=300, legend=False,
                  xaxis={"type": "log", "exponentformat": "power", "dtick": 1},
                  yaxis={"type": "log", "exponentformat": "power", "range": [low - 0.5, high + 0.5], "dtick": 2})


def gate_figure(activation: str, z: float, fprime: float) -> go.Figure:
    """The activation's slope f'(z) around the unit's z, with its z marked: for ReLU, the gate."""
    from nn.activations import get_activation

    f = get_activation(activation, 0.01)
    span = max(3.0, abs(z) * 1.5)
    zs = np.linspace(-span, span, 241)
    fig = go.Figure(go.Scatter(x=zs, y=f.deriv(f(zs)), mode="lines", line={"color": LINE_COLORS["neutral"]},
                               hovertemplate="z = %{x:.3g}: f'(z) = %{y:.3g}<extra></extra>"))
    fig.add_trace(go.Scatter(x=[z], y=[fprime], mode="markers", marker={"size": 12, "color": LINE_COLORS["marker"]},
                             hovertemplate="this unit: z = %{x:.4g}, f'(z) = %{y:.4g}<extra></extra>"))
    return finish(fig, f"{activation}'s slope f'(z): this unit's z = {z:.3g} lets {fprime:.3g} of its error through",
                  "z (pre-activation)", "f'(z)", height=240, legend=False)


def step_probabilities_figure(before: np.ndarray, after: np.ndarray, label: int) -> go.Figure:
    """The digit's ten probabilities before and after the step taken; the true digit's bars outlined."""
    digits = list(labels())
    outline = {"width": [3 if k == label else 0 for k in range(10)], "color": "black"}
    fig = go.Figure([
        go.Bar(x=digits, y=before, name="before the step", marker={"color": "rgba(127,127,127,0.45)", "line": outline}),
        go.Bar(x=digits, y=after, name="after", marker={"color": list(DIGIT_COLORS), "line": outline}),
    ])
    return finish(fig, f"This {noun()}'s probabilities before and after the step (true {noun()} "
                       f"{labels()[label]} outlined)", noun(), "probability", height=260, barmode="group", yaxis={"range": [0, 1]})
