"""How long one run may train on this server: no limit on your own machine, 15 minutes on a shared one.

A shared link asking for a huge network and hundreds of epochs would otherwise hold one of the
server's few training slots for hours while a class waits. The budget counts training time only
(pauses are free) and is enforced by the run itself (``TrainingRun(max_seconds=...)``), which stops
with the reason ``OVER_BUDGET`` and keeps the model trained so far.

Configuration (environment of the server process):
- ``MNIST_RUN_MAX_SECONDS``: the budget in seconds for every run; 0 means no limit.
- ``MNIST_SHARED``: ``1`` treats every visitor as on a shared server, ``0`` none; unset, a visitor is on a
  shared server when they connect from another machine (a browser on the server itself is local).
  Behind a reverse proxy every visitor looks local: set ``MNIST_SHARED=1`` there.
"""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass

# 15 minutes: the Best preset (the longest the app suggests) took 347 s with both cores to itself, more
# when runs share them; a budget is there to stop runs of hours, not the presets.
SHARED_DEFAULT_SECONDS = 900.0
OVER_BUDGET = "stopped: over the server's budget"


@dataclass(frozen=True)
class RunBudget:
    """The training time a run may use; ``max_seconds`` None means no limit."""

    max_seconds: float | None
    notice: str | None = None  # a setting that was ignored, and why

    def describe(self) -> str:
        """One line for the page, before Start."""
        if self.max_seconds is None:
            return "No time limit per run on this server."
        return (f"This server stops a run after {fmt_budget(self.max_seconds)} of training (pauses do not count); "
                "the model trained so far is kept.")

    def stop_reason(self) -> str:
        """Why a run that used its budget ended: the page shows it as it is."""
        return (f"{OVER_BUDGET} ({fmt_budget(self.max_seconds or 0)} of training per run). The model trained so "
                "far is kept; fewer epochs or a smaller network fit in the budget.")


def run_budget(remote_visitor: bool) -> RunBudget:
    """The budget for a run started by a visitor connected from another machine (``remote_visitor``) or not."""
    shared, notice = _shared_setting(remote_visitor)
    raw = os.environ.get("MNIST_RUN_MAX_SECONDS", "").strip()
    default = SHARED_DEFAULT_SECONDS if shared else None
    if not raw:
        return RunBudget(default, notice)
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not (math.isfinite(seconds) and seconds >= 0):
        fallback = "no limit" if default is None else fmt_budget(default)
        return RunBudget(default, f"MNIST_RUN_MAX_SECONDS={raw[:40]!r} is not a number of seconds; using {fallback}")
    return RunBudget(None if seconds == 0 else seconds, notice)


def is_remote(ip: object) -> bool:
    """Whether a visitor's address (Streamlit's ``st.context.ip_address``) is another machine.

    Streamlit says None for 127.0.0.1 and ::1 only; a server listening on every interface sees a browser
    on the same machine as ``::ffff:127.0.0.1`` (IPv4 mapped into IPv6), which is local too.
    """
    if not isinstance(ip, str):
        return False
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    except ValueError:
        return True  # not an address we know: count it as another machine
    mapped = getattr(address, "ipv4_mapped", None)
    return not (mapped or address).is_loopback


def _shared_setting(remote_visitor: bool) -> tuple[bool, str | None]:
    raw = os.environ.get("MNIST_SHARED", "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True, None
    if raw in ("0", "false", "no", "off"):
        return False, None
    notice = f"MNIST_SHARED={raw[:40]!r} is not 1 or 0; deciding by where the visitor connects from" if raw else None
    return remote_visitor, notice


def fmt_budget(seconds: float) -> str:
    """"45 s", "10 min", "1 h 30 min": a limit as a person says it."""
    seconds = max(0.0, seconds)
    if seconds < 120:
        return f"{round(seconds, 1):g} s"
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h" + (f" {minutes} min" if minutes else "")
