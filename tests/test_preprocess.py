"""The MNIST pipeline for drawings and uploads: framing, inversion, blank pictures (files: test_picture.py)."""

from __future__ import annotations

import numpy as np
import pytest

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
    assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5  # whole-pixel shifts: within half a pixel


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
    assert 0 <= left <= 8 and 0 <= top <= 8
    assert field.sum() == digit.sum()  # nothing fell off


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
