"""Uploading a model: the whole page agrees at once, and every accuracy says which digits it was measured on."""

from __future__ import annotations

import io

from dashboard.train_view import model_file
from lab.saved_model import accuracy_summary
from tests.test_app_pages import app, run_until_done, session, start_tiny_run  # noqa: F401 (app is a fixture)


def test_each_recorded_accuracy_names_its_split() -> None:
    assert accuracy_summary({"test_accuracy": 0.982, "val_accuracy": 0.98444}) == (
        "test accuracy 98.20%, validation accuracy 98.44%")
    assert accuracy_summary({"val_accuracy": 0.9844, "accuracy": None}) == "validation accuracy 98.44%"
    assert accuracy_summary({"accuracy": 0.5}) == "accuracy 50.00% (the file does not say on which digits)"
    # the CLI's file: "accuracy" is filled in from test_accuracy on loading, and said once, as test accuracy
    assert accuracy_summary({"accuracy": 0.97, "test_accuracy": 0.97}) == "test accuracy 97.00%"
    for junk in ({}, {"val_accuracy": "high"}, {"test_accuracy": float("nan")}, {"accuracy": True},
                 {"val_accuracy": 7.0}):
        assert accuracy_summary(junk) == ""


def downloaded_after_training(at) -> bytes:
    start_tiny_run(at, epochs=2)
    run_until_done(at)
    return model_file(session(at)._view)  # what the Download button serves


def test_an_upload_updates_status_buttons_and_sidebar_in_the_same_run(app) -> None:  # noqa: F811
    at = app().run()
    data = downloaded_after_training(at)
    at.button(key="btn_reset").click().run()
    assert at.button(key="btn_reset").disabled and "no model yet" in at.sidebar.caption[0].value
    at.file_uploader(key="upload_model").set_value(("run.npz", data, "application/octet-stream"))
    at.run()  # one run, no further interaction
    successes = " ".join(s.value for s in at.success)
    assert "Loaded run.npz" in successes and "validation accuracy" in successes, successes
    assert "Using the uploaded model" in successes  # the status above the charts
    assert not any("press **Start**" in i.value for i in at.info)
    assert not at.button(key="btn_reset").disabled
    assert at.get("download_button") and at.get("download_button")[0].proto.disabled is False
    assert "uploaded model loaded" in at.sidebar.caption[0].value
    assert "validation accuracy" in session(at).uploaded.meta["summary"]


def test_a_cli_model_says_test_and_validation_accuracy(app) -> None:  # noqa: F811
    from nn.serialize import save_model

    at = app().run()
    start_tiny_run(at, epochs=1)
    run_until_done(at)
    buffer = io.BytesIO()
    save_model(buffer, session(at).run.model_copy()[0], {"test_accuracy": 0.9712, "val_accuracy": 0.9733})
    at.button(key="btn_reset").click().run()
    at.file_uploader(key="upload_model").set_value(("cli.npz", buffer.getvalue(), "application/octet-stream"))
    at.run()
    text = " ".join(s.value for s in at.success)
    assert "test accuracy 97.12%, validation accuracy 97.33%" in text, text
