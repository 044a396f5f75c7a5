"""Any picture a user gives -> (H, W) uint8 grey: uploads decoded safely, every Pillow mode read properly.

    img  = decode_image(uploaded_bytes)     upright, mode L / LA / RGB / RGBA, at most WORK_SIDE px across
    gray = to_gray(img or canvas_rgba)      (H, W) uint8 luminance, transparency laid on a contrasting backdrop

An upload is hostile until proven otherwise: its byte count is bounded before Pillow sees it, its pixel
count and shape are checked from the header before anything is decoded (Pillow's ``Image.open`` is lazy),
and every way Pillow can fail on a broken file becomes an :class:`ImageError` with one line for the user.
Nothing is ever unpickled: only PNG and JPEG are opened.

Pure functions: numpy and Pillow only, no Streamlit.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # bigger files are refused before Pillow reads them
MAX_PIXELS = 4096 * 4096  # refused from the header, before decoding (a small file can decode huge)
MAX_ASPECT = 20  # a picture of one digit is never 20 times longer than wide
UPLOAD_FORMATS = ("PNG", "JPEG")
WORK_SIDE = 1024  # uploads are shrunk to at most this many pixels on their longer side

_RESAMPLABLE = ("L", "LA", "RGB", "RGBA")  # the modes Pillow's LANCZOS resize and our luminance accept
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


class ImageError(ValueError):
    """An upload that is not a usable picture; the message says why, in one line for the user."""


def _megapixels(n: int) -> str:
    return f"{n / 1e6:.3g} megapixels"


def check_size(width: int, height: int, *, max_pixels: int = MAX_PIXELS) -> None:
    """Refuse, with :class:`ImageError`, a declared size with no pixels, too many, or an absurd shape."""
    if width < 1 or height < 1:
        raise ImageError(f"The image has no pixels ({width}×{height}).")
    if width * height > max_pixels:
        side = int(max_pixels ** 0.5)
        raise ImageError(f"The image is {width}×{height} pixels; the limit is {_megapixels(max_pixels)} "
                         f"({side}×{side}). Crop it to the digit or scale it down.")
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(f"The image is {width}×{height} pixels, more than {MAX_ASPECT} times longer than "
                         "wide: that is no picture of one digit. Crop it around the digit.")


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Pillow's lazy open: the header is parsed, no pixel decoded."""
    try:
        return Image.open(io.BytesIO(data), formats=UPLOAD_FORMATS)
    except Image.DecompressionBombError:
        # Pillow's own guard, for headers claiming over ~179 megapixels: far above our limit anyway.
        claimed = _megapixels(2 * (Image.MAX_IMAGE_PIXELS or 0))
        raise ImageError(f"The image's header claims over {claimed}; the limit is {_megapixels(max_pixels)}, "
                         "so it was not decoded. Crop it to the digit or scale it down.") from None
    except UnidentifiedImageError:
        raise ImageError("This is not a PNG or JPEG image. Upload a picture of a single digit.") from None
    except Exception as exc:  # noqa: BLE001 - Pillow's parsers raise many types on hostile headers
        raise ImageError(f"The image could not be read ({type(exc).__name__}: {exc}).") from None


def _decode(img: Image.Image) -> Image.Image:
    """Decode the pixels (JPEG at a reduced scale when that is all we keep) and stand the picture upright."""
    try:
        if img.format == "JPEG":
            img.draft(img.mode, (WORK_SIDE, WORK_SIDE))  # let the decoder skip detail we would shrink away
        img.load()
        return ImageOps.exif_transpose(img)
    except Exception as exc:  # noqa: BLE001 - truncated or corrupt data: OSError, SyntaxError, struct.error...
        raise ImageError(f"The image is damaged and could not be decoded ({type(exc).__name__}: {exc}).") \
            from None


def decode_image(data: bytes, *, max_bytes: int = MAX_UPLOAD_BYTES,
                 max_pixels: int = MAX_PIXELS) -> Image.Image:
    """An uploaded file's bytes -> an upright Pillow image in mode L, LA, RGB or RGBA.

    Larger pictures are shrunk to ``WORK_SIDE`` px on their longer side: the digit ends up 20 px anyway,
    and a 12-megapixel photo would otherwise take seconds to clean. Raises :class:`ImageError` for an
    empty, oversized, absurdly shaped, non-PNG/JPEG, damaged or bomb-like file, before decoding it
    whenever its header is enough to tell.
    """
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"The file is {len(data) / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.0f} MB. "
                         "A photo of one digit needs far less: crop it or save it smaller.")
    img = _open(data, max_pixels)
    check_size(*img.size, max_pixels=max_pixels)  # from the header: nothing decoded yet
    img = resamplable(_decode(img))
    if max(img.size) > WORK_SIDE:
        img.thumbnail((WORK_SIDE, WORK_SIDE), Image.Resampling.LANCZOS)  # in place, aspect ratio kept
    return img


