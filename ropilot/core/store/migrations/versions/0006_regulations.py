"""regulations: versions of the sales regulations

Every routing decision and data-quality finding records the version (content hash) of the
regulations it was made under; this table keeps each version's validated rules so a stored
decision can be replayed under them (``ropilot.core.regulations.record_version``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regulation_versions",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "content",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=False,
        ),
        sa.Column("first_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "version", name=op.f("pk_regulation_versions")),
    )


def downgrade() -> None:
    op.drop_table("regulation_versions")
