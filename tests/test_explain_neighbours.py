"""Nearest training digits: the index finds exactly what a brute-force search over every row finds."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from lab import neighbours as lab_neighbours
from lab.neighbours import Ahead, FirstSeen, index_cost, look_up, neighbour_index, search, store_dtype
from nn.config import ModelConfig
from nn.explain.ablation import hidden_activations
from nn.explain.neighbours import CHUNK, cosine_index, nearest
from nn.model import MLP


def brute_force(rows: np.ndarray, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows = rows.astype(np.float64)
    query = np.asarray(query, dtype=np.float64).ravel()
    sims = rows @ query / (np.linalg.norm(rows, axis=1) * np.linalg.norm(query))
    order = np.argsort(-sims, kind="stable")[:k]
    return order, sims[order]


@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.uint8])
def test_the_nearest_rows_equal_a_brute_force_search(dtype) -> None:
    rng = np.random.default_rng(0)
    n = 2 * CHUNK + 123  # across chunk boundaries
    rows = (rng.random((n, 40)) * (255 if dtype == np.uint8 else 3)).astype(dtype)
    index = cosine_index(rows)
    queries = rng.random((4, 40)).astype(np.float32)
    found = nearest(index, queries, 9)
    for q, idx, sim in zip(queries, found.indices, found.similarity):
        expected_idx, expected_sim = brute_force(rows, q, 9)
        np.testing.assert_array_equal(idx, expected_idx)
        np.testing.assert_allclose(sim, expected_sim, rtol=1e-5)


def test_zero_rows_and_queries_have_no_similarity_and_k_is_bounded() -> None:
    rows = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    index = cosine_index(rows)
    found = nearest(index, np.array([[1.0, 1.0]]), 10)
    assert found.indices.shape == (1, 3) and found.indices[0, -1] == 0 and found.similarity[0, -1] == 0.0
    np.testing.assert_allclose(found.similarity[0, :2], [np.sqrt(0.5)] * 2, rtol=1e-6)
    assert found.indices[0, 0] == 1  # equal similarity: the lower row first
    assert not nearest(index, np.zeros((1, 2)), 2).similarity.any()
    with pytest.raises(ValueError, match="k must be"):
        nearest(index, np.ones((1, 2)), 0)


def test_an_index_keeps_the_rows_it_is_given_without_copying() -> None:
    images = np.random.default_rng(1).integers(0, 256, (50, 784)).astype(np.uint8)
    assert cosine_index(images).rows is images


def test_every_space_of_a_models_index_equals_brute_force_and_its_memory_is_counted() -> None:
    rng = np.random.default_rng(2)
    model = MLP(ModelConfig(hidden=(20, 12)), rng)
    images = rng.integers(0, 256, (CHUNK + 500, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, len(images))
    index = neighbour_index(model, images, labels)
    assert index.spaces == ["pixels", "hidden 1", "hidden 2"]
    x = rng.random(784).astype(np.float32)
    found = look_up(index, model, x, 6)
    X = images.reshape(len(images), -1).astype(np.float32) / 255
    acts = hidden_activations(model, X)
    assert [ix.rows.dtype for ix in index.indexes[1:]] == [np.float32, np.float32]
    spaces = [(images.reshape(len(images), -1), x)] + list(zip(acts, hidden_activations(model, x[None])))
    for f, (rows, query) in zip(found, spaces):
        expected_idx, expected_sim = brute_force(rows, query, 6)
        np.testing.assert_array_equal(f.indices, expected_idx)
        np.testing.assert_allclose(f.similarity, expected_sim, rtol=1e-5)
        np.testing.assert_array_equal(f.labels, labels[expected_idx])
    # Per model version: 4 bytes per hidden activation, and 4 per row per space for the norms.
    assert index.model_bytes == len(images) * (20 + 12) * 4 + len(images) * 3 * 4
    digit, count = found[0].majority()
    assert count == int((found[0].labels == digit).sum()) == np.bincount(found[0].labels).max()


def test_a_network_too_wide_for_the_budget_is_stored_in_float16_or_gets_pixels_only(monkeypatch) -> None:
    assert store_dtype(60_000, [256, 128]) == np.float32  # the default network: 88 MB
    assert store_dtype(60_000, [1024, 1024]) == np.float16  # the best preset: 246 MB in float16
    assert store_dtype(60_000, [4096, 4096]) is None
    rng = np.random.default_rng(3)
    model = MLP(ModelConfig(hidden=(20, 12)), rng)
    images = rng.integers(0, 256, (300, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, 300)
    monkeypatch.setattr(lab_neighbours, "INDEX_BUDGET", 300 * 32 * 2)
    half = neighbour_index(model, images, labels)
    assert [ix.rows.dtype for ix in half.indexes[1:]] == [np.float16, np.float16]
    x = rng.random(784).astype(np.float32)
    for f, rows, q in zip(look_up(half, model, x, 5)[1:], hidden_activations(model, images.reshape(300, -1) / 255.0),
                          hidden_activations(model, x[None])):
        expected_idx, _ = brute_force(rows.astype(np.float32).astype(np.float16), q.astype(np.float16), 5)
        np.testing.assert_array_equal(f.indices, expected_idx)
    monkeypatch.setattr(lab_neighbours, "INDEX_BUDGET", 10)
    pixels_only = neighbour_index(model, images, labels)
    assert pixels_only.spaces == ["pixels"] and len(look_up(pixels_only, model, x, 5)) == 1
    assert "too wide" in index_cost(pixels_only)
    flat = MLP(ModelConfig(hidden=()), rng)
    assert "no hidden layer" in index_cost(neighbour_index(flat, images, labels))


@pytest.mark.parametrize("budget, workers", [(None, 1), (None, 2), ("half", 2), ("pixels", 1)])
def test_a_search_without_an_index_finds_exactly_what_the_index_finds(monkeypatch, budget, workers) -> None:
    """The first search at a timeline point keeps no index: same neighbours, same cosines, bit for bit, over
    chunks on several threads, whichever way the index would store the activations (float32, float16, none)."""
    rng = np.random.default_rng(5)
    model = MLP(ModelConfig(hidden=(20, 12)), rng)
    images = rng.integers(0, 256, (2 * CHUNK + 300, 28, 28)).astype(np.uint8)
    images[CHUNK + 7] = images[40]  # a twin in another chunk: equal cosines, the lower row first
    labels = rng.integers(0, 10, len(images))
    if budget == "half":
        monkeypatch.setattr(lab_neighbours, "INDEX_BUDGET", len(images) * 32 * 2)
    elif budget == "pixels":
        monkeypatch.setattr(lab_neighbours, "INDEX_BUDGET", 10)
    index = neighbour_index(model, images, labels)
    for n, x in enumerate((images[40].reshape(-1) / np.float32(255), rng.random(784).astype(np.float32))):
        expected = look_up(index, model, x, 7)
        found, seconds = search(model, images, labels, x, 7, workers=workers)
        assert [f.space for f in found] == index.spaces and seconds > 0
        for f, e in zip(found, expected):
            np.testing.assert_array_equal(f.indices, e.indices)
            np.testing.assert_array_equal(f.similarity, e.similarity)
            np.testing.assert_array_equal(f.labels, e.labels)
        if n == 0:  # digit 40 and its twin top every space, in row order
            assert [list(f.indices[:2]) for f in found] == [[40, CHUNK + 7]] * len(found)


def test_first_seen_names_each_key_once_and_forgets_the_oldest() -> None:
    seen = FirstSeen(2)  # remembers the two most recent keys
    # a, a again, b, a again (now the newest), c (b is pushed out), b (new again; a out), a (new again; c out)
    assert [seen.first(k) for k in ("a", "a", "b", "a", "c", "b", "a")] == [True, False, True, False, True, True, True]
    assert not seen.first("b") and seen.first("c")


def test_work_ahead_runs_each_job_once_and_drops_what_was_not_started() -> None:
    gate, ran = threading.Event(), []

    def job(name: str):
        def run() -> str:
            gate.wait(10)
            ran.append(name)
            return name
        return run

    ahead = Ahead(size=1)
    ahead.submit("a", job("a"))  # starts at once, then waits at the gate
    ahead.submit("a", job("a again"))  # already there: not run twice
    ahead.submit("b", job("b"))  # queued; "a" leaves the kept jobs (it runs on, its result dropped)
    ahead.submit("c", job("c"))  # "b" had not started: cancelled
    assert ahead.take("b") is None and ahead.take("a") is None
    gate.set()
    assert ahead.take("c") == "c" and ahead.take("c") is None  # taken once
    ahead.pool.shutdown(wait=True)
    assert sorted(ran) == ["a", "c"]

    failing = Ahead()
    failing.submit("x", lambda: 1 / 0)
    assert failing.take("x") is None  # the page then searches itself (and meets the error there)
