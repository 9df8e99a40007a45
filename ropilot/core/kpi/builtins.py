"""The built-in KPIs, registered through the same catalogue plugins use.

Each wraps an engine module (``outcomes``, ``cycle`` …); KPIs that come from one query share it
through ``KpiContext.cached``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy import ColumnElement, select

from ropilot.core.kpi import cycle as cycle_mod
from ropilot.core.kpi import outcomes as outcomes_mod
from ropilot.core.kpi.lineage import deal_records
from ropilot.core.kpi.registry import Keys, KpiContext, KpiDefinition, KpiRow
from ropilot.core.kpi.scope import closed_in
from ropilot.core.periods import Period, months_before
from ropilot.core.store.schema import accounts, deals


def _outcomes(ctx: KpiContext) -> list[outcomes_mod.OutcomeRow]:
    return ctx.cached(
        "outcomes",
        lambda: outcomes_mod.outcomes(ctx.store, ctx.account_id, ctx.period, by=ctx.by),
    )


def _cycle(ctx: KpiContext) -> list[cycle_mod.CycleRow]:
    return ctx.cached(
        "cycle",
        lambda: cycle_mod.sales_cycle(ctx.store, ctx.account_id, ctx.period, by=ctx.by),
    )


def _from_outcomes(attr: str) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        return [KpiRow(r.keys, getattr(r, attr)) for r in _outcomes(ctx)]

    return compute


def _from_cycle(attr: str) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        return [KpiRow(r.keys, getattr(r, attr)) for r in _cycle(ctx)]

    return compute


def _in_currency(account_id: str) -> ColumnElement[bool]:
    currency = select(accounts.c.currency).where(accounts.c.id == account_id).scalar_subquery()
    return deals.c.currency.is_(None) | (deals.c.currency == currency)


def _closed(
    kinds: tuple[str, ...], currency_only: bool
) -> Callable[[KpiContext, Keys], list[dict[str, Any]]]:
    def explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
        where = closed_in(ctx.account_id, ctx.period, kinds)
        if currency_only:
            where = where & _in_currency(ctx.account_id)
        return deal_records(ctx.store, ctx.by, keys, where)

    return explain


def _cycle_explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
    rows = deal_records(ctx.store, ctx.by, keys, closed_in(ctx.account_id, ctx.period, ("won",)))
    for r in rows:
        r["cycle_days"] = (r["closed_at"] - r["created_at"]).total_seconds() / 86_400
    return rows


OUTCOME_CONVENTION = "outcome by current stage kind at closed_at; account currency"

BUILTIN_KPIS: list[KpiDefinition] = [
    KpiDefinition(
        "revenue",
        "Выручка",
        "Revenue",
        "money",
        _from_outcomes("revenue"),
        _closed(("won",), True),
        OUTCOME_CONVENTION,
        description="Won amount of deals closed in the period, account currency.",
    ),
    KpiDefinition(
        "won",
        "Выиграно",
        "Won",
        "count",
        _from_outcomes("won"),
        _closed(("won",), False),
        OUTCOME_CONVENTION,
    ),
    KpiDefinition(
        "lost",
        "Проиграно",
        "Lost",
        "count",
        _from_outcomes("lost"),
        _closed(("lost",), False),
        OUTCOME_CONVENTION,
    ),
    KpiDefinition(
        "lost_amount",
        "Сумма проигранных",
        "Lost amount",
        "money",
        _from_outcomes("lost_amount"),
        _closed(("lost",), True),
        OUTCOME_CONVENTION,
    ),
    KpiDefinition(
        "average_check",
        "Средний чек",
        "Average check",
        "money",
        _from_outcomes("average_check"),
        _closed(("won",), True),
        "revenue ÷ won deals in the account currency, empty amounts count",
    ),
    KpiDefinition(
        "win_rate",
        "Конверсия в успех",
        "Win rate",
        "ratio",
        _from_outcomes("win_rate"),
        _closed(("won", "lost"), False),
        "won ÷ (won + lost) closed in the period, by count",
    ),
    KpiDefinition(
        "win_rate_value",
        "Конверсия по сумме",
        "Win rate by value",
        "ratio",
        _from_outcomes("win_rate_value"),
        _closed(("won", "lost"), True),
        "won amount ÷ (won + lost amount) closed in the period",
    ),
    KpiDefinition(
        "cycle_median_days",
        "Цикл сделки, медиана (дн.)",
        "Sales cycle, median (days)",
        "days",
        _from_cycle("median_days"),
        _cycle_explain,
        "closed_at − created_at over deals won in the period",
    ),
    KpiDefinition(
        "cycle_mean_days",
        "Цикл сделки, среднее (дн.)",
        "Sales cycle, mean (days)",
        "days",
        _from_cycle("mean_days"),
        _cycle_explain,
        "closed_at − created_at over deals won in the period",
    ),
]


# -- pipeline and forecasts (as of ctx.as_of) -------------------------------------------------


def _open(ctx: KpiContext) -> list[Any]:
    from ropilot.core.kpi.pipeline import open_pipeline

    return ctx.cached("open", lambda: open_pipeline(ctx.store, ctx.account_id, ctx.as_of, ctx.by))


def _weighted(ctx: KpiContext) -> list[Any]:
    from ropilot.core.kpi.forecast import weighted_forecast

    return ctx.cached(
        "weighted",
        lambda: weighted_forecast(ctx.store, ctx.account_id, ctx.period, ctx.as_of, ctx.by),
    )


def _run_rate(ctx: KpiContext) -> list[Any]:
    from ropilot.core.kpi.forecast import run_rate_forecast

    return ctx.cached(
        "run_rate",
        lambda: run_rate_forecast(ctx.store, ctx.account_id, ctx.period, ctx.as_of, ctx.by),
    )


def _rows(
    source: Callable[[KpiContext], list[Any]], attr: str
) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        return [KpiRow(r.keys, getattr(r, attr)) for r in source(ctx)]

    return compute


def _records(objects: list[Any]) -> list[dict[str, Any]]:
    out = []
    for o in objects:
        d = {k: v for k, v in vars(o).items() if k != "keys"}
        out.append(d)
    return out


def _open_explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
    from ropilot.core.kpi.pipeline import open_pipeline_deals

    return _records(open_pipeline_deals(ctx.store, ctx.account_id, ctx.as_of, keys))


def _weighted_explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
    from ropilot.core.kpi.forecast import forecast_deals

    rows = forecast_deals(ctx.store, ctx.account_id, ctx.period, ctx.as_of, keys)
    return [{**r, "weighted": deal.weighted} for r, deal in zip(_records(rows), rows, strict=True)]


def _run_rate_explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
    from ropilot.core.kpi.forecast import run_rate_deals

    return _records(run_rate_deals(ctx.store, ctx.account_id, ctx.period, ctx.as_of, keys))


# -- activities (who did it: the activity's manager) ------------------------------------------

ACTIVITY_DIMENSIONS = (
    "manager",
    "team",
    "pipeline",
    "source",
    "product",
    "region",
    "segment",
    "company",
)


def _activity(ctx: KpiContext) -> list[Any]:
    from ropilot.core.kpi.activity import activity_counts

    return ctx.cached(
        "activity", lambda: activity_counts(ctx.store, ctx.account_id, ctx.period, ctx.by)
    )


def _activity_kpi(kind: str) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        return [KpiRow(r.keys, r.counts.get(kind, 0)) for r in _activity(ctx)]

    return compute


def _activity_explain(kind: str) -> Callable[[KpiContext, Keys], list[dict[str, Any]]]:
    def explain(ctx: KpiContext, keys: Keys) -> list[dict[str, Any]]:
        from ropilot.core.kpi.activity import activity_lineage

        return _records(activity_lineage(ctx.store, ctx.account_id, ctx.period, keys, types=[kind]))

    return explain


def _clients_in_work(ctx: KpiContext) -> list[KpiRow]:
    from ropilot.core.kpi.activity import activity_intensity

    rows = ctx.cached(
        "intensity",
        lambda: activity_intensity(ctx.store, ctx.account_id, ctx.period, ctx.by),
    )
    return [KpiRow(r.keys, r.clients) for r in rows]


AS_OF = "as of the report's --as-of moment: open = the stage held then (stage history)"

BUILTIN_KPIS += [
    KpiDefinition(
        "open_deals",
        "Открытые сделки",
        "Open deals",
        "count",
        _rows(_open, "count"),
        _open_explain,
        AS_OF,
    ),
    KpiDefinition(
        "open_amount",
        "Сумма открытых",
        "Open pipeline",
        "money",
        _rows(_open, "amount"),
        _open_explain,
        AS_OF + "; current amount, account currency",
    ),
    KpiDefinition(
        "weighted_forecast",
        "Взвешенный прогноз",
        "Weighted forecast",
        "money",
        _rows(_weighted, "weighted"),
        _weighted_explain,
        "Σ amount × probability ÷ 100 of deals open at --as-of expected to close in the period "
        "(overdue expected dates count; none → left out)",
    ),
    KpiDefinition(
        "run_rate_forecast",
        "Прогноз по темпу",
        "Run-rate forecast",
        "money",
        _rows(_run_rate, "forecast"),
        _run_rate_explain,
        "revenue so far ÷ elapsed working days × working days (production calendar; a working "
        "as-of day counts)",
    ),
]
for _kind, _ru, _en in [
    ("call", "Звонки", "Calls"),
    ("meeting", "Встречи", "Meetings"),
    ("offer", "КП отправлено", "Offers sent"),
    ("email", "Письма", "E-mails"),
    ("presale", "Пресейлы", "Presales"),
]:
    BUILTIN_KPIS.append(
        KpiDefinition(
            f"{_kind}s" if _kind != "presale" else "presales",
            _ru,
            _en,
            "count",
            _activity_kpi(_kind),
            _activity_explain(_kind),
            "activities in the period by the manager who did them",
            ACTIVITY_DIMENSIONS,
        )
    )
BUILTIN_KPIS.append(
    KpiDefinition(
        "clients_in_work",
        "Клиентов в работе",
        "Clients in work",
        "count",
        _clients_in_work,
        None,
        "distinct companies (or contacts without a company) with an activity in the period",
        ACTIVITY_DIMENSIONS,
    )
)


# -- velocity, required coverage, activity per working day ------------------------------------

LOOKBACK_MONTHS = 3
"""Win rate, average deal and cycle for velocity and required coverage: the complete months
before the period."""


def lookback(ctx: KpiContext) -> Period:
    """The ``LOOKBACK_MONTHS`` complete calendar months before the context's period."""
    return months_before(ctx.period, LOOKBACK_MONTHS)


