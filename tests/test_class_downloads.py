"""Downloading class runs: your own finished runs always; another student's only while the teacher's switch
(in the class store) is on, checked by the server when the button is pressed, not when the page was drawn."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.media_file_storage import MediaFileStorageError
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import app_test as app_test_module

from lab.class_settings import models_path, store_path
from lab.class_share import DOWNLOADS, ShareRefused, can_download, downloadable, model_path, shared_model_bytes
from lab.class_store import ClassStore
from nn.serialize import load_model
from tests.test_class_page import KEY, class_page, classroom, unlock  # noqa: F401 (fixture)
from tests.test_class_store import row

TOGGLE = "class_downloads_toggle"


@pytest.fixture
def managers(monkeypatch) -> list[MediaFileManager]:
    """The media file manager of each AppTest run (the one its deferred downloads are registered with)."""
    made: list[MediaFileManager] = []

    class Recording(MediaFileManager):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", Recording)
    return made


def choices(at: AppTest) -> list[str]:
    boxes = [b for b in at.selectbox if b.key == "class_download_pick"]
    return list(boxes[0].options) if boxes else []


def press_download(at: AppTest, managers: list[MediaFileManager]) -> tuple:
    """The run download button of ``at``'s last run: (its media manager, file id); the file is made by the
    server when ``fetch`` runs, as on a click."""
    (button,) = [e for e in at.get("download_button") if e.proto.label == "Download .npz"]
    assert button.proto.deferred_file_id, "the file must be made at the click, not sent with the page"
    return managers[-1], button.proto.deferred_file_id


def fetch(handle: tuple) -> bytes:
    manager, file_id = handle
    url = manager.execute_deferred(file_id)
    return manager._storage.get_file(url.rsplit("/", 1)[1]).content


def trained(classroom) -> tuple[AppTest, str]:  # noqa: F811
    from tests.test_app_pages import start_tiny_run

    at = classroom()
    at.run()
    start_tiny_run(at)
    run = at.session_state["_mnist_session"].run
    assert run.join(timeout=60)  # the run-end hook has recorded it and kept its file
    return at, run.run_id


def test_without_the_switch_a_student_gets_only_their_own_runs(classroom, managers) -> None:  # noqa: F811
    ada, ada_run = trained(classroom)
    class_page(ada)
    assert len(choices(ada)) == 1 and choices(ada)[0].startswith("(yours)") and ada_run in choices(ada)[0]
    model, meta = load_model(fetch(press_download(ada, managers)))
    assert np.array_equal(model.weights[0], ada.session_state["_mnist_session"].run.model_copy()[0].weights[0])
    assert meta["dataset"] == "mnist" and "member" not in str(meta)
    bob = classroom()
    bob.run()
    class_page(bob)
    assert choices(bob) == [] and len(bob.dataframe[0].value) == 1
    assert any("the teacher can allow downloading everyone's" in c.value for c in bob.caption)
    assert TOGGLE not in [t.key for t in bob.toggle]  # no switch for a student


def test_the_teachers_switch_lets_students_download_others_runs_until_it_is_off(classroom, managers) -> None:  # noqa: F811
    ada, ada_run = trained(classroom)
    teacher, bob = classroom(), classroom()
    teacher.run()
    class_page(teacher)
    unlock(teacher, KEY)
    assert teacher.toggle(key=TOGGLE).value is False
    assert [c for c in choices(teacher) if ada_run in c]  # the teacher has every run, switch or not
    teacher.toggle(key=TOGGLE).set_value(True).run()
    assert ClassStore(store_path()).settings()[DOWNLOADS] is True  # in the store: every server process sees it
    bob.run()
    class_page(bob)
    (choice,) = choices(bob)
    assert ada_run in choice and not choice.startswith("(yours)")
    handle = press_download(bob, managers)
    model, _ = load_model(fetch(handle))
    assert np.array_equal(model.weights[0], ada.session_state["_mnist_session"].run.model_copy()[0].weights[0])
    # The teacher turns it off: the button Bob still has is refused by the server when pressed.
    teacher.toggle(key=TOGGLE).set_value(False).run()
    with pytest.raises(MediaFileStorageError, match="has not allowed"):
        fetch(handle)
    time.sleep(1.1)  # the settings cache's time to live in this process
    class_page(bob)
    assert choices(bob) == []


def test_the_rule_on_the_server(tmp_path: Path) -> None:
    store = ClassStore(tmp_path / "class.sqlite3")
    folder = tmp_path / "models"
    folder.mkdir()
    store.record_run(row("r1", member="ada"))
    store.record_run(row("r2", member="ada", state="running", test_acc=None))
    for run_id in ("r1", "r2"):
        model_path(folder, run_id).write_bytes(b"model " + run_id.encode())
    assert shared_model_bytes(store, folder, "r1", "ada") == b"model r1"  # your own, switch off
    with pytest.raises(ShareRefused, match="not allowed"):
        shared_model_bytes(store, folder, "r1", "bob")
    assert shared_model_bytes(store, folder, "r1", "teacher-tab", teacher=True) == b"model r1"
    store.set_setting(DOWNLOADS, True)
    assert shared_model_bytes(store, folder, "r1", "bob") == b"model r1"
    with pytest.raises(ShareRefused, match="not finished"):
        shared_model_bytes(store, folder, "r2", "bob")  # still training, even for its owner
    with pytest.raises(ShareRefused, match="not finished"):
        shared_model_bytes(store, folder, "r2", "ada")
    for hostile in ("../class", "r1/../../x", "", "nope"):
        with pytest.raises(ShareRefused, match="not a run of this class"):
            shared_model_bytes(store, folder, hostile, "ada")
    store.set_setting(DOWNLOADS, "yes")  # only a real True opens it
    with pytest.raises(ShareRefused):
        shared_model_bytes(store, folder, "r1", "bob")
    rows = store.runs()
    assert [r.run_id for r in downloadable(rows, "bob", False, folder)] == []
    assert [r.run_id for r in downloadable(rows, "ada", False, folder)] == ["r1"]
    assert not can_download(replace(rows[0], epochs_done=0, state="stopped"), "ada", True)  # stopped before learning


def test_a_big_network_is_not_kept_and_the_folder_is_bounded(tmp_path: Path, monkeypatch) -> None:
    import lab.class_share as share
    from nn.config import ModelConfig, TrainConfig
    from nn.model import MLP

    class Run:  # what keep_model reads of a TrainingRun
        def __init__(self, run_id: str, hidden: tuple) -> None:
            self.run_id, self.trainer = run_id, None
            self.config = TrainConfig(model=ModelConfig(hidden=hidden))
            self.model = MLP(self.config.model, np.random.default_rng(0))

    big = Run("big", (4096, 4096))
    assert share.keep_model(tmp_path, big, big.model, "mnist") is None and not list(tmp_path.iterdir())
    monkeypatch.setattr(share, "MAX_FILES", 3)
    for i in range(5):
        small = Run(f"s{i}", (8,))
        assert share.keep_model(tmp_path, small, small.model, "fashion") == tmp_path / f"s{i}.npz"
    assert len(list(tmp_path.glob("*.npz"))) == 3
    size = (tmp_path / "s4.npz").stat().st_size
    monkeypatch.setattr(share, "MAX_BYTES", 2 * size)  # the disk cap comes first now: the newest two stay
    newest = Run("s5", (8,))
    share.keep_model(tmp_path, newest, newest.model, "mnist")
    assert sorted(p.name for p in tmp_path.glob("*.npz")) == ["s4.npz", "s5.npz"]
    assert models_path().name == "class-models"
