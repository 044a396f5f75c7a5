"""The app's .streamlit/config.toml: settings the installed Streamlit knows, with the values the app needs."""

from __future__ import annotations

from pathlib import Path

import tomllib
from streamlit import config as st_config

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_every_setting_is_one_the_installed_streamlit_knows() -> None:
    settings = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    options = st_config.get_config_options()
    for section, values in settings.items():
        for name in values:
            assert f"{section}.{name}" in options, f"{section}.{name} is not a Streamlit option"


def test_the_deploy_button_is_hidden_but_the_viewers_menu_stays() -> None:
    toolbar = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["client"]["toolbarMode"]
    # "viewer" hides deploy, rerun and clear cache; "minimal" would take the whole menu (theme, print) away.
    assert toolbar == "viewer"
    assert '"viewer"' in st_config.get_config_options()["client.toolbarMode"].description
