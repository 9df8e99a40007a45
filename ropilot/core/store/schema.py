"""The store's tables (SQLAlchemy Core).

Every entity table is keyed by ``(account_id, id)``, the id being the external id the source
CRM uses. References between entities are plain string columns holding external ids: CRMs
send records in any order, so the store does not enforce foreign keys; the bundle importer
and the data-quality checks do.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import JSONB

from ropilot.core.store.types import Money, UtcTimestamp

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# Ids compare byte-wise on PostgreSQL (COLLATE "C"): several times faster B-tree work than a
# locale collation, and ids need no linguistic order. SQLite compares bytes already.
Key = String(128).with_variant(String(128, collation="C"), "postgresql")
AccountKey = String(64).with_variant(String(64, collation="C"), "postgresql")

Json = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")


def _key() -> list[Column[str]]:
    return [
        Column("account_id", AccountKey, primary_key=True),
        Column("id", Key, primary_key=True),
    ]


def _ref(name: str) -> Column[str]:
    return Column(name, Key)


accounts = Table(
    "accounts",
    metadata,
    Column("id", AccountKey, primary_key=True),
    Column("name", Text, nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
)

teams = Table(
    "teams",
    metadata,
    *_key(),
    Column("name", Text, nullable=False),
    _ref("parent_id"),
    _ref("head_id"),
    Column("custom_fields", Json),
)

managers = Table(
    "managers",
    metadata,
    *_key(),
    Column("name", Text, nullable=False),
    Column("email", Text),
    Column("active", Boolean, nullable=False, default=True),
    _ref("team_id"),
    Column("role", String(16), nullable=False, default="manager"),
    Column("timezone", String(64)),
    Column("hired_at", UtcTimestamp),
    Column("working_schedule", Json),
    Column("absences", Json),
    Column("specialisations", Json),
    Column("custom_fields", Json),
    Index(None, "account_id", "team_id"),
)

pipelines = Table(
    "pipelines",
    metadata,
    *_key(),
    Column("name", Text, nullable=False),
    Column("custom_fields", Json),
)

stages = Table(
    "stages",
    metadata,
    *_key(),
    _ref("pipeline_id"),
    Column("name", Text, nullable=False),
    Column("sort", Integer, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("probability", Integer),
    Column("custom_fields", Json),
    Index(None, "account_id", "pipeline_id", "sort"),
)

companies = Table(
    "companies",
    metadata,
    *_key(),
    Column("name", Text, nullable=False),
    Column("inn", String(32)),
    Column("phones", Json),
    Column("emails", Json),
    _ref("responsible_id"),
    Column("segment", Text),
    Column("region", Text),
    Column("created_at", UtcTimestamp),
    Column("custom_fields", Json),
    Index(None, "account_id", "inn"),
    Index(None, "account_id", "responsible_id"),
)

contacts = Table(
    "contacts",
    metadata,
    *_key(),
    Column("name", Text, nullable=False),
    Column("phones", Json),
    Column("emails", Json),
    _ref("company_id"),
    _ref("responsible_id"),
    Column("inn", String(32)),
    Column("segment", Text),
    Column("region", Text),
    Column("created_at", UtcTimestamp),
    Column("custom_fields", Json),
    Index(None, "account_id", "company_id"),
    Index(None, "account_id", "responsible_id"),
)

deals = Table(
    "deals",
    metadata,
    *_key(),
    Column("name", Text),
    _ref("pipeline_id"),
    _ref("stage_id"),
    _ref("responsible_id"),
    Column("amount", Money),
    Column("currency", String(3)),
    _ref("contact_id"),
    _ref("company_id"),
    Column("source", Text),
    Column("product", Text),
    Column("region", Text),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("updated_at", UtcTimestamp),
    Column("closed_at", UtcTimestamp),
    Column("expected_close_at", Date),
    Column("loss_reason", Text),
    Column("custom_fields", Json),
    Index(None, "account_id", "responsible_id"),
    Index(None, "account_id", "stage_id"),
    Index(None, "account_id", "pipeline_id"),
    # Covers the period scans of the KPI engine (migration 0005).
    Index(
        "ix_deals_closed_cover",
        "account_id",
        "closed_at",
        "stage_id",
        "responsible_id",
        "company_id",
        "currency",
        "amount",
        "created_at",
    ),
    Index(None, "account_id", "updated_at"),
    Index(None, "account_id", "created_at"),
    Index(None, "account_id", "company_id"),
    Index(None, "account_id", "contact_id"),
)

stage_changes = Table(
    "stage_changes",
    metadata,
    *_key(),
    _ref("deal_id"),
    _ref("from_stage_id"),
    _ref("to_stage_id"),
    Column("changed_at", UtcTimestamp, nullable=False),
    _ref("changed_by"),
    Column("custom_fields", Json),
    Index(None, "account_id", "deal_id", "changed_at"),
    Index("ix_stage_changes_changed_cover", "account_id", "changed_at", "deal_id", "from_stage_id"),
)

assignments = Table(
    "assignments",
    metadata,
    *_key(),
    _ref("deal_id"),
    _ref("from_manager_id"),
    _ref("to_manager_id"),
    Column("changed_at", UtcTimestamp, nullable=False),
    Column("custom_fields", Json),
    Index(None, "account_id", "deal_id", "changed_at"),
)

activities = Table(
    "activities",
    metadata,
    *_key(),
    Column("type", String(16), nullable=False),
    _ref("manager_id"),
    Column("at", UtcTimestamp, nullable=False),
    _ref("deal_id"),
    _ref("contact_id"),
    _ref("company_id"),
    Column("direction", String(3)),
    Column("duration_s", Integer),
    Column("result", Text),
    Column("custom_fields", Json),
    Index(None, "account_id", "manager_id", "at"),
    Index(None, "account_id", "deal_id", "at"),
)

tasks = Table(
    "tasks",
    metadata,
    *_key(),
    _ref("responsible_id"),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("due_at", UtcTimestamp, nullable=False),
    Column("completed_at", UtcTimestamp),
    _ref("deal_id"),
    _ref("contact_id"),
    _ref("company_id"),
    Column("type", Text),
    Column("text", Text),
    Column("custom_fields", Json),
    Index(None, "account_id", "responsible_id", "due_at"),
    Index(None, "account_id", "deal_id"),
)

events = Table(
    "events",
    metadata,
    *_key(),
    Column("connector", String(64), nullable=False),
    Column("entity", String(32), nullable=False),
    _ref("entity_id"),
    Column("action", String(32), nullable=False),
    Column("occurred_at", UtcTimestamp, nullable=False),
    Column("received_at", UtcTimestamp),
    Column("payload", Json),
    Index(None, "account_id", "entity", "entity_id", "occurred_at"),
)

custom_field_defs = Table(
    "custom_field_defs",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("entity", String(32), primary_key=True),
    Column("id", Key, primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", String(32)),
    Column("required_stage_ids", Json),
)

sync_bookmarks = Table(
    "sync_bookmarks",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)

ENTITY_TABLES: dict[str, Table] = {
    t.name: t
    for t in (
        teams,
        managers,
        pipelines,
        stages,
        companies,
        contacts,
        deals,
        stage_changes,
        assignments,
        activities,
        tasks,
        events,
    )
}
"""Tables keyed by ``(account_id, id)``, by name; the keys match ``models.ENTITY_MODELS``."""

# -- connector state ------------------------------------------------------------------------

rate_limits = Table(
    "rate_limits",
    metadata,
    Column("key", Key, primary_key=True),
    Column("next_free_at", BigInteger, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
)
"""Client-side rate limiter state shared by every process of a deployment (one row per key).

