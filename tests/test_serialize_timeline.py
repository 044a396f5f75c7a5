"""A model file keeps the run's timeline: exact round trips of real runs, thinning, and hostile timelines refused."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lab.timeline import model_at
from nn import run_timeline
from nn.config import ModelConfig, TrainConfig
from nn.losses import cross_entropy
from nn.model import MLP, param_count
from nn.serialize import ModelFileError, load_model, save_model
from nn.trainer import Trainer
from nn.trainer.telemetry import Checkpoint
from tests.test_hostile_files import deflate_zeros, patch_member, refusal_peak, zip_of
from tests.test_serialize import VALID, good_members, npz

RNG = np.random.default_rng(11)
IMAGES = RNG.integers(0, 256, (400, 28, 28), dtype=np.uint8)
LABELS = RNG.integers(0, 10, 400)
X = IMAGES[:100].reshape(-1, 784).astype(np.float32) / 255


def trained(dtype: str = "float32", epochs: int = 3) -> Trainer:
    config = TrainConfig(model=ModelConfig(hidden=(12, 8), dtype=dtype), epochs=epochs, batch_size=20,
                         val_size=60, seed=4)
    trainer = Trainer(config, IMAGES, LABELS)
    trainer.run()
    return trainer


def saved(model: MLP, meta: dict | None = None, **record) -> bytes:
    buffer = io.BytesIO()
    save_model(buffer, model, meta or {}, **record)
    return buffer.getvalue()


# ---------------------------------------------------------------- round trips of real runs


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_checkpoint_comes_back_exactly_and_rewinds_to_the_same_predictions(dtype: str) -> None:
    trainer = trained(dtype)
    live = trainer.timeline
    assert [c.kind for c in live][:2] == ["start", "inside"] and live[-1].kind == "epoch"
    model, meta = load_model(saved(trainer.model, timeline=live))
    back = meta["timeline"]
    assert [(c.step, c.batches_per_epoch, c.kind) for c in back] == [
        (c.step, c.batches_per_epoch, c.kind) for c in live]
    config = trainer.config.model
    for mine, theirs in zip(back, live):
        assert mine.params.dtype == theirs.params.dtype == np.dtype(dtype) and not mine.params.flags.writeable
        np.testing.assert_array_equal(mine.params, theirs.params)
        a, b = model_at(config, mine), model_at(config, theirs)
        np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))  # bit for bit
        assert cross_entropy(a.forward(X), LABELS[:100]) == cross_entropy(b.forward(X), LABELS[:100])
    final = np.concatenate([p.reshape(-1) for p in model.parameters()])
    np.testing.assert_array_equal(back[-1].params, final)  # the slider's last point is the file's weights


def test_the_timeline_travels_in_meta_so_saving_what_was_loaded_keeps_it(tmp_path: Path) -> None:
    trainer = trained(epochs=2)
    path = tmp_path / "run.npz"
    save_model(path, trainer.model, {"note": "x"}, timeline=trainer.timeline)
    again = tmp_path / "again.npz"
    save_model(again, *load_model(path))
    _, meta = load_model(again)
    assert [c.step for c in meta["timeline"]] == [c.step for c in trainer.timeline]
    assert all(np.array_equal(a.params, b.params) for a, b in zip(meta["timeline"], trainer.timeline))


def test_a_file_without_a_timeline_loads_as_before_and_saving_none_writes_none() -> None:
    _, meta = load_model(VALID)
    assert "timeline" not in meta
    data = saved(MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0)))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert "timeline.npy" not in archive.namelist()
    assert "timeline" not in json.loads(str(np.load(io.BytesIO(data))["config"]))
    assert "timeline" not in load_model(data)[1]


# ---------------------------------------------------------------- saving: what is kept


def synthetic(n_epochs: int, model: MLP, bpe: int = 2) -> list[Checkpoint]:
    """A start and ``n_epochs`` epoch ends; checkpoint i holds the value i everywhere."""
    size = param_count(model.config)
    steps = [0] + [e * bpe for e in range(1, n_epochs + 1)]
    return [Checkpoint(step=s, batches_per_epoch=bpe, kind="start" if i == 0 else "epoch",
                       params=np.full(size, i, np.float32)) for i, s in enumerate(steps)]


def test_a_long_timeline_is_thinned_evenly_keeping_the_first_and_the_last() -> None:
    model = MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))
    _, meta = load_model(saved(model, timeline=synthetic(199, model)))
    kept = meta["timeline"]
    values = [int(c.params[0]) for c in kept]
    assert len(kept) == run_timeline.MAX_CHECKPOINTS == 64 and values[0] == 0 and values[-1] == 199
    assert values == sorted(set(values)) and max(np.diff(values)) - min(np.diff(values)) <= 1  # evenly
    assert all((c.params == int(c.params[0])).all() and c.step == 2 * int(c.params[0]) for c in kept)


def test_the_timeline_is_thinned_to_the_byte_cap(monkeypatch) -> None:
    model = MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))
    monkeypatch.setattr(run_timeline, "MAX_TIMELINE_BYTES", 3 * param_count(model.config) * 4)  # three copies
    _, meta = load_model(saved(model, timeline=synthetic(9, model)))
    assert [int(c.params[0]) for c in meta["timeline"]] == [0, 4, 9]


def test_a_checkpoint_holding_nan_is_left_out_and_bad_checkpoints_are_refused_on_saving() -> None:
    model = MLP(ModelConfig(hidden=(4,)), np.random.default_rng(0))
    points = synthetic(3, model)
    points[2] = Checkpoint(step=4, batches_per_epoch=2, kind="epoch", params=np.full_like(points[2].params, np.nan))
    _, meta = load_model(saved(model, timeline=points))
    assert [c.step for c in meta["timeline"]] == [0, 2, 6]
    with pytest.raises(ValueError, match=r"holds \(5,\) numbers; this network has"):
        saved(model, timeline=[Checkpoint(0, 2, "start", np.zeros(5, np.float32))])
    mixed = [points[0], Checkpoint(step=3, batches_per_epoch=3, kind="epoch", params=points[1].params)]
    with pytest.raises(ValueError, match="disagree on the batches per epoch"):
        saved(model, timeline=mixed)


# ---------------------------------------------------------------- loading: hostile timelines


N_PARAMS = 784 * 4 + 4 + 4 * 10 + 10  # the 784-4-10 network of good_members()


def timeline_members(array=None, **entry) -> dict[str, object]:
    """A valid 784-4-10 model with a start, one point inside epoch 1 and the end of epoch 1 (4 batches);
    ``entry`` replaces fields of the description (``entry=...`` all of it), ``array`` the array."""
    members = good_members()
    config = json.loads(str(members["config"]))
    description = {"batches_per_epoch": 4, "steps": [0, 2, 4], "kinds": ["start", "inside", "epoch"]}
    config["timeline"] = entry.pop("entry") if "entry" in entry else {**description, **entry}
    members["config"] = np.array(json.dumps(config))
    members["timeline"] = np.zeros((3, N_PARAMS), np.float32) if array is None else array
    if isinstance(array, str) and array == "none":
        del members["timeline"]
    return members


def test_the_timeline_members_base_file_is_valid() -> None:
    _, meta = load_model(npz(timeline_members()))
    assert [(c.step, c.kind, c.position) for c in meta["timeline"]] == [(0, "start", 0), (2, "inside", 0.5),
                                                                       (4, "epoch", 1)]


def without_timeline_description() -> dict[str, object]:
    members = timeline_members()
    config = json.loads(str(members["config"]))
    del config["timeline"]
    members["config"] = np.array(json.dumps(config))
    return members


BAD_TIMELINES = {  # case -> (the file's members, what the refusal says)
    "array without description": (without_timeline_description, r"unexpected array\(s\) 'timeline'"),
    "description without array": (lambda: timeline_members(array="none"), r"missing array\(s\) timeline"),
    "wrong width": (lambda: timeline_members(np.zeros((3, N_PARAMS + 1), np.float32)),
                    rf"array timeline has shape \(3, {N_PARAMS + 1}\), expected \(3, {N_PARAMS}\)"),
    "count disagrees": (lambda: timeline_members(np.zeros((4, N_PARAMS), np.float32)),
                        rf"array timeline has shape \(4, {N_PARAMS}\), expected \(3, {N_PARAMS}\)"),
    "flat": (lambda: timeline_members(np.zeros(3 * N_PARAMS, np.float32)), "array timeline has shape"),
    "nan": (lambda: timeline_members(np.full((3, N_PARAMS), np.nan, np.float32)), "timeline contains NaN"),
    "infinite": (lambda: timeline_members(np.full((3, N_PARAMS), np.inf)), "timeline contains NaN or infinite"),
    "beyond float32": (lambda: timeline_members(np.full((3, N_PARAMS), 1e300)),
                       r"timeline contains NaN or infinite values \(in float32\)"),
    "integers": (lambda: timeline_members(np.zeros((3, N_PARAMS), np.int32)), "timeline has dtype int32"),
    "absurd count": (lambda: timeline_members(steps=list(range(0, 4 * 65, 4)), kinds=["start"] + ["epoch"] * 64,
                                              array=np.zeros((65, N_PARAMS), np.float32)),
                     "list of 1 to 64 checkpoints"),
    "empty": (lambda: timeline_members(steps=[], kinds=[]), "list of 1 to 64 checkpoints"),
    "kinds disagree": (lambda: timeline_members(kinds=["start", "epoch"]), "lists 3 steps but 2 kinds"),
    "unknown kind": (lambda: timeline_members(kinds=["start", "halfway", "epoch"]), "'halfway' is not one of"),
    "start not first": (lambda: timeline_members(kinds=["epoch", "start", "epoch"], steps=[4, 0, 8]),
                        r"checkpoint 2 \(start, step 0\): the start must come first"),
    "start not at 0": (lambda: timeline_members(steps=[1, 2, 4]),
                       r"checkpoint 1 \(start, step 1\): the start must come first, at step 0"),
    "inside beyond epoch 1": (lambda: timeline_members(steps=[0, 6, 8]),
                              r"checkpoint 2 \(inside, step 6\): a point inside epoch 1 must be"),
    "epoch end mid-epoch": (lambda: timeline_members(steps=[0, 2, 5]),
                            r"checkpoint 3 \(epoch, step 5\): an epoch's end must be a multiple of the 4"),
    "end not last": (lambda: timeline_members(kinds=["start", "end", "epoch"]), "the end must come last"),
    "steps decrease": (lambda: timeline_members(steps=[0, 4, 2], kinds=["start", "epoch", "inside"]),
                       r"checkpoint 3 \(inside, step 2\): steps must increase, and it follows step 4"),
    "steps repeat": (lambda: timeline_members(steps=[0, 4, 4], kinds=["start", "epoch", "epoch"]),
                     "steps must increase, and it follows step 4"),
    "negative step": (lambda: timeline_members(steps=[0, -2, 4]), "step -2 is not a whole number"),
    "step beyond 10,000 epochs": (lambda: timeline_members(steps=[0, 2, 4 * 10_001]),
                                  "is not a whole number from 0 to 10,000 epochs of 4 batches"),
    "true as a step": (lambda: timeline_members(steps=[0, True, 4]), "step True is not a whole number"),
    "fractional batches": (lambda: timeline_members(batches_per_epoch=4.0), "integer from 1 to 10,000,000"),
    "no batches": (lambda: timeline_members(batches_per_epoch=0), "integer from 1 to 10,000,000, got 0"),
    "absurd batches": (lambda: timeline_members(batches_per_epoch=10**12), "integer from 1 to 10,000,000"),
    "not an object": (lambda: timeline_members(entry=[0, 2, 4]), "timeline must be an object with"),
    "extra field": (lambda: timeline_members(entry={"batches_per_epoch": 4, "steps": [0], "kinds": ["start"],
                                                    "size": 10}), "timeline must be an object with"),
}


@pytest.mark.parametrize("case", sorted(BAD_TIMELINES))
def test_a_bad_timeline_is_refused_with_its_reason_in_one_line(case: str) -> None:
    build, pattern = BAD_TIMELINES[case]
    with pytest.raises(ModelFileError, match=pattern) as caught:
        load_model(npz(build()))
    assert "\n" not in str(caught.value) and len(str(caught.value)) < 300


def test_a_run_that_ends_where_its_last_epoch_did_may_share_that_step() -> None:
    # early stopping and the divergence guard put earlier weights back after the last epoch's checkpoint
    _, meta = load_model(npz(timeline_members(kinds=["start", "epoch", "end"], steps=[0, 4, 4])))
    assert [c.kind for c in meta["timeline"]] == ["start", "epoch", "end"]


def test_a_timeline_beyond_the_byte_cap_is_refused_from_the_config_alone(monkeypatch) -> None:
    monkeypatch.setattr(run_timeline, "MAX_TIMELINE_BYTES", 2 * N_PARAMS * 4)  # two float32 copies
    with pytest.raises(ModelFileError, match=f"lists 3 checkpoints of {N_PARAMS:,} numbers, more than the"):
        load_model(npz(timeline_members()))


def test_a_float64_timeline_that_fits_only_as_float32_is_refused_by_its_size(monkeypatch) -> None:
    monkeypatch.setattr(run_timeline, "MAX_TIMELINE_BYTES", 3 * N_PARAMS * 4)
    with pytest.raises(ModelFileError, match=rf"timeline.npy claims {3 * N_PARAMS * 8 + 128:,} bytes; it may "
                                             rf"hold at most {3 * N_PARAMS * 4 + 4096:,}"):
        load_model(npz(timeline_members(np.zeros((3, N_PARAMS)))))


def timeline_bomb(claimed: int, inflated: int) -> bytes:
    """A valid file with a timeline whose member inflates to ``inflated`` bytes while its directory says
    ``claimed``; the stream starts with the genuine .npy header."""
    files = {}
    for name, value in timeline_members().items():
        raw = io.BytesIO()
        np.save(raw, value, allow_pickle=False)
        files[f"{name}.npy"] = raw.getvalue()
    header = files["timeline.npy"][:128]
    assert np.lib.format.read_magic(io.BytesIO(header)) == (1, 0)
    files["timeline.npy"] = deflate_zeros(header, inflated)
    return patch_member(zip_of(files), "timeline.npy", method=zipfile.ZIP_DEFLATED, file_size=claimed)


def test_a_timeline_that_inflates_beyond_its_directory_entry_is_refused_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.npz"
    most = run_timeline.MAX_TIMELINE_BYTES + 4096  # the most a timeline member may claim (data and header)
    path.write_bytes(timeline_bomb(claimed=most, inflated=4 * 2**30))
    line, peak = refusal_peak(path)
    assert line.startswith("REFUSED timeline.npy") and "\n" not in line  # zipfile stops at the claim: bad CRC
    assert peak < 300 * 2**20, f"refusing the 4 GB timeline took {peak / 2**20:.0f} MB"


def test_a_timeline_whose_directory_admits_gigabytes_is_refused_before_reading() -> None:
    with pytest.raises(ModelFileError, match=r"timeline.npy claims 4,294,967,294 bytes; it may hold at most "
                                             r"67,112,960"):
        load_model(timeline_bomb(claimed=0xFFFFFFFF - 1, inflated=2**20))
