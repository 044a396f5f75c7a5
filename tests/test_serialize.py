"""Saving and loading models: round trips, and a corpus of bad files each refused with its own reason."""

from __future__ import annotations

import io
import json
import math
import pickle
import zipfile

import numpy as np
import pytest

from nn.config import ModelConfig, TrainConfig
from nn.model import MLP
from nn.serialize import ModelFileError, load_model, model_config_json, save_model

X = np.random.default_rng(7).random((20, 784), dtype=np.float32)


def trained_like(hidden=(16, 8), **kw) -> MLP:
    model = MLP(ModelConfig(hidden=hidden, **kw), np.random.default_rng(0))
    for b in model.biases:  # non-zero biases, so a lost bias would show
        b[...] = np.random.default_rng(1).normal(size=b.shape)
    return model


def saved_bytes(model: MLP, meta=None) -> bytes:
    buffer = io.BytesIO()
    save_model(buffer, model, meta)
    return buffer.getvalue()


# ---------------------------------------------------------------- round trips


def test_round_trip_through_bytes_gives_identical_predictions_and_meta() -> None:
    model = trained_like(activation=("tanh", "leaky_relu"), leaky_slope=0.05, dropout=(0.1, 0.2))
    meta = {"test_accuracy": 0.9731, "train_config": TrainConfig(model=model.config).to_dict(),
            "dataset": {"source": "test", "sha256": {"x_train": "ab" * 32}}}
    loaded, loaded_meta = load_model(saved_bytes(model, meta))
    assert loaded.config == model.config
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    for a, b in zip(loaded.parameters(), model.parameters()):
        np.testing.assert_array_equal(a, b)
    assert loaded_meta["test_accuracy"] == 0.9731 and loaded_meta["accuracy"] == 0.9731
    assert TrainConfig.from_dict(loaded_meta["train_config"]) == TrainConfig(model=model.config)


def test_round_trip_through_a_path_and_a_file_object(tmp_path) -> None:
    model = trained_like(hidden=())
    path = tmp_path / "model"  # no suffix: must be written exactly there, not to model.npz
    save_model(path, model, {"note": "x"})
    assert path.exists() and not (tmp_path / "model.npz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no temporary file left behind
    from_path, meta = load_model(path)
    with open(path, "rb") as f:
        from_file, _ = load_model(f)
    for loaded in (from_path, from_file):
        np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert meta == {"note": "x"}


def test_float64_model_keeps_its_dtype() -> None:
    model = trained_like(dtype="float64")
    loaded, _ = load_model(saved_bytes(model))
    assert loaded.weights[0].dtype == np.float64
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))


def test_file_runs_with_numpy_alone_as_documented() -> None:
    model = trained_like()
    f = np.load(io.BytesIO(saved_bytes(model)), allow_pickle=False)
    config = json.loads(str(f["config"]))
    assert config["input_scaling"] == "x/255" and config["layer_sizes"] == [784, 16, 8, 10]
    assert config["activation"] == ["relu", "relu"]
    pixels = (X * 255).round()
    h = pixels / 255
    for l in (1, 2):
        h = np.maximum(h @ f[f"W{l}"] + f[f"b{l}"], 0)
    logits = h @ f["W3"] + f["b3"]
    np.testing.assert_array_equal(logits.argmax(axis=1), model.predict((pixels / 255).astype(np.float32)))


def test_meta_is_made_json_safe() -> None:
    text = model_config_json(trained_like(), {"acc": np.float32(0.5), "shape": (1, 2), "loss": float("nan")})
    doc = json.loads(text)
    assert doc["meta"] == {"acc": 0.5, "shape": [1, 2], "loss": None}
    with pytest.raises(ValueError, match="object"):
        model_config_json(trained_like(), {"bad": object()})


# ---------------------------------------------------------------- the bad-file corpus


