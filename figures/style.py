"""Shared layout: every chart gets a title that says what it shows and labelled axes."""

from __future__ import annotations

import plotly.graph_objects as go

FONT_FAMILY = "Source Sans Pro, Helvetica, Arial, sans-serif"


def finish(fig: go.Figure, title: str, x_title: str | None = None, y_title: str | None = None,
           *, height: int | None = None, legend: bool | None = None) -> go.Figure:
    """Apply the house layout (title, axis labels, compact margins, white background) and return ``fig``."""
    fig.update_layout(
        title={"text": title, "x": 0.0, "xanchor": "left"},
        template="plotly_white",
        font={"family": FONT_FAMILY, "size": 13},
        margin={"l": 55, "r": 20, "t": 50, "b": 45},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1.0},
    )
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    if height is not None:
        fig.update_layout(height=height)
    if legend is not None:
        fig.update_layout(showlegend=legend)
    return fig


def image_axes(fig: go.Figure, **selector) -> go.Figure:
    """Make image axes square-pixelled and the right way up (row 0 at the top), without tick labels."""
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain",
                     scaleanchor="y" if not selector else None, **selector)
    fig.update_yaxes(showticklabels=False, showgrid=False, zeroline=False, autorange="reversed",
                     constrain="domain", **selector)
    return fig
