"""Pictures for the Draw tests, made in the test: digits on a canvas, encoded files, lying headers."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

SEVEN = [[(70, 60), (210, 60), (150, 240)]]  # polyline of a 7 on a 280x280 canvas


def canvas(strokes, size=(280, 280), width=22, ink=255, paper=0) -> np.ndarray:
    """A grey (H, W) uint8 picture with polyline ``strokes`` in canvas pixels."""
    img = Image.new("L", size, paper)
    draw = ImageDraw.Draw(img)
    for points in strokes:
        draw.line(points, fill=ink, width=width, joint="curve")
    return np.asarray(img)


def encoded(image: Image.Image, fmt: str = "PNG", **kwargs) -> bytes:
    """``image`` saved as a ``fmt`` file, in memory."""
    buf = io.BytesIO()
    image.save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def with_png_size(png: bytes, width: int, height: int) -> bytes:
    """The PNG with its IHDR claiming ``width`` x ``height`` (CRC recomputed, so it parses); pixels unchanged."""
    assert png[12:16] == b"IHDR"
    body = struct.pack(">II", width, height) + png[24:29]  # bit depth, colour type, compression, filter, interlace
    crc = struct.pack(">I", zlib.crc32(b"IHDR" + body) & 0xFFFFFFFF)
    return png[:16] + body + crc + png[33:]


def with_jpeg_size(jpeg: bytes, width: int, height: int) -> bytes:
    """The baseline JPEG with its SOF0 segment claiming ``width`` x ``height``; scan data unchanged."""
    sof = jpeg.index(b"\xff\xc0")  # marker, length (2), precision (1), then height and width
    return jpeg[:sof + 5] + struct.pack(">HH", height, width) + jpeg[sof + 9:]


def sixteen_bit_png(gray8: np.ndarray) -> bytes:
    """``gray8`` (H, W) uint8 as a 16-bit greyscale PNG (Pillow mode "I;16"), each level v stored as v * 257."""
    image = Image.fromarray(gray8.astype(np.uint16) * 257)
    assert image.mode == "I;16"
    return encoded(image)
