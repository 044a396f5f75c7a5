"""Numbers as the app writes them: one percent formatter for every page, and the other small formatters.

A probability or accuracy is never rounded to a false certainty: 0.9996 reads ">99.9%", not "100%",
and 0.00004 reads "<0.1%", not "0%". Anything not finite reads "n/a".
"""

from __future__ import annotations

import math


def fmt_pct(x: float, digits: int = 0) -> str:
    """``x`` (a share, 1 = 100%) as a percent with ``digits`` decimals, never a rounded 100% or 0%.

    Only the exact values 0 and 1 read "0%" and "100%". A share that would round to one of them is
    given as a bound instead, one decimal finer when that still rounds the same way:
    ``fmt_pct(0.997) == ">99%"``, ``fmt_pct(0.9996) == ">99.9%"``, ``fmt_pct(0.00004) == "<0.1%"``.
    """
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    text = f"{x:.{digits}%}"
    if 0.0 < x < 1.0:
        for end, sign in ((1.0, ">"), (0.0, "<")):
            if text == f"{end:.{digits}%}":
                finer = digits + 1 if f"{x:.{digits + 1}%}" == f"{end:.{digits + 1}%}" else digits
                step = 10.0 ** -(finer + 2)  # the smallest share shown at that many decimals
                return sign + f"{abs(end - step):.{finer}%}"
    return text


def fmt_num(x: float, digits: int = 4) -> str:
    """A plain number with ``digits`` decimals, or "n/a"."""
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def fmt_rate(x: float) -> str:
    """A count per second at most 5 characters wide: "9,876", "16.9k", "143k", "1.2M"; "n/a" when unknown.

    The Train page's four tiles share one row at 1280 px; a six-digit rate ("143,210") pushed the last one
    onto a second row.
    """
    if not math.isfinite(x):
        return "n/a"
    if x < 10_000:
        return f"{x:,.0f}"
    if x < 999_500:
        return f"{x / 1e3:.1f}k" if x < 99_950 else f"{x / 1e3:.0f}k"
    return f"{x / 1e6:.1f}M"


def fmt_duration(seconds: float) -> str:
    """"42 s" under a minute, "m:ss" above, "n/a" when unknown."""
    if not math.isfinite(seconds):
        return "n/a"
    seconds = max(0, round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def fmt_bytes(n: float) -> str:
    """A size in binary units: "1.5 MB" (one decimal), "512 B"."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"
