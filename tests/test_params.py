"""Knobs <-> URL query parameters: round trips, and every bad or hostile value falls back with a notice."""

from __future__ import annotations

import pytest

from lab.params import (SPECS, config_to_knobs, default_knobs, knobs_from_query, knobs_to_config,
                              knobs_to_query)
from nn.presets import PRESETS


def test_defaults_make_an_empty_query_and_back() -> None:
    assert knobs_to_query(default_knobs()) == {}
    knobs, notices = knobs_from_query({})
    assert knobs == default_knobs() and notices == []


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_survives_the_round_trip_through_a_link(name: str) -> None:
    knobs = config_to_knobs(PRESETS[name])
    assert knobs_to_config(knobs) == PRESETS[name]
    back, notices = knobs_from_query(knobs_to_query(knobs))
    assert notices == []
    assert back == knobs


def test_a_changed_setup_is_restored_from_its_link() -> None:
    knobs = {**default_knobs(), "hidden": (64, 32, 16), "activation": "tanh", "lr": 0.03, "optimizer": "sgd",
             "subset": 5000, "shift": 2, "rotate": 12.5, "seed": 7, "patience": 3}
    query = knobs_to_query(knobs)
    assert query["hidden"] == "64-32-16" and query["lr"] == "0.03" and query["subset"] == "5000"
    assert knobs_from_query(query) == (knobs, [])
    config = knobs_to_config(knobs)
    assert config.model.hidden == (64, 32, 16) and config.early_stopping_patience == 3
    assert config.train_subset == 5000 and config.augment.rotate == 12.5


def test_softmax_regression_and_all_images_have_their_own_spelling() -> None:
    knobs = {**default_knobs(), "hidden": (), "subset": 0}
    query = knobs_to_query(knobs)
    assert query["hidden"] == "none"
    back, notices = knobs_from_query({**query, "subset": "all"})
    assert notices == [] and back["hidden"] == () and back["subset"] == 0


@pytest.mark.parametrize("name, value", [
    ("lr", "abc"), ("lr", "nan"), ("lr", "inf"), ("lr", "1e309"), ("lr", "-0.1"), ("lr", "0"),
    ("epochs", "2.5"), ("epochs", "0"), ("epochs", "100000000000000000000"), ("batch_size", "-4"),
    ("hidden", "0-5"), ("hidden", "99999"), ("hidden", "1-2-3-4-5-6-7"), ("hidden", "a-b"),
    ("activation", "<script>alert(1)</script>"), ("optimizer", "ADAM"), ("dropout", "0.99"),
    ("seed", "-1"), ("subset", "12"), ("noise", "2"), ("rotate", "1e3"), ("shift", "\u0000"),
    ("lr", "9" * 500),
])
def test_bad_values_fall_back_to_the_default_with_a_notice(name: str, value: str) -> None:
    knobs, notices = knobs_from_query({name: value, "epochs" if name != "epochs" else "seed": "5"})
    assert knobs[name] == default_knobs()[name]
    assert len(notices) == 1 and f"`{name}" in notices[0] and "default" in notices[0]
    assert len(notices[0]) < 300  # a hostile value is never echoed in full
    assert "\u0000" not in notices[0]
    other = "epochs" if name != "epochs" else "seed"
    assert knobs[other] == 5  # the good value next to it is kept
    knobs_to_config(knobs)  # and the result always builds


def test_repeated_parameters_use_the_last_and_unknown_ones_are_ignored() -> None:
    knobs, notices = knobs_from_query({"epochs": ["3", "4"], "utm_source": "mail"})
    assert knobs["epochs"] == 4 and notices == []


def test_values_that_do_not_fit_together_reset_everything() -> None:
    # Each value is fine alone; early stopping without a validation set is not.
    knobs, notices = knobs_from_query({"patience": "3", "val_size": "0", "epochs": "4"})
    assert knobs == default_knobs()
    assert len(notices) == 1 and "validation" in notices[0] and "defaults" in notices[0]


def test_dropout_without_hidden_layers_is_harmless() -> None:
    knobs, notices = knobs_from_query({"hidden": "none", "dropout": "0.5"})
    assert notices == [] and knobs_to_config(knobs).model.hidden == ()


def test_every_knob_has_a_spec_and_a_round_trip() -> None:
    assert set(SPECS) == set(default_knobs())
    for name, spec in SPECS.items():
        value = default_knobs()[name]
        assert spec.parse(spec.render(value)) == value, name
