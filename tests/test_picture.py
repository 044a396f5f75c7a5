"""Pictures users give the Draw page: every Pillow mode read properly, hostile files refused in one line."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from lab.picture import (MAX_ASPECT, MAX_PIXELS, WORK_SIDE, ImageError, check_size, decode_image, resamplable,
                         to_gray)
from lab.preprocess import preprocess
from tests.pictures import SEVEN, canvas, encoded, sixteen_bit_png, with_jpeg_size, with_png_size

INK = canvas(SEVEN)  # (280, 280) uint8, light ink on black
PAPER = 255 - INK  # the same 7 in dark ink on white paper


def refused(data: bytes, match: str) -> str:
    """The one-line message ``decode_image`` refuses ``data`` with."""
    with pytest.raises(ImageError, match=match) as info:
        decode_image(data)
    message = str(info.value)
    assert "\n" not in message and len(message) < 200
    return message


def read(data: bytes) -> np.ndarray:
    """An uploaded file through the page's pipeline: the 28x28 input the network gets."""
    return preprocess(to_gray(decode_image(data))).image


# ---------------------------------------------------------------------------------------------- to_gray

def test_a_transparent_canvas_reads_like_a_black_one() -> None:
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = INK  # white ink, alpha = coverage, nothing behind it
    np.testing.assert_array_equal(to_gray(rgba), INK)
    opaque = np.dstack([INK, INK, INK, np.full_like(INK, 255)])
    np.testing.assert_array_equal(to_gray(opaque), INK)


def test_dark_ink_on_a_transparent_background_lands_on_white() -> None:
    rgba = np.zeros((280, 280, 4), np.uint8)
    rgba[..., 3] = INK  # black ink, transparent elsewhere
    gray = to_gray(rgba)
    assert gray[0, 0] == 255 and gray[60, 140] == 0
    np.testing.assert_array_equal(preprocess(gray).image, preprocess(INK).image)


def test_colour_becomes_luminance() -> None:
    rgb = np.zeros((10, 10, 3), np.uint8)
    rgb[..., 1] = 255
    assert to_gray(rgb)[0, 0] == 150  # ITU-R 601: 0.587 * 255


def test_16_bit_greys_are_scaled_not_clipped() -> None:
    levels = np.array([[0, 1, 128, 254, 255]], np.uint8)
    deep = Image.fromarray(levels.astype(np.uint16) * 257)  # 0..65535
    assert deep.mode == "I;16"
    np.testing.assert_array_equal(to_gray(deep), levels)
    assert np.asarray(deep.convert("L")).tolist() != levels.tolist()  # Pillow's own conversion clips
    odd = Image.fromarray(np.array([[300, 32767, 65534]], np.uint16))
    assert to_gray(odd).tolist() == [[1, 127, 255]]  # round(v * 255 / 65535)


@pytest.mark.parametrize("make", [
    lambda: Image.fromarray(INK.astype(np.int32)),  # "I" made from 8-bit values: kept
    lambda: Image.fromarray(INK.astype(np.int32) * 257),  # "I" holding 16-bit values: scaled
    lambda: Image.fromarray(INK.astype(np.float32)),  # "F" on Pillow's 0..255 scale
    lambda: Image.fromarray(INK.astype(np.float32) / 255),  # "F" in [0, 1]
    lambda: Image.fromarray(INK).convert("1"),  # 1-bit
    lambda: Image.fromarray(INK).convert("P"),  # palette
    lambda: Image.fromarray(INK).convert("CMYK"),
    lambda: Image.fromarray(INK).convert("YCbCr"),
], ids=["I-8bit", "I-16bit", "F-255", "F-1", "1", "P", "CMYK", "YCbCr"])
def test_every_mode_becomes_the_same_grey(make) -> None:
    image = make()
    assert resamplable(image).mode in ("L", "LA", "RGB", "RGBA")
    assert np.abs(to_gray(image).astype(int) - INK.astype(int)).max() <= 1


