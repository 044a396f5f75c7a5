"""A protocol-level Streamlit client: one browser session over the app's websocket, without a browser.

It speaks what Streamlit's frontend speaks (``BackMsg`` protobufs up, ``ForwardMsg`` down on
``/_stcore/stream``): it asks for a page, clicks buttons found by their key, and reruns the page's timed
fragments (``st.fragment(run_every=...)``) at their interval as a browser tab does. It renders nothing,
so twenty of them cost the machine little besides the server's own work. Used by the server memory test
(tests/test_server_memory.py), the two-servers class test and bench/class_load.py.
"""

from __future__ import annotations

import io
import re
import time
import urllib.parse
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect


@dataclass
class Exchange:
    """One script or fragment run as the client saw it: from request to ``script_finished``."""

    what: str  # "page:<path>", "click:<key>" or "fragment"
    seconds: float
    status: int  # ForwardMsg.ScriptFinishedStatus
    started: float = 0.0  # time.monotonic() when the request was sent


@dataclass
class Session:
    """What the client knows of its page: widgets by key, timed fragments, the text last shown."""

    widgets: dict[str, str] = field(default_factory=dict)  # user key -> element id
    fragments: dict[str, float] = field(default_factory=dict)  # fragment id -> seconds between reruns
    texts: list[str] = field(default_factory=list)  # markdown bodies of the current run, in arrival order
    exceptions: list[str] = field(default_factory=list)
    tables: list[bytes] = field(default_factory=list)  # st.dataframe's Arrow data, in arrival order
    pages: dict[str, str] = field(default_factory=dict)  # URL path -> page script hash (from the navigation)
    page: str | None = None  # URL path of the page the last full run drew


class AppClient:
    """One visitor: ``open()`` a page, ``click(key)``, ``tick()`` its live fragments, ``close()``."""

    def __init__(self, base_url: str, page: str = "", *, query: str = "", timeout: float = 60.0) -> None:
        parts = urllib.parse.urlsplit(base_url)
        self._ws_url = f"ws://{parts.netloc}/_stcore/stream"
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self.page = page
        self.query = query  # the URL's query string, as a link with settings carries it
        self.timeout = timeout
        self.state = Session()
        self.exchanges: list[Exchange] = []
        self._ws = None
        self._next_tick: dict[str, float] = {}

    # ----- connection ---------------------------------------------------------------------------
    def open(self) -> AppClient:
        self._ws = connect(self._ws_url, subprotocols=["streamlit"], origin=self._origin,
                           max_size=None, open_timeout=self.timeout, legacy=True)
        self._request(f"page:{self.page or 'home'}")
        return self

    def goto(self, page: str) -> Exchange:
        """Switch to another page (its URL path, "" for the default), as the sidebar's links do."""
        self.page = page
        return self._request(f"page:{page or 'home'}")

    def close(self) -> None:
        """Close the websocket as a closed tab does (the server sees a disconnect)."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None

    # ----- actions ------------------------------------------------------------------------------
    def click(self, key: str) -> Exchange:
        """Press the button whose ``key=`` is ``key`` (a rerun with its trigger set)."""
        try:
            element_id = self.state.widgets[key]
        except KeyError:
            raise LookupError(f"no widget with key {key!r} on the page; have {sorted(self.state.widgets)}") from None
        return self._request(f"click:{key}", triggers=[element_id])

    def tick(self) -> list[Exchange]:
        """Rerun every timed fragment whose interval has passed, as the browser's timers would."""
        now = time.monotonic()
        done = []
        for fragment_id, interval in list(self.state.fragments.items()):
            if now >= self._next_tick.setdefault(fragment_id, now + interval):
                self._next_tick[fragment_id] = now + interval
                done.append(self._request("fragment", fragment_id=fragment_id))
        return done

    def text(self) -> str:
        return "\n".join(self.state.texts)

    def table_rows(self, index: int = 0) -> list[dict]:
        """The rows of the page's ``index``-th table (st.dataframe), decoded from its Arrow data."""
        import pyarrow as pa

        return pa.ipc.open_stream(io.BytesIO(self.state.tables[index])).read_all().to_pylist()

    # ----- protocol -----------------------------------------------------------------------------
    def _request(self, what: str, *, triggers: list[str] = (), fragment_id: str = "") -> Exchange:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_name = self.page
        state.page_script_hash = self.state.pages.get(self.page, "")  # as the browser sends it, once known
        if fragment_id:
            state.fragment_id = fragment_id
            state.is_auto_rerun = True
        for element_id in triggers:
            w = state.widget_states.widgets.add()
            w.id = element_id
            w.trigger_value = True
        sent, started = time.monotonic(), time.perf_counter()
        self._ws.send(msg.SerializeToString())
        status = self._read_until_finished(full_run=not fragment_id)
        exchange = Exchange(what, time.perf_counter() - started, status, sent)
        self.exchanges.append(exchange)
        return exchange

    def _read_until_finished(self, full_run: bool) -> int:
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no script_finished within {self.timeout} s")
            raw = self._ws.recv(timeout=left)
            fwd = ForwardMsg()
            fwd.ParseFromString(raw)
            kind = fwd.WhichOneof("type")
            if kind == "new_session" and full_run:  # the page is drawn afresh and registers its timers again
                self.state.texts = []
                self.state.tables = []
                self.state.fragments.clear()
                self._next_tick.clear()
            elif kind == "delta":
                self._on_delta(fwd.delta)
            elif kind == "navigation":
                nav = fwd.navigation
                self.state.pages = {p.url_pathname: p.page_script_hash for p in nav.app_pages}
                self.state.page = next((p.url_pathname for p in nav.app_pages
                                        if p.page_script_hash == nav.page_script_hash), None)
            elif kind == "auto_rerun":
                self.state.fragments[fwd.auto_rerun.fragment_id] = fwd.auto_rerun.interval
            elif kind == "stop_auto_rerun":
                for fragment_id in fwd.stop_auto_rerun.fragment_ids:
                    self.state.fragments.pop(fragment_id, None)
                    self._next_tick.pop(fragment_id, None)
            elif kind == "script_finished":
                if fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                    return fwd.script_finished
                full_run = True  # a fragment asked for a rerun of the whole app: it follows

    def _on_delta(self, delta) -> None:
        if delta.WhichOneof("type") != "new_element":
            return
        element = delta.new_element
        kind = element.WhichOneof("type")
        if kind is None:
            return
        body = getattr(element, kind)
        if kind == "markdown":
            self.state.texts.append(body.body)
        elif kind == "dataframe":
            self.state.tables.append(body.arrow_data.data)
        elif kind in ("alert", "exception"):
            text = getattr(body, "body", "") or getattr(body, "message", "")
            self.state.texts.append(text)
            if kind == "exception":
                self.state.exceptions.append(f"{body.type}: {body.message}")
        element_id = getattr(body, "id", "") if hasattr(body, "id") else ""
        parts = element_id.split("-", 2)  # "$$ID-<hash>-<user key>" for a widget given a key
        if len(parts) == 3 and parts[0] == "$$ID":
            self.state.widgets[parts[2]] = element_id