# ---------------------------------------------------------------------------------------------- modes

def _deep_to_l(img: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit integer or float grey image -> 8-bit "L", scaled, never clipped at 255.

    16-bit ("I;16..."): 0..65535 maps linearly to 0..255. "I" holds 8-bit values when Pillow made it from
    "L", 16-bit ones when read from a 16-bit file: 0..255 stays as is, anything above is read as
    0..65535. "F" follows Pillow's 0..255 scale, but a float picture within [0, 1] is scaled by 255.
    """
    a = np.asarray(img)
    if img.mode == "F":
        top = 1.0 if a.size and float(np.nanmax(a)) <= 1.0 else 255.0
        scaled = np.nan_to_num(a.astype(np.float32), nan=0.0) * np.float32(255.0 / top)
        return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")
    if img.mode == "I" and (a.size == 0 or int(a.max()) <= 255):
        return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "L")
    wide = (np.clip(a, 0, 65535) if img.mode == "I" else a).astype(np.uint32)  # one copy, then in place
    wide *= 255
    wide += 32767
    wide //= 65535  # round(v * 255 / 65535): 0..65535 -> 0..255
    return Image.fromarray(wide.astype(np.uint8), "L")


def resamplable(img: Image.Image) -> Image.Image:
    """Any Pillow image -> the same picture in mode L, LA, RGB or RGBA (what LANCZOS and :func:`to_gray` take).

    1-bit becomes L; palettes, CMYK and other colour spaces become RGB (RGBA when any pixel is
    transparent, a palette's or a single colour's ``transparency`` included); 16-bit, 32-bit and float
    greys are scaled to 8 bits (see :func:`_deep_to_l`).
    """
    if img.mode in ("I", "F") or img.mode in _SIXTEEN_BIT:
        return _deep_to_l(img)
    if "transparency" in img.info and img.mode in ("1", "L", "P", "RGB"):
        return img.convert("RGBA")
    if img.mode in _RESAMPLABLE:
        return img
    if img.mode == "1":
        return img.convert("L")
    if img.mode in ("La", "PA"):
        return img.convert("RGBA") if img.mode == "PA" else img.convert("LA")
    if img.mode in ("RGBa", "RGBX"):
        return img.convert("RGBA" if img.mode == "RGBa" else "RGB")
    return img.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV


def to_gray(picture: Image.Image | np.ndarray) -> np.ndarray:
    """Any picture -> (H, W) uint8 luminance (Pillow's ITU-R 601 "L").

    ``picture``: a Pillow image of any mode (see :func:`resamplable`), or an array (H, W), (H, W, 3) RGB
    or (H, W, 4) RGBA uint8 (the canvas). Transparent pixels are laid on a backdrop that contrasts with the
    visible ones (black behind light ink, white behind dark ink), so a stroke on a transparent canvas stays
    a stroke.
    """
    if isinstance(picture, np.ndarray):
        a = np.asarray(picture)
        if a.dtype != np.uint8:
            raise ValueError(f"picture arrays must be uint8, got dtype {a.dtype}")
        if a.ndim == 2:
            return a.copy()
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(f"picture must be (H, W), (H, W, 3) or (H, W, 4), got shape {a.shape}")
        picture = Image.fromarray(np.ascontiguousarray(a), "RGBA" if a.shape[2] == 4 else "RGB")
    if not isinstance(picture, Image.Image):
        raise ValueError(f"picture must be a PIL image or a numpy array, got {type(picture).__name__}")
    picture = resamplable(picture)
    if picture.mode in ("L", "RGB"):
        return np.asarray(picture.convert("L"), dtype=np.uint8).copy()
    rgba = picture.convert("RGBA")
    alpha = np.asarray(rgba.getchannel("A"), dtype=np.float64)
    luma = np.asarray(rgba.convert("RGB").convert("L"), dtype=np.float64)
    weight = alpha.sum()
    visible_mean = float((luma * alpha).sum() / weight) if weight > 0 else 255.0
    backdrop = (0, 0, 0, 255) if visible_mean >= 128 else (255, 255, 255, 255)
    flat = Image.alpha_composite(Image.new("RGBA", rgba.size, backdrop), rgba)
    return np.asarray(flat.convert("L"), dtype=np.uint8).copy()


__all__ = ["MAX_ASPECT", "MAX_PIXELS", "MAX_UPLOAD_BYTES", "UPLOAD_FORMATS", "WORK_SIDE", "ImageError",
           "check_size", "decode_image", "resamplable", "to_gray"]
