"""The class's store: members, runs, challenges and the teacher's settings in one SQLite file (WAL mode).

Several app processes on one machine share a class through the same file: WAL lets readers go on while
one writes, and every write is one short transaction. Each call opens its own connection (threads and
processes never share one). Every SQLite failure (a corrupt file, a lock held too long, a full disk)
becomes a ``ClassStoreError`` with one plain line; the app then runs without class features.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS members (id TEXT PRIMARY KEY, name TEXT NOT NULL, joined REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, member_id TEXT NOT NULL, dataset TEXT NOT NULL, hidden TEXT NOT NULL,
    params INTEGER NOT NULL, epochs_planned INTEGER NOT NULL, epochs_done INTEGER NOT NULL,
    best_val_acc REAL, test_acc REAL, seconds REAL NOT NULL, state TEXT NOT NULL, val_accs TEXT NOT NULL,
    started REAL NOT NULL, finished REAL, pid INTEGER NOT NULL, host TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS runs_member ON runs (member_id);
CREATE TABLE IF NOT EXISTS challenges (
    id INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, target REAL NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (hash TEXT PRIMARY KEY, member_id TEXT NOT NULL);
"""
MAX_ROWS = 5000  # the leaderboard reads at most this many runs (newest first)


class ClassStoreError(Exception):
    """The store cannot be used; the message says why in one line."""


@dataclass(frozen=True)
class RunRow:
    """One run as the class sees it; numbers measured by the server, never sent by a browser."""

    run_id: str
    member_id: str
    dataset: str
    hidden: str  # "128-64", or "none" for softmax regression
    params: int
    epochs_planned: int
    epochs_done: int
    best_val_acc: float | None
    test_acc: float | None
    seconds: float
    state: str
    val_accs: tuple[float, ...]  # per epoch, for "X% in the fewest epochs"
    started: float
    finished: float | None
    pid: int
    host: str
    name: str = ""  # the member's display name (read back from members)


_RUN_COLUMNS = [f.name for f in fields(RunRow) if f.name != "name"]
_SELECT_RUNS = (f"SELECT {', '.join(f'runs.{c}' for c in _RUN_COLUMNS)}, COALESCE(members.name, '?') "
                "FROM runs LEFT JOIN members ON members.id = runs.member_id")


