"""The dependency rule: nn <- lab <- figures <- dashboard <- app_pages/ and app.py, checked on the source."""

from __future__ import annotations

import ast
import subprocess
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
    "nn/trainer/telemetry.py": {"pandas"},
    "nn/trainer/trainer.py": {"pandas"},  # for the type of history() only
    "nn/engine/threads.py": {"threadpoolctl"},
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


# ---------------------------------------------------------------- the textbook and the engine

# What a learner reads: NumPy and the standard library, nothing about threads, processes or shared memory.
TEXTBOOK = ["nn/activations.py", "nn/losses.py", "nn/init.py", "nn/model.py", "nn/optim.py", "nn/fit.py"]
CONCURRENCY = {"threading", "multiprocessing", "mmap", "concurrent", "_thread", "ctypes"}


def _all_imports(path: Path, root: Path = ROOT) -> list[str]:
    """Every module ``path`` imports, relative imports resolved to their absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = path.relative_to(root).with_suffix("").parts[:-1]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[: len(package) - node.level + 1])
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module or "")
    return names


@pytest.mark.parametrize("rel", TEXTBOOK)
def test_the_textbook_imports_no_engine_no_trainer_and_no_concurrency(rel: str) -> None:
    bad = [name for name in _all_imports(ROOT / rel)
           if name.split(".")[0] in CONCURRENCY or name.startswith(("nn.engine", "nn.trainer", "nn.cli"))]
    assert not bad, f"{rel} imports {bad}: the textbook stays NumPy and the standard library"


def test_importing_the_textbook_pulls_in_no_engine_and_no_trainer() -> None:
    script = ("import sys, nn.model, nn.optim, nn.fit; "
              "print([m for m in sys.modules if m.startswith(('nn.engine', 'nn.trainer', 'nn.cli'))])")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_only_the_trainer_uses_the_engine() -> None:
    users = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", "tests/", "bench/", "nn/engine/", "nn/trainer/")):
            continue
        if any(name.startswith("nn.engine") for name in _all_imports(path)):
            users.append(rel)
    assert not users, f"the engine is internal to the trainer, yet imported by {users}"


def test_relative_imports_are_resolved_before_they_are_checked(tmp_path: Path) -> None:
    # guards the checks above: a relative import must not slip past them
    (tmp_path / "nn").mkdir()
    module = tmp_path / "nn" / "model.py"
    module.write_text("from .engine.step import Engine\nfrom . import optim\nimport numpy\n")
    assert _all_imports(module, root=tmp_path) == ["nn.engine.step", "nn", "numpy"]


# Product files may grow past ~300 lines only with a reason stated here.
LONG_FILES = {
    "nn/trainer/trainer.py": "the run's public API (six controls, six readings, run/events) around a loop "
                             "of three short generators",
    "nn/data/readers.py": "three file formats (IDX, CSV, npz), each with its own hostile-input checks",
    "nn/serialize.py": "the model file format and its hostile-input checks",
    "nn/cli/train.py": "the command line's flags, their checks and the report",
    "lab/training_run.py": "one idea, a training in a background thread of the server: start, controls, "
                           "events to a snapshot the page polls, release",
}


def test_no_product_file_is_long_without_a_stated_reason() -> None:
    long = []
    for layer in ("nn", "lab", "figures", "dashboard", "pages"):
        for path in _layer_files(layer):
            rel = path.relative_to(ROOT).as_posix()
            if rel.startswith("nn/engine/") or rel in LONG_FILES:
                continue
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > 320:
                long.append(f"{rel} ({lines} lines)")
    assert not long, "files over ~300 lines without a stated reason: " + ", ".join(long)
