"""quality: findings and actions

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 04:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _key(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length=length).with_variant(
        sa.String(length=length, collation="C"), "postgresql"
    )


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
    )


def upgrade() -> None:
    op.create_table(
        "quality_findings",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("id", _key(128), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=16), nullable=False),
        sa.Column("entity_id", _key(128), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("owner_id", _key(128), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("crm_link", sa.Text(), nullable=True),
        sa.Column("details", _json(), nullable=True),
        sa.Column("regulations_version", sa.String(length=64), nullable=True),
        sa.Column("digest", sa.String(length=40), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_quality_findings")),
    )
    with op.batch_alter_table("quality_findings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quality_findings_account_id_check_resolved_at"),
            ["account_id", "check", "resolved_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_quality_findings_account_id_owner_id_resolved_at"),
            ["account_id", "owner_id", "resolved_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_quality_findings_account_id_entity_entity_id"),
            ["account_id", "entity", "entity_id"],
            unique=False,
        )
    op.create_table(
        "quality_actions",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("finding_id", _key(128), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("target_id", _key(128), nullable=True),
        sa.Column("external_id", _key(128), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("details", _json(), nullable=True),
        sa.PrimaryKeyConstraint(
            "account_id", "finding_id", "step", name=op.f("pk_quality_actions")
        ),
    )


def downgrade() -> None:
    op.drop_table("quality_actions")
    with op.batch_alter_table("quality_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quality_findings_account_id_entity_entity_id"))
        batch_op.drop_index(batch_op.f("ix_quality_findings_account_id_owner_id_resolved_at"))
        batch_op.drop_index(batch_op.f("ix_quality_findings_account_id_check_resolved_at"))
    op.drop_table("quality_findings")