def npz(members: dict[str, object]) -> bytes:
    """A zip of members: arrays are written as .npy (pickle allowed, to build hostile files);
    bytes are written as they are, named ``name.npy`` unless the name has a suffix of its own."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, value in members.items():
            if isinstance(value, bytes):
                archive.writestr(name if "." in name else name + ".npy", value)
            else:
                raw = io.BytesIO()
                np.save(raw, value, allow_pickle=True)
                archive.writestr(name + ".npy", raw.getvalue())
    return buffer.getvalue()


def good_members(**overrides) -> dict[str, object]:
    """The members of a valid 784-4-10 model file; ``overrides`` replace (None removes) members."""
    model = MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))
    members: dict[str, object] = {"config": np.array(model_config_json(model, {}))}
    for l, (W, b) in enumerate(zip(model.weights, model.biases), start=1):
        members[f"W{l}"], members[f"b{l}"] = W.copy(), b.copy()
    for name, value in overrides.items():
        if value is None:
            del members[name]
        else:
            members[name] = value
    return members


def config_with(**changes) -> np.ndarray:
    doc = json.loads(str(good_members()["config"]))
    doc.update(changes)
    return np.array(json.dumps(doc))


def _nan_weights() -> np.ndarray:
    W = good_members()["W1"].copy()
    W[3, 2] = np.nan
    return W


def _truncated_member() -> bytes:
    raw = io.BytesIO()
    np.save(raw, good_members()["W1"])
    return raw.getvalue()[:-100]


VALID = npz(good_members())

BAD_FILES = {
    "empty": (b"", "empty"),
    "text": (b"hello, I am not a model\n", "not a zip archive"),
    "pickle": (pickle.dumps({"W1": [1, 2, 3]}), "is a Python pickle"),
    "truncated zip": (VALID[: len(VALID) // 2], "damaged or truncated"),
    "no config": (npz(good_members(config=None)), "no config"),
    "missing array": (npz(good_members(b2=None)), r"missing array\(s\) b2"),
    "extra array": (npz({**good_members(), "W3": np.zeros((10, 10), np.float32)}), r"unexpected array\(s\) 'W3'"),
    "shapes do not chain": (npz(good_members(W2=np.zeros((5, 10), np.float32))), r"W2 has shape \(5, 10\), expected \(4, 10\)"),
    "transposed": (npz(good_members(W1=np.zeros((4, 784), np.float32))), "looks transposed"),
    "nan weights": (npz(good_members(W1=_nan_weights())), "W1 contains NaN"),
    "inf bias": (npz(good_members(b1=np.array([0, np.inf, 0, 0], np.float32))), "b1 contains NaN or infinite"),
    "too large for float32": (npz(good_members(W2=np.full((4, 10), 1e300))), "do not fit in float32"),
    "integer weights": (npz(good_members(W2=np.zeros((4, 10), np.int64))), "W2 has dtype int64"),
    "object array": (npz(good_members(W1=np.array([{"evil": 1}] * 4, dtype=object))), "W1 holds Python objects"),
    "object config": (npz(good_members(config=np.array([{"a": 1}], dtype=object))), "config holds a Python object"),
    "config not a string": (npz(good_members(config=np.zeros(3))), "config must be a single JSON string"),
    "malformed json": (npz(good_members(config=np.array("{'layer_sizes': [784, 4, 10]"))), "not valid JSON"),
    "json not an object": (npz(good_members(config=np.array("[784, 4, 10]"))), "must be a JSON object, got list"),
    "sizes not a list": (npz(good_members(config=config_with(layer_sizes="784-4-10"))), "layer_sizes must be a list"),
    "sizes disagree": (npz(good_members(config=config_with(layer_sizes=[784, 5, 10]))), "disagree"),
    "absurd sizes": (npz(good_members(config=config_with(layer_sizes=[10**6, 4096, 10], model={}))), "more than the"),
    "invalid network": (npz(good_members(config=config_with(model={"hidden": [4], "activation": "swish"}))), "invalid network"),
    "unknown field": (npz(good_members(config=config_with(model={"hidden": [4], "colour": "red"}))), "unknown or missing fields"),
    "other scaling": (npz(good_members(config=config_with(input_scaling="x/127.5 - 1"))), "input scaling"),
    "future version": (npz(good_members(config=config_with(version=99))), "newer"),
    "pickle inside": (npz({**good_members(), "evil.pkl": pickle.dumps([1, 2])}), "holds a pickle"),
    "foreign member": (npz({**good_members(), "readme.txt": b"hi"}), "unexpected member 'readme.txt'"),
    "oversized member": (npz(good_members(b1=np.zeros(4, np.float32).tobytes() + b"\0" * 100_000)), "claims"),
    "truncated member": (npz(good_members(W1=_truncated_member())), "W1 is truncated"),
    "not npy": (npz(good_members(b1=b"\x00" * 16)), "b1 is not a valid .npy array"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_bad_file_is_refused_with_its_reason(case: str) -> None:
    data, pattern = BAD_FILES[case]
    with pytest.raises(ModelFileError, match=pattern):
        load_model(data)


@pytest.mark.parametrize("case", ["absurd sizes", "oversized member"])
def test_absurd_sizes_are_refused_before_anything_big_is_allocated(case: str) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError):
            load_model(BAD_FILES[case][0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5 * 2**20  # the absurd network would need terabytes


def test_every_bad_file_gets_a_distinct_message() -> None:
    messages = {}
    for case, (data, _) in BAD_FILES.items():
        with pytest.raises(ModelFileError) as info:
            load_model(data)
        messages[case] = str(info.value)
    assert len(BAD_FILES) >= 10
    assert len(set(messages.values())) == len(messages), messages


def test_the_corpus_base_file_itself_is_valid() -> None:
    model, _ = load_model(VALID)  # so every failure above is caused by its one change
    assert model.config.hidden == (4,)


def test_model_file_error_is_a_value_error_and_a_missing_path_is_reported(tmp_path) -> None:
    assert issubclass(ModelFileError, ValueError)
    with pytest.raises(ModelFileError, match="cannot read"):
        load_model(tmp_path / "nope.npz")
    with pytest.raises(ModelFileError, match="int"):
        load_model(12345)


def test_compressed_files_load_too() -> None:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **good_members())
    model, _ = load_model(buffer.getvalue())
    np.testing.assert_array_equal(model.weights[1], good_members()["W2"])


# ---------------------------------------------------------------- the run record: history and snapshots


def trained_run(val_size: int = 40, epochs: int = 3):
    """A real, tiny training run: (trainer, result)."""
    from nn.trainer import Trainer

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (200, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 200)
    config = TrainConfig(model=ModelConfig(hidden=(6,)), epochs=epochs, val_size=val_size, batch_size=50)
    trainer = Trainer(config, images, labels)
    return trainer, trainer.run()


def same_rows(a: list[dict], b: list[dict]) -> bool:
    return [list(r) for r in a] == [list(r) for r in b] and all(
        np.allclose(list(x.values()), list(y.values()), equal_nan=True) for x, y in zip(a, b))


def test_history_and_snapshots_round_trip_and_come_back_in_meta(tmp_path) -> None:
    trainer, result = trained_run()
    path = tmp_path / "run.npz"
    save_model(path, trainer.model, {"note": "x"}, history=result.history, snapshots=trainer.snapshots)
    _, meta = load_model(path)
    assert len(meta["history"]) == 3 and "weight_norm_1" in meta["history"][0]
    assert same_rows(meta["history"], result.history)
    assert [row["epoch"] for row in meta["history"]] == [1, 2, 3] and isinstance(meta["history"][0]["epoch"], int)
    assert [e for e, _ in meta["snapshots"]] == [e for e, _ in trainer.snapshots] == [0, 1, 2, 3]
    for (_, mine), (_, theirs) in zip(meta["snapshots"], trainer.snapshots):
        np.testing.assert_array_equal(mine, theirs)
    assert meta["note"] == "x"
    # saving what load_model returned keeps the record (it travels in meta)
    again = tmp_path / "again.npz"
    save_model(again, *load_model(path))
    _, meta2 = load_model(again)
    assert same_rows(meta2["history"], meta["history"]) and len(meta2["snapshots"]) == 4


def test_a_history_without_validation_keeps_its_nan_and_infinities_become_nan() -> None:
    trainer, result = trained_run(val_size=0, epochs=2)
    assert all(math.isnan(row["val_loss"]) for row in result.history)
    rows = [dict(r) for r in result.history]
    rows[1]["train_loss"] = float("inf")
    _, meta = load_model(saved_bytes_with(trainer.model, history=rows))
    assert all(math.isnan(row["val_loss"]) for row in meta["history"])
    assert math.isnan(meta["history"][1]["train_loss"]) and meta["history"][0]["train_loss"] > 0


def saved_bytes_with(model: MLP, **record) -> bytes:
    buffer = io.BytesIO()
    save_model(buffer, model, {}, **record)
    return buffer.getvalue()


def test_files_without_a_record_still_load_and_say_so_by_absence() -> None:
    _, meta = load_model(VALID)
    assert "history" not in meta and "snapshots" not in meta


def test_many_snapshots_are_thinned_evenly_keeping_the_first_and_the_last() -> None:
    model = trained_like(hidden=(4,))
    snapshots = [(e, np.full((784, 4), e, np.float32)) for e in range(0, 200, 2)]
    _, meta = load_model(saved_bytes_with(model, snapshots=snapshots))
    epochs = [e for e, _ in meta["snapshots"]]
    assert len(epochs) == 32 and epochs[0] == 0 and epochs[-1] == 198 and epochs == sorted(set(epochs))
    assert all((w == e).all() for e, w in meta["snapshots"])


def test_snapshots_are_thinned_to_the_byte_budget(monkeypatch) -> None:
    from nn import run_record

    model = trained_like(hidden=(4,))
    monkeypatch.setattr(run_record, "MAX_SNAPSHOT_BYTES", 3 * 784 * 4 * 4)  # three float32 copies of W1
    _, meta = load_model(saved_bytes_with(model, snapshots=[(e, model.weights[0]) for e in range(10)]))
    assert [e for e, _ in meta["snapshots"]] == [0, 4, 9]


def test_saving_refuses_a_snapshot_that_is_not_w1_or_a_history_value_that_is_not_a_number() -> None:
    model = trained_like(hidden=(4,))
    with pytest.raises(ValueError, match=r"expected W1's \(784, 4\)"):
        save_model(io.BytesIO(), model, snapshots=[(0, np.zeros((4, 784), np.float32))])
    with pytest.raises(TypeError, match="'note' holds 'fast', not a number"):
        save_model(io.BytesIO(), model, history=[{"epoch": 1, "note": "fast"}])


def record_members(history=None, snapshots=None, doc=None) -> dict[str, object]:
    """A valid 784-4-10 model with a 2-row history and 2 snapshots; ``history=False`` leaves that array out,
    ``doc`` replaces entries of the config."""
    members = good_members()
    config = json.loads(str(members["config"]))
    config["history"] = {"columns": ["epoch", "train_loss", "val_loss"], "rows": 2}
    config["snapshots"] = {"epochs": [0, 2]}
    config.update(doc or {})
    members["config"] = np.array(json.dumps(config))
    members["history"] = np.array([[1, 0.5, np.nan], [2, 0.4, np.nan]]) if history is None else history
    members["snapshots"] = np.stack([members["W1"]] * 2) if snapshots is None else snapshots
    if history is False:
        del members["history"]
    return members


def test_the_record_members_base_file_is_valid() -> None:
    _, meta = load_model(npz(record_members()))
    assert meta["history"][1]["epoch"] == 2 and math.isnan(meta["history"][0]["val_loss"])
    assert [e for e, _ in meta["snapshots"]] == [0, 2]


def without_description(key: str) -> dict[str, object]:
    members = record_members()
    config = json.loads(str(members["config"]))
    del config[key]
    members["config"] = np.array(json.dumps(config))
    return members


BAD_RECORDS = {  # case -> (the file's members, what the refusal says)
    "history without description": (lambda: without_description("history"), r"unexpected array\(s\) 'history'"),
    "description without history": (lambda: record_members(history=False), r"missing array\(s\) history"),
    "rows disagree": (lambda: record_members(history=np.zeros((3, 3))),
                      r"array history has shape \(3, 3\), expected \(2, 3\)"),
    "infinite history": (lambda: record_members(history=np.array([[1, np.inf, 0], [2, 0, 0]])),
                         "history contains infinite"),
    "integer history": (lambda: record_members(history=np.zeros((2, 3), np.int64)), "history has dtype int64"),
    "epoch not whole": (lambda: record_members(history=np.array([[1.5, 0, 0], [2, 0, 0]])),
                        "epoch must hold non-negative whole"),
    "absurd rows": (lambda: record_members(doc={"history": {"columns": ["a"], "rows": 10**9}}),
                    "rows must be an integer from 1"),
    "absurd values": (lambda: record_members(doc={"history": {"columns": [f"c{i}" for i in range(1000)],
                                                               "rows": 90_000}}), "more than the 4,000,000 values"),
    "odd column name": (lambda: record_members(doc={"history": {"columns": ["epoch", "a b", "c"], "rows": 2}}),
                        "'a b' is not a plain"),
    "repeated column": (lambda: record_members(doc={"history": {"columns": ["a", "a", "c"], "rows": 2}}),
                        "names repeat"),
    "history not an object": (lambda: record_members(doc={"history": [1, 2]}), "history must be an object"),
    "nan snapshot": (lambda: record_members(snapshots=np.full((2, 784, 4), np.nan, np.float32)),
                     "snapshots contains NaN"),
    "transposed snapshots": (lambda: record_members(snapshots=np.zeros((2, 4, 784), np.float32)),
                             r"snapshots has shape \(2, 4, 784\)"),
    "epochs not increasing": (lambda: record_members(doc={"snapshots": {"epochs": [2, 0]}}),
                              "increasing non-negative"),
    "too many snapshots": (lambda: record_members(doc={"snapshots": {"epochs": list(range(33))}}),
                           "list of 1 to 32 epochs"),
    "snapshots without epochs": (lambda: record_members(doc={"snapshots": {"every": 2}}), "list of 1 to 32 epochs"),
}


@pytest.mark.parametrize("case", sorted(BAD_RECORDS))
def test_a_bad_record_is_refused_with_its_reason(case: str) -> None:
    build, pattern = BAD_RECORDS[case]
    with pytest.raises(ModelFileError, match=pattern):
        load_model(npz(build()))


def test_snapshots_beyond_the_byte_budget_are_refused_from_the_config_alone(monkeypatch) -> None:
    from nn import run_record

    monkeypatch.setattr(run_record, "MAX_SNAPSHOT_BYTES", 784 * 4 * 4)  # one float32 W1
    with pytest.raises(ModelFileError, match="lists 2 snapshots of a"):
        load_model(npz(record_members()))
