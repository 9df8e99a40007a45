"""Configuration: ``ropilot.toml`` plus ``ROPILOT_*`` environment overrides.

The file is found from ``--config``, else ``ROPILOT_CONFIG``, else ``./ropilot.toml`` when it
exists; without any file the embedded defaults apply (SQLite file ``./ropilot.db``).
Environment variables override the file: ``ROPILOT_STORAGE__URL``, ``ROPILOT_LANG``,
``ROPILOT_SECRET_KEY`` (nested keys are joined with ``__``).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from ropilot.core.errors import ConfigurationError

DEFAULT_CONFIG = Path("ropilot.toml")
DEFAULT_STORAGE_URL = "sqlite:///ropilot.db"
ENV_PREFIX = "ROPILOT_"
_NOT_SETTINGS = {
    "CONFIG",
    "DISABLE_PLUGIN_AUTOLOAD",
    "PLUGINS",
    "TRACE_PLUGINS",
    "TEST_POSTGRES_URL",
}


class StorageSettings(BaseModel):
    """Where the store lives."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        default=DEFAULT_STORAGE_URL,
        description="sqlite:///path.db (default) or postgresql+psycopg://user@host:5432/db",
    )

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:", "postgres:")):
            raise ValueError("must start with sqlite:/// or postgresql+psycopg://")
        if value.startswith("postgres:"):
            value = "postgresql+psycopg:" + value.removeprefix("postgres:")
        return value


class AccountSettings(BaseModel):
    """One CRM account ropilot connects to."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    connector: str = Field(min_length=1, description="amocrm, bitrix24, bundle, or a plugin's")
    base_url: str | None = None
    name: str | None = None
    timezone: str = "Europe/Moscow"
    currency: str = "RUB"
    credentials: dict[str, SecretStr] = Field(default_factory=dict)


class Settings(BaseModel):
    """Everything ropilot reads from its configuration."""

    model_config = ConfigDict(extra="forbid")

    storage: StorageSettings = Field(default_factory=StorageSettings)
    accounts: list[AccountSettings] = Field(default_factory=list)
    lang: Literal["ru", "en"] = "ru"
    secret_key: SecretStr | None = Field(
        default=None, description="Key that encrypts CRM tokens at rest in the store."
    )
    source: str | None = Field(default=None, exclude=True, description="File read, if any.")

    @field_validator("accounts")
    @classmethod
    def _unique_ids(cls, value: list[AccountSettings]) -> list[AccountSettings]:
        seen: set[str] = set()
        for account in value:
            if account.id in seen:
                raise ValueError(f"account id {account.id!r} is used twice")
            seen.add(account.id)
        return value

    def account(self, account_id: str) -> AccountSettings:
        """The configured account with this id.

        Raises:
            ConfigurationError: when no such account is configured.
        """
        for account in self.accounts:
            if account.id == account_id:
                return account
        known = ", ".join(a.id for a in self.accounts) or "none"
        raise ConfigurationError(f"no account {account_id!r} in the configuration ({known})")


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in env.items():
        if not key.startswith(ENV_PREFIX):
            continue
        name = key.removeprefix(ENV_PREFIX)
        if name in _NOT_SETTINGS or not name:
            continue
        path = [part.lower() for part in name.split("__")]
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _describe(exc: ValidationError, origin: str) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; `ropilot init` writes a commented example)"
        lines.append(f"{origin}: key {key}: {msg}")
    return "\n".join(lines)


def load_settings(
    path: str | Path | None = None, *, env: Mapping[str, str] | None = None
) -> Settings:
    """Read the settings file (if any) and apply environment overrides.

    Args:
        path: the file given with ``--config``; None looks at ``ROPILOT_CONFIG`` then
            ``./ropilot.toml``.
        env: the environment (``os.environ`` by default).

    Raises:
        ConfigurationError: naming the file, the key and what is wrong.
    """
    environ = os.environ if env is None else env
    chosen = Path(path) if path is not None else None
    if chosen is None and environ.get("ROPILOT_CONFIG"):
        chosen = Path(environ["ROPILOT_CONFIG"])
    if chosen is None and DEFAULT_CONFIG.is_file():
        chosen = DEFAULT_CONFIG
    data: dict[str, Any] = {}
    if chosen is not None:
        if not chosen.is_file():
            raise ConfigurationError(f"{chosen}: configuration file not found")
        try:
            with chosen.open("rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{chosen}: not valid TOML: {exc}") from exc
    overrides = _env_overrides(environ)
    origin = str(chosen) if chosen else "defaults"
    if overrides:
        origin += " + ROPILOT_* environment"
    try:
        settings = Settings.model_validate(_merge(data, overrides))
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc, origin)) from exc
    settings.source = str(chosen) if chosen else None
    return settings


STARTER = """\
# ropilot configuration. Every key is optional; environment variables override this file:
# ROPILOT_STORAGE__URL, ROPILOT_LANG, ROPILOT_SECRET_KEY (nested keys joined with "__").

# Interface language of reports: "ru" or "en".
lang = "ru"

# Key that encrypts CRM tokens at rest in the store. Generate one, keep it out of git:
#   python -c "import secrets; print(secrets.token_urlsafe(32))"
# secret_key = "..."

[storage]
# Embedded default: one SQLite file (WAL mode), no server needed.
url = "sqlite:///ropilot.db"
# Scale-out: PostgreSQL (pip install 'ropilot[postgres]').
# url = "postgresql+psycopg://postgres@127.0.0.1:5432/ropilot"

# One [[accounts]] table per CRM account.
# [[accounts]]
# id = "main"                                # short id used by --account
# connector = "amocrm"                       # amocrm, bitrix24, bundle or a plugin's connector
# base_url = "https://example.amocrm.ru"     # Kommo: https://example.kommo.com
# timezone = "Europe/Moscow"
# currency = "RUB"
# [accounts.credentials]
# client_id = "..."
# client_secret = "..."
# long_lived_token = "..."
"""


def write_starter(path: Path, *, force: bool = False) -> None:
    """Write the commented starter configuration.

    Raises:
        ConfigurationError: when the file exists and ``force`` is False.
    """
    if path.exists() and not force:
        raise ConfigurationError(f"{path} already exists; pass --force to overwrite it")
    path.write_text(STARTER, encoding="utf-8")
