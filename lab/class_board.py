"""The class's leaderboard and challenges as tables: every run, and a challenge's standings, from server rows.

A challenge is judged on what the server measured (parameters from the config, test accuracy on the
server's test set, validation accuracy per epoch), never on anything a browser sent.
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

import pandas as pd

from lab.class_store import RunRow
from lab.format import fmt_pct
from lab.snapshot import is_active_phase

KINDS = {
    "best_test_max_params": "Best test accuracy with at most {target:,.0f} parameters",
    "fewest_epochs_to": "{pct} validation accuracy in the fewest epochs",
    "best_test": "Best test accuracy",
}
INTERRUPTED = "interrupted"  # active in the store, but its server process is gone
COLUMNS = ["Name", "Dataset", "Architecture", "Parameters", "Epochs", "Best val acc", "Test acc", "Time (s)", "State"]


@dataclass(frozen=True)
class Challenge:
    id: int
    kind: str  # one of KINDS
    target: float  # the parameter limit, or the accuracy to reach (0-1); unused by best_test

    @property
    def title(self) -> str:
        return KINDS[self.kind].format(target=self.target, pct=fmt_pct(self.target, 1))


def make_challenge(challenge_id: int, kind: str, target: float) -> Challenge:
    """A checked challenge (ValueError, one line, for an unknown kind or a target out of range)."""
    if kind not in KINDS:
        raise ValueError(f"unknown challenge {kind!r}; use one of {', '.join(KINDS)}")
    if not math.isfinite(target):
        raise ValueError("the target must be a finite number")
    if kind == "best_test_max_params" and not 100 <= target <= 100_000_000:
        raise ValueError("the parameter limit must be between 100 and 100,000,000")
    if kind == "fewest_epochs_to" and not 0 < target < 1:
        raise ValueError("the accuracy to reach must be between 0% and 100%")
    return Challenge(challenge_id, kind, float(target))


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def settle(rows: Iterable[RunRow], live: dict[str, RunRow] | None = None,
           alive: Callable[[int], bool] = _pid_alive, host: str | None = None) -> list[RunRow]:
    """Rows as they stand now: this process's live runs replace their stored rows, and a run still active
    in the store whose server process on this machine is gone is marked interrupted."""
    live = live or {}
    host = host or socket.gethostname()
    out = []
    for row in rows:
        if row.run_id in live:
            row = replace(live[row.run_id], name=row.name)
        elif is_active_phase(row.state) and row.host == host and not alive(row.pid):
            row = replace(row, state=INTERRUPTED)
        out.append(row)
    return out


def _acc(value: float | None) -> str:
    return fmt_pct(value, 2) if value is not None else ""


def board_frame(rows: Iterable[RunRow]) -> pd.DataFrame:
    """The leaderboard: one row per run, best test accuracy first, runs without one after."""
    return _frame(sorted(rows, key=lambda r: (r.test_acc is None, -(r.test_acc or 0), -(r.best_val_acc or 0))))


def _frame(rows: list[RunRow]) -> pd.DataFrame:
    return pd.DataFrame([[r.name, r.dataset, r.hidden if r.hidden == "none" else f"784-{r.hidden}-10", r.params,
                          f"{r.epochs_done}/{r.epochs_planned}", _acc(r.best_val_acc), _acc(r.test_acc),
                          round(r.seconds, 1), r.state] for r in rows], columns=COLUMNS)


def epochs_to_reach(row: RunRow, target: float) -> int | None:
    """The first epoch (1-based) whose validation accuracy reached ``target``."""
    return next((i for i, acc in enumerate(row.val_accs, 1) if math.isfinite(acc) and acc >= target), None)


def standings(rows: Iterable[RunRow], challenge: Challenge) -> pd.DataFrame:
    """The runs that meet the challenge, best first, with their rank and the result that counts."""
    done = [r for r in rows if not is_active_phase(r.state) and r.state != INTERRUPTED]
    if challenge.kind == "fewest_epochs_to":
        scored = [(epochs, r) for r in done if (epochs := epochs_to_reach(r, challenge.target)) is not None]
        scored.sort(key=lambda item: (item[0], item[1].seconds))
        result = [f"{e} epoch(s)" for e, _ in scored]
    else:
        limit = challenge.target if challenge.kind == "best_test_max_params" else math.inf
        scored = [(r.test_acc, r) for r in done if r.test_acc is not None and r.params <= limit]
        scored.sort(key=lambda item: (-item[0], item[1].params))
        result = [_acc(a) for a, _ in scored]
    frame = _frame([r for _, r in scored])
    frame.insert(0, "Rank", range(1, len(frame) + 1))
    frame.insert(2, "Result", result)
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The table as CSV for a spreadsheet: a cell starting with = + - @ is quoted so it is not a formula."""
    safe = frame.copy()
    for column in safe.columns:
        safe[column] = safe[column].map(lambda v: "'" + v if isinstance(v, str) and v[:1] in "=+-@\t\r" and v else v)
    return safe.to_csv(index=False).encode("utf-8")