def server_pid(port: int) -> int | None:
    """The pid of the ``streamlit run`` process serving ``port`` on this machine (from /proc), or None."""
    from pathlib import Path

    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"streamlit" in b" ".join(args) and str(port).encode() in args:
            return int(entry.name)
    return None


def rss_bytes(pid: int) -> int:
    """The process's resident set size now (VmRSS in /proc/<pid>/status)."""
    from pathlib import Path

    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no VmRSS for pid {pid}")


def student(base_url: str, *, query: str = "", class_page: bool = False, timeout: float = 120.0,
            leave: bool = True) -> AppClient:
    """One student of a class: opens the Train page (with ``query``'s settings, else presses Quick), presses
    Start, watches the live page (its timed fragments) until the run has finished, opens the Class page's
    leaderboard when ``class_page``, and leaves (closes the tab) unless ``leave``.

    ``client.queue_seconds``: from Start until the page no longer said the run waits for a training slot.
    Raises when the run does not finish within ``timeout`` or a page showed an exception.
    """
    client = AppClient(base_url, "train", query=query).open()
    try:
        if client.state.page != "train":
            raise RuntimeError(f"asked for the Train page, the server drew {client.state.page!r}")
        if not query:
            client.click("preset_quick")
        started = time.monotonic()
        client.click("btn_start")
        client.queue_seconds = None
        deadline = started + timeout
        while True:
            phase = run_phase(client.text())
            if client.queue_seconds is None and phase is not None and not phase.startswith(("waiting", "starting")):
                client.queue_seconds = time.monotonic() - started
            if phase in TERMINAL or client.state.exceptions:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"the run did not finish within {timeout} s; the page says: {client.text()[-300:]}")
            client.tick()
            time.sleep(0.05)
        if not client.state.exceptions and class_page:
            client.goto("classroom")
            if not client.state.tables:
                raise RuntimeError(f"no leaderboard on the Class page; it says: {client.text()[-300:]}")
        if client.state.exceptions:
            raise RuntimeError(f"the page showed an exception: {client.state.exceptions[0]}")
    finally:
        if leave:
            client.close()
    return client


def run_phase(text: str) -> str | None:
    """The phase the Train page's status line names ("**Run r1-abc** · <icon> finished"), or None."""
    found = re.findall(r"\*\*Run r[0-9a-f-]+\*\* · (?::material/[a-z_]+: )?([a-z ]+)", text)
    return found[-1].strip() if found else None


TERMINAL = {"finished", "stopped", "diverged", "failed", "stopped early"}
