"""covering indexes for the engine's period scans

The KPI engine reads deals closed in a period (outcomes, cycle, ABC/XYZ, plan facts) and stage
changes after a moment (open pipeline at T, funnel). Indexes that also carry the columns those
queries read let SQLite and PostgreSQL answer from the index alone instead of one table lookup
per row: on a 1M-deal account the morning report went from 2.96 s to about 1.7 s on SQLite
(benchmarks/RESULTS.md). They replace the narrower (account_id, closed_at) and
(account_id, changed_at) indexes, whose queries they also serve.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 03:40:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEALS_COVER = [
    "account_id", "closed_at", "stage_id", "responsible_id", "company_id", "currency", "amount",
    "created_at",
]  # fmt: skip
CHANGES_COVER = ["account_id", "changed_at", "deal_id", "from_stage_id"]


def upgrade() -> None:
    op.drop_index(op.f("ix_deals_account_id_closed_at"), table_name="deals")
    op.create_index("ix_deals_closed_cover", "deals", DEALS_COVER)
    op.drop_index(op.f("ix_stage_changes_account_id_changed_at"), table_name="stage_changes")
    op.create_index("ix_stage_changes_changed_cover", "stage_changes", CHANGES_COVER)


def downgrade() -> None:
    op.drop_index("ix_stage_changes_changed_cover", table_name="stage_changes")
    op.create_index(
        op.f("ix_stage_changes_account_id_changed_at"),
        "stage_changes",
        ["account_id", "changed_at"],
    )
    op.drop_index("ix_deals_closed_cover", table_name="deals")
    op.create_index(op.f("ix_deals_account_id_closed_at"), "deals", ["account_id", "closed_at"])
