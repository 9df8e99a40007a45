"""routing: sequence, fairness levels, counters, load, snapshots, decisions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 04:00:00.000000
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0006"
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
        "routing_seq",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_routing_seq")),
    )
    op.create_table(
        "routing_levels",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("pool", _key(128), nullable=False),
        sa.Column("manager_id", _key(128), nullable=False),
        sa.Column("level", sa.Float(precision=53), nullable=True),
        sa.Column("last_assigned_at", sa.BigInteger(), nullable=True),
        sa.Column("assigned_total", sa.Integer(), nullable=False),
        sa.Column("away", sa.Boolean(), nullable=False),
        sa.Column("catch_up", sa.Boolean(), nullable=False),
        sa.Column("catch_up_day", sa.String(length=16), nullable=True),
        sa.Column("catch_up_used", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "pool", "manager_id", name=op.f("pk_routing_levels")),
    )
    op.create_table(
        "routing_counters",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("pool", _key(128), nullable=False),
        sa.Column("counter", sa.String(length=160), nullable=False),
        sa.Column("manager_id", _key(128), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "account_id", "pool", "counter", "manager_id", name=op.f("pk_routing_counters")
        ),
    )
    op.create_table(
        "routing_load",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("manager_id", _key(128), nullable=False),
        sa.Column("open_deals", sa.Integer(), nullable=False),
        sa.Column("open_tasks", sa.Integer(), nullable=False),
        sa.Column("rebuilt_at", sa.BigInteger(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "manager_id", name=op.f("pk_routing_load")),
    )
    op.create_table(
        "routing_snapshots",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("id", _key(128), nullable=False),
        sa.Column("pool", _key(128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_routing_snapshots")),
    )
    op.create_table(
        "routing_decisions",
        sa.Column("account_id", _key(64), nullable=False),
        sa.Column("id", _key(128), nullable=False),
        sa.Column("deal_id", _key(128), nullable=True),
        sa.Column("pool", _key(128), nullable=True),
        sa.Column("manager_id", _key(128), nullable=True),
        sa.Column("previous_manager_id", _key(128), nullable=True),
        sa.Column("rule", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("strategy", sa.String(length=64), nullable=False),
        sa.Column("regulations_version", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.BigInteger(), nullable=False),
        sa.Column("explanation", _json(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("applied_at", sa.BigInteger(), nullable=True),
        sa.Column("apply_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_routing_decisions")),
    )
    for cols in (
        ("account_id", "deal_id", "decided_at"),
        ("account_id", "pool", "decided_at"),
        ("account_id", "manager_id", "decided_at"),
    ):
        op.create_index(
            op.f("ix_routing_decisions_" + "_".join(cols)), "routing_decisions", list(cols)
        )


def downgrade() -> None:
    op.drop_table("routing_decisions")
    op.drop_table("routing_snapshots")
    op.drop_table("routing_load")
    op.drop_table("routing_counters")
    op.drop_table("routing_levels")
    op.drop_table("routing_seq")
