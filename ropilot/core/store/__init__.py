"""The store: tables, upserts, bookmarks and migrations (SQLite by default, PostgreSQL)."""

from ropilot.core.store.store import ENTITY_ORDER, Store

__all__ = ["ENTITY_ORDER", "Store"]
