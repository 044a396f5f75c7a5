"""lab/code.py: the textbook's source as the pages show it, read from the files at run time."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.code import listing
from nn.losses import softmax_cross_entropy
from nn.model import MLP
from nn.optim import Adam

ROOT = Path(__file__).resolve().parents[1]


def test_a_listing_is_the_function_as_it_is_in_its_file() -> None:
    shown = listing(MLP.backward)
    assert shown.name == "MLP.backward" and shown.path == "nn/model.py"
    file_lines = (ROOT / "nn" / "model.py").read_text(encoding="utf-8").splitlines()
    first = file_lines[shown.first_line - 1]
    assert first.strip().startswith("def backward(")
    assert shown.lines[0].startswith("def backward(")  # dedented out of the class
    assert len(shown.lines) > 5 and shown.where.startswith("nn/model.py, lines ")
    # every shown line is its file's line, minus the class's indentation
    for i, line in enumerate(shown.lines):
        assert file_lines[shown.first_line - 1 + i].endswith(line)


def test_the_equations_a_page_marks_are_in_the_code() -> None:
    # the markers the Home page and the step-through page look for: if a refactor renames a line,
    # this fails instead of the page
    assert "dW_l = H_{l-1}^T dZ_l" in listing(MLP.backward).lines[listing(MLP.backward).line_of("dW[l] =")]
    assert listing(softmax_cross_entropy).line_of("p - Y") > 0
    assert listing(Adam.update).line_of("m_hat") > 0
    marked = listing(MLP.backward).marked("db[l] =", note="# <- here")
    assert sum("# <- here" in line for line in marked.splitlines()) == 1
    with pytest.raises(ValueError, match="no line containing"):
        listing(MLP.backward).line_of("this text is in no line")
