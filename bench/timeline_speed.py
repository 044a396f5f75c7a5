"""How long one step of the epoch slider takes on Evaluate, Inspect and Draw for the default network (target < 0.5 s).

    python bench/timeline_speed.py [--epochs 8] [--browser [--rounds 2] [--sections] [--no-server]]

Trains the ``default`` preset on the real MNIST (its timeline: the start, 4 points inside epoch 1, every
epoch's end), puts the run into an AppTest session and moves the slider one point at a time from the start
to the end on each page, timing each script run: the first pass meets every point for the first time
(the test-set evaluation, layer sample and PCA of that point are computed), the second pass finds them
cached. With ``--browser``, also the time a user waits in chromium, per step of a first and a second pass over
the timeline: from pressing the right arrow on the focused slider until the script run has ended, until the
window (the top of the page) and until the whole page stopped changing. The pages draw one section (a tab) at a
time: the first, unless ``--sections`` times every section of every page in turn. Prints tables; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = ("app_pages/evaluate.py", "app_pages/inspect.py", "app_pages/draw.py")


def train(epochs: int):
    from nn.data import load_mnist
    from nn.presets import get_preset
    from nn.trainer import Trainer

    data = load_mnist()
    trainer = Trainer(get_preset("default").replace(epochs=epochs), data.x_train, data.y_train)
    trainer.run()
    return trainer


def server_steps(trainer) -> list[tuple[str, float, float, float, float]]:
    """Per page: (page, first pass median, first pass max, cached median, cached max) over slider steps."""
    from streamlit.testing.v1 import AppTest

    from dashboard.session import ModelView, SessionData

    view = ModelView(model=trainer.model, version="bench-run:end", source="trained", val_idx=trainer.val_idx,
                     history=trainer.history(), snapshots=trainer.snapshots, timeline=trainer.timeline,
                     epochs_planned=trainer.config.epochs, meta={"train_config": trainer.config.to_dict()})
    rows = []
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["_mnist_session"] = SessionData(uploaded=view)
        at.session_state["draw_source"] = "example"  # Draw reads a real test digit, as in the browser
        at.switch_page(page)
        at.run()  # imports and the shared dataset: once per server process
        passes = []
        for _ in range(2):
            times = []
            for index in range(len(trainer.timeline)):
                [slider] = [s for s in at.get("select_slider") if s.key.startswith("timeline_slider:")]
                slider.set_value(index)
                start = time.perf_counter()
                at.run()
                times.append(time.perf_counter() - start)
                if at.exception:
                    raise SystemExit(f"{page} raised: {at.exception[0].value}")
            passes.append(times[1:])  # the first move lands on the start, already shown
        rows.append((page, statistics.median(passes[0]), max(passes[0]), statistics.median(passes[1]),
                     max(passes[1])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--browser", action="store_true", help="also time the slider in chromium")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the timeline per page in chromium")
    parser.add_argument("--sections", action="store_true", help="in chromium, every section of each page")
    parser.add_argument("--only", action="append", default=[], metavar="PAGE: SECTION",
                        help="in chromium, only this section (repeatable), e.g. 'Inspect: Layer map'")
    parser.add_argument("--no-server", action="store_true", help="skip the AppTest timings")
    args = parser.parse_args()
    start = time.perf_counter()
    trainer = train(args.epochs)
    print(f"trained the default preset {trainer.config.model.layer_sizes} for {args.epochs} epochs in "
          f"{time.perf_counter() - start:.1f} s; timeline: {len(trainer.timeline)} points, "
          f"{sum(c.nbytes for c in trainer.timeline) / 2**20:.1f} MB")
    if not args.no_server:
        rows = server_steps(trainer)
        print(f"\n{'page (server, one slider step)':<34}{'new point med':>15}{'new max':>10}{'cached med':>12}"
              f"{'cached max':>12}")
        for page, a, b, c, d in rows:
            print(f"{page:<34}{a:>15.3f}{b:>10.3f}{c:>12.3f}{d:>12.3f}")
    if args.browser:
        print_browser_rows(browser_rows(trainer, args.rounds, every_section=args.sections or bool(args.only),
                                        only=args.only))


# Installed in the page after each navigation: timestamps (performance.now) of every change in the page's main
# area (with the node changed) and of each change of the script's state, so a step's time is "until the screen
# stops changing": everywhere on the page, and in the window the user looks at (the top of the page, where the
# slider is). Charts drawn in place live in component frames (same origin): their documents are watched too.
_OBSERVE = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const app = document.querySelector('[data-testid="stApp"]');
  const tl = window.__tl = {last: performance.now(), states: [], log: []};
  const watched = new WeakSet();
  const watch = (root, frame) => {
    if (!root || watched.has(root)) return;
    watched.add(root);
    new MutationObserver((records) => {
      const t = performance.now();
      tl.last = t;
      // A node added is where the change shows (its parent, e.g. the page's main block, spans the window even
      // when the node lands far below it); a node removed is gone and is not counted.
      for (const r of records) {
        if (r.type !== 'childList') tl.log.push([t, r.target, frame]);
        else for (const n of r.addedNodes) tl.log.push([t, n, frame]);
      }
      if (!frame) for (const f of main.querySelectorAll('iframe')) watchFrame(f);
    }).observe(root, {subtree: true, childList: true, attributes: true, characterData: true});
  };
  const watchFrame = (f) => {
    try { if (f.contentDocument && f.contentDocument.body) watch(f.contentDocument.body, f); } catch (e) {}
    f.addEventListener('load', () => watchFrame(f), {once: true});
  };
  watch(main, null);
  for (const f of main.querySelectorAll('iframe')) watchFrame(f);
  new MutationObserver(() => { tl.states.push([app.getAttribute('data-test-script-state'), performance.now()]); })
    .observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""
QUIET_MS = 600  # the screen has stopped changing once nothing in the main area changed for this long
# The last change to a node that is now inside the browser's window (scanned from the newest, after the page settled).
_LAST_VISIBLE = """() => {
  const height = window.innerHeight;
  const log = window.__tl.log;
  for (let i = log.length - 1; i >= 0; i--) {
    const [t, node, frame] = log[i];
    const el = node.nodeType === 1 ? node : node.parentElement;
    if (!el || !el.isConnected || (frame && !frame.isConnected)) continue;
    const r = el.getBoundingClientRect();
    const top = r.top + (frame ? frame.getBoundingClientRect().top : 0);
    if (top + r.height > 0 && top < height && r.width + r.height > 0) return t;
  }
  return null;
}"""


SCRIPT_TIMES = Path("/tmp/timeline_speed_script_times.txt")  # the server appends "start end" per script run


def _server_seconds(since: float) -> float:
    """Seconds the server spent in script runs that started after ``since`` (time.time)."""
    runs = [tuple(map(float, line.split())) for line in SCRIPT_TIMES.read_text().splitlines() if line.strip()]
    return sum(end - start for start, end in runs if start >= since)


def _browser_step(page, thumb) -> tuple[float, float, float, float]:
    """One press of the right arrow on the slider: seconds the server's script run took, until the script run
    ended in the browser, until the last change in the window, until the last change anywhere on the page."""
    before = page.evaluate("location.search")
    thumb.focus()
    pressed = time.time()
    t0 = page.evaluate("() => { window.__tl.states = []; window.__tl.log = []; return performance.now(); }")
    page.keyboard.press("ArrowRight")
    page.wait_for_function("(b) => location.search !== b", arg=before, timeout=60_000)
    while True:
        page.wait_for_timeout(100)
        state = page.evaluate("""() => ({now: performance.now(), last: window.__tl.last, states: window.__tl.states,
            running: document.querySelector('[data-testid="stApp"]').getAttribute('data-test-script-state')})""")
        if state["running"] == "notRunning" and state["now"] - state["last"] > QUIET_MS:
            break
    ended = [t for s, t in state["states"] if s == "notRunning"]
    script = (ended[-1] - t0) / 1000 if ended else float("nan")
    visible = page.evaluate(_LAST_VISIBLE)
    return (_server_seconds(pressed), script, ((visible if visible is not None else t0) - t0) / 1000,
            (state["last"] - t0) / 1000)


def _open(page, title: str) -> None:
    from tests.browser import goto_page, wait_for_app_idle

    goto_page(page, title)
    page.get_by_text("Epoch shown").first.wait_for(timeout=120_000)
    wait_for_app_idle(page, 120)
    page.wait_for_timeout(1000)
    page.evaluate(_OBSERVE)


def _sections(page) -> list:
    """The page's section tabs (the first tab bar; Inspect has another inside one section)."""
    return page.locator('[data-testid="stTabs"]').first.get_by_role("tab").all()


