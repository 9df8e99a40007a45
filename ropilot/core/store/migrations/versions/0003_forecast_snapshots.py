"""forecast snapshots: weighted and run-rate forecasts of a period taken on a day

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forecast_snapshots",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("period_label", sa.String(length=64), nullable=False),
        sa.Column("as_of_day", sa.Date(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column(
            "manager_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("period_first_day", sa.Date(), nullable=False),
        sa.Column("period_end_day", sa.Date(), nullable=False),
        sa.Column("as_of", sa.BigInteger(), nullable=False),
        sa.Column("open_deals", sa.Integer(), nullable=False),
        sa.Column("pipeline_amount", sa.BigInteger(), nullable=False),
        sa.Column("weighted", sa.BigInteger(), nullable=False),
        sa.Column("actual_so_far", sa.BigInteger(), nullable=False),
        sa.Column("run_rate", sa.BigInteger(), nullable=True),
        sa.Column("elapsed_working_days", sa.Integer(), nullable=False),
        sa.Column("working_days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id",
            "period_label",
            "as_of_day",
            "scope",
            "manager_id",
            name=op.f("pk_forecast_snapshots"),
        ),
    )


def downgrade() -> None:
    op.drop_table("forecast_snapshots")