def _velocity(ctx: KpiContext) -> list[Any]:
    from ropilot.core.kpi.forecast import pipeline_velocity

    return ctx.cached(
        "velocity",
        lambda: pipeline_velocity(ctx.store, ctx.account_id, ctx.as_of, lookback(ctx), by=ctx.by),
    )


def _required_coverage(ctx: KpiContext) -> list[KpiRow]:
    rows = ctx.cached(
        "outcomes:lookback",
        lambda: outcomes_mod.outcomes(ctx.store, ctx.account_id, lookback(ctx), by=ctx.by),
    )
    return [KpiRow(r.keys, None if not r.win_rate else 1 / r.win_rate) for r in rows]


def _per_day(kind: str) -> Callable[[KpiContext], list[KpiRow]]:
    def compute(ctx: KpiContext) -> list[KpiRow]:
        from ropilot.core.kpi.activity import activity_rates

        rows = ctx.cached(
            "activity_rates",
            lambda: activity_rates(ctx.store, ctx.account_id, ctx.period, ctx.by or ()),
        )
        return [KpiRow(r.keys, r.per_day.get(kind)) for r in rows]

    return compute


BUILTIN_KPIS += [
    KpiDefinition(
        "velocity",
        "Скорость воронки (₽/день)",
        "Pipeline velocity (per day)",
        "money",
        _rows(_velocity, "velocity"),
        None,
        "open deals at --as-of × win rate × average check ÷ mean cycle (days), the last three "
        "complete months before the period",
    ),
    KpiDefinition(
        "required_coverage",
        "Нужное покрытие",
        "Required coverage",
        "multiple",
        _required_coverage,
        None,
        "1 ÷ win rate by count of the three complete months before the period",
    ),
    KpiDefinition(
        "calls_per_day",
        "Звонков в рабочий день",
        "Calls per working day",
        "number",
        _per_day("call"),
        _activity_explain("call"),
        "calls ÷ working days of the period (production calendar)",
        ACTIVITY_DIMENSIONS,
    ),
    KpiDefinition(
        "meetings_per_day",
        "Встреч в рабочий день",
        "Meetings per working day",
        "number",
        _per_day("meeting"),
        _activity_explain("meeting"),
        "meetings ÷ working days of the period (production calendar)",
        ACTIVITY_DIMENSIONS,
    ),
]