class ClassStore:
    """The class's SQLite file; safe to use from any thread or process."""

    def __init__(self, path: str | Path, *, timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self.timeout_s = timeout_s
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClassStoreError(f"the class store's folder {self.path.parent} cannot be made: "
                                  f"{exc.strerror or exc}") from None
        with self._connect() as db:
            if db.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() != "wal":
                raise ClassStoreError(f"{self.path}: SQLite would not switch to WAL mode")
            ok = db.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise ClassStoreError(f"{self.path} is damaged ({ok})")
            db.executescript(SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode; every SQLite error becomes one plain line."""
        db = None
        try:
            db = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
            db.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            yield db
        except sqlite3.DatabaseError as exc:
            raise ClassStoreError(f"the class store {self.path} cannot be used: {exc}") from None
        finally:
            if db is not None:
                db.close()

    # ----- members ------------------------------------------------------------------------------
    def join(self, member_id: str, name: str) -> None:
        """Add a member (or rename an existing one)."""
        with self._connect() as db:
            db.execute("INSERT INTO members (id, name, joined) VALUES (?, ?, ?) "
                       "ON CONFLICT(id) DO UPDATE SET name = excluded.name", (member_id, name, time.time()))

    def add_token(self, token_hash: str, member_id: str) -> None:
        """Remember a student's link token (only its hash: the file never holds a usable token)."""
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO tokens (hash, member_id) VALUES (?, ?)", (token_hash, member_id))

    def member_by_token(self, token_hash: str) -> tuple[str, str] | None:
        """(id, name) of the member whose token has this hash, or None."""
        with self._connect() as db:
            row = db.execute("SELECT members.id, members.name FROM tokens JOIN members ON members.id = "
                             "tokens.member_id WHERE tokens.hash = ?", (token_hash,)).fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def member_name(self, member_id: str) -> str | None:
        with self._connect() as db:
            row = db.execute("SELECT name FROM members WHERE id = ?", (member_id,)).fetchone()
        return row[0] if row else None

    # ----- runs ---------------------------------------------------------------------------------
    def record_run(self, row: RunRow) -> None:
        """Insert or update a run (its start, then its result)."""
        values = list(astuple(row))[: len(_RUN_COLUMNS)]
        values[_RUN_COLUMNS.index("val_accs")] = json.dumps(list(row.val_accs))
        updates = ", ".join(f"{c} = excluded.{c}" for c in _RUN_COLUMNS if c not in ("run_id", "member_id"))
        with self._connect() as db:
            db.execute(f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join('?' * len(_RUN_COLUMNS))}) "
                       f"ON CONFLICT(run_id) DO UPDATE SET {updates}", values)

    def runs(self, limit: int = MAX_ROWS) -> list[RunRow]:
        """Every run with its member's name, newest first."""
        with self._connect() as db:
            rows = db.execute(f"{_SELECT_RUNS} ORDER BY runs.started DESC LIMIT ?", (limit,)).fetchall()
        return [_run_row(r) for r in rows]

    def run(self, run_id: str) -> RunRow | None:
        """One run with its member's name, or None."""
        with self._connect() as db:
            found = db.execute(f"{_SELECT_RUNS} WHERE runs.run_id = ?", (run_id,)).fetchone()
        return _run_row(found) if found else None

    # ----- challenges and settings --------------------------------------------------------------
    def add_challenge(self, kind: str, target: float) -> int:
        with self._connect() as db:
            cur = db.execute("INSERT INTO challenges (kind, target, created) VALUES (?, ?, ?)",
                             (kind, float(target), time.time()))
            return int(cur.lastrowid)

    def remove_challenge(self, challenge_id: int) -> None:
        with self._connect() as db:
            db.execute("DELETE FROM challenges WHERE id = ?", (challenge_id,))

    def challenges(self) -> list[tuple[int, str, float]]:
        """(id, kind, target), oldest first."""
        with self._connect() as db:
            return [(int(i), str(k), float(t)) for i, k, t in
                    db.execute("SELECT id, kind, target FROM challenges ORDER BY id").fetchall()]

    def set_setting(self, key: str, value: Any) -> None:
        with self._connect() as db:
            db.execute("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET "
                       "value = excluded.value", (key, json.dumps(value)))

    def settings(self) -> dict[str, Any]:
        with self._connect() as db:
            rows = db.execute("SELECT key, value FROM settings").fetchall()
        out = {}
        for key, value in rows:
            try:
                out[key] = json.loads(value)
            except ValueError:
                continue  # a value another version wrote: ignored, not fatal
        return out


def _run_row(r: tuple) -> RunRow:
    values = dict(zip([*_RUN_COLUMNS, "name"], r))
    try:
        accs = tuple(float(v) for v in json.loads(values["val_accs"]))
    except (ValueError, TypeError):
        accs = ()
    values["val_accs"] = accs
    return RunRow(**values)


class CachedSettings:
    """The teacher's settings (pause, broadcast) read at most once per ``ttl_s`` by this process: every page
    and waiting run asks often, the store is read rarely. A failed read keeps the last good value."""

    def __init__(self, store: ClassStore, ttl_s: float = 1.0) -> None:
        self._store = store
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        self._value: dict[str, Any] = {}
        self._read_at = -float("inf")

    def get(self) -> dict[str, Any]:
        with self._lock:
            now = time.monotonic()
            if now - self._read_at >= self._ttl_s:
                self._read_at = now
                try:
                    self._value = self._store.settings()
                except ClassStoreError:
                    pass  # the last good value stands; the Class page shows the store's error
            return self._value

    def forget(self) -> None:
        """Read afresh next time (after this process changed a setting)."""
        with self._lock:
            self._read_at = -float("inf")
