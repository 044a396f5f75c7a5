"""What a click on a chart chose: the customdata of the selected points of a plotly selection event."""

from __future__ import annotations

from typing import Any


def selected_customdata(event: Any) -> list:
    """The customdata of the points chosen in a ``st.plotly_chart(on_select="rerun")`` event, or []."""
    if not event:
        return []
    try:
        points = event["selection"]["points"]
    except (KeyError, TypeError):
        return []
    return [_as_list(p["customdata"]) for p in points if isinstance(p, dict) and p.get("customdata") is not None]


def _as_list(value: Any) -> Any:
    """Row customdata arrives from the browser as ``{"0": 7, "1": 2, ...}``: make it ``[7, 2, ...]``."""
    if isinstance(value, dict) and all(str(k).isdigit() for k in value):
        return [value[k] for k in sorted(value, key=int)]
    return value