# -- Russian labels of the conventions ---------------------------------------------------------

_CONVENTIONS_RU = {
    "revenue": "итог по текущему типу этапа на дату закрытия; валюта аккаунта",
    "won": "итог по текущему типу этапа на дату закрытия",
    "lost": "итог по текущему типу этапа на дату закрытия",
    "lost_amount": "итог по текущему типу этапа на дату закрытия; валюта аккаунта",
    "average_check": "выручка ÷ число выигранных сделок в валюте аккаунта, пустые суммы считаются",
    "win_rate": "выиграно ÷ (выиграно + проиграно) среди закрытых в периоде, по числу",
    "win_rate_value": "сумма выигранных ÷ (выигранных + проигранных) закрытых в периоде",
    "cycle_median_days": "дата закрытия − дата создания по сделкам, выигранным в периоде",
    "cycle_mean_days": "дата закрытия − дата создания по сделкам, выигранным в периоде",
    "open_deals": "на момент --as-of: открыта = этап на тот момент (по истории этапов)",
    "open_amount": "на момент --as-of: открыта = этап на тот момент; текущая сумма, валюта "
    "аккаунта",
    "weighted_forecast": "Σ сумма × вероятность ÷ 100 по сделкам, открытым на --as-of, с "
    "ожидаемым закрытием в периоде (просроченные считаются; без даты — нет)",
    "run_rate_forecast": "выручка на дату ÷ прошедшие рабочие дни × все рабочие дни "
    "(производственный календарь; рабочий день --as-of считается)",
    "calls": "активности периода по менеджеру, который их сделал",
    "meetings": "активности периода по менеджеру, который их сделал",
    "offers": "активности периода по менеджеру, который их сделал",
    "emails": "активности периода по менеджеру, который их сделал",
    "presales": "активности периода по менеджеру, который их сделал",
    "clients_in_work": "разные компании (или контакты без компании) с активностью в периоде",
    "velocity": "открытые на --as-of × конверсия × средний чек ÷ средний цикл (дн.) за три "
    "полных месяца до периода",
    "required_coverage": "1 ÷ конверсия по числу за три полных месяца до периода",
    "calls_per_day": "звонки ÷ рабочие дни периода (производственный календарь)",
    "meetings_per_day": "встречи ÷ рабочие дни периода (производственный календарь)",
}
BUILTIN_KPIS[:] = [
    replace(d, convention_ru=_CONVENTIONS_RU.get(d.name, d.convention_ru)) for d in BUILTIN_KPIS
]
