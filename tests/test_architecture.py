"""The dependency rule: nn <- lab <- figures <- dashboard <- app_pages/ and app.py, checked on the source."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

# Third-party packages each layer may import (besides the standard library and lower layers).
ALLOWED = {
    "nn": {"numpy", "nn"},
    "lab": {"numpy", "nn", "lab", "pandas", "PIL"},
    "figures": {"numpy", "nn", "lab", "figures", "plotly", "pandas", "PIL"},
    "dashboard": {"numpy", "nn", "lab", "figures", "dashboard", "plotly", "pandas", "PIL", "streamlit",
                  "streamlit_drawable_canvas"},
    "app_pages": {"numpy", "nn", "lab", "figures", "dashboard", "plotly", "pandas", "PIL", "streamlit",
              "streamlit_drawable_canvas"},
}
# Heavy, optional imports allowed inside nn/, but only lazily (inside a function) in these files.
LAZY_EXCEPTIONS = {
    "nn/data/readers.py": {"pandas"},
    "nn/trainer.py": {"pandas"},
    "nn/parallel.py": {"threadpoolctl"},
    "lab/threads.py": {"threadpoolctl"},
    "nn/metrics.py": {"pandas"},
    "nn/cli/fetch.py": {"tqdm"},
    "nn/cli/train.py": {"tqdm", "pandas"},
    "nn/cli/evaluate.py": {"pandas"},
}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(top-level package, imported at module level?) for every import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            found.append((name.split(".")[0], id(node) in module_level))
    return found


def _layer_files(layer: str) -> list[Path]:
    if layer == "app_pages":
        return sorted((ROOT / "app_pages").glob("*.py")) + [ROOT / "app.py"]
    return sorted((ROOT / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    files = [p for p in _layer_files(layer) if p.exists()]
    assert files, f"no source files found for layer {layer!r}"
    violations = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        lazy_ok = LAZY_EXCEPTIONS.get(rel, set())
        for package, at_module_level in _imports(path):
            if package in STDLIB or package in ALLOWED[layer]:
                continue
            if package in lazy_ok and not at_module_level:
                continue
            violations.append(f"{rel} imports {package}")
    assert not violations, "dependency rule broken:\n" + "\n".join(violations)


def test_network_never_imports_a_framework() -> None:
    banned = {"torch", "tensorflow", "jax", "sklearn", "keras"}
    for path in _layer_files("nn"):
        used = {pkg for pkg, _ in _imports(path)}
        assert not used & banned, f"{path} imports {used & banned}"


def test_library_code_does_not_print() -> None:
    offenders = []
    for layer in ("nn", "lab", "figures", "dashboard"):
        for path in _layer_files(layer):
            if "cli" in path.parts or path.name == "__main__.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, "print() in library code (use events or callbacks): " + ", ".join(offenders)
