"""Train page settings a teacher broadcasts, pasted from an address bar.

Only what the app understands is kept: knob values that lab/params.py accepts. A
link whose settings are partly ignored is refused with the reason, so students never get half of it.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from lab.params import SPECS, knobs_from_query, knobs_to_query

MAX_LINK_CHARS = 2000


def settings_from_link(text: str) -> dict[str, str]:
    """The Train page settings in a pasted link ("http://host:8501/train?lr=0.5&epochs=3", or "?lr=0.5"),
    as query values; ValueError (one line) when it holds none or some are not valid."""
    text = text.strip()
    if not text or len(text) > MAX_LINK_CHARS:
        raise ValueError(f"paste a Train page link (at most {MAX_LINK_CHARS} characters)")
    parts = urlsplit(text if "?" in text else "?" + text)
    pairs = dict(parse_qsl(parts.query, keep_blank_values=True))
    settings = {k: v for k, v in pairs.items() if k in SPECS}
    if not settings:
        raise ValueError("the link holds no Train page settings (e.g. ?lr=0.5&epochs=3)")
    knobs, notices = knobs_from_query(settings)
    if notices:
        raise ValueError(notices[0].replace("`", ""))
    return knobs_to_query(knobs)

