"""plans: versioned plan documents (plan_versions, plan_lines)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 12:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "plan_versions",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("plan", _key(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "plan", "version", name=op.f("pk_plan_versions")),
    )
    op.create_table(
        "plan_lines",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("plan", _key(128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scope", _key(128), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("metric", _key(128), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id",
            "plan",
            "version",
            "scope",
            "period",
            "metric",
            name=op.f("pk_plan_lines"),
        ),
    )


def downgrade() -> None:
    op.drop_table("plan_lines")
    op.drop_table("plan_versions")
