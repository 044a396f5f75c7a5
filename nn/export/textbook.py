"""The textbook's own lines for the exported script: read with ``inspect``, pruned to one run, renamed.

A piece is a whole function (:func:`function`), a function's body (:func:`body`) or the body of the
``if`` branch a setting picks (:func:`branch`). Each loses its docstring and its ``if ...: raise``
checks (:func:`strip`); :func:`rename` then turns the textbook's attributes (``self.beta1``) into the
script's names (``BETA1``), in code only, never in comments, and refuses an attribute it has no name
for, so a change to the textbook fails the export instead of writing a script that cannot run.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap


def strip(source: str, *, false: tuple[str, ...] = ()) -> str:
    """``source`` dedented, without docstrings and ``if ...: raise`` checks; comments stay.

    ``false`` lists ``if`` tests known to be false here: their blocks go too. A check that is all its
    block holds stays (the block would be empty without it).
    """
    source = textwrap.dedent(source)
    tree = ast.parse(source)
    drop: set[int] = set()
    for node in ast.walk(tree):
        for field in ("body", "orelse"):
            block = getattr(node, field, None)
            if not isinstance(block, list) or not block:
                continue
            gone = [s for s in block if _is_check(s) or _is_false(s, false)]
            if field == "body" and isinstance(node, (ast.Module, ast.FunctionDef)) and _is_doc(block[0]):
                gone.append(block[0])
            if len(gone) < len(block):
                for statement in gone:
                    drop.update(range(statement.lineno, statement.end_lineno + 1))
    lines = [line for i, line in enumerate(source.splitlines(), 1) if i not in drop]
    return "\n".join(lines).strip("\n")


def _is_doc(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _is_check(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.If) and not statement.orelse
            and all(isinstance(s, ast.Raise) for s in statement.body))


def _is_false(statement: ast.stmt, false: tuple[str, ...]) -> bool:
    return isinstance(statement, ast.If) and not statement.orelse and ast.unparse(statement.test) in false


def rename(source: str, names: dict[str, str]) -> str:
    """``source`` with each name of ``names`` (``self.lr``, ``slope``) replaced, in code but not in comments."""
    longest_first = sorted(names, key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.])(" + "|".join(map(re.escape, longest_first)) + r")\b")
    lines = []
    for line in source.splitlines():
        code, hash_, comment = line.partition("#")
        code = pattern.sub(lambda m: names[m.group(1)], code) if names else code
        if "self." in code:
            raise ValueError(f"the exported script has no name for {code.strip()!r}")
        lines.append(code + hash_ + comment)
    return "\n".join(lines)


def function(obj: object, names: dict[str, str] | None = None, *, false: tuple[str, ...] = ()) -> str:
    """The whole function ``obj``, stripped and renamed."""
    return rename(strip(inspect.getsource(obj), false=false), names or {})


def body(obj: object, names: dict[str, str] | None = None, *, false: tuple[str, ...] = ()) -> str:
    """The body of function ``obj`` (its one-line ``def`` dropped), stripped, dedented and renamed."""
    header, _, rest = strip(inspect.getsource(obj), false=false).partition("\n")
    if not header.rstrip().endswith(":"):
        raise ValueError(f"{obj!r}: expected a one-line signature, got {header!r}")
    return rename(textwrap.dedent(rest), names or {})


def branch(obj: object, value: str, names: dict[str, str] | None = None) -> str:
    """The body of the ``if`` branch of function ``obj`` whose test names ``value`` (``scheme == "he"``)."""
    source = strip(inspect.getsource(obj))
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        names_value = isinstance(node, ast.If) and any(
            isinstance(c, ast.Constant) and c.value == value for c in ast.walk(node.test))
        if names_value:
            picked = "\n".join(lines[node.body[0].lineno - 1: node.body[-1].end_lineno])
            return rename(textwrap.dedent(picked), names or {})
    raise ValueError(f"{obj!r} has no branch for {value!r}")


def nested(obj: object, name: str, names: dict[str, str] | None = None, *, false: tuple[str, ...] = ()) -> str:
    """The function ``name`` defined inside function ``obj`` (a closure), stripped and renamed."""
    source = textwrap.dedent(inspect.getsource(obj))
    tree = ast.parse(source)
    for node in ast.walk(tree.body[0]):
        if isinstance(node, ast.FunctionDef) and node.name == name and node is not tree.body[0]:
            inner = "\n".join(source.splitlines()[node.lineno - 1: node.end_lineno])
            return rename(strip(inner, false=false), names or {})
    raise ValueError(f"{obj!r} defines no function {name!r}")


def inline(obj: object, callee: object) -> str:
    """Function ``obj`` with its one call ``x = callee(arg)`` replaced by ``callee``'s body (arg: same name).

    The body's last line ``return y`` becomes ``x = y`` and carries the call's comment.
    """
    lines = function(obj).splitlines()
    (at,) = [i for i, line in enumerate(lines) if f"= {callee.__name__}(" in line.partition("#")[0]]
    call, _, comment = lines[at].partition("#")
    target, indent = call.split("=")[0].strip(), call[: len(call) - len(call.lstrip())]
    *code, last = returned_as(body(callee), target).splitlines()
    code.append(last.partition("#")[0].rstrip() + ("  #" + comment if comment else ""))  # the call's comment
    return "\n".join([*lines[:at], *(indent + row for row in code), *lines[at + 1:]])


def returned_as(code: str, name: str) -> str:
    """``code`` whose last line ``return X`` becomes ``name = X`` (to use a function's body inline)."""
    *rest, last = code.splitlines()
    if not last.startswith("return "):
        raise ValueError(f"expected a final return, got {last!r}")
    return "\n".join([*rest, f"{name} = {last[len('return '):]}"])
