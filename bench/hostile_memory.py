"""Peak memory of refusing hostile model files: each loaded by `nn.serialize.load_model` in a fresh process.

    python bench/hostile_memory.py            # every case, one fresh interpreter each

The files are the ones tests/test_hostile_files.py builds (nothing big is kept on disk): zip bombs whose
central directory says a member is small while it inflates to 20 GB (W1, then config), a config nested
100,000 deep, one holding a 5,000-digit number, an archive of 20,005 members, and a valid model for the
baseline. Printed per case: the file's size, the outcome (the refusal's line, cut), and the child's peak
resident memory (VmHWM in /proc/self/status) after its imports and at the end, and the difference: what
the refusal itself cost. Linux only (/proc).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.test_hostile_files import bomb, many_members, members, with_meta, zip_of

GB = 2**30

CASES = {
    "valid 784-4-10 model (baseline)": lambda: zip_of(members()),
    "W1.npy inflates to 20 GB, directory says 12,672 B": lambda: bomb("W1.npy", 12_672),
    "config.npy inflates to 20 GB, directory says 2,000 B": lambda: bomb("config.npy", 2_000),
    "config nested 100,000 deep": lambda: zip_of(members(with_meta("[" * 100_000 + "]" * 100_000))),
    "config with a 5,000-digit number": lambda: zip_of(members(with_meta("[" + "9" * 5000 + "]"))),
    "archive of 20,005 members": lambda: many_members(20_000),
}

CHILD = textwrap.dedent("""
    import sys
    from nn.serialize import ModelFileError, load_model

    def hwm_kb():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1])

    before = hwm_kb()
    try:
        load_model(sys.argv[1])
        outcome = "loaded"
    except ModelFileError as exc:
        outcome = "refused: " + str(exc)
    print(before, hwm_kb())
    print(outcome)
""")


def measure(data: bytes) -> tuple[int, int, str]:
    """(VmHWM after imports, VmHWM at the end, both in KiB; the outcome line) of loading ``data`` afresh."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hostile.npz"
        path.write_bytes(data)
        proc = subprocess.run([sys.executable, "-c", CHILD, str(path)], cwd=ROOT, capture_output=True, text=True,
                              timeout=600, check=True)
    numbers, outcome = proc.stdout.strip().split("\n", 1)
    before, after = map(int, numbers.split())
    return before, after, outcome


def main() -> None:
    print("| case | file | outcome | VmHWM after imports | VmHWM at the end | the load's own peak |")
    print("|---|---|---|---|---|---|")
    for name, build in CASES.items():
        data = build()
        before, after, outcome = measure(data)
        short = outcome if len(outcome) <= 70 else outcome[:67] + "..."
        print(f"| {name} | {len(data) / 2**20:.1f} MB | {short} | {before / 1024:.0f} MB | {after / 1024:.0f} MB "
              f"| {(after - before) / 1024:.1f} MB |")


if __name__ == "__main__":
    main()
