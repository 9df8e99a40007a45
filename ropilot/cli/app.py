"""What every command shares: the application context (settings, language, store)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

from ropilot.core.errors import ConfigurationError
from ropilot.core.i18n import Lang
from ropilot.core.settings import Settings, load_settings
from ropilot.core.store import Store

if TYPE_CHECKING:
    from ropilot.connectors.base import Connector


@dataclass
class AppContext:
    """What every command gets: settings (loaded lazily) and the chosen language."""

    config_path: str | None
    lang_option: str | None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    @property
    def lang(self) -> Lang:
        if self.lang_option in ("ru", "en"):
            return self.lang_option  # type: ignore[return-value]
        return self.settings.lang

    def open_store(self, url: str | None = None) -> Store:
        """The configured store, migrated to the current schema."""
        return Store.open(url or self.settings.storage.url)

    def crm_connector(self, store: Store, account_id: str, purpose: str) -> Connector:
        """The CRM connector of a configured account, attached to ``store``.

        Raises:
            ConfigurationError: when the account has no CRM connector in the settings
                (``purpose`` says what needed it, e.g. ``--fix``).
        """
        try:
            account = self.settings.account(account_id)
        except ConfigurationError:
            account = None
        if account is None or account.connector != "amocrm":
            raise ConfigurationError(
                f"{purpose} needs a CRM account in the settings: account {account_id!r} has no "
                "amocrm connector configured (add it under [[accounts]] in ropilot.toml)"
            )
        from ropilot.connectors.amocrm.factory import build_amocrm

        return build_amocrm(account, store, self.settings.secret_key).attach_store(store)


pass_app = click.make_pass_decorator(AppContext)
