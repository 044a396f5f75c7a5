"""How long the Evaluate, Inspect and Step-through pages take to render for the default model (target: under 1 s).

    python bench/explain_pages.py [--epochs 8] [--reruns 5]

Trains the ``default`` preset (or fewer epochs: render time depends on the architecture, not on how
long it trained), puts the model into an AppTest session, then times each page: the first render
(computes and caches the test-set evaluation, the layer sample, PCA) and warm reruns (what a user
waits for after moving a widget). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs of the default preset to train")
    parser.add_argument("--reruns", type=int, default=5, help="warm reruns to time per page")
    args = parser.parse_args()

    from streamlit.testing.v1 import AppTest

    from dashboard.session import ModelView, SessionData
    from nn.data import load_mnist
    from nn.presets import get_preset
    from nn.trainer import Trainer

    data = load_mnist()
    config = get_preset("default").replace(epochs=args.epochs)
    start = time.perf_counter()
    trainer = Trainer(config, data.x_train, data.y_train)
    result = trainer.run()
    train_s = time.perf_counter() - start
    history = trainer.history()
    print(f"trained default preset {config.model.layer_sizes}, {result.epochs_done} epochs in {train_s:.1f} s; "
          f"val acc {history['val_acc'].iloc[-1]:.4f}")
    view = ModelView(model=trainer.model, version="bench:default", source="trained",
                     history=history, snapshots=trainer.snapshots)

    from dashboard import explain

    rows = []
    for page in ("app_pages/evaluate.py", "app_pages/inspect.py"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["_mnist_session"] = SessionData(uploaded=view)
        at.switch_page(page)
        at.run()  # imports, the shared dataset: paid once per server process, not per model
        for cached in (explain._evaluate, explain._layer_sample, explain._layer_pca, explain._gradients):
            cached.clear()
        t0 = time.perf_counter()
        at.run()
        first = time.perf_counter() - t0
        if at.exception:
            raise SystemExit(f"{page} raised: {at.exception[0].value}")
        warm = []
        for _ in range(args.reruns):
            t0 = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - t0)
        rows.append((page, first, statistics.median(warm), max(warm)))
    rows += step_through_rows(view, args.reruns)

    print(f"\n{'page':<34}{'new version (s)':>18}{'warm median (s)':>17}{'warm max (s)':>14}")
    for page, first, med, worst in rows:
        print(f"{page:<34}{first:>18.3f}{med:>17.3f}{worst:>14.3f}")
    print("\n'New version': a render right after the model changed, including the once-per-version work "
          "(10,000 test predictions, the 2,000-digit layer sample, PCA; Step through: the float64 copy). Warm: "
          "what moving a widget costs. Step through's interactions: the render after a click on a unit, after "
          "'Take this step', after 'Check 20 random weights' (their first column is the first such action).")


def step_through_rows(view, reruns: int) -> list[tuple[str, float, float, float]]:
    """The Step-through page: its first render, warm reruns, and its three interactions, each timed."""
    from streamlit.testing.v1 import AppTest

    from dashboard.session import SessionData

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["_mnist_session"] = SessionData(uploaded=view)
    at.switch_page("app_pages/step.py")
    at.run()
    at.session_state["step_session"] = None  # the next render makes the float64 copy anew
    rows = [timed_rows("app_pages/step.py", at, lambda: None, reruns)]
    units = iter([(1, u) for u in range(7, 7 + 3 * reruns + 3)])
    rows.append(timed_rows("step: click a unit", at, lambda: at.session_state.__setitem__("step_unit", next(units)),
                           reruns))
    rows.append(timed_rows("step: take this step", at, lambda: at.button(key="step_take").click(), reruns))
    rows.append(timed_rows("step: check 20 weights", at, lambda: at.button(key="step_check20").click(), reruns))
    return rows


def timed_rows(name: str, at, action, reruns: int) -> tuple[str, float, float, float]:
    times = []
    for _ in range(reruns + 1):
        action()
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        if at.exception:
            raise SystemExit(f"{name} raised: {at.exception[0].value}")
    return name, times[0], statistics.median(times[1:]), max(times[1:])


if __name__ == "__main__":
    main()
