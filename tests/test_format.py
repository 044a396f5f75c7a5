"""The one percent formatter (every page) and the other number formatters of lab/format.py."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lab.format import fmt_bytes, fmt_duration, fmt_num, fmt_pct, fmt_rate


@pytest.mark.parametrize("x, digits, text", [
    (0.0, 0, "0%"), (1.0, 0, "100%"), (0.0, 2, "0.00%"), (1.0, 2, "100.00%"),
    (0.9996, 0, ">99.9%"), (0.9996, 1, ">99.9%"), (0.9996, 2, "99.96%"),
    (0.997, 0, ">99%"), (0.994, 0, "99%"), (0.5, 0, "50%"), (0.5, 1, "50.0%"),
    (0.00004, 0, "<0.1%"), (0.00004, 1, "<0.01%"), (0.00004, 2, "<0.01%"), (0.00004, 3, "0.004%"),
    (0.004, 0, "<1%"), (0.0001, 0, "<0.1%"), (0.99996, 1, ">99.99%"), (0.9999, 2, "99.99%"),
    (0.123456, 2, "12.35%"), (1.5, 0, "150%"), (-0.25, 0, "-25%"),
])
def test_percent_edge_cases(x: float, digits: int, text: str) -> None:
    assert fmt_pct(x, digits) == text


@pytest.mark.parametrize("x", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_percent_of_what_is_not_a_number_is_na(x: float) -> None:
    assert fmt_pct(x) == "n/a" and fmt_pct(x, 2) == "n/a"


def test_percent_is_never_a_false_certainty_and_always_true() -> None:
    """Over many shares near 0 and 1, the text is a bound the value satisfies, or a plain rounding."""
    rng = np.random.default_rng(0)
    shares = np.concatenate([1 - rng.uniform(0, 0.01, 500) ** 2, rng.uniform(0, 0.01, 500) ** 2,
                             np.float32(rng.uniform(0, 1, 200))])
    for x in shares:
        for digits in (0, 1, 2):
            text = fmt_pct(x, digits)
            if 0 < x < 1:
                assert text not in (f"{1:.{digits}%}", f"{0:.{digits}%}"), (x, digits, text)
            value = float(text.lstrip("<>").rstrip("%")) / 100
            if text.startswith(">"):
                assert x > value, (x, text)
            elif text.startswith("<"):
                assert x < value, (x, text)
            else:
                assert math.isclose(value, x, abs_tol=0.5 * 10 ** -(digits + 2) + 1e-12), (x, text)


def test_percent_takes_numpy_scalars() -> None:
    assert fmt_pct(np.float32(0.25)) == "25%" and fmt_pct(np.float64(0.9996)) == ">99.9%"


def test_the_other_formatters() -> None:
    assert fmt_num(0.123456) == "0.1235" and fmt_num(2.0, 1) == "2.0" and fmt_num(float("nan")) == "n/a"
    assert fmt_duration(42.4) == "42 s" and fmt_duration(61) == "1:01" and fmt_duration(-3) == "0 s"
    assert fmt_duration(float("inf")) == "n/a"
    assert fmt_bytes(512) == "512 B" and fmt_bytes(1536) == "1.5 KB" and fmt_bytes(3 * 2**20) == "3.0 MB"
    assert fmt_bytes(2**31) == "2.0 GB"


@pytest.mark.parametrize("x, text", [(0.4, "0"), (9_876.2, "9,876"), (16_871, "16.9k"), (99_949, "99.9k"),
                                     (99_951, "100k"), (143_210, "143k"), (999_499, "999k"), (999_501, "1.0M"),
                                     (2_345_678, "2.3M"), (float("nan"), "n/a"), (float("inf"), "n/a")])
def test_a_rate_fits_a_tile(x: float, text: str) -> None:
    assert fmt_rate(x) == text and len(text) <= 5
