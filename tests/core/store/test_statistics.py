"""After a bundle import the planner has statistics on PostgreSQL (without them the engine's
period queries took minutes on a freshly imported 1M-deal account); SQLite stays
statistics-free, the planner its queries are written for."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from ropilot.connectors.bundle.importer import import_bundle
from ropilot.core.store import Store

DATA = Path(__file__).parents[1] / "kpi" / "data" / "outcomes"


def test_import_refreshes_planner_statistics(store: Store) -> None:
    report = import_bundle(store, DATA)
    assert "statistics" in report.phases
    with store.engine.connect() as conn:
        if store.dialect == "postgresql":
            analysed = conn.execute(
                text(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
                    "WHERE schemaname = current_schema() AND relname = 'deals'"
                )
            ).scalar()
            assert analysed is True
        else:
            stat_tables = conn.execute(
                text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
            ).scalar()
            assert stat_tables == 0
