from __future__ import annotations

from pathlib import Path

import pytest

from ropilot.core.errors import ConfigurationError
from ropilot.core.settings import STARTER, load_settings, write_starter


def test_defaults_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(env={})
    assert settings.storage.url == "sqlite:///ropilot.db"
    assert settings.lang == "ru"
    assert settings.source is None


def test_file_then_environment_overrides(tmp_path: Path) -> None:
    path = tmp_path / "r.toml"
    path.write_text(
        'lang = "en"\n[storage]\nurl = "sqlite:///a.db"\n'
        '[[accounts]]\nid = "main"\nconnector = "amocrm"\n'
        '[accounts.credentials]\nclient_secret = "s3cret"\n',
        encoding="utf-8",
    )
    settings = load_settings(path, env={"ROPILOT_STORAGE__URL": "postgresql://u@h/db"})
    assert settings.lang == "en"
    assert settings.storage.url == "postgresql://u@h/db"
    account = settings.account("main")
    assert account.credentials["client_secret"].get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = tmp_path / "x.toml"
    path.write_text('lang = "en"\n', encoding="utf-8")
    assert load_settings(env={"ROPILOT_CONFIG": str(path)}).lang == "en"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('lang = "de"\n', "key lang: Input should be 'ru' or 'en'"),
        ("[storage]\nulr = 'x'\n", "key storage.ulr: unknown key"),
        (
            "[[accounts]]\nid = 'a b'\nconnector = 'amocrm'\n",
            "key accounts.0.id: String should match pattern",
        ),
        ("[[accounts]]\nid = 'a'\n", "key accounts.0.connector: Field required"),
        (
            "[[accounts]]\nid = 'a'\nconnector = 'x'\n[[accounts]]\nid = 'a'\nconnector = 'y'\n",
            "account id 'a' is used twice",
        ),
        ("lang = \n", "not valid TOML"),
    ],
)
def test_invalid_file_names_file_and_key(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError) as info:
        load_settings(path, env={})
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_missing_file_and_unknown_account(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="configuration file not found"):
        load_settings(tmp_path / "nope.toml", env={})
    with pytest.raises(ConfigurationError, match="no account 'x' in the configuration"):
        load_settings(env={}).account("x")


def test_starter_is_valid_and_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "ropilot.toml"
    write_starter(path)
    assert path.read_text(encoding="utf-8") == STARTER
    assert load_settings(path, env={}).storage.url == "sqlite:///ropilot.db"
    with pytest.raises(ConfigurationError, match="already exists"):
        write_starter(path)