def test_to_gray_rejects_what_is_not_a_picture() -> None:
    with pytest.raises(ValueError, match="float64"):
        to_gray(np.zeros((4, 4)))
    with pytest.raises(ValueError, match=r"\(4, 4, 2\)"):
        to_gray(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="list"):
        to_gray([[0, 1]])
    with pytest.raises(ValueError, match=r"\(2, 28, 28\)"):
        preprocess(np.zeros((2, 28, 28), np.uint8))


# ---------------------------------------------------------------------------------------------- uploads

def _transparent_palette() -> Image.Image:
    """Black ink on a transparent palette colour that is black too: flattened naively, the 7 vanishes."""
    img = Image.fromarray((INK > 127).astype(np.uint8), "P")
    img.putpalette([0, 0, 0, 0, 0, 0])
    img.info["transparency"] = 0
    return img


def _la() -> Image.Image:
    return Image.merge("LA", [Image.new("L", INK.shape[::-1], 0), Image.fromarray(INK)])


UPLOADS = {
    "L-png": lambda: encoded(Image.fromarray(PAPER)),
    "RGB-jpeg": lambda: encoded(Image.fromarray(PAPER).convert("RGB"), "JPEG", quality=95),
    "1-png": lambda: encoded(Image.fromarray(PAPER).point(lambda v: 255 if v > 127 else 0).convert("1")),
    "16bit-png": lambda: sixteen_bit_png(PAPER),
    "LA-png": lambda: encoded(_la()),
    "P-transparent-png": lambda: encoded(_transparent_palette(), transparency=0),
    "RGBA-png": lambda: encoded(Image.fromarray(np.dstack([np.zeros((280, 280, 3), np.uint8), INK]))),
    "CMYK-jpeg": lambda: encoded(Image.merge("CMYK", [Image.new("L", (280, 280), 0)] * 3 + [Image.fromarray(INK)]),
                                 "JPEG", quality=95),
}


@pytest.mark.parametrize("kind", list(UPLOADS))
def test_every_kind_of_upload_gives_the_same_input(kind) -> None:
    data = UPLOADS[kind]()
    decoded = decode_image(data)
    assert decoded.mode in ("L", "LA", "RGB", "RGBA") and decoded.size == (280, 280)
    image = read(data)
    reference = preprocess(INK).image
    assert np.abs(image.astype(int) - reference.astype(int)).mean() < 3, kind


def test_a_16_bit_scan_reads_exactly_like_its_8_bit_twin() -> None:
    small = np.asarray(Image.fromarray(PAPER).resize((200, 200)))
    np.testing.assert_array_equal(to_gray(decode_image(sixteen_bit_png(small))), small)


