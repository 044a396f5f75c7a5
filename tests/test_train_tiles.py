"""The Train page's tiles: four of them (time left is on the progress line), each naming its split."""

from __future__ import annotations

from tests.test_app_pages import app, run_until_done, session  # noqa: F401 (app is a fixture)


def test_without_a_validation_set_the_tiles_and_sidebar_say_train(app) -> None:  # noqa: F811
    at = app()
    for key, value in {"epochs": "2", "subset": "500", "val_size": "0", "hidden": "16"}.items():
        at.query_params[key] = value
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.button(key="btn_start").click().run()
    run_until_done(at)
    assert session(at).run.config.val_size == 0
    labels = [m.label for m in at.metric]
    assert labels == ["Train accuracy", "Train loss", "Epoch", "Samples/s"], labels
    assert at.metric[0].value.endswith("%")
    assert "train accuracy" in " ".join(c.value for c in at.sidebar.caption)
    assert any("· done" in p.proto.text for p in at.get("progress"))
