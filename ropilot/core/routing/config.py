"""From the regulations' ``Pool`` (pydantic, the file's shape) to the engine's ``PoolRules``."""

from __future__ import annotations

from collections.abc import Sequence

from ropilot.core.regulations import Pool, Regulations
from ropilot.core.routing.models import CriteriaCap, EfficiencyRules, PoolRules


def pool_rules(
    pool: Pool, regulations: Regulations, account_timezone: str, members: Sequence[str] | None
) -> PoolRules:
    """The engine's view of ``pool`` with its members resolved (``None``: not resolved)."""
    caps = pool.caps
    eff = pool.efficiency
    return PoolRules(
        name=pool.name,
        members=None if members is None else tuple(sorted(members)),
        strategy=pool.strategy,
        cost=1.0,
        weights=dict(pool.weights),
        period_caps={}
        if caps.per_period is None
        else {caps.per_period.period: caps.per_period.max},
        max_load=caps.max_open_load,
        deal_load_weight=caps.load_weights.open_deal,
        task_load_weight=caps.load_weights.open_task,
        criteria_caps=tuple(
            CriteriaCap(field=c.field, value=c.value, grain=c.period, limit=c.max)
            for c in caps.per_criteria
        ),
        efficiency=EfficiencyRules(
            enabled=eff.enabled,
            lookback_days=eff.lookback_days,
            prior_strength=eff.prior_strength,
            min_factor=eff.min_factor,
            max_factor=eff.max_factor,
            win_rate_weight=eff.win_rate_weight,
            speed_weight=eff.speed_weight,
        ),
        rejoin=pool.rejoin,
        catch_up_per_day=pool.catch_up_per_day or 0.0,
        account_management=pool.account_management,
        owner_must_be_eligible=pool.owner_must_be_eligible,
        take_into_work_minutes=pool.take_into_work_minutes,
        specialisation_match=tuple(pool.specialisation_match),
        timezone=str(regulations.zone(account_timezone)),
    )
