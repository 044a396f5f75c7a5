"""How long the Evaluate, Inspect, Step-through and Draw pages take to render for the default model (target: under 1 s).

    python bench/explain_pages.py [--epochs 8] [--reruns 5]

Trains the ``default`` preset (or fewer epochs: render time depends on the architecture, not on how
long it trained), puts the model into an AppTest session, then times each page: the first render
(computes and caches the test-set evaluation, the layer sample, PCA, the calibration, the ablation's
activations, the prototypes, the training-set index of nearest neighbours) and warm reruns (what a user
waits for after moving a widget), then the "why did it answer that" interactions one by one. Prints a
table; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

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

    from dashboard import explain, why

    rows = []
    for page in ("app_pages/evaluate.py", "app_pages/inspect.py"):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["_mnist_session"] = SessionData(uploaded=view)
        at.switch_page(page)
        at.run()  # imports, the shared dataset: paid once per server process, not per model
        for cached in (explain._evaluate, explain._layer_sample, explain._layer_pca, explain._gradients,
                       why._calibration, why._ablation_base, why._most_used, why._digit_prototypes,
                       why._unit_prototype, why._neighbour_index, why._neighbours):
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
    rows += why_rows(view, args.reruns, int(data.y_test.size))

    print(f"\n{'page':<34}{'new version (s)':>18}{'warm median (s)':>17}{'warm max (s)':>14}")
    for page, first, med, worst in rows:
        print(f"{page:<34}{first:>18.3f}{med:>17.3f}{worst:>14.3f}")
    print("\n'New version': a render right after the model changed, including the once-per-version work "
          "(10,000 test predictions, the 2,000-digit layer sample, PCA; Step through: the float64 copy). Warm: "
          "what moving a widget costs. Step through's interactions: the render after a click on a unit, after "
          "'Take this step', after 'Check 20 random weights' (their first column is the first such action). The "
          "'why' rows: each action done anew per rerun (another unit, digit or setting), so every row is a real "
          "change; their first column is the first such action (e.g. the neighbours' first query).")


def why_rows(view, reruns: int, n_test: int) -> list[tuple[str, float, float, float]]:
    """The "why did it answer that" interactions on Evaluate, Inspect and Draw, each a page rerun after one change."""
    from streamlit.testing.v1 import AppTest

    from dashboard.session import SessionData

    def page(path: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.session_state["_mnist_session"] = SessionData(uploaded=view)
        at.switch_page(path)
        at.run()
        return at

    rows = []
    at = page("app_pages/evaluate.py")
    wrong = iter(range(0, n_test, 97))  # test digits to open as "mistakes" (any digit works the same way)
    rows.append(timed_rows("evaluate: why this mistake", at, lambda: at.session_state.__setitem__(
        "ev_mis_gallery", {"selection": {"points": [{"customdata": next(wrong)}]}}), reruns))

    at = page("app_pages/inspect.py")
    units = iter(range(3, 3 + 4 * (reruns + 1)))
    rows.append(timed_rows("inspect: switch a filter off", at, lambda: (
        at.number_input(key="in_unit_box").set_value(next(units)).run(), at.button(key="abl_add").click()), reruns))
    digits = iter(range(10))
    at.radio(key="abl_way").set_value("the units most used for a digit").run()
    rows.append(timed_rows("inspect: k units most used for d", at, lambda: (
        at.selectbox(key="abl_digit").set_value(next(digits)).run(), at.button(key="abl_add").click()), reruns))
    rows.append(timed_rows("inspect: reset the ablation", at, lambda: (
        at.button(key="abl_add").click().run(), at.button(key="abl_reset").click()), reruns))
    followed = iter(range(11, 11 + 37 * (reruns + 1), 37))
    rows.append(timed_rows("inspect: follow another digit", at, lambda: at.number_input(key="in_digit_box").set_value(
        next(followed)), reruns))
    weights = iter(np.round(np.linspace(0.25, 1.5, reruns + 1), 2))
    rows.append(timed_rows("inspect: prototype L2 weight", at, lambda: at.slider(key="proto_l2").set_value(
        float(next(weights))), reruns))

    at = page("app_pages/draw.py")
    at.segmented_control(key="draw_source").set_value("example").run()
    examples = iter(range(1, 1 + 53 * (reruns + 1), 53))
    rows.append(timed_rows("draw: another MNIST digit", at, lambda: at.number_input(key="draw_example").set_value(
        next(examples)), reruns))
    rows.append(timed_rows("draw: why not another digit", at, lambda: _other_digit(at), reruns))
    return rows


def _other_digit(at) -> None:
    """Pick the next digit in Draw's "Why 7 and not..." box (its key names the answer, so find it)."""
    box = next(b for b in at.selectbox if str(b.key).startswith("draw_why_other_"))
    box.select_index((box.index + 1) % len(box.options))


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
