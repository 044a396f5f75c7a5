"""Class runs as model files: kept by the run-end hook in the class's data folder (so every server process
can hand them out), and handed out by one rule checked on the server at the moment of the download.

The rule: a student may download their own finished runs; another student's only while the teacher's
"downloads" switch (a setting in the class store) is on; the teacher's tab, every finished run. A run still training, or one whose process died,
is never handed out. The file holds the weights, the settings and the per-epoch history; never who made it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from lab.class_store import ClassStore, RunRow
from lab.snapshot import TERMINAL_PHASES
from nn.model import param_count

DOWNLOADS = "downloads"  # the teacher's switch, a key of the store's settings
MAX_PARAMS = 4_000_000  # bigger networks are not kept for download (a file of 16-32 MB)
MAX_FILES = 1000  # the oldest kept files go first beyond this
MAX_BYTES = 2 * 2**30  # or beyond this much disk, whichever comes first
_RUN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # run ids are made by the server; anything else is refused
_log = logging.getLogger(__name__)


class ShareRefused(Exception):
    """This tab may not have this run's file; the message says why in one line."""


def model_path(folder: Path, run_id: str) -> Path:
    if not _RUN_ID.fullmatch(run_id):
        raise ShareRefused("that is not a run of this class")
    return folder / f"{run_id}.npz"


def downloads_allowed(settings: dict[str, Any]) -> bool:
    return settings.get(DOWNLOADS) is True


def keep_model(folder: Path, run: Any, model: Any, dataset: str) -> Path | None:
    """Write a finished run's model file (atomically); None when the network is too big to keep."""
    from nn.serialize import save_model

    if model is None or param_count(model.config) > MAX_PARAMS:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    trainer = getattr(run, "trainer", None)
    frame = trainer.history() if trainer is not None else None
    history = frame.to_dict("records") if frame is not None and len(frame) else None
    meta = {"train_config": run.config.to_dict(), "dataset": dataset}
    path = model_path(folder, run.run_id)
    save_model(path, model, meta, history=history)
    _prune(folder)
    return path


def _prune(folder: Path) -> None:
    """Delete the oldest kept files until at most ``MAX_FILES`` holding at most ``MAX_BYTES`` are left."""
    stats = [(p.stat(), p) for p in folder.glob("*.npz")]  # one stat per file
    files = sorted(((st.st_mtime, st.st_size, p) for st, p in stats), key=lambda f: f[0])
    total = sum(size for _, size, _ in files)
    for index, (_, size, old) in enumerate(files):
        if len(files) - index <= MAX_FILES and total <= MAX_BYTES:
            break
        old.unlink(missing_ok=True)
        total -= size


def can_download(row: RunRow, member_id: str, allowed: bool) -> bool:
    """The rule, on a run's stored row: finished, and yours or downloads allowed."""
    return row.state in TERMINAL_PHASES and row.epochs_done > 0 and (row.member_id == member_id or allowed)


def downloadable(rows: list[RunRow], member_id: str, allowed: bool, folder: Path) -> list[RunRow]:
    """The runs this tab may download whose file is kept, its own first."""
    found = [r for r in rows if can_download(r, member_id, allowed) and _RUN_ID.fullmatch(r.run_id)
             and model_path(folder, r.run_id).is_file()]
    return sorted(found, key=lambda r: r.member_id != member_id)


def shared_model_bytes(store: ClassStore, folder: Path, run_id: str, member_id: str, *,
                       teacher: bool = False) -> bytes:
    """The run's model file for this tab, the rule checked afresh on the store (ShareRefused otherwise);
    ``teacher``: the tab unlocked the teacher's controls (server-side state), who may have every run."""
    path = model_path(folder, run_id)
    row = store.run(run_id)
    if row is None:
        raise ShareRefused("that is not a run of this class")
    if not can_download(row, member_id, teacher or downloads_allowed(store.settings())):
        raise ShareRefused("the teacher has not allowed downloading other students' runs"
                           if row.state in TERMINAL_PHASES else "that run has not finished")
    try:
        size = path.stat().st_size
        if size > 8 * MAX_PARAMS + (1 << 20) + (1 << 24):  # float64 weights, the config and a history at most
            raise ShareRefused("that run's file is larger than any network kept for download")
        with path.open("rb") as fh:
            return fh.read(size)
    except OSError as exc:
        _log.warning("class model %s cannot be read: %s", path, exc)
        raise ShareRefused("that run's file is not kept on this server") from None


def file_name(row: RunRow) -> str:
    return f"class-{row.dataset}-{row.hidden}-{row.run_id}.npz"
