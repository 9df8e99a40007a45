"""Who may take a lead: the rules in order, the first that fails names the exclusion.

Rules (their names appear in every decision's explanation): ``inactive``, ``role_assistant``,
``previous_assignee`` (a re-route never returns the lead to whoever let it sit), ``absent``,
``off_shift`` (outside their own working hours on the production calendar), ``specialisation``,
then the caps ``cap_period``, ``cap_load`` and ``cap_criteria``.
"""

from __future__ import annotations

from collections.abc import Collection

from ropilot.core.routing.capacity import cap_violation
from ropilot.core.routing.models import SPECIALISATION_FIELDS, Lead, MemberFacts, PoolRules


def specialisation_mismatch(member: MemberFacts, pool: PoolRules, lead: Lead) -> str | None:
    """The first matched field where the lead's value is not among the manager's, or ``None``.

    An empty list on the manager means no preference; an unknown lead value matches anyone.
    """
    for name in pool.specialisation_match:
        wanted = lead.value(name)
        if wanted is None:
            continue
        offered = member.specialisations.get(SPECIALISATION_FIELDS.get(name, name), ())
        if offered and wanted not in offered:
            return f"{name} {wanted!r} not in {sorted(offered)}"
    return None


def exclusion(
    member: MemberFacts, pool: PoolRules, lead: Lead, exclude: Collection[str] = ()
) -> tuple[str, str] | None:
    """Why ``member`` may not take ``lead`` now, as (rule, detail); ``None`` when eligible."""
    if not member.active:
        return "inactive", "manager is deactivated"
    if member.role == "assistant":
        return "role_assistant", "assistants do not take leads"
    if member.id in exclude:
        return "previous_assignee", "the lead was not taken into work in time by them"
    if member.absent:
        return "absent", "absence today"
    if not member.on_shift:
        return "off_shift", "outside working hours in their time zone"
    mismatch = specialisation_mismatch(member, pool, lead)
    if mismatch is not None:
        return "specialisation", mismatch
    return cap_violation(member, pool, lead)
