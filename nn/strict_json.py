"""Parsing JSON from an untrusted file with its nesting and its numbers bounded.

``json.loads`` recurses once per nesting level (a deep enough document raises
``RecursionError``), turns a 5,000-digit integer into ``ValueError: Exceeds the
limit``, and accepts ``NaN`` and ``Infinity``. Here the nesting is measured
before parsing and every number is checked as it is read, each with a
:class:`JSONLimitError` that says which limit was crossed.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

# An escaped character, a quote or a bracket: one pass over these finds the nesting in linear time
# (a regex for whole strings would backtrack quadratically over a run of escaped quotes).
_TOKEN = re.compile(r'\\.|["\[\]{}]', re.DOTALL)


class JSONLimitError(ValueError):
    """JSON that is invalid or crosses a limit. The message is a predicate ("is nested more than 32 levels
    deep"), to follow the name of what was parsed: ``f"config {exc}"``."""


def nesting_depth(text: str, stop_above: int) -> int:
    """How deeply ``text`` nests arrays and objects (1 for ``[1, 2]``); counting stops above ``stop_above``."""
    depth = deepest = 0
    in_string = False
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token == '"':
            in_string = not in_string
        elif in_string or token[0] == "\\":
            continue
        elif token in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > stop_above:
                    break
        else:
            depth -= 1
    return deepest


def loads(text: str, *, max_depth: int, max_number_chars: int) -> Any:
    """``json.loads(text)`` refusing nesting deeper than ``max_depth``, numbers written with more than
    ``max_number_chars`` characters, non-finite numbers and invalid JSON, each with its own message."""
    depth = nesting_depth(text, max_depth)
    if depth > max_depth:
        raise JSONLimitError(f"is nested more than {max_depth} levels deep")

    def number(convert: Any) -> Any:
        def parse(literal: str) -> Any:
            if len(literal) > max_number_chars:
                raise JSONLimitError(f"holds a number written with {len(literal):,} characters "
                                     f"(at most {max_number_chars} allowed)")
            value = convert(literal)
            if isinstance(value, float) and not math.isfinite(value):
                raise JSONLimitError(f"holds the number {literal}, too large to be finite")
            return value
        return parse

    def constant(name: str) -> Any:
        raise JSONLimitError(f"holds {name}, which is not a JSON number")

    try:
        return json.loads(text, parse_int=number(int), parse_float=number(float),
                          parse_constant=constant)
    except json.JSONDecodeError as exc:
        raise JSONLimitError(f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except RecursionError:  # cannot happen after the depth check; kept so nothing escapes as a traceback
        raise JSONLimitError(f"is nested more than {max_depth} levels deep") from None
