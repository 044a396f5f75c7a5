"""nn/memory.py: the memory a process may still use, from a fake /proc and cgroup tree and a real rlimit."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from nn.memory import Headroom, format_bytes, memory_headroom

ROOT = Path(__file__).resolve().parents[1]
MB, GB = 2**20, 2**30
V1_UNLIMITED = "9223372036854771712"


def fake_system(tmp_path: Path, cgroup_line: str, files: dict[str, str], available: int = 8 * GB) -> dict:
    """A /proc with meminfo and self/cgroup, and a cgroup tree holding ``files`` (path -> content)."""
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    (proc / "meminfo").write_text(f"MemTotal: 99999999 kB\nMemAvailable: {available // 1024} kB\n")
    (proc / "self" / "cgroup").write_text(cgroup_line + "\n")
    for path, content in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(content + "\n")
    root.mkdir(exist_ok=True)
    return {"proc": proc, "cgroup_root": root}


def test_cgroup_v2_limit_less_usage_binds_when_tighter_than_free_memory(tmp_path: Path) -> None:
    system = fake_system(tmp_path, "0::/user.slice/app", {
        "user.slice/app/memory.max": "max", "user.slice/app/memory.current": str(100 * MB),
        "user.slice/memory.max": str(GB), "user.slice/memory.current": str(300 * MB),
    })
    room = memory_headroom(**system)
    assert room == Headroom(GB - 300 * MB, "the memory limit of this process's cgroup")


def test_the_tightest_cgroup_on_the_way_to_the_root_wins(tmp_path: Path) -> None:
    system = fake_system(tmp_path, "0::/a/b", {
        "a/b/memory.max": str(500 * MB), "a/b/memory.current": str(100 * MB),
        "a/memory.max": str(4 * GB), "a/memory.current": str(200 * MB),
    })
    assert memory_headroom(**system).bytes == 400 * MB


def test_cgroup_v1_limit_and_its_unlimited_marker(tmp_path: Path) -> None:
    system = fake_system(tmp_path, "4:memory:/docker/abc", {
        "memory/docker/abc/memory.limit_in_bytes": str(2 * GB),
        "memory/docker/abc/memory.usage_in_bytes": str(512 * MB),
        "memory/memory.limit_in_bytes": V1_UNLIMITED, "memory/memory.usage_in_bytes": str(5 * GB),
    })
    assert memory_headroom(**system).bytes == 2 * GB - 512 * MB
    unlimited = fake_system(tmp_path / "u", "4:memory:/x", {
        "memory/x/memory.limit_in_bytes": V1_UNLIMITED, "memory/x/memory.usage_in_bytes": "1"})
    assert memory_headroom(**unlimited) == Headroom(8 * GB, "the available memory")


def test_inside_a_container_the_cgroup_roots_own_limit_is_read(tmp_path: Path) -> None:
    # /proc/self/cgroup names the host's path, which the container's mounted tree does not have
    system = fake_system(tmp_path, "0::/kubepods/pod1/c1", {"memory.max": str(3 * GB), "memory.current": str(GB)})
    assert memory_headroom(**system).bytes == 2 * GB


def test_free_memory_binds_when_it_is_tighter(tmp_path: Path) -> None:
    system = fake_system(tmp_path, "0::/", {"memory.max": str(64 * GB), "memory.current": "0"}, available=3 * GB)
    assert memory_headroom(**system) == Headroom(3 * GB, "the available memory")


def test_an_address_space_limit_is_read_in_a_process_that_has_one() -> None:
    code = ("import json; from nn.memory import memory_headroom; r = memory_headroom(); "
            "print(json.dumps([r.bytes, r.limit, int(open('/proc/self/statm').read().split()[0])]))")
    limit = 4 * GB
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)), check=True)
    room, why, pages = json.loads(proc.stdout)
    assert why == "the address-space limit (RLIMIT_AS, ulimit -v)"
    mapped_then = pages * os.sysconf("SC_PAGE_SIZE")  # read just after the headroom: within a few pages
    assert 0 < room < limit and abs((limit - mapped_then) - room) < 16 * MB


@pytest.mark.parametrize("n, text", [(512, "512 B"), (1536, "1.5 KB"), (3 * MB, "3.0 MB"), (21.3 * GB, "21.3 GB")])
def test_format_bytes(n: float, text: str) -> None:
    assert format_bytes(n) == text