@pytest.mark.parametrize("side", [4000, 4096])
def test_a_large_16_bit_scan_is_shrunk_and_read(side) -> None:
    """At about 4,000 px Pillow's resize refused the 16-bit mode ("image has wrong mode")."""
    gray = np.full((side // 2, side), 255, np.uint8)
    gray[side // 8: -side // 8, side // 2 - 60: side // 2 + 60] = 0  # a thick '1'
    decoded = decode_image(sixteen_bit_png(gray))
    assert decoded.mode == "L" and decoded.size == (WORK_SIDE, WORK_SIDE // 2)
    p = preprocess(to_gray(decoded))
    assert p.inverted and not p.empty and p.resized.shape[0] == 20


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(fmt) -> None:
    upright = Image.fromarray(255 - canvas(SEVEN, size=(200, 280))).convert("RGB")  # portrait
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # landscape on disk, as a phone may store it
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation 6: turn 90 degrees clockwise to view
    decoded = decode_image(encoded(stored, fmt, exif=exif))
    assert decoded.size == upright.size == (200, 280)
    assert np.abs(to_gray(decoded).astype(int) - np.asarray(upright.convert("L"), int)).mean() < 3


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_large_uploads_are_shrunk_keeping_their_shape(fmt) -> None:
    photo = np.full((2000, 3000), 230, np.uint8)
    photo[300:1700, 1455:1545] = 20
    decoded = decode_image(encoded(Image.fromarray(photo).convert("RGB"), fmt))
    assert decoded.size == (WORK_SIDE, round(WORK_SIDE * 2 / 3))
    p = preprocess(to_gray(decoded))
    assert p.inverted and p.resized.shape[0] == 20 and p.resized.shape[1] in (1, 2)  # a thin '1'


# ---------------------------------------------------------------------------------------------- hostile files

@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not an image at all" * 4, "not a PNG or JPEG"),
    (pickle.dumps({"a": np.zeros(3)}), "not a PNG or JPEG"),
    (encoded(Image.new("RGB", (8, 8)), "GIF"), "not a PNG or JPEG"),
    (encoded(Image.new("RGB", (8, 8)), "BMP"), "not a PNG or JPEG"),
], ids=["empty", "text", "pickle", "gif", "bmp"])
def test_non_images_are_refused_with_a_message(data, message) -> None:
    refused(data, message)


def test_too_many_bytes_are_refused_before_pillow_reads_them() -> None:
    small = encoded(Image.new("L", (10, 10)))
    with pytest.raises(ImageError, match="limit is"):
        decode_image(small, max_bytes=len(small) - 1)
    assert decode_image(small, max_bytes=len(small)).size == (10, 10)


def test_a_small_file_that_decodes_huge_is_refused_from_its_header() -> None:
    side = int(MAX_PIXELS ** 0.5) + 1
    bomb = encoded(Image.new("1", (side, side)))  # a few kB on disk, 17 megapixels decoded
    assert len(bomb) < 100_000
    refused(bomb, f"{side}×{side}")


@pytest.mark.parametrize("make", [
    lambda: with_png_size(encoded(Image.new("L", (64, 64))), 30_000, 30_000),
    lambda: with_jpeg_size(encoded(Image.new("L", (64, 64)), "JPEG"), 60_000, 60_000),
], ids=["png-30000", "jpeg-60000"])
def test_decompression_bombs_are_refused_in_one_line(make) -> None:
    """Headers over Pillow's own guard (~179 megapixels) raised DecompressionBombError on the page."""
    data = make()
    assert len(data) < 2_000
    assert "not decoded" in refused(data, "claims over 179 megapixels")


def test_a_header_between_our_limit_and_pillows_is_refused_by_ours() -> None:
    data = with_png_size(encoded(Image.new("L", (64, 64))), 5000, 5000)  # 25 megapixels claimed
    refused(data, "5000×5000 pixels; the limit is 16.8 megapixels")


@pytest.mark.parametrize("size", [(16_000_000, 1), (1, 16_000_000)], ids=["wide", "tall"])
def test_an_absurdly_thin_picture_is_refused(size) -> None:
    """16,000,000x1 is under the pixel limit, but shrinking it rounded a side to 0 px."""
    data = encoded(Image.new("L", size, 0))
    assert len(data) < 100_000
    refused(data, f"more than {MAX_ASPECT} times longer than wide")


def test_the_aspect_limit_is_exact() -> None:
    check_size(20 * MAX_ASPECT, 20)
    check_size(20, 20 * MAX_ASPECT)
    with pytest.raises(ImageError, match="longer than wide"):
        check_size(20 * MAX_ASPECT + 1, 20)
    with pytest.raises(ImageError, match="no pixels"):
        check_size(0, 5)


def test_a_truncated_png_is_refused() -> None:
    data = encoded(Image.fromarray(INK))
    refused(data[: len(data) // 2], "damaged")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_corrupted_files_are_read_or_refused_never_raise(fmt) -> None:
    """Random byte changes and cuts anywhere: a picture comes back, or an ImageError; nothing else."""
    rng = np.random.default_rng(7)
    good = encoded(Image.fromarray(PAPER[::4, ::4]).convert("RGB"), fmt)
    outcomes = {"read": 0, "refused": 0}
    for _ in range(150):
        data = bytearray(good)
        for at in rng.integers(0, len(data), rng.integers(1, 6)):
            data[at] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            data = data[: int(rng.integers(1, len(data)))]
        try:
            picture = decode_image(bytes(data))
        except ImageError as exc:
            assert "\n" not in str(exc)
            outcomes["refused"] += 1
        else:
            assert picture.mode in ("L", "LA", "RGB", "RGBA")
            preprocess(to_gray(picture))
            outcomes["read"] += 1
    assert outcomes["refused"] > 0 and outcomes["read"] > 0, outcomes  # both paths were exercised
