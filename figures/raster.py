"""Pictures drawn as pixels rather than as plotly figures: the Train page's live filters and digit strip.

Every update of a plotly heatmap goes through plotly's whole pipeline (defaults, calc, a canvas encoded
as PNG, an SVG image, the colour bar's ticks): tens of milliseconds a second in the browser, next to the
training on the same cores, and that was all the live filters and digits cost the epoch
(docs/PERFORMANCE.md). A ``Raster`` is an image of palette indices that the live-chart component puts on
a canvas in one ``putImageData``, with a title, text labels under the tiles and a colour legend.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

import numpy as np
import plotly.colors

TRANSPARENT = 255  # the palette index left see-through in a diverging raster (the gaps between tiles)


@dataclass(frozen=True)
class Label:
    """Text whose top centre sits at image pixel (``x``, ``y``): ``strong`` in bold, then ``text``.

    ``box``: (x0, y0, width, height) in image pixels that shows ``hover`` under the pointer (the tile).
    """

    x: float
    y: float
    text: str = ""
    strong: str = ""
    color: str = ""
    hover: str = ""
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class Legend:
    """A colour bar beside the title: ``colors`` evenly spaced, ``ticks`` spread from its start to its end."""

    title: str
    colors: tuple[str, ...]
    ticks: tuple[str, ...]


@dataclass(frozen=True)
class Raster:
    """``pixels: (h, w)`` uint8 indices into ``palette: (256, 4)`` uint8 RGBA (alpha 0: see-through).

    Shown at most ``zoom`` screen pixels per image pixel, narrower when the page is.
    """

    title: str
    pixels: np.ndarray
    palette: np.ndarray
    zoom: float
    labels: tuple[Label, ...] = ()
    legend: Legend | None = None

    def __post_init__(self) -> None:
        if self.pixels.ndim != 2 or self.pixels.dtype != np.uint8:
            raise ValueError(f"pixels must be (h, w) uint8, got {self.pixels.dtype} {self.pixels.shape}")
        if self.palette.shape != (256, 4) or self.palette.dtype != np.uint8:
            raise ValueError(f"palette must be (256, 4) uint8, got {self.palette.dtype} {self.palette.shape}")

    def rgba(self) -> np.ndarray:
        """The picture itself, ``(h, w, 4)`` uint8: what the browser draws (and the fallback shows)."""
        return self.palette[self.pixels]

    def to_json(self) -> str:
        """What the live-chart component draws: the pixels as base64, one byte each."""
        h, w = self.pixels.shape
        labels = [{k: v for k, v in vars(label).items() if v not in ("", None)} for label in self.labels]
        return json.dumps({"raster": {
            "title": self.title, "width": w, "height": h, "zoom": self.zoom,
            "pixels": base64.b64encode(np.ascontiguousarray(self.pixels).tobytes()).decode("ascii"),
            "palette": base64.b64encode(self.palette.tobytes()).decode("ascii"),
            "labels": labels, "legend": vars(self.legend) if self.legend else None}})


def raster_from_json(text: str) -> Raster | None:
    """The raster in ``text`` (from :meth:`Raster.to_json`), or None when it holds a plotly figure."""
    spec = json.loads(text).get("raster")
    if spec is None:
        return None
    pixels = np.frombuffer(base64.b64decode(spec["pixels"]), np.uint8).reshape(spec["height"], spec["width"])
    palette = np.frombuffer(base64.b64decode(spec["palette"]), np.uint8).reshape(256, 4)
    legend = Legend(**{**spec["legend"], "colors": tuple(spec["legend"]["colors"]),
                       "ticks": tuple(spec["legend"]["ticks"])}) if spec["legend"] else None
    labels = tuple(Label(**{**label, "box": tuple(label["box"]) if "box" in label else None})
                   for label in spec["labels"])
    return Raster(spec["title"], pixels, palette, spec["zoom"], labels, legend)


def colorscale_palette(colorscale: str, n: int = 256) -> np.ndarray:
    """``(256, 4)`` RGBA: ``n`` colours sampled evenly along plotly's ``colorscale``, opaque; the rest see-through.

    The same colours a plotly heatmap with that colour scale would draw for the same levels.
    """
    if not 2 <= n <= 256:
        raise ValueError(f"a palette holds 2 to 256 colours, got {n!r}")
    scale = plotly.colors.get_colorscale(colorscale)
    rgb = plotly.colors.sample_colorscale(scale, np.linspace(0.0, 1.0, n).tolist(), colortype="tuple")
    palette = np.zeros((256, 4), np.uint8)
    palette[:n, :3] = np.round(np.clip(np.asarray(rgb) * 255, 0, 255))  # plotly's tuples run 0..1
    palette[:n, 3] = 255
    return palette


def hex_colors(palette: np.ndarray, count: int, n: int = 256) -> tuple[str, ...]:
    """``count`` colours spread evenly over the first ``n`` of ``palette``, as ``#rrggbb`` (for a legend)."""
    picks = np.round(np.linspace(0, n - 1, count)).astype(int)
    return tuple("#{:02x}{:02x}{:02x}".format(*palette[i, :3]) for i in picks)
