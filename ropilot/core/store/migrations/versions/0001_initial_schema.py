"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-24 00:58:30.999376
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column(
            "id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
    )
    op.create_table(
        "activities",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column(
            "manager_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column(
            "deal_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "contact_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "company_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("direction", sa.String(length=3), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_account_id_deal_id_at"),
            ["account_id", "deal_id", "at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_activities_account_id_manager_id_at"),
            ["account_id", "manager_id", "at"],
            unique=False,
        )

    op.create_table(
        "assignments",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "deal_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "from_manager_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "to_manager_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_assignments")),
    )
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_assignments_account_id_deal_id_changed_at"),
            ["account_id", "deal_id", "changed_at"],
            unique=False,
        )

    op.create_table(
        "companies",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("inn", sa.String(length=32), nullable=True),
        sa.Column(
            "phones",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "emails",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "responsible_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("segment", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_companies")),
    )
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_companies_account_id_inn"), ["account_id", "inn"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_companies_account_id_responsible_id"),
            ["account_id", "responsible_id"],
            unique=False,
        )

    op.create_table(
        "contacts",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "phones",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "emails",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "company_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "responsible_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("inn", sa.String(length=32), nullable=True),
        sa.Column("segment", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_contacts_account_id_company_id"),
            ["account_id", "company_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_contacts_account_id_responsible_id"),
            ["account_id", "responsible_id"],
            unique=False,
        )

    op.create_table(
        "custom_field_defs",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=True),
        sa.Column(
            "required_stage_ids",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "entity", "id", name=op.f("pk_custom_field_defs")),
    )
    op.create_table(
        "deals",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "pipeline_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "stage_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "responsible_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("amount", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column(
            "contact_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "company_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("product", sa.Text(), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("expected_close_at", sa.Date(), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_deals")),
    )
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_closed_at"), ["account_id", "closed_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_company_id"), ["account_id", "company_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_contact_id"), ["account_id", "contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_created_at"), ["account_id", "created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_pipeline_id"),
            ["account_id", "pipeline_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_responsible_id"),
            ["account_id", "responsible_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_stage_id"), ["account_id", "stage_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_deals_account_id_updated_at"), ["account_id", "updated_at"], unique=False
        )

    op.create_table(
        "events",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=32), nullable=False),
        sa.Column(
            "entity_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("occurred_at", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "payload",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_events")),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_events_account_id_entity_entity_id_occurred_at"),
            ["account_id", "entity", "entity_id", "occurred_at"],
            unique=False,
        )

    op.create_table(
        "managers",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "team_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("hired_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "working_schedule",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "absences",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "specialisations",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_managers")),
    )
    with op.batch_alter_table("managers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_managers_account_id_team_id"), ["account_id", "team_id"], unique=False
        )

    op.create_table(
        "pipelines",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_pipelines")),
    )
    op.create_table(
        "stage_changes",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "deal_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "from_stage_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "to_stage_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("changed_at", sa.BigInteger(), nullable=False),
        sa.Column(
            "changed_by",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_stage_changes")),
    )
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stage_changes_account_id_changed_at"),
            ["account_id", "changed_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_stage_changes_account_id_deal_id_changed_at"),
            ["account_id", "deal_id", "changed_at"],
            unique=False,
        )

    op.create_table(
        "stages",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "pipeline_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_stages")),
    )
    with op.batch_alter_table("stages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stages_account_id_pipeline_id_sort"),
            ["account_id", "pipeline_id", "sort"],
            unique=False,
        )

    op.create_table(
        "sync_bookmarks",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "stream", name=op.f("pk_sync_bookmarks")),
    )
    op.create_table(
        "tasks",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "responsible_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=False),
        sa.Column("completed_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "deal_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "contact_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "company_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tasks_account_id_deal_id"), ["account_id", "deal_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_tasks_account_id_responsible_id_due_at"),
            ["account_id", "responsible_id", "due_at"],
            unique=False,
        )

    op.create_table(
        "teams",
        sa.Column(
            "account_id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column(
            "parent_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "head_id",
            sa.String(length=128).with_variant(sa.String(length=128, collation="C"), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "custom_fields",
            sa.JSON(none_as_null=True).with_variant(
                postgresql.JSONB(none_as_null=True, astext_type=sa.Text()), "postgresql"
            ),
            nullable=True,
        ),
        sa.PrimaryKeyConstraint("account_id", "id", name=op.f("pk_teams")),
    )


def downgrade() -> None:
    op.drop_table("teams")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_account_id_responsible_id_due_at"))
        batch_op.drop_index(batch_op.f("ix_tasks_account_id_deal_id"))

    op.drop_table("tasks")
    op.drop_table("sync_bookmarks")
    with op.batch_alter_table("stages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stages_account_id_pipeline_id_sort"))

    op.drop_table("stages")
    with op.batch_alter_table("stage_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stage_changes_account_id_deal_id_changed_at"))
        batch_op.drop_index(batch_op.f("ix_stage_changes_account_id_changed_at"))

    op.drop_table("stage_changes")
    op.drop_table("pipelines")
    with op.batch_alter_table("managers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_managers_account_id_team_id"))

    op.drop_table("managers")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_events_account_id_entity_entity_id_occurred_at"))

    op.drop_table("events")
    with op.batch_alter_table("deals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deals_account_id_updated_at"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_stage_id"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_responsible_id"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_pipeline_id"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_contact_id"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_company_id"))
        batch_op.drop_index(batch_op.f("ix_deals_account_id_closed_at"))

    op.drop_table("deals")
    op.drop_table("custom_field_defs")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_account_id_responsible_id"))
        batch_op.drop_index(batch_op.f("ix_contacts_account_id_company_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companies_account_id_responsible_id"))
        batch_op.drop_index(batch_op.f("ix_companies_account_id_inn"))

    op.drop_table("companies")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignments_account_id_deal_id_changed_at"))

    op.drop_table("assignments")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_account_id_manager_id_at"))
        batch_op.drop_index(batch_op.f("ix_activities_account_id_deal_id_at"))

    op.drop_table("activities")
    op.drop_table("accounts")
