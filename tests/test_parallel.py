"""The thread team (nn/engine/threads.py) and the trainer's use of it."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from nn.config import ModelConfig, TrainConfig
from nn.events import BatchEvent, RunState
from nn.model import MLP
from nn.engine.step import Engine
from nn.engine.threads import MAX_TEAM, TEAM_MIN_MACS, Team, check_team_size, shares, team_pays
from nn.trainer import Trainer


def _team_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("nn-")]


def test_shares_cover_the_range_once_in_nearly_equal_parts() -> None:
    for n, parts in [(128, 2), (784, 2), (10, 3), (7, 7), (1, 2)]:
        cut = shares(n, parts)
        assert len(cut) == parts
        assert [i for s in cut for i in range(n)[s]] == list(range(n))
        sizes = [s.stop - s.start for s in cut]
        assert max(sizes) - min(sizes) <= 1


def test_run_gives_each_thread_its_index_and_waits_for_all() -> None:
    team = Team(3, name="nn-test")
    try:
        seen: dict[int, int] = {}
        barrier = threading.Barrier(3, timeout=5)  # only passes if the three jobs really run at once

        def job(k: int) -> None:
            barrier.wait()
            seen[k] = threading.get_ident()

        team.run(job)
        assert sorted(seen) == [0, 1, 2]
        assert seen[0] == threading.get_ident()  # share 0 runs on the caller
        assert len(set(seen.values())) == 3
    finally:
        team.close()


def test_an_error_in_a_helper_is_raised_by_run_and_the_team_still_works() -> None:
    team = Team(2, name="nn-test")
    try:
        def job(k: int) -> None:
            if k == 1:
                raise ArithmeticError("helper failed")

        with pytest.raises(ArithmeticError, match="helper failed"):
            team.run(job)
        done = []
        team.run(done.append)
        assert sorted(done) == [0, 1]
    finally:
        team.close()


def test_a_phased_job_runs_each_phase_on_every_member_before_the_next_begins() -> None:
    team = Team(3, name="nn-test")
    try:
        log: list[tuple[str, int]] = []
        lock = threading.Lock()

        def first(k: int, scale: float) -> tuple[float, ...]:
            with lock:
                log.append(("first", k))
            return (k * scale,)

        def second(k: int, scale: float) -> None:
            with lock:
                log.append(("second", k))

        results = team.run((first, second), 2.0)
        assert results == [(0.0,), (2.0,), (4.0,)]  # the last result that was not None, per member
        assert sorted(log[:3]) == [("first", 0), ("first", 1), ("first", 2)]
        assert sorted(log[3:]) == [("second", 0), ("second", 1), ("second", 2)]
    finally:
        team.close()


@pytest.mark.parametrize("failing", [0, 1])
def test_a_failed_phase_stops_every_member_before_the_next_and_the_team_still_works(failing: int) -> None:
    team = Team(2, name="nn-test")
    try:
        second_ran: list[int] = []

        def first(k: int) -> None:
            if k == failing:
                raise ArithmeticError(f"member {k} failed")

        with pytest.raises(ArithmeticError, match=f"member {failing} failed"):  # not the broken barrier
            team.run((first, second_ran.append))
        assert second_ran == []
        team.run((lambda k: None, second_ran.append))
        assert sorted(second_ran) == [0, 1]
    finally:
        team.close()


def test_close_ends_the_helper_threads() -> None:
    before = _team_threads()
    team = Team(2, name="nn-closing")
    assert len(_team_threads()) == len(before) + 1
    team.close()
    team.close()  # idempotent
    assert _team_threads() == before
    with pytest.raises(RuntimeError, match="closed"):
        team.run(lambda k: None)


@pytest.mark.parametrize("bad", [0, MAX_TEAM + 1, 1.5, "2", True])
def test_team_size_is_validated(bad: object) -> None:
    with pytest.raises(ValueError, match=f"threads must be an integer from 1 to {MAX_TEAM}, got {bad!r}"):
        check_team_size(bad)
    with pytest.raises(ValueError, match="threads"):
        Trainer(TrainConfig(epochs=1, val_size=0), np.zeros((4, 784), np.uint8), np.zeros(4, np.uint8), threads=bad)


def test_team_pays_only_for_a_large_layer() -> None:
    assert team_pays(128, [784 * 800, 8000])
    assert not team_pays(128, [784 * 256, 2560])
    assert team_pays(1, [TEAM_MIN_MACS]) and not team_pays(1, [TEAM_MIN_MACS - 1])


def test_eval_forward_with_a_team_matches_one_thread() -> None:
    model = MLP(ModelConfig(hidden=(300, 50)), np.random.default_rng(0))
    X = np.random.default_rng(1).random((5000, 784), dtype=np.float32)  # two blocks of rows, one partial
    team = Team(2)
    try:
        np.testing.assert_allclose(Engine(model).forward(X, team=team), model.forward(X), rtol=1e-5, atol=1e-5)
    finally:
        team.close()


def _data(n: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 784), dtype=np.uint8)
    labels = (images[:, :392].sum(axis=1) > images[:, 392:].sum(axis=1)).astype(np.uint8)  # learnable
    return images, labels


def _run(threads: int, dropout: float = 0.2) -> tuple[Trainer, list[str]]:
    # 128 x 784 x 400 multiply-adds per batch in the first layer: just above TEAM_MIN_MACS
    config = TrainConfig(model=ModelConfig(hidden=(400,), dropout=dropout), batch_size=128, epochs=2,
                         val_size=256, seed=3)
    images, labels = _data()
    names: list[str] = []

    def on_event(event: object) -> None:
        if isinstance(event, BatchEvent) and not names:
            names.extend(_team_threads())

    trainer = Trainer(config, images, labels, threads=threads, callback=on_event)
    trainer.run()
    return trainer, names


def test_a_run_with_a_team_is_reproducible_close_to_one_thread_and_leaves_nothing_behind() -> None:
    blas_before = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    (a, names_a), (b, _), (one, names_one) = _run(2), _run(2), _run(1)
    assert any(n.startswith("nn-train") for n in names_a)  # the team really took part
    assert not any(n.startswith("nn-train") for n in names_one)
    for x, y in zip(a.model.parameters(), b.model.parameters()):
        np.testing.assert_array_equal(x, y)  # same threads, same bits
    np.testing.assert_array_equal(a.batch_losses, b.batch_losses)
    # Rounding apart, the same run (weights are not compared: Adam's first steps move a weight by
    # about lr whatever its gradient's size, so a last-bit difference in a tiny gradient can flip one).
    np.testing.assert_allclose(a.batch_losses, one.batch_losses, rtol=1e-3)
    assert a.history()["val_acc"].iloc[-1] == pytest.approx(one.history()["val_acc"].iloc[-1], abs=0.02)
    assert not any(n.startswith("nn-train") for n in _team_threads())  # helpers ended with the run
    blas_after = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    assert blas_after == blas_before  # the single-thread BLAS limit was lifted


def test_a_team_run_that_diverges_keeps_the_last_good_weights() -> None:
    # With a team, a batch's weights are updated in the same job as its loss is formed, before the
    # trainer sees the loss: the divergence guard must still leave the last good weights.
    config = TrainConfig(model=ModelConfig(hidden=(400,)), optimizer="sgd", lr=50.0, batch_size=128, epochs=3,
                         val_size=0, seed=3)
    images, labels = _data()
    names: list[str] = []
    trainer = Trainer(config, images, labels, threads=2,
                      callback=lambda e: names.extend(_team_threads()) if isinstance(e, BatchEvent) else None)
    initial = [p.copy() for p in trainer.model.parameters()]
    result = trainer.run()
    assert any(n.startswith("nn-train") for n in names)  # the team took part
    assert result.state == RunState.DIVERGED and "learning rate 50" in result.reason
    assert trainer.step < 50  # before the first checkpoint: the last good weights are the initial ones
    for p, q in zip(trainer.model.parameters(), initial):
        np.testing.assert_array_equal(p, q)


def test_allow_team_false_keeps_the_run_to_one_thread_from_the_next_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    import nn.engine.threads

    jobs = []
    real_run = nn.engine.threads.Team.run
    monkeypatch.setattr(nn.engine.threads.Team, "run", lambda self, job, *args: (jobs.append(1), real_run(self, job, *args))[1])
    config = TrainConfig(model=ModelConfig(hidden=(400,)), batch_size=128, epochs=1, val_size=0, seed=3)
    images, labels = _data()
    counts: list[int] = []
    trainer: Trainer

    def on_event(event: object) -> None:
        if isinstance(event, BatchEvent):
            counts.append(len(jobs))
            if event.batch == 2:
                trainer.allow_team(False)

    trainer = Trainer(config, images, labels, threads=2, callback=on_event)
    trainer.run()
    assert counts[0] > 0 and counts[1] > counts[0]  # the team shared the first two batches
    assert counts[-1] == counts[1]  # and none after allow_team(False)