``next_free_at`` is the next free request slot in microseconds since the epoch (UTC); see
``ropilot.connectors.ratelimit``.
"""

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("access_token_enc", Text, nullable=False),
    Column("refresh_token_enc", Text),
    Column("expires_at", UtcTimestamp),
    Column("long_lived", Boolean, nullable=False),
    Column("updated_at", UtcTimestamp, nullable=False),
    Column("version", Integer, nullable=False),
)
"""OAuth2 tokens per account, Fernet-encrypted at rest; see ``ropilot.connectors.tokens``."""

# -- forecast snapshots (ropilot.core.kpi.snapshots) -------------------------------------------

forecast_snapshots = Table(
    "forecast_snapshots",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("period_label", String(64), primary_key=True),
    Column("as_of_day", Date, primary_key=True),
    Column("scope", String(16), primary_key=True),
    Column("manager_id", Key, primary_key=True),
    Column("period_first_day", Date, nullable=False),
    Column("period_end_day", Date, nullable=False),
    Column("as_of", UtcTimestamp, nullable=False),
    Column("open_deals", Integer, nullable=False),
    Column("pipeline_amount", Money, nullable=False),
    Column("weighted", Money, nullable=False),
    Column("actual_so_far", Money, nullable=False),
    Column("run_rate", Money),
    Column("elapsed_working_days", Integer, nullable=False),
    Column("working_days", Integer, nullable=False),
)
"""Forecasts of a period as taken on a day, per manager (``scope`` ``manager``; ``manager_id``
``""`` for deals without a responsible) and for the company (``scope`` ``company``, ``manager_id``
``""``); account-currency money. See ``ropilot.core.kpi.snapshots``."""

# -- plans (ropilot.core.plans) ---------------------------------------------------------------

plan_versions = Table(
    "plan_versions",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("plan", Key, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("author", Text),
    Column("comment", Text),
)
"""One row per saved version of a named plan; rows are never updated (see ``core.plans``)."""

plan_lines = Table(
    "plan_lines",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("plan", Key, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("scope", Key, primary_key=True),
    Column("period", String(32), primary_key=True),
    Column("metric", Key, primary_key=True),
    Column("value", Money, nullable=False),
)
"""The lines (scope × period × metric → value) of each plan version, immutable."""

# -- data quality (ropilot.core.quality) ----------------------------------------------------

quality_findings = Table(
    "quality_findings",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("id", Key, primary_key=True),
    Column("check", String(64), nullable=False),
    Column("entity", String(16), nullable=False),
    Column("entity_id", Key, nullable=False),
    Column("severity", String(8), nullable=False),
    Column("owner_id", Key),
    Column("message", Text, nullable=False),
    Column("crm_link", Text),
    Column("details", Json),
    Column("regulations_version", String(64)),
    Column("digest", String(40), nullable=False),
    Column("first_seen", UtcTimestamp, nullable=False),
    Column("last_seen", UtcTimestamp, nullable=False),
    Column("resolved_at", UtcTimestamp),
    Index(None, "account_id", "check", "resolved_at"),
    Index(None, "account_id", "owner_id", "resolved_at"),
    Index(None, "account_id", "entity", "entity_id"),
)
"""Findings of the data-quality audit: one row per problem occurrence, open while
``resolved_at`` is null; a problem found again after resolution is a new row (new id).
``digest`` fingerprints severity, owner, message, details and version so a re-run updates only
changed rows. See ``ropilot.core.quality.findings``."""

quality_actions = Table(
    "quality_actions",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("finding_id", Key, primary_key=True),
    Column("step", String(32), primary_key=True),
    Column("target_id", Key),
    Column("external_id", Key),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("details", Json),
)
"""What was done about a finding, once per step of the escalation ladder (``task_manager``,
``task_senior``, ``task_head``, ``reroute_requested``): the primary key makes every step happen
at most once. See ``ropilot.connectors.quality_actions``."""

# -- routing (ropilot.core.routing) -----------------------------------------------------------

routing_seq = Table(
    "routing_seq",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("seq", BigInteger, nullable=False, default=0),
)
"""The account's routing sequence: every write to the routing state takes the row (``UPDATE
... seq = seq + 1``, a row lock on PostgreSQL) and stamps the rows it changes with the new
value, so an engine holding the state as of ``seq`` reads only the rows changed since."""

routing_levels = Table(
    "routing_levels",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("pool", Key, primary_key=True),
    Column("manager_id", Key, primary_key=True),
    Column("level", Float(53)),
    Column("last_assigned_at", BigInteger),
    Column("assigned_total", Integer, nullable=False, default=0),
    Column("away", Boolean, nullable=False, default=False),
    Column("catch_up", Boolean, nullable=False, default=False),
    Column("catch_up_day", String(16)),
    Column("catch_up_used", Integer, nullable=False, default=0),
    Column("seq", BigInteger, nullable=False, default=0),
)
"""Persistent fairness level per (pool, manager) (``last_assigned_at`` in epoch µs; ``seq``:
the routing sequence of the last change)."""

routing_counters = Table(
    "routing_counters",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("pool", Key, primary_key=True),
    Column("counter", String(160), primary_key=True),
    Column("manager_id", Key, primary_key=True),
    Column("count", Integer, nullable=False),
    Column("seq", BigInteger, nullable=False, default=0),
)
"""Leads routed per manager in a period (``day:2026-03-02``) or per criteria and period
(``product=loans@month:2026-03-01``); kept with each decision, recountable from decisions."""

routing_load = Table(
    "routing_load",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("manager_id", Key, primary_key=True),
    Column("open_deals", Integer, nullable=False, default=0),
    Column("open_tasks", Integer, nullable=False, default=0),
    Column("rebuilt_at", UtcTimestamp),
    Column("seq", BigInteger, nullable=False, default=0),
)
"""Open deals and open tasks per manager for the load cap; +1/−1 with each decision, recounted
from ``deals`` and ``tasks`` by ``routing.engine.rebuild_counters``."""

routing_snapshots = Table(
    "routing_snapshots",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("id", Key, primary_key=True),
    Column("pool", Key, nullable=False),
    Column("created_at", UtcTimestamp, nullable=False),
    Column("data", Text, nullable=False),
)
"""A pool's rules and every member's facts (compact JSON text); a decision stores a reference
to one plus the members whose facts differ from it (``routing.codec``)."""

routing_decisions = Table(
    "routing_decisions",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("id", Key, primary_key=True),
    _ref("deal_id"),
    Column("pool", Key),
    _ref("manager_id"),
    _ref("previous_manager_id"),
    Column("rule", String(32), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("regulations_version", String(64), nullable=False),
    Column("decided_at", UtcTimestamp, nullable=False),
    Column("explanation", Json, nullable=False),
    Column("inputs", Text, nullable=False),
    Column("applied_at", UtcTimestamp),
    Column("apply_error", Text),
    Index(None, "account_id", "deal_id", "decided_at"),
    Index(None, "account_id", "pool", "decided_at"),
    Index(None, "account_id", "manager_id", "decided_at"),
)
"""Every routing decision: the compact explanation (who, rule, tie, rejoins, exclusions by
rule) and the inputs to replay and expand it (JSON text: snapshot reference plus the members
that differ from it); ``applied_at`` is set once the CRM's responsible was changed
(``ropilot.connectors.routing_actions``)."""

# -- sales regulations (ropilot.core.regulations) ---------------------------------------------

regulation_versions = Table(
    "regulation_versions",
    metadata,
    Column("account_id", AccountKey, primary_key=True),
    Column("version", String(32), primary_key=True),
    Column("content", Json, nullable=False),
    Column("first_seen_at", UtcTimestamp, nullable=False),
    Column("source", Text),
)
"""Every regulations version an account's decisions and findings were made under: the content
hash and the validated rules (JSON), so a decision can be replayed under its own rules."""
