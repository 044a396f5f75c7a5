"""bench/speed.py's bookkeeping: FLOP count, epoch statistics, tables, missing frameworks.

No timing is asserted here (speed belongs in the benchmark's printed table); these tests only
check that the numbers the table prints are computed as bench/README.md says.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_speed", ROOT / "bench" / "speed.py")
speed = importlib.util.module_from_spec(_spec)
sys.modules["bench_speed"] = speed  # dataclasses look their module up there
_spec.loader.exec_module(speed)


def test_parse_arch_accepts_mnist_shapes_and_quotes_bad_ones() -> None:
    assert speed.parse_arch("784-128-64-10") == (784, 128, 64, 10)
    assert speed.parse_arch("784-10") == (784, 10)
    for bad in ("128-64", "784-x-10", "784-128-64-11", "784--10"):
        with pytest.raises(argparse.ArgumentTypeError, match=repr(bad)):
            speed.parse_arch(bad)


def test_flops_count_forward_both_gradients_but_not_the_pixels() -> None:
    # 784-800-10 by hand: forward 2*(784*800 + 800*10); dW the same; dX only for layer 2: 2*800*10.
    forward = 2 * (784 * 800 + 800 * 10)
    assert speed.train_flops_per_sample((784, 800, 10)) == forward + forward + 2 * 800 * 10
    # softmax regression has no input gradient at all
    assert speed.train_flops_per_sample((784, 10)) == 4 * 784 * 10


def _run(framework: str, seconds: list[float], acc: list[float], arch: str = "784-256-10") -> object:
    return speed.RunResult(framework, arch, epoch_seconds=seconds, test_acc=acc)


def test_seconds_per_epoch_is_the_median_of_the_three_epochs_after_warm_up() -> None:
    r = _run("ours", [9.0, 2.0, 4.0, 3.0, 100.0], [0.9] * 5)
    assert speed.seconds_per_epoch(r) == 3.0
    assert speed.seconds_per_epoch(_run("ours", [9.0, 5.0], [0.9, 0.9])) == 5.0  # --quick: one timed epoch


def test_time_to_accuracy_sums_training_time_up_to_the_first_epoch_reaching_it() -> None:
    r = _run("ours", [2.0, 1.0, 1.5, 1.0], [0.95, 0.969, 0.975, 0.981])
    assert speed.time_to(r, 0.97) == "4.5 s (ep 3)"
    assert speed.time_to(r, 0.98) == "5.5 s (ep 4)"
    assert speed.time_to(r, 0.99) == "not reached in 4 epochs"


def test_tables_compare_ours_with_each_framework_and_keep_missing_ones_as_rows() -> None:
    results = [
        _run("ours", [2.0, 1.0, 1.0, 1.0, 1.0], [0.95, 0.96, 0.97, 0.975, 0.98]),
        _run("torch", [3.0, 2.0, 2.0, 2.0, 2.0], [0.95, 0.96, 0.97, 0.975, 0.98]),
        speed.RunResult("sklearn", "784-256-10", status="not installed"),
    ]
    detail, summary = speed.build_tables([results], {"representative": 100.0, "large": 200.0},
                                         {"784-256-10": 0.5})
    assert list(detail["framework"]) == ["ours", "torch", "sklearn"]
    assert detail.loc[2, "s/epoch"] == "not installed"
    assert detail.loc[1, "ours/this"] == "0.50"
    flops = speed.train_flops_per_sample((784, 256, 10)) * 55_000
    assert detail.loc[0, "GFLOP/s"] == f"{flops / 1.0 / 1e9:.1f}"
    assert detail.loc[0, "% sgemm(bs128)"] == f"{100 * flops / 1e9 / 100.0:.0f}%"
    row = summary.iloc[0]
    assert row["ours/torch"].startswith("0.50 (met")
    assert row["ours/sklearn"] == "n/a"
    assert row["ours/GEMM floor"] == "2.00"


def test_seconds_per_epoch_is_the_median_over_rounds_and_accuracy_comes_from_round_one() -> None:
    acc = [0.95, 0.96, 0.97, 0.975, 0.98]
    rounds = [
        [_run("ours", [2.0, 1.0, 1.0, 1.0, 1.0], acc), _run("torch", [3.0, 2.0, 2.0, 2.0], acc[:4])],
        [_run("ours", [2.0, 9.0, 9.0, 9.0], [0.5] * 4), _run("torch", [3.0, 4.0, 4.0, 4.0], acc[:4])],
        [_run("ours", [2.0, 1.5, 1.5, 1.5], [0.5] * 4), speed.RunResult("torch", "784-256-10", status="error: x")],
    ]
    detail, summary = speed.build_tables(rounds, {"representative": 100.0, "large": 200.0}, {"784-256-10": 0.5})
    ours, torch = detail.iloc[0], detail.iloc[1]
    assert ours["s/epoch"] == "1.50" and ours["each round"] == "1.00 / 9.00 / 1.50"
    assert ours["test acc @5"] == "98.00%" and ours["to 98%"] == "6.0 s (ep 5)"  # round 1 only
    assert torch["s/epoch"] == "3.00" and torch["each round"] == "2.00 / 4.00 / failed"
    # The ratio pairs the runs of one round (1/2 and 9/4; round 3 has no torch run), then takes the
    # median: not the ratio of the medians above (1.50 / 3.00), which mixes rounds.
    assert summary.iloc[0]["ours/torch"].startswith("1.38 (MISSED")
    assert summary.iloc[0]["ours/torch each round"] == "0.50 / 2.25"
    assert torch["ours/this"] == "1.38"


def test_paired_ratios_skip_rounds_where_either_run_failed() -> None:
    ok = lambda s: _run("x", [9.0, s, s, s], [0.5] * 4)  # noqa: E731
    failed = speed.RunResult("torch", "784-256-10", status="error: x")
    assert speed.paired_ratios([ok(1.0), ok(2.0), failed], [ok(4.0), failed, ok(1.0)]) == [0.25]


def test_a_framework_that_is_not_installed_gives_a_row_not_a_crash(monkeypatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(speed.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    args = argparse.Namespace(epochs=1, seed=0, threads=1, all_epochs=False)
    result = speed.spawn_worker("torch", (784, 10), args, epochs=1)
    assert result.status == "not installed"
    assert result.epoch_seconds == []
