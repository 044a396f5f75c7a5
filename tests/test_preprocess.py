"""The MNIST pipeline for drawings and uploads: framing, inversion, blank pictures (files: test_picture.py)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from lab.preprocess import centre_of_mass, ink_box, needs_inverting, paste_centred, preprocess
from tests.pictures import SEVEN, canvas


def nonzero_box(image: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(image)
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


# ---------------------------------------------------------------------------------------------- framing

def test_a_drawing_is_framed_like_mnist() -> None:
    p = preprocess(canvas(SEVEN))
    assert p.image.shape == (28, 28) and p.image.dtype == np.uint8
    assert p.x.shape == (1, 784) and p.x.dtype == np.float32
    assert 0.0 <= p.x.min() and p.x.max() == pytest.approx(1.0)
    np.testing.assert_allclose(p.x.reshape(28, 28), p.image / 255.0, atol=1e-6)
    assert max(p.resized.shape) == 20
    assert max(nonzero_box(p.image)) == 20  # the longer side fills MNIST's 20-pixel box
    row, col = p.centre_of_mass
    # Whole-pixel shifts put the mass within half a pixel of (14, 14); this 7 is top-heavy, so it stops
    # one row short, where its stem would touch the bottom edge (see the top-heavy test below).
    assert abs(row - 13) <= 0.5 and abs(col - 14) <= 0.5
    assert p.offset[0] + p.resized.shape[0] == 27


def test_aspect_ratio_is_kept() -> None:
    wide = np.zeros((280, 280), np.uint8)
    wide[100:150, 40:240] = 255  # 200 x 50: a 4:1 block
    p = preprocess(wide)
    assert p.cropped.shape == (50, 200)
    assert p.resized.shape == (5, 20)


def test_position_and_size_on_the_canvas_do_not_matter() -> None:
    big = preprocess(canvas(SEVEN)).image.astype(int)
    small_corner = preprocess(canvas([[(x // 2 + 130, y // 2 + 130) for x, y in SEVEN[0]]], width=11)).image
    # Centring moves whole pixels, so the two may land one pixel apart; up to that, they are the same.
    diffs = [np.abs(big - np.roll(small_corner.astype(int), (dy, dx), axis=(0, 1))).mean()
             for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert min(diffs) < 6  # of 255
    other = preprocess(canvas([[(140, 40), (140, 240)]])).image.astype(int)  # a '1' really is different
    assert np.abs(big - other).mean() > 4 * min(diffs)


def test_mnist_digits_come_out_of_the_pipeline_almost_unchanged(mnist) -> None:
    """The pipeline reproduces how MNIST itself was framed (20-px box, centre of mass at pixel 14)."""
    images = mnist.x_test[:300]
    same_place = 0
    diffs = []
    for image in images:
        p = preprocess(image)
        diffs.append(np.abs(p.image.astype(int) - image.astype(int)).mean())
        same_place += ink_box(p.image) == ink_box(image)
    assert np.mean(diffs) < 2.0  # of 255: faint texture below the noise floor is all that changes
    assert same_place / len(images) > 0.95


def test_centre_of_mass_is_the_weighted_mean_index() -> None:
    a = np.zeros((5, 4))
    a[1, 0] = 1
    a[3, 2] = 3
    assert centre_of_mass(a) == pytest.approx((2.5, 1.5))
    assert centre_of_mass(np.zeros((3, 5))) == (1.0, 2.0)


def test_a_lopsided_digit_is_clamped_inside_the_field() -> None:
    digit = np.zeros((20, 20), np.uint8)
    digit[:, 0] = 255  # all its mass on the left edge: centring would push it out on the right
    digit[0, :] = 1
    field, (top, left) = paste_centred(digit)
    assert (top, left) == (4, 7)  # rows: centred (mass even); columns: as far right as the margin allows
    assert field.sum() == digit.sum()  # nothing fell off
    assert not field[:, -1].any()


def top_heavy_seven() -> np.ndarray:
    """A 7 with a heavy top bar and a thin stem: its centre of mass sits high."""
    img = Image.new("L", (280, 280), 0)
    draw = ImageDraw.Draw(img)
    draw.rectangle((60, 40, 220, 110), fill=255)
    draw.line([(215, 100), (150, 250)], fill=255, width=8)
    return np.asarray(img)


def test_a_top_heavy_seven_keeps_its_stem_off_the_border() -> None:
    p = preprocess(top_heavy_seven())
    h = p.resized.shape[0]
    cy, _ = centre_of_mass(p.resized)
    assert np.floor(14 - cy + 0.5) + h > 27  # centring by mass alone puts its stem on the bottom row
    ink = p.image > 0
    assert not (ink[0].any() or ink[-1].any() or ink[:, 0].any() or ink[:, -1].any())
    assert p.offset[0] == 28 - h - 1  # as low as the margin allows: as close to MNIST's framing as it can
    assert p.image.sum() == p.resized.sum()  # the whole digit is in the field


@pytest.mark.parametrize("picture", [
    canvas([[(170, 40), (80, 170), (210, 170)], [(170, 40), (170, 240)]]),  # a 4
    canvas([[(80, 90), (140, 45), (200, 90), (80, 235), (210, 235)]]),  # a 2
    canvas([[(140, 40), (140, 240)]]),  # a 1
    canvas([[(140, 50), (200, 140), (140, 230), (80, 140), (140, 50)]]),  # a 0
], ids=["four", "two", "one", "zero"])
def test_an_ordinary_digit_is_centred_by_its_mass_exactly(picture) -> None:
    """The margin only bites near the edge: an ordinary digit lands where centring by mass puts it."""
    p = preprocess(picture)
    cy, cx = centre_of_mass(p.resized)
    assert p.offset == (int(np.floor(14 - cy + 0.5)), int(np.floor(14 - cx + 0.5)))
    row, col = p.centre_of_mass
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_mnist_digits_clear_of_the_edge_are_framed_exactly_as_before(mnist) -> None:
    """MNIST digits that keep one blank pixel from the edge (98.7%) are placed where their own centring put them."""
    moved, clear = 0, 0
    for image in mnist.x_test[:500]:
        ink = image > 0
        if ink[0].any() or ink[-1].any() or ink[:, 0].any() or ink[:, -1].any():
            continue
        clear += 1
        moved += ink_box(preprocess(image).image) != ink_box(image)
    assert clear > 450 and moved / clear < 0.05


# ---------------------------------------------------------------------------------------------- ink and paper

def test_dark_ink_on_light_paper_is_inverted_to_the_same_input() -> None:
    light = preprocess(canvas(SEVEN))
    dark = preprocess(255 - canvas(SEVEN))
    assert not light.inverted and dark.inverted
    np.testing.assert_array_equal(dark.image, light.image)


def test_a_photo_with_grey_paper_and_noise_is_cleaned() -> None:
    rng = np.random.default_rng(0)
    clean = canvas(SEVEN)
    paper = 190 + rng.normal(0, 5, clean.shape)
    photo = np.clip(paper - clean * (150 / 255), 0, 255).astype(np.uint8)  # grey pen on grey paper
    p = preprocess(photo)
    assert p.inverted
    assert 55 <= p.background <= 75  # inverted paper: 255 - 190
    reference = preprocess(clean).image.astype(int)
    assert np.abs(p.image.astype(int) - reference).mean() < 4
    assert (p.image[reference == 0] > 0).mean() < 0.02  # the paper's noise is gone


@pytest.mark.parametrize("lighting", ["ramp", "vignette"])
def test_unevenly_lit_paper_is_levelled(lighting) -> None:
    rng = np.random.default_rng(2)
    clean = canvas(SEVEN)
    yy, xx = np.mgrid[0:280, 0:280]
    if lighting == "ramp":  # a lamp to the right: the paper goes from grey to white
        paper = np.linspace(60, 240, 280)[None, :] + 0 * yy
    else:  # darker corners
        paper = 230 - 40 * ((xx - 140) ** 2 + (yy - 140) ** 2) / 140**2
    photo = np.clip(paper + rng.normal(0, 4, clean.shape) - clean * (90 / 255), 0, 255).astype(np.uint8)
    p = preprocess(photo)
    reference = preprocess(clean)
    assert p.inverted and p.box == reference.box
    assert np.abs(p.image.astype(int) - reference.image.astype(int)).mean() < 5
    assert (p.image[reference.image == 0] > 0).mean() < 0.02


def test_specks_do_not_stretch_the_box_of_a_large_picture() -> None:
    picture = canvas(SEVEN)
    specked = picture.copy()
    specked[[5, 270, 140], [5, 12, 275]] = 255  # dust, far from the digit
    assert ink_box(specked) == ink_box(picture)
    tiny = np.zeros((28, 28), np.uint8)
    tiny[3, 4] = 255  # at MNIST's size a single pixel may be a stroke: kept
    assert ink_box(tiny) == (4, 3, 5, 4)


@pytest.mark.parametrize("picture", [
    np.zeros((280, 280), np.uint8),  # untouched canvas
    np.full((280, 280), 255, np.uint8),  # blank white paper
    np.full((64, 64), 128, np.uint8),  # uniform grey
    np.random.default_rng(1).integers(100, 120, (64, 64)).astype(np.uint8),  # faint texture, no ink
], ids=["black", "white", "grey", "texture"])
def test_a_picture_without_ink_is_empty(picture) -> None:
    p = preprocess(picture)
    assert p.empty and p.x is None and p.image is None and p.box is None


def test_a_single_dot_is_still_a_drawing() -> None:
    dot = np.zeros((280, 280), np.uint8)
    dot[140:150, 140:150] = 255
    p = preprocess(dot)
    assert not p.empty and max(p.resized.shape) == 20


def test_inversion_is_judged_by_the_border() -> None:
    frame = np.zeros((100, 100), np.uint8)
    frame[:4, :] = frame[-4:, :] = frame[:, :4] = frame[:, -4:] = 255
    assert needs_inverting(frame)
    assert not needs_inverting(np.pad(np.full((92, 92), 255, np.uint8), 4))  # bright middle, dark border
