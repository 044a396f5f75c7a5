"""How much more memory this process may use: the tightest of the machine, its cgroup and its rlimit.

Free memory alone overstates it inside a container (the cgroup's limit binds first) or under
``ulimit -v`` (the address-space limit counts every mapping the process already has). Each limit
that can be read is turned into headroom, and the smallest one wins, named so a message can say
which. Standard library only; every path is a parameter so tests can build a fake system.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

_UNLIMITED = 1 << 60  # cgroup v1 writes "no limit" as a number near 2**63


@dataclass(frozen=True)
class Headroom:
    """Bytes this process may still allocate, and the limit that sets it (in words), or None if unknown."""

    bytes: int | None
    limit: str


def memory_headroom(*, proc: str | os.PathLike = "/proc", cgroup_root: str | os.PathLike = "/sys/fs/cgroup"
                    ) -> Headroom:
    """The smallest of available memory, the cgroup's limit less its usage (v2 or v1, this cgroup and
    its ancestors) and RLIMIT_AS less the address space already mapped."""
    proc, cgroup_root = Path(proc), Path(cgroup_root)
    candidates = [
        (available_bytes(proc), "the available memory"),
        (_cgroup_headroom(proc, cgroup_root), "the memory limit of this process's cgroup"),
        (_rlimit_headroom(proc), "the address-space limit (RLIMIT_AS, ulimit -v)"),
    ]
    known = [(max(b, 0), why) for b, why in candidates if b is not None]
    if not known:
        return Headroom(None, "unknown")
    return Headroom(*min(known, key=lambda c: c[0]))


def available_bytes(proc: Path = Path("/proc")) -> int | None:
    """MemAvailable from ``proc``/meminfo, else free pages from sysconf; None if neither can be read."""
    try:
        for line in (proc / "meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_headroom(proc: Path, root: Path) -> int | None:
    """Limit less usage of the tightest memory cgroup on the way from this process's cgroup to the root."""
    try:
        lines = (proc / "self" / "cgroup").read_text(encoding="ascii").splitlines()
    except OSError:
        lines = []
    found: list[int] = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":  # v2: one unified hierarchy
            found += _walk(root, path, "memory.max", "memory.current")
        elif "memory" in controllers.split(","):  # v1: the memory controller's own hierarchy
            found += _walk(root / "memory", path, "memory.limit_in_bytes", "memory.usage_in_bytes")
    return min(found) if found else None


def _walk(base: Path, path: str, limit_file: str, usage_file: str) -> list[int]:
    """Headroom of each limited cgroup from ``path`` up to ``base`` (inside a container the path may not
    exist in the mounted tree; then only ``base`` itself, the container's own cgroup, is read)."""
    directory = base / path.strip("/")
    if not directory.is_dir():
        directory = base
    found = []
    while True:
        try:
            limit = (directory / limit_file).read_text(encoding="ascii").strip()
            if limit != "max" and int(limit) < _UNLIMITED:
                found.append(int(limit) - int((directory / usage_file).read_text(encoding="ascii").strip()))
        except (OSError, ValueError):
            pass
        if directory == base or base not in directory.parents:
            return found
        directory = directory.parent


def _rlimit_headroom(proc: Path) -> int | None:
    """RLIMIT_AS less the address space this process already maps (numpy's libraries map plenty)."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        pages = int((proc / "self" / "statm").read_text(encoding="ascii").split()[0])
        mapped = pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        mapped = 0
    return soft - mapped


def format_bytes(n: float) -> str:
    """``n`` bytes in GB, MB, KB or B, one decimal."""
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f} B"
