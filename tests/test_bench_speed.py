"""bench/speed.py's bookkeeping: FLOP count, epoch statistics, tables, missing frameworks.

No timing is asserted here (speed belongs in the benchmark's printed table); these tests only
check that the numbers the table prints are computed as bench/README.md says.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import textwrap
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


def test_paired_ratios_pair_the_timed_epochs_of_each_round_and_skip_rounds_where_either_run_failed() -> None:
    ok = lambda *s: _run("x", [9.0, *s], [0.5] * (1 + len(s)))  # noqa: E731
    failed = speed.RunResult("torch", "784-256-10", status="error: x")
    assert speed.paired_ratios([ok(1.0, 2.0, 3.0), ok(2.0, 2.0, 2.0), failed],
                               [ok(4.0, 4.0, 1.0), failed, ok(1.0, 1.0, 1.0)]) == [[0.25, 0.5, 3.0]]
    assert speed.epoch_ratios(ok(1.0), ok(2.0)) == [0.5]  # --quick: one timed epoch
    assert speed.epoch_ratios(_run("x", [3.0], [0.5]), _run("y", [6.0], [0.5])) == [0.5]  # warm-up only


def test_turns_report_each_epoch_and_wait_for_the_next_turn_unless_it_was_the_last() -> None:
    import io

    out = io.StringIO()
    turns = speed.Turns(io.StringIO("go\ngo\nstop\n"), out)
    clock = speed.EpochClock(lambda: 0.9, cap=5, stop_when_done=False, turns=turns)
    assert turns.ready()
    assert clock.epoch_done() is False  # "go": one more epoch
    assert clock.epoch_done() is True  # "stop" from the driver
    lines = out.getvalue().splitlines()
    assert lines[0] == speed.READY_TAG
    assert [json.loads(line[len(speed.EPOCH_TAG):])["last"] for line in lines[1:]] == [False, False]
    # At the cap the clock does not wait for a turn: the epoch says it was the last.
    out = io.StringIO()
    capped = speed.EpochClock(lambda: 0.9, cap=1, stop_when_done=False, turns=speed.Turns(io.StringIO(""), out))
    assert capped.epoch_done() is True
    assert json.loads(out.getvalue()[len(speed.EPOCH_TAG):])["last"] is True


def test_lockstep_gives_each_framework_its_turns_and_reports_a_failed_worker(monkeypatch, tmp_path) -> None:
    # Fake workers that follow the protocol: log each turn they get to a shared file.
    log = tmp_path / "turns.log"
    fake = tmp_path / "fake_worker.py"
    fake.write_text(textwrap.dedent(f"""
        import json, sys
        fw, epochs = sys.argv[sys.argv.index("--worker") + 1], int(sys.argv[sys.argv.index("--epochs") + 1])
        if fw == "sklearn":
            sys.exit("cannot start")
        print("{speed.READY_TAG}", flush=True)
        seconds = []
        for epoch in range(1, epochs + 1):
            if sys.stdin.readline().strip() != "go":
                break
            with open({str(log)!r}, "a") as f:
                f.write(fw + "\\n")
            seconds.append(float(epoch))
            print("{speed.EPOCH_TAG}" + json.dumps({{"seconds": 1.0, "acc": 0.9, "last": epoch == epochs}}), flush=True)
        print("{speed.RESULT_TAG}" + json.dumps({{"framework": fw, "arch": "784-10", "epoch_seconds": seconds}}), flush=True)
    """))
    monkeypatch.setattr(speed, "SETTLE_SECONDS", 0.0)
    monkeypatch.setattr(speed.importlib.util, "find_spec", lambda name, *a: object())
    monkeypatch.setattr(speed.Path, "resolve", lambda self: fake if self.name == "speed.py" else self)
    args = argparse.Namespace(epochs=3, seed=0, threads=1, all_epochs=False)
    ours, torch, sklearn = speed.run_lockstep(["ours", "torch", "sklearn"], (784, 10), args, epochs=3, first=1)
    assert (ours.status, ours.epoch_seconds) == ("ok", [1.0, 2.0, 3.0])
    assert torch.epoch_seconds == [1.0, 2.0, 3.0]
    assert sklearn.status == "error: cannot start"
    # One epoch each in turn, the order rotating among those still training; torch first, as asked.
    assert log.read_text().split() == ["torch", "ours", "ours", "torch", "torch", "ours"]


def test_a_framework_that_is_not_installed_gives_a_row_not_a_crash(monkeypatch) -> None:
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(speed.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    args = argparse.Namespace(epochs=1, seed=0, threads=1, all_epochs=False)
    (result,) = speed.run_lockstep(["torch"], (784, 10), args, epochs=1)
    assert result.status == "not installed"
    assert result.epoch_seconds == []
