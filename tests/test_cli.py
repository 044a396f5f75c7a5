"""``python -m nn train`` and ``evaluate``: exit codes, one-line errors, --json, save and evaluate."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import nn.cli.train as train_cli
from nn.cli import main
from nn.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]


def _fake_mnist(seed: int = 0) -> SimpleNamespace:
    """MNIST-shaped, learnable data: ten random prototypes plus noise (not the real thing)."""
    rng = np.random.default_rng(seed)
    prototypes = rng.integers(0, 256, (10, 28, 28))

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = np.clip(prototypes[y] + rng.normal(0, 70, (n, 28, 28)), 0, 255).astype(np.uint8)
        return x, y

    x_train, y_train = make(1200)
    x_test, y_test = make(300)
    return SimpleNamespace(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, source="fake")


@pytest.fixture
def fake_data(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    ds = _fake_mnist()
    monkeypatch.setattr(train_cli, "load_data", lambda args: ds)
    import nn.cli.evaluate as evaluate_cli

    monkeypatch.setattr(evaluate_cli, "load_data", lambda args: ds)
    return ds


SMALL = ["--hidden", "32", "--epochs", "2", "--val-size", "200", "--batch-size", "64", "--quiet"]


@pytest.mark.parametrize(
    "argv, quoted",
    [
        (["train", "--lr", "-1"], "-1"),
        (["train", "--hidden", "0"], "0"),
        (["train", "--hidden", "32", "--dropout", "0.1", "0.2"], "(0.1, 0.2)"),
        (["train", "--epochs", "0"], "0"),
        (["train", "--rotate", "120"], "120"),
        (["train", "--preset", "nope"], "nope"),
        (["train", "--optimizer", "rmsprop"], "rmsprop"),
        (["train", "--epochs", "ten"], "ten"),
        (["train", "--no-such-flag"], "--no-such-flag"),
        (["train", "--threads", "0"], "got 0"),
        (["evaluate", "/no/such/model.npz"], "/no/such/model.npz"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(argv, quoted, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exc_info:
        sys.exit(main(argv))
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and quoted in err


def test_bad_value_from_a_real_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "nn", "train", "--lr", "-1"], cwd=ROOT,
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "-1" in proc.stderr and "Traceback" not in proc.stderr


def test_json_summary_is_one_line_with_the_flags_applied(fake_data, capsys: pytest.CaptureFixture) -> None:
    code = main(["train", "--preset", "quick", *SMALL, "--lr", "0.005", "--shift", "1", "--json", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0 and len(out.strip().splitlines()) == 1
    summary = json.loads(out)
    assert summary["state"] == "finished" and summary["epochs_done"] == 2 and summary["preset"] == "quick"
    assert summary["config"]["model"]["hidden"] == [32] and summary["config"]["lr"] == 0.005
    assert summary["config"]["augment"]["shift"] == 1 and summary["config"]["seed"] == 3
    assert summary["config"]["train_subset"] == PRESETS["quick"].train_subset  # from the preset, not overridden
    assert 0.5 < summary["test_accuracy"] <= 1.0 and summary["train_seconds"] > 0


def test_progress_in_a_log_is_one_line_per_epoch_without_bar_redraws(fake_data, capsys) -> None:
    # capsys's stderr is not a terminal, like a log file or CI: no bar, just the epoch lines
    assert main(["train", *[a for a in SMALL if a != "--quiet"], "--json"]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert [line.split()[:2] for line in err.strip().splitlines()] == [["epoch", "1/2"], ["epoch", "2/2"]]


def test_table_output_has_accuracy_and_confusion_matrix(fake_data, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *SMALL]) == 0
    out = capsys.readouterr().out
    assert "Test accuracy:" in out and "Confusion matrix" in out
    rows = [line.split() for line in out.splitlines() if line[:1].isdigit()]
    matrix = np.array([[int(v) for v in row[1:]] for row in rows[-10:]])
    assert matrix.shape == (10, 10) and matrix.sum() == len(fake_data.y_test)


def test_softmax_regression_and_per_layer_settings(fake_data, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *SMALL, "--hidden", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["model"]["hidden"] == []
    assert main(["train", *SMALL, "--hidden", "16", "8", "--activation", "tanh", "relu", "--dropout", "0.1", "0",
                 "--optimizer", "nesterov", "--lr", "0.05", "--schedule", "step", "--step-size", "1", "--json"]) == 0
    model = json.loads(capsys.readouterr().out)["config"]["model"]
    assert model["activation"] == ["tanh", "relu"] and model["dropout"] == [0.1, 0.0]


def test_divergence_exits_1_with_the_reason(fake_data, capsys: pytest.CaptureFixture) -> None:
    assert main(["train", *SMALL, "--optimizer", "sgd", "--lr", "50"]) == 1
    out = capsys.readouterr().out
    assert "DIVERGED" in out and "Lower the learning rate" in out


def test_save_then_evaluate(fake_data, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "model.npz"
    assert main(["train", *SMALL, "--save", str(path), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert trained["saved"] == str(path) and path.is_file()

    assert main(["evaluate", str(path), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["test_accuracy"] == pytest.approx(trained["test_accuracy"])
    assert len(evaluated["per_class"]) == 10 and evaluated["layer_sizes"] == [784, 32, 10]
    assert sum(row["support"] for row in evaluated["per_class"]) == len(fake_data.y_test)

    assert main(["evaluate", str(path)]) == 0
    text = capsys.readouterr().out
    assert "Test accuracy:" in text and "precision" in text and "macro avg" in text


def test_evaluate_refuses_a_file_that_is_not_a_model(fake_data, tmp_path: Path, capsys) -> None:
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file")
    assert main(["evaluate", str(junk)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "junk.npz" in err


# ---------------------------------------------------------------- refused before training


HUGE = ["train", "--hidden", *["4096"] * 6, "--batch-size", "65536"]


def test_a_network_beyond_the_address_space_limit_is_refused_before_anything_is_built() -> None:
    import resource

    limit = 4 * 2**30
    proc = subprocess.run([sys.executable, "-m", "nn", *HUGE], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, check=False,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert "batch size 65,536 needs about" in proc.stderr and "RLIMIT_AS" in proc.stderr
    assert "--batch-size" in proc.stderr


def test_the_memory_check_names_the_limit_that_binds(monkeypatch, capsys) -> None:
    import nn.memory

    def no_data(args):
        raise AssertionError("the data must not be loaded for a run that cannot fit")

    monkeypatch.setattr(train_cli, "load_data", no_data)
    monkeypatch.setattr(nn.memory, "memory_headroom",
                        lambda: nn.memory.Headroom(2**30, "the memory limit of this process's cgroup"))
    assert main(["train", "--hidden", "4096", "4096", "--batch-size", "8192"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "left under the memory limit of this process's cgroup" in err


def test_a_small_network_passes_the_memory_check(fake_data, monkeypatch, capsys) -> None:
    import nn.memory

    monkeypatch.setattr(nn.memory, "memory_headroom", lambda: nn.memory.Headroom(2**30, "the available memory"))
    assert main(["train", *SMALL, "--json"]) == 0


def test_running_out_of_memory_anyway_is_one_line(fake_data, monkeypatch, capsys) -> None:
    import errno

    from nn.trainer import Trainer

    def oom(self):
        raise OSError(errno.ENOMEM, "Cannot allocate memory")

    monkeypatch.setattr(Trainer, "run", oom)
    assert main(["train", *SMALL]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "ran out of memory while training" in err


@pytest.mark.parametrize("target, quoted", [
    ("{tmp}/no/such/dir/model.npz", "does not exist"),
    ("{tmp}", "is a directory"),
    ("/proc/model.npz", "cannot write in /proc"),
])
def test_an_unwritable_save_target_is_refused_before_the_data_is_even_loaded(
        target, quoted, tmp_path: Path, monkeypatch, capsys) -> None:
    def no_data(args):
        raise AssertionError("the data must not be loaded when the model could not be saved")

    monkeypatch.setattr(train_cli, "load_data", no_data)
    assert main(["train", *SMALL, "--save", target.format(tmp=tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and quoted in captured.err
    assert not list(tmp_path.rglob("*.probe"))


@pytest.mark.parametrize("val_size", ["1200", "5000"])
def test_a_validation_set_that_takes_every_image_is_refused(fake_data, val_size, capsys) -> None:
    assert main(["train", "--hidden", "8", "--epochs", "1", "--quiet", "--val-size", val_size]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert f"--val-size {int(val_size):,} holds out all 1,200 training images" in err


def test_the_report_says_how_many_images_trained_and_validated(fake_data, capsys) -> None:
    assert main(["train", "--hidden", "8", "--epochs", "1", "--quiet", "--subset", "100", "--val-size", "500"]) == 0
    out = capsys.readouterr().out
    assert "Trained on 100 images (500 held out for validation)" in out
    assert main(["train", "--hidden", "8", "--epochs", "1", "--quiet", "--subset", "100", "--val-size", "500",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["train_images"] == 100 and summary["val_images"] == 500


def test_a_subset_larger_than_what_is_left_trains_on_all_with_a_note(fake_data, capsys) -> None:
    assert main(["train", "--hidden", "8", "--epochs", "1", "--quiet", "--subset", "5000", "--val-size", "200",
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["train_images"] == 1000
    assert captured.err.strip() == ("note: --subset 5,000 is more than the 1,000 images left after 200 are held "
                                    "out for validation; training on all 1,000")


def test_a_saved_model_keeps_the_runs_history_filter_snapshots_and_timeline(fake_data, tmp_path: Path,
                                                                            capsys) -> None:
    from nn.serialize import load_model

    path = tmp_path / "model.npz"
    assert main(["train", *SMALL, "--save", str(path)]) == 0
    model, meta = load_model(path)
    assert [row["epoch"] for row in meta["history"]] == [1, 2]
    assert 0 < meta["history"][-1]["val_acc"] <= 1
    assert [epoch for epoch, _ in meta["snapshots"]] == [0, 1, 2] and meta["snapshots"][0][1].shape == (784, 32)
    timeline = meta["timeline"]
    kinds = [c.kind for c in timeline]
    assert kinds[0] == "start" and kinds.count("inside") >= 1 and kinds[-2:] == ["epoch", "epoch"]
    assert [c.position for c in timeline if c.kind == "epoch"] == [1, 2]
    final = np.concatenate([p.reshape(-1) for p in model.parameters()])
    assert np.array_equal(timeline[-1].params, final) and not np.array_equal(timeline[0].params, final)
    # the start is the network as initialised: W1 there is the snapshot of epoch 0
    np.testing.assert_array_equal(timeline[0].params[:784 * 32], meta["snapshots"][0][1].reshape(-1))
