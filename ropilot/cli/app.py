"""What every command shares: the application context (settings, language, store)."""

from __future__ import annotations

from dataclasses import dataclass

import click

from ropilot.core.i18n import Lang
from ropilot.core.settings import Settings, load_settings
from ropilot.core.store import Store


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


pass_app = click.make_pass_decorator(AppContext)
