"""An uploaded model is read once and dropped: the widget comes back empty, the page keeps the result."""

from __future__ import annotations

import io
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest

from dashboard import uploads
from nn.config import ModelConfig
from nn.model import MLP
from nn.serialize import save_model
from tests.test_app_pages import synthetic_app


@pytest.fixture
def app():
    with synthetic_app(n_train=500, n_test=200) as make:
        yield make


def model_file() -> bytes:
    buffer = io.BytesIO()
    save_model(buffer, MLP(ModelConfig(hidden=(8,)), np.random.default_rng(0)), {"accuracy": 0.5})
    return buffer.getvalue()


def uploaders(at: AppTest) -> dict[str, object]:
    return {u.key: u.value for u in at.get("file_uploader")}


def test_an_upload_is_dropped_once_read_and_the_page_keeps_its_result(app) -> None:
    at = app().run()
    at.switch_page("app_pages/train.py").run()
    assert uploaders(at) == {"upload_model": None}
    at.file_uploader(key="upload_model").set_value(("mine.npz", model_file(), "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert uploaders(at) == {"upload_model_1": None}  # a fresh, empty widget: the file is no longer held
    assert any("Loaded mine.npz" in s.value for s in at.success)  # ...and the result is still shown
    view = at.session_state["_mnist_session"].uploaded
    assert view is not None and view.model.config.hidden == (8,)
    at.run()  # the line stays on later runs too
    assert any("Loaded mine.npz" in s.value for s in at.success)

    at.file_uploader(key="upload_model_1").set_value(("bad.npz", b"PK\x03\x04 not a model", "application/zip"))
    at.run()
    assert uploaders(at) == {"upload_model_2": None}  # a refused file is dropped too
    assert any("bad.npz is not a model" in e.value and "Nothing was changed" in e.value for e in at.error)
    assert at.session_state["_mnist_session"].uploaded is view  # nothing was changed


def test_drop_upload_deletes_the_file_from_streamlits_store(monkeypatch) -> None:
    store = MemoryUploadedFileManager("/upload")
    record = UploadedFileRec(file_id="f1", name="big.npz", type="application/zip", data=b"x" * 1000)
    store.add_file("s1", record)
    monkeypatch.setattr(uploads, "get_script_run_ctx", lambda: SimpleNamespace(session_id="s1",
                                                                                uploaded_file_mgr=store))
    monkeypatch.setattr(uploads.st, "session_state", {})
    assert uploads.uploader_key("upload_model") == "upload_model"
    uploads.drop_upload("upload_model", UploadedFile(record, None))
    assert store.get_files("s1", ["f1"]) == []
    assert uploads.uploader_key("upload_model") == "upload_model_1"