def browser_rows(trainer, rounds: int = 1, every_section: bool = False, only: list[str] | None = None
                 ) -> list[tuple[str, list[float], list[float], list[float], list[float]]]:
    """Train the same preset through the Train page in chromium, then on Evaluate, Inspect and Draw (a test
    digit picked) step the slider from the start to the end, ``rounds`` times (the first meets every point for
    the first time). Per page and round: (name, the server's script-run times, then the script-run ends, the last
    changes in the window and the last changes on the page in seconds after the key press), one per step."""
    import urllib.parse

    from lab.params import config_to_knobs, knobs_to_query
    from tests.browser import browser_page, click_button, streamlit_server, wait_for_app_idle

    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(trainer.config)))
    rows = []
    SCRIPT_TIMES.write_text("")
    timer = {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "bench" / "script_timer"),
                                                         os.environ.get("PYTHONPATH")])),
             "MNIST_SCRIPT_TIMES": str(SCRIPT_TIMES)}
    with streamlit_server(env=timer) as url, browser_page() as page:
        page.goto(f"{url}/train?{query}")
        wait_for_app_idle(page, 120)
        click_button(page, "Start")
        page.get_by_text("s per epoch, validation included").first.wait_for(timeout=900_000)
        wait_for_app_idle(page, 120)
        for title in ("Evaluate", "Inspect", "Draw a digit"):
            if only and not any(o.startswith(f"{title}:") for o in only):
                continue
            _open(page, title)
            if title == "Draw a digit":  # a real test digit, so the answer, saliency and layer panels are drawn
                page.locator('[data-testid="stButtonGroup"] button').filter(has_text="MNIST digit").first.click()
                wait_for_app_idle(page, 60)
                page.wait_for_timeout(1000)
            thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch shown").locator(
                'input[type="range"]').first
            names = [tab.inner_text().strip() for tab in _sections(page)]
            for name in names if every_section else names[:1]:
                if only and f"{title}: {name}" not in only:
                    continue
                _sections(page)[names.index(name)].click()
                wait_for_app_idle(page, 120)
                for round_ in range(rounds):
                    when = "new points" if round_ == 0 else "seen before"
                    rows.append((f"{title}: {name}, {when}", *_pass(page, thumb, len(trainer.timeline))))
    return rows


