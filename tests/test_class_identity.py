"""A student stays the same student across a reload: a random token in the address (``?student=``) names them,
the store keeps only its hash, a made-up or hostile token is nobody, and the token is never the teacher's key."""

from __future__ import annotations

import secrets
import sqlite3

import pytest
from streamlit.testing.v1 import AppTest

from lab.app_link import settings_from_link
from lab.class_identity import QUERY_KEY, looks_like_token, new_token, token_hash
from lab.class_settings import store_path
from tests.test_app_pages import APP, start_tiny_run
from tests.test_class_page import KEY, RENAME, class_page, classroom  # noqa: F401 (fixture)

NAME_LINE = "You appear on the leaderboard as: "


def shown_name(at: AppTest) -> str:
    (line,) = [t.value for t in at.text if t.value.startswith(NAME_LINE)]
    return line[len(NAME_LINE):]


def download_choices(at: AppTest) -> list[str]:
    boxes = [b for b in at.selectbox if b.key == "class_download_pick"]
    return list(boxes[0].options) if boxes else []  # as shown (formatted)


def reload(token: str) -> AppTest:
    """What a reload is to the server: a new session on the same address."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params[QUERY_KEY] = token
    return at


def test_tokens_are_long_random_and_never_the_teachers_key(monkeypatch) -> None:
    tokens = {new_token(KEY) for _ in range(200)}
    assert len(tokens) == 200 and all(looks_like_token(t) for t in tokens)
    assert all(len(t) == 43 for t in tokens)  # 256 random bits
    clash = iter(["A" * 43, "A" * 43, "B" * 43])
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(clash))
    assert new_token("A" * 43) == "B" * 43  # even a key shaped like a token is never handed out
    for bad in ["", "x" * 42, "x" * 44, "a/b" + "x" * 40, KEY, None, ["x" * 43]]:
        assert not looks_like_token(bad)


def test_a_reload_with_the_token_is_the_same_student_with_their_runs(classroom) -> None:  # noqa: F811
    first = classroom()
    first.run()
    class_page(first)
    first.text_input(key="class_name_input").input("Ada")
    first.button(key=RENAME).click().run()
    start_tiny_run(first)
    assert first.session_state["_mnist_session"].run.join(timeout=60)
    token = first.query_params[QUERY_KEY]
    assert looks_like_token(token) and token != KEY and KEY not in str(dict(first.query_params))
    assert settings_from_link(f"http://host/train?lr=0.5&student={token}") == {"lr": "0.5"}  # a broadcast drops it
    run_id = first.session_state["_mnist_session"].run.run_id

    again = reload(token)
    again.run()
    assert not again.exception
    class_page(again)
    assert shown_name(again) == "Ada"
    assert [c for c in download_choices(again) if run_id in c] == [download_choices(again)[0]]
    assert download_choices(again)[0].startswith("(yours) Ada")
    # Renaming from the reloaded tab renames the same student (their earlier run follows the name).
    again.text_input(key="class_name_input").input("Ada L.")
    again.button(key=RENAME).click().run()
    assert list(again.dataframe[0].value["Name"]) == ["Ada L."]

    # The store holds the token's hash, never the token itself.
    with sqlite3.connect(store_path()) as db:
        hashes = [h for (h,) in db.execute("SELECT hash FROM tokens")]
    assert token_hash(token) in hashes and token not in store_path().read_bytes().decode("latin-1")


@pytest.mark.parametrize("made_up", [new_token(), KEY, "'; DROP TABLE members; --", "x" * 5000])
def test_a_made_up_token_is_a_fresh_student_who_owns_nothing(classroom, made_up: str) -> None:  # noqa: F811
    owner = classroom()
    owner.run()
    start_tiny_run(owner)
    assert owner.session_state["_mnist_session"].run.join(timeout=60)

    guesser = reload(made_up)
    guesser.run()
    assert not guesser.exception
    assert QUERY_KEY not in guesser.query_params  # dropped: this tab is nobody yet
    class_page(guesser)
    token = guesser.query_params[QUERY_KEY]
    assert looks_like_token(token) and token != made_up
    assert download_choices(guesser) == []  # the other student's run is not theirs
    assert len(guesser.dataframe[0].value) == 1  # though it is on the leaderboard
