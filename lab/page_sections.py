"""The sections (tabs) of Evaluate, Inspect and Draw: their names and the URL parameter that opens one.

The pages draw one section at a time (dashboard/sections.py); a link opens a section with
``?<parameter>=<name>``, e.g. ``/inspect?in_section=Layer+map``. Lessons name sections to look at, so the
names live here, where lesson files are checked; each page names its tabs beside the function that draws
them, and tests/test_sections.py checks that the two agree.
"""

from __future__ import annotations

SECTION_PARAMETERS = {"evaluate": "ev_section", "inspect": "in_section", "draw": "draw_section"}
SECTIONS: dict[str, tuple[str, ...]] = {
    "evaluate": ("Confusion matrix", "Mistakes", "Confidence", "Per class"),
    "inspect": ("Filters", "Through the layers", "Weights and gradients", "Layer map", "Switch units off",
                "Prototypes", "Nearest neighbours"),
    "draw": ("Why this answer", "Preprocessing", "First hidden layer", "Why not another", "Nearest neighbours"),
}


def section_link(page: str, section: str | None) -> dict[str, str]:
    """The query parameters of a link to ``page`` that opens ``section`` (none for no section)."""
    if section is None:
        return {}
    if section not in SECTIONS.get(page, ()):
        raise ValueError(f"{page!r} has no section {section!r}; its sections: {', '.join(SECTIONS.get(page, ()))}")
    return {SECTION_PARAMETERS[page]: section}