def _pass(page, thumb, points: int) -> tuple[list[float], list[float], list[float], list[float]]:
    """The slider to the start, then one step at a time to the end: the four times of each step (_browser_step)."""
    from tests.browser import wait_for_app_idle

    thumb.focus()
    page.keyboard.press("Home")
    page.wait_for_function("() => location.search.includes('epoch=0')", timeout=60_000)
    wait_for_app_idle(page, 120)
    page.wait_for_timeout(1500)
    steps = [_browser_step(page, thumb) for _ in range(points - 1)]
    return tuple(list(column) for column in zip(*steps))


def print_browser_rows(rows) -> None:
    print(f"\n{'page: section (chromium, one slider step)':<56}{'server med':>11}{'max':>7}{'script med':>11}{'max':>7}"
          f"{'window med':>11}{'max':>7}{'page med':>10}{'max':>7}{'steps':>7}")
    for title, *columns in rows:
        cells = "".join(f"{statistics.median(c):>{w}.3f}{max(c):>7.3f}" for c, w in zip(columns, (11, 11, 11, 10)))
        print(f"{title:<56}{cells}{len(columns[0]):>7}")
    print("server: seconds the server spent running the page's script for the step; then seconds from the key press "
          "until the browser saw the script run end (script), until the last change in the browser's window "
          "(window: the top of the page, where the slider is) and anywhere on the page (page)")


if __name__ == "__main__":
    main()
