"""How long one step of the epoch slider takes on Evaluate, Inspect and Draw for the default network (target < 0.5 s).

    python bench/timeline_speed.py [--epochs 8] [--browser]

Trains the ``default`` preset on the real MNIST (its timeline: the start, 4 points inside epoch 1, every
epoch's end), puts the run into an AppTest session and moves the slider one point at a time from the start
to the end on each page, timing each script run: the first pass meets every point for the first time
(the test-set evaluation, layer sample and PCA of that point are computed), the second pass finds them
cached. With ``--browser``, also the time a user waits in chromium: from pressing the right arrow on the
focused slider until the script run has finished and every chart is drawn. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
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

    view = ModelView(model=trainer.model, version="bench-run:end", source="trained", trainer=trainer,
                     history=trainer.history(), snapshots=trainer.snapshots, timeline=trainer.timeline,
                     epochs_planned=trainer.config.epochs, meta={"train_config": trainer.config.to_dict()})
    rows = []
    for page in PAGES:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["_mnist_session"] = SessionData(uploaded=view)
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
    args = parser.parse_args()
    start = time.perf_counter()
    trainer = train(args.epochs)
    print(f"trained the default preset {trainer.config.model.layer_sizes} for {args.epochs} epochs in "
          f"{time.perf_counter() - start:.1f} s; timeline: {len(trainer.timeline)} points, "
          f"{sum(c.nbytes for c in trainer.timeline) / 2**20:.1f} MB")
    rows = server_steps(trainer)
    print(f"\n{'page (server, one slider step)':<34}{'new point med':>15}{'new max':>10}{'cached med':>12}"
          f"{'cached max':>12}")
    for page, a, b, c, d in rows:
        print(f"{page:<34}{a:>15.3f}{b:>10.3f}{c:>12.3f}{d:>12.3f}")
    if args.browser:
        browser_rows(trainer)


def browser_rows(trainer) -> None:
    """The same run uploaded into a real server's session would need the app's upload; instead the browser
    trains the same preset through the Train page, then steps the Evaluate slider."""
    import urllib.parse

    from lab.params import config_to_knobs, knobs_to_query
    from tests.browser import browser_page, click_button, streamlit_server, wait_for_app_idle

    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(trainer.config)))
    with streamlit_server() as url, browser_page() as page:
        page.goto(f"{url}/train?{query}")
        wait_for_app_idle(page, 120)
        click_button(page, "Start")
        page.get_by_text("s per epoch, validation included").first.wait_for(timeout=900_000)
        page.get_by_role("link", name="Evaluate").first.click()
        page.wait_for_url("**/evaluate*")
        wait_for_app_idle(page, 120)
        thumb = page.locator('[data-testid="stSlider"]').filter(has_text="Epoch shown").locator('input[type="range"]').first
        thumb.focus()
        page.keyboard.press("Home")
        wait_for_app_idle(page, 120)
        times = []
        for _ in range(len(trainer.timeline) - 1):
            thumb.focus()
            start = time.perf_counter()
            page.keyboard.press("ArrowRight")
            page.wait_for_timeout(50)
            wait_for_app_idle(page, 60)
            times.append(time.perf_counter() - start)
    print(f"\nEvaluate in chromium, one slider step (new points): median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s over {len(times)} steps")


if __name__ == "__main__":
    main()
