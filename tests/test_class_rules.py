"""The class's safety rules without Streamlit: the teacher key (constant time, rate-limited), display names,
links a teacher broadcasts, and the paused queue."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import lab.class_auth as auth
from lab.app_link import settings_from_link
from lab.class_auth import KeyGuard
from lab.class_names import MAX_NAME_CHARS, clean_name, made_up_name
from lab.limiter import RunLimiter


def test_the_key_is_compared_in_constant_time(monkeypatch) -> None:
    calls = []
    real = auth.hmac.compare_digest
    monkeypatch.setattr(auth.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    guard = KeyGuard("s3cret")
    assert guard.check("s3cret", "tab").ok
    assert not guard.check("s3cre", "tab").ok
    assert calls == [(b"s3cret", b"s3cret"), (b"s3cre", b"s3cret")]


def test_wrong_keys_are_refused_then_rate_limited_per_tab() -> None:
    guard = KeyGuard("s3cret")
    for i in range(auth.MAX_FAILS_PER_CLIENT):
        result = guard.check(f"guess{i}", "tab-a", now=100.0 + i)
        assert not result.ok and result.message == "That is not the teacher key."
    limited = guard.check("s3cret", "tab-a", now=110.0)  # even the right key waits
    assert not limited.ok and limited.message.startswith("Too many wrong keys: try again in")
    assert guard.check("s3cret", "tab-b", now=110.0).ok  # another tab is not punished for it
    assert guard.check("s3cret", "tab-a", now=100.0 + auth.WINDOW_S + 5).ok  # the window passed


def test_the_server_wide_limit_stops_a_guesser_with_many_tabs() -> None:
    guard = KeyGuard("s3cret")
    for i in range(auth.MAX_FAILS_SERVER):
        guard.check("nope", f"tab-{i}", now=50.0)
    assert not guard.check("s3cret", "fresh-tab", now=51.0).ok
    assert len(guard._fails) <= auth.MAX_FAILS_SERVER  # memory bounded by recent failures


def test_no_key_configured_unlocks_nothing() -> None:
    guard = KeyGuard(None)
    assert not guard.configured
    assert not guard.check("", "tab").ok and not guard.check("anything", "tab").ok


@pytest.mark.parametrize("raw, shown", [
    ("  Ada   Lovelace ", "Ada Lovelace"),
    ("<b>bold</b> **x**", "<b>bold</b> **x**"),  # kept as text; the page never renders it as markup
    ("Ａｄａ", "Ada"),  # NFKC
    ("A\u202eB\u200bC\x00D\nE", "ABCD E"),  # bidi override, zero-width, NUL dropped; newline is a space
    ("x" * 500, "x" * MAX_NAME_CHARS),
])
def test_names_are_cleaned_and_limited(raw: str, shown: str) -> None:
    assert clean_name(raw) == shown


@pytest.mark.parametrize("raw", ["", "   ", "\u200b\u200b", "***", "\x00\x01"])
def test_a_name_without_letters_or_digits_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="at least one letter or digit"):
        clean_name(raw)


def test_made_up_names_come_from_the_passed_generator() -> None:
    assert made_up_name(np.random.default_rng(3)) == made_up_name(np.random.default_rng(3))
    assert clean_name(made_up_name(np.random.default_rng(3))) == made_up_name(np.random.default_rng(3))


def test_a_broadcast_link_keeps_only_valid_train_settings() -> None:
    assert settings_from_link("http://host:8501/train?lr=0.5&epochs=3&utm=x") == {"lr": "0.5", "epochs": "3"}
    assert settings_from_link("?hidden=64-32") == {"hidden": "64-32"}
    for bad, words in [("http://host/train", "no Train page settings"), ("?lr=-1", "lr"),
                       ("?lr=0.5&epochs=9999", "epochs"), ("x" * 3000, "at most")]:
        with pytest.raises(ValueError, match=words):
            settings_from_link(bad)


def test_a_held_limiter_starts_no_waiting_run_until_released() -> None:
    limiter = RunLimiter(2)
    paused = threading.Event()
    paused.set()
    limiter.hold = paused.is_set
    got = []
    waiter = threading.Thread(target=lambda: got.append(limiter.acquire("r1", lambda: False, poll_s=0.01)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() and limiter.counts() == (0, 1)
    paused.clear()
    waiter.join(5)
    assert got == [True] and limiter.counts() == (1, 0)
    limiter.hold = lambda: 1 / 0  # a failing hold (an unreadable store) holds nothing
    assert limiter.acquire("r2", lambda: False)
