"""App overhead benchmark: training through the dashboard vs the Trainer alone, and first-page render time.

    python bench/app_speed.py                 # default preset, 3 epochs, 2 rounds
    python bench/app_speed.py --epochs 2 --rounds 1 --subset 20000

1. Time per epoch, same config and seed, measured by the trainer itself (training + validation):
   - "trainer alone": ``nn.trainer.Trainer.run()`` in this process, no UI (what the CLI runs);
   - "trainer alone, 1 BLAS thread": the same with the BLAS cap the app's server sets (see
     lab/threads.py), to split the app's overhead into "the cap" and "the UI";
   - "app, live charts": the same config started from the Train page of a real server, with a real browser
     (Debian's chromium) showing the live charts (redrawn twice a second), the live filters and digits
     (sampled in the training thread and redrawn once a second) and the sidebar status;
   - "app, no filters or digits": the same with the Train page's "Watch the filters and digits" toggle off,
     run twice a round, before and after the app run: "with / without" (the app run over the mean of the
     two) is what the live filters and digits cost the epoch, and the two runs without them against each
     other ("without / without") are the noise that cost is judged against.
   Rounds alternate (alone, capped, app, alone, ...) so that load from other processes hits all alike;
   each ratio divides two runs of the same round, and the median over rounds is reported with every
   round's value. Targets: app / alone <= 1.15; with / without within the noise (between the lowest
   and the highest "without / without" of the rounds).
2. First render of each page for a newcomer: a fresh browser context (its own session, empty HTTP cache:
   Streamlit's and plotly's JavaScript are fetched and compiled again) in an already running chromium,
   from ``goto`` until the script run has finished and every plotly chart on the page is drawn. Measured
   on a server that already holds the dataset (and, separately, the very first visit to a fresh server,
   which loads the verified .npz cache from disk). Also: switching to each page from Home in the same tab
   (the JavaScript already loaded). Target: < 3 s.

Needs the real MNIST (fetched and cached once: ``python -m nn fetch``) and /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from lab.params import config_to_knobs, knobs_to_query  # noqa: E402
from lab.threads import blas_threads_setting  # noqa: E402
from nn.config import TrainConfig  # noqa: E402
from nn.data import load_mnist  # noqa: E402
from nn.presets import PRESETS  # noqa: E402
from nn.trainer import Trainer  # noqa: E402
from tests.browser import (  # noqa: E402
    browser_page,
    chromium,
    click_button,
    goto_page,
    new_page,
    streamlit_server,
    wait_for_app_idle,
)

PAGES = {"Home": "", "Data": "data", "Train": "train", "Evaluate": "evaluate", "Inspect": "inspect"}
# Plotly charts each page shows to a new session (no model yet). Waiting for this many matters: before
# Streamlit's plotly chunk has loaded, a chart has no container yet, and "every chart drawn" over none
# would be true at once.
CHARTS = {"Data": 5}


def trainer_alone(config: TrainConfig, blas_threads: int | None = None) -> list[float]:
    ds = load_mnist()
    if blas_threads is None:
        result = Trainer(config, ds.x_train, ds.y_train).run()
    else:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=blas_threads, user_api="blas"):
            result = Trainer(config, ds.x_train, ds.y_train).run()
    return [statistics.mean(row["seconds"] for row in result.history)]  # as the app reports it


def through_app(url: str, config: TrainConfig, timeout: float = 900.0, *, watch: bool = True) -> list[float]:
    """Start the run from the Train page, keep the page (live charts) open to the end; per-epoch seconds."""
    query = urllib.parse.urlencode(knobs_to_query(config_to_knobs(config)))
    # A window tall enough for every live chart and the filters and digits: charts out of view are not
    # redrawn (dashboard/assets/live_charts.html), and the cost measured is that of a user watching them all.
    with browser_page(height=2600) as page:
        page.goto(f"{url}/train?{query}")
        wait_for_app_idle(page, 120)
        if not watch:
            page.get_by_text("Watch the filters and digits").first.click()
            wait_for_app_idle(page, 60)
        # As a user reads the page before pressing Start, the live-chart components load their plotly.
        page.wait_for_function("() => { const f = [...document.querySelectorAll('iframe')]; return f.length && "
                               "f.every(f => f.contentWindow && f.contentWindow.Plotly); }", timeout=60_000)
        click_button(page, "Start")
        caption = page.get_by_text(re.compile(r"s per epoch, validation included"))
        caption.first.wait_for(timeout=timeout * 1000)
        seconds = float(re.search(r"\(([\d.]+) s per epoch", caption.first.inner_text()).group(1))
    return [seconds]


def watch_costs(config: TrainConfig, repeats: int = 200) -> tuple[float, float]:
    """(ms per sample taken in the training thread, ms to build and serialise the two live figures on the server)."""
    import numpy as np

    from dashboard.live_charts import figure_json
    from figures.live import digit_strip_figure, live_filters_figure
    from lab.live_watch import Watch, strip_indices
    from nn.data import to_float
    from nn.model import MLP

    ds = load_mnist()
    idx = strip_indices(ds.y_test)
    watch = Watch(to_float(ds.x_test[idx]), ds.y_test[idx])
    model = MLP(config.model, np.random.default_rng(0))
    samples, figures = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        sample = watch.sample(model, 1, 1)
        samples.append(time.perf_counter() - start)
    for _ in range(repeats // 10):
        start = time.perf_counter()
        figure_json(live_filters_figure(sample.filters))
        figure_json(digit_strip_figure(ds.x_test[idx], ds.y_test[idx], sample.proba))
        figures.append(time.perf_counter() - start)
    return 1e3 * statistics.median(samples), 1e3 * statistics.median(figures)


def wait_until_rendered(page, charts: int = 0) -> None:
    """The page's title is there, its script run has finished and its ``charts`` plotly charts (at least) are drawn."""
    page.locator('[data-testid="stMainBlockContainer"] h1').first.wait_for(timeout=60_000)
    wait_for_app_idle(page, 60)
    page.wait_for_function(
        "(n) => { const c = [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')];"
        " return c.length >= n && c.every(e => e.querySelector('.main-svg')); }", arg=charts, timeout=60_000)


