"""Turn any picture of a digit into what the network expects: MNIST's own preprocessing, step by step.

MNIST was made like this (LeCun, Cortes, Burges): each digit was scaled to fit a 20x20 box keeping its
aspect ratio, with anti-aliasing (hence grey levels), then placed in a 28x28 field so that its centre of
mass sits in the middle. A network trained on those images expects exactly that framing: a digit drawn
small in a corner, or dark on light paper, is a different input even if a person reads the same digit.

    gray    = to_gray(canvas_rgba or PIL image)      (H, W) uint8 (lab.picture)
    result  = preprocess(gray)                       every intermediate image, for showing
    result.x                                         (1, 784) float32 in [0, 1], or None if no ink

Steps inside :func:`preprocess` (each kept in :class:`Preprocessed` so the page can show it):

1. Ink is bright: if the border is mostly light, the picture is dark ink on light paper; invert it.
2. Remove the paper: subtract the paper's level (the border's median; on unevenly lit paper a
   smooth estimate of the paper under the strokes), stretch so the brightest ink is 255, and
   zero faint texture below a noise floor.
3. Crop to the ink's bounding box (pixels at or above a threshold). No ink at all: stop here.
4. Resize so the longer side is 20 px, keeping the aspect ratio (Pillow, LANCZOS).
5. Paste into a black 28x28 field so the centre of mass lands on pixel (14, 14), where MNIST has it,
   but never with ink on the field's outermost pixels (a top-heavy digit then sits a little higher).
6. Scale to [0, 1] (pixel / 255), flattened to the 784 inputs.

Pure functions: numpy, Pillow and ``nn`` only, no Streamlit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from nn.data import to_float

SIDE = 28  # the network's input is SIDE x SIDE
BOX = 20  # MNIST digits fit a BOX x BOX square inside the field

INK_THRESHOLD = 64  # (0..255, after step 2) a pixel at least this bright counts for the bounding box
NOISE_FLOOR = 24  # after step 2, fainter pixels are paper texture or JPEG noise: set to 0
MIN_CONTRAST = 40  # ink must stand this far above the paper (0..255), else the picture is blank
SPECK_FREE_SIDE = 112  # 4x the field: from this size on, specks are far thinner than any stroke
EDGE_MARGIN = 1  # centring never puts ink on the field's outer pixels (98.7% of MNIST keeps 1 px clear)


@dataclass(frozen=True)
class Preprocessed:
    """Every stage of :func:`preprocess` for one picture.

    ``gray``: (H, W) uint8 the input; ``inverted``: True if step 1 flipped it; ``background``: the paper
    level removed in step 2; ``clean``: (H, W) uint8 after steps 1-2 (ink bright, paper 0).
    ``box``: (left, top, right, bottom) of the ink in ``clean`` (right/bottom exclusive), None if no ink.
    ``cropped``: (h, w) and ``resized``: (h', w') with max(h', w') == 20; ``offset``: (top, left) where
    ``resized`` was pasted; ``centre_of_mass``: (row, col) in the 28x28 ``image``; ``x``: (1, 784)
    float32 in [0, 1]. Everything from ``cropped`` on is None when there is no ink.
    """

    gray: np.ndarray
    inverted: bool
    background: int
    clean: np.ndarray
    box: tuple[int, int, int, int] | None
    cropped: np.ndarray | None
    resized: np.ndarray | None
    offset: tuple[int, int] | None
    image: np.ndarray | None
    centre_of_mass: tuple[float, float] | None
    x: np.ndarray | None

    @property
    def empty(self) -> bool:
        """True when the picture holds no ink (nothing to predict)."""
        return self.x is None


# ---------------------------------------------------------------------------------------------- steps

def _border_mask(h: int, w: int) -> np.ndarray:
    """(h, w) bool: the outer frame, about 4% of the shorter side deep (at least 1 px)."""
    d = max(1, round(0.04 * min(h, w)))
    mask = np.zeros((h, w), dtype=bool)
    mask[:d, :] = mask[-d:, :] = True
    mask[:, :d] = mask[:, -d:] = True
    return mask


def border(gray: np.ndarray) -> np.ndarray:
    """The pixels of the outer frame of ``gray: (H, W)`` (see :func:`_border_mask`), flattened."""
    return gray[_border_mask(*gray.shape)]


def needs_inverting(gray: np.ndarray) -> bool:
    """True when the picture is dark ink on light paper: its border is mostly light."""
    return float(border(gray).mean()) > 127.5


def paper(gray: np.ndarray) -> np.ndarray:
    """The paper's brightness under bright-ink ``gray: (H, W)``, as (H, W) float.

    Paper may be unevenly lit (a photo with a shadow, a lamp to one side), so it is modelled as a
    smooth surface ``a + bx + cy + dx² + exy + fy²``, fitted by least squares to the border, where
    there is only paper; a second fit leaves out the border pixels far from the first (ink that
    crosses the border, specks). Flat paper simply comes out flat.
    """
    h, w = gray.shape
    edge = border(gray)
    if np.all(edge == edge[0]):
        return np.full(gray.shape, float(edge[0]))  # one flat value (a canvas, MNIST): nothing to fit
    ys, xs = np.linspace(-1.0, 1.0, h), np.linspace(-1.0, 1.0, w)
    rows, cols = np.nonzero(_border_mask(h, w))
    x, y = xs[cols], ys[rows]
    design = np.column_stack([np.ones_like(x), x, y, x * x, x * y, y * y])
    values = gray[rows, cols].astype(np.float64)
    keep = np.ones(values.size, dtype=bool)
    for _ in range(2):
        coef, *_ = np.linalg.lstsq(design[keep], values[keep], rcond=None)
        residual = values - design @ coef
        spread = 1.4826 * np.median(np.abs(residual - np.median(residual))) + 1e-9
        keep = np.abs(residual) <= 3 * spread
    a, b, c, d, e, f = coef
    X, Y = xs[None, :], ys[:, None]
    return (a + b * X + d * X * X) + Y * (c + e * X + f * Y)


def remove_background(gray: np.ndarray) -> tuple[np.ndarray, int]:
    """Bright-ink ``gray`` -> (paper at 0, brightest ink at 255, faint noise at 0; the paper level).

    The paper (see :func:`paper`) is subtracted; what is left on the border then is noise: its median
    is subtracted too, and pixels within three of its robust standard deviations are zeroed. A
    picture whose ink does not rise ``MIN_CONTRAST`` above the paper comes back all zero. The paper
    level returned is the median of the paper estimate (for display).
    """
    under = paper(gray)
    background = int(round(float(np.median(under))))
    ink = gray.astype(np.float64) - under
    rest = border(ink)
    ink -= max(0.0, float(np.median(rest)))
    # Noise left on the paper: anything within 3 robust standard deviations of it is not ink.
    sigma = 1.4826 * float(np.median(np.abs(rest - np.median(rest))))
    ink[ink < 3 * sigma] = 0
    np.clip(ink, 0, None, out=ink)
    top = float(ink.max())
    if top < MIN_CONTRAST:
        return np.zeros_like(gray), background
    ink *= 255.0 / top
    ink[ink < NOISE_FLOOR] = 0
    return np.round(ink).astype(np.uint8), background


def ink_box(clean: np.ndarray, threshold: int = INK_THRESHOLD) -> tuple[int, int, int, int] | None:
    """(left, top, right, bottom) around the pixels >= ``threshold``, right/bottom exclusive; None if none.

    In pictures at least ``SPECK_FREE_SIDE`` px across, specks under 3x3 px (dust, sensor noise) are
    left out (a 3x3 minimum then maximum filter): there, every real stroke is wider than that.
    """
    mask = Image.fromarray(clean).point(lambda v: 255 if v >= threshold else 0)
    if min(clean.shape) >= SPECK_FREE_SIDE:
        despeckled = mask.filter(ImageFilter.MinFilter(3)).filter(ImageFilter.MaxFilter(3))
        if despeckled.getbbox() is not None:  # a picture of nothing but specks keeps them
            mask = despeckled
    return mask.getbbox()


def fit_box(cropped: np.ndarray, box: int = BOX) -> np.ndarray:
    """Resize ``cropped: (h, w)`` so its longer side is ``box`` px, aspect ratio kept (LANCZOS)."""
    h, w = cropped.shape
    scale = box / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # Pillow sizes are (width, height)
    return np.asarray(Image.fromarray(cropped).resize(size, Image.Resampling.LANCZOS), dtype=np.uint8)


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    """(row, col) of the intensity-weighted mean pixel index of ``image: (h, w)`` (its middle if blank)."""
    a = np.asarray(image, dtype=np.float64)
    total = a.sum()
    if total <= 0:
        return (a.shape[0] - 1) / 2, (a.shape[1] - 1) / 2
    rows = np.arange(a.shape[0]) @ a.sum(axis=1) / total
    cols = np.arange(a.shape[1]) @ a.sum(axis=0) / total
    return float(rows), float(cols)


def paste_centred(digit: np.ndarray, side: int = SIDE,
                  margin: int = EDGE_MARGIN) -> tuple[np.ndarray, tuple[int, int]]:
    """Paste ``digit: (h, w)`` into a black ``side`` x ``side`` field, centre of mass at (side/2, side/2).

    side/2 (14 for MNIST), not the geometric middle 13.5: MNIST's digits have their centre of mass at
    pixel index 14 (the test set averages 13.99, 14.00), and the network learned that framing.
    Whole-pixel shift (rounded half up), clamped so the digit keeps ``margin`` blank pixels from the
    field's edge: a top-heavy 7 shifts down only until its stem is one pixel above the bottom, not onto
    it. Returns the field (side, side) uint8 and the (top, left) where the digit went.
    """
    h, w = digit.shape
    if h > side or w > side:
        raise ValueError(f"digit of shape {digit.shape} does not fit a {side}x{side} field")
    cy, cx = centre_of_mass(digit)
    middle = side / 2

    def place(centre: float, length: int) -> int:
        lo = min(margin, (side - length) // 2)  # a digit too big for the margin is simply centred
        return int(np.clip(np.floor(middle - centre + 0.5), lo, max(lo, side - length - margin)))

    top, left = place(cy, h), place(cx, w)
    field = Image.new("L", (side, side), 0)
    field.paste(Image.fromarray(digit), (left, top))
    return np.asarray(field, dtype=np.uint8), (top, left)


def preprocess(gray: np.ndarray) -> Preprocessed:
    """Run the MNIST pipeline on ``gray: (H, W)`` uint8 and keep every stage (see the module docstring)."""
    gray = np.asarray(gray)
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"gray must be a 2-D uint8 image, got shape {gray.shape} dtype {gray.dtype}")
    if gray.size == 0:
        raise ValueError(f"gray has no pixels (shape {gray.shape})")
    inverted = needs_inverting(gray)
    bright = 255 - gray if inverted else gray
    clean, background = remove_background(bright)
    box = ink_box(clean)
    if box is None:
        return Preprocessed(gray=gray, inverted=inverted, background=background, clean=clean, box=None,
                            cropped=None, resized=None, offset=None, image=None, centre_of_mass=None, x=None)
    left, top, right, bottom = box
    cropped = clean[top:bottom, left:right]
    resized = fit_box(cropped)
    image, offset = paste_centred(resized)
    return Preprocessed(gray=gray, inverted=inverted, background=background, clean=clean, box=box,
                        cropped=cropped, resized=resized, offset=offset, image=image,
                        centre_of_mass=centre_of_mass(image), x=to_float(image))