def first_renders(url: str) -> dict[str, float]:
    """Each page opened by a newcomer: a fresh context (session, empty cache) of one running chromium."""
    times = {}
    with chromium() as browser:
        for name, path in PAGES.items():
            page = new_page(browser)
            start = time.perf_counter()
            page.goto(f"{url}/{path}")
            wait_until_rendered(page, CHARTS.get(name, 0))
            times[name] = time.perf_counter() - start
            page.context.close()
    return times


def switch_renders(url: str) -> dict[str, float]:
    """Each page reached from Home through the sidebar, in one tab (the JavaScript is loaded already)."""
    times = {}
    with chromium() as browser:
        page = new_page(browser)
        page.goto(url)
        wait_until_rendered(page)
        for name, path in PAGES.items():
            if not path:
                continue
            start = time.perf_counter()
            goto_page(page, name)
            page.wait_for_url(f"**/{path}")
            wait_until_rendered(page, CHARTS.get(name, 0))
            times[name] = time.perf_counter() - start
            goto_page(page, "Home")
            page.wait_for_url(lambda u: u.rstrip("/") == url.rstrip("/"))
            wait_until_rendered(page)
        page.context.close()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=sorted(PRESETS))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--subset", type=int, default=None, help="training images (default: the preset's)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    config = PRESETS[args.preset].replace(epochs=args.epochs)
    if args.subset:
        config = config.replace(train_subset=args.subset)
    load_mnist()  # make sure the disk cache exists before anything is timed

    alone: list[float] = []
    alone_capped: list[float] = []
    app: list[float] = []
    unwatched: list[float] = []
    unwatched_again: list[float] = []
    with streamlit_server() as url:
        fresh = first_renders(url)  # the first visitor of this server process loads the dataset from disk
        print(f"first renders, fresh server: {fresh}", file=sys.stderr, flush=True)
        warm = first_renders(url)
        print(f"first renders, data cached: {warm}", file=sys.stderr, flush=True)
        switched = switch_renders(url)
        print(f"renders after switching from Home: {switched}", file=sys.stderr, flush=True)
        for i in range(args.rounds):
            alone += trainer_alone(config)
            print(f"round {i + 1}: trainer alone {alone[-1]:.2f} s/epoch", file=sys.stderr, flush=True)
            alone_capped += trainer_alone(config, blas_threads=blas_threads_setting())
            print(f"round {i + 1}: trainer alone, app's BLAS cap {alone_capped[-1]:.2f} s/epoch",
                  file=sys.stderr, flush=True)
            unwatched += through_app(url, config, watch=False)
            print(f"round {i + 1}: through the app, no filters or digits {unwatched[-1]:.2f} s/epoch",
                  file=sys.stderr, flush=True)
            app += through_app(url, config)
            print(f"round {i + 1}: through the app {app[-1]:.2f} s/epoch", file=sys.stderr, flush=True)
            unwatched_again += through_app(url, config, watch=False)
            print(f"round {i + 1}: through the app, no filters or digits again {unwatched_again[-1]:.2f} s/epoch",
                  file=sys.stderr, flush=True)
    alone_s, app_s, capped_s = (statistics.median(x) for x in (alone, app, alone_capped))
    print(f"\nConfig: preset {args.preset}, {config.epochs} epochs, hidden {config.model.hidden}, "
          f"batch {config.batch_size}, train_subset {config.train_subset or 'all'}; {args.rounds} round(s)\n")
    print(f"{'measure':44s} {'value':>10s} {'target':>10s} {'ok':>4s}")
    print(f"{'seconds/epoch, trainer alone (median)':44s} {alone_s:10.2f}")
    capped_name = f"seconds/epoch, trainer alone, {blas_threads_setting()} BLAS thread(s)"
    print(f"{capped_name:44s} {capped_s:10.2f}")
    print(f"{'seconds/epoch, app with live charts (median)':44s} {app_s:10.2f}")
    without = [(a + b) / 2 for a, b in zip(unwatched, unwatched_again)]
    print(f"{'seconds/epoch, app without filters, digits':44s} {statistics.median(without):10.2f}")
    # Ratios pair the three runs of one round (minutes apart), then take the median over rounds: the
    # machine's speed drifts, and a ratio of medians could pair one round's alone with another's app.
    def paired(top: list[float], bottom: list[float]) -> tuple[float, str]:
        ratios = [a / b for a, b in zip(top, bottom)]
        return statistics.median(ratios), " / ".join(f"{r:.2f}" for r in ratios)

    ratio, each = paired(app, alone)
    print(f"{'ratio app / alone (median of rounds)':44s} {ratio:10.3f} {'<= 1.15':>10s} "
          f"{'yes' if ratio <= 1.15 else 'NO':>4s}   rounds {each}")
    for label, (value, each) in (("  of which the BLAS cap (capped / alone)", paired(alone_capped, alone)),
                                 ("  of which the UI (app / capped)", paired(app, alone_capped))):
        print(f"{label:44s} {value:10.3f} {'':15s}   rounds {each}")
    noise = [b / a for a, b in zip(unwatched, unwatched_again)]
    cost, each = paired(app, without)
    within = min(noise) <= cost <= max(noise)
    print(f"{'filters and digits (with / without)':44s} {cost:10.3f} {'in noise':>10s} {'yes' if within else 'NO':>4s}"
          f"   rounds {each}")
    print(f"{'  noise (without / without, same round)':44s} {statistics.median(noise):10.3f} {'':15s}   rounds "
          + " / ".join(f"{r:.2f}" for r in noise) + f"   (range {min(noise):.2f}-{max(noise):.2f})")
    sample_ms, figures_ms = watch_costs(config)
    print(f"{'filters and digits: one sample (training thr.)':44s} {sample_ms:9.3f} ms  (taken once a second)")
    print(f"{'filters and digits: two figures (server)':44s} {figures_ms:9.3f} ms  (built once a second)")
    for name in fresh:
        print(f"{'first render, fresh server: ' + name:44s} {fresh[name]:9.2f}s")
    for name in warm:
        print(f"{'first render, data cached: ' + name:44s} {warm[name]:9.2f}s {'< 3 s':>10s} "
              f"{'yes' if warm[name] < 3 else 'NO':>4s}")
    for name in switched:
        print(f"{'switch from Home to ' + name:44s} {switched[name]:9.2f}s {'< 3 s':>10s} "
              f"{'yes' if switched[name] < 3 else 'NO':>4s}")


if __name__ == "__main__":
    main()
