"""Forecast snapshots and forecast accuracy (sales_definitions.md: "Forecast accuracy …
needs forecast snapshots taken at fixed times").

* :func:`take_snapshot` stores, for a period as seen at a moment, the weighted and run-rate
  forecasts (``kpi.forecast``) per manager (current responsible) and for the company, in the
  account currency, money rounded half-up to 0.0001 (the store's precision). A snapshot is
  identified by (account, period label, as-of day in the account zone): taking it again on the
  same day replaces that day's rows (idempotent; the last moment of the day wins).
* :func:`forecast_accuracy` compares a snapshot with the period's actual revenue once the period
  has ended: accuracy = 1 − |actual − forecast| ÷ actual (None when actual = 0), signed bias =
  forecast − actual, relative bias = bias ÷ actual. By default it uses the period's *first*
  snapshot (the earliest as-of day, the fixed "start of period" forecast); the caller may pick
  another day. The forecast compared is, for ``method="weighted"``, the revenue already won at
  the snapshot plus the weighted open pipeline (the weighted forecast covers only deals still
  open, so the won part is added back; at the period start it is 0), and for
  ``method="run_rate"`` the run-rate forecast. Actual revenue follows ``kpi.outcomes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy import select

from ropilot.core.errors import ConfigurationError
from ropilot.core.kpi.forecast import local_day, run_rate_forecast, weighted_forecast
from ropilot.core.kpi.outcomes import outcomes
from ropilot.core.periods import Period
from ropilot.core.store import Store
from ropilot.core.store.schema import forecast_snapshots

COMPANY = "company"
MANAGER = "manager"
NO_MANAGER = ""
"""``manager_id`` of the company rows and of deals without a responsible."""
QUANTUM = Decimal("0.0001")


def _stored(value: Decimal) -> Decimal:
    return value.quantize(QUANTUM, ROUND_HALF_UP)


@dataclass(frozen=True)
class SnapshotRow:
    """One stored forecast: the company (``manager_id`` None, scope ``company``) or a manager
    (``manager_id`` None = deals without a responsible).
    """

    period_label: str
    as_of_day: date
    as_of: datetime
    scope: str
    manager_id: str | None
    open_deals: int
    pipeline_amount: Decimal
    weighted: Decimal
    actual_so_far: Decimal
    run_rate: Decimal | None
    elapsed_working_days: int
    working_days: int


def take_snapshot(
    store: Store, account_id: str, period: Period, as_of: datetime
) -> list[SnapshotRow]:
    """Store the forecasts of ``period`` as of ``as_of`` and return the rows stored (company
    first, then managers by id). Replaces a snapshot of the same period taken the same day.

    Raises:
        ConfigurationError: for a naive ``as_of``.
    """
    day = local_day(as_of, period)
    w_company = weighted_forecast(store, account_id, period, as_of)[0]
    company = run_rate_forecast(store, account_id, period, as_of)[0]
    w_managers = {
        r.keys["manager"] or NO_MANAGER: r
        for r in weighted_forecast(store, account_id, period, as_of, ["manager"])
    }
    r_managers = {
        r.keys["manager"] or NO_MANAGER: r
        for r in run_rate_forecast(store, account_id, period, as_of, ["manager"])
    }
    elapsed, total = company.elapsed_working_days, company.working_days
    zero = Decimal("0.00")

    def row(scope: str, manager: str, w: Any, r: Any) -> dict[str, Any]:
        actual = r.actual if r is not None else zero
        forecast = r.forecast if r is not None else (zero if elapsed else None)
        return {
            "account_id": account_id,
            "period_label": period.label,
            "as_of_day": day,
            "scope": scope,
            "manager_id": manager,
            "period_first_day": period.first_day,
            "period_end_day": period.end_day,
            "as_of": as_of,
            "open_deals": w.count if w is not None else 0,
            "pipeline_amount": _stored(w.amount if w is not None else zero),
            "weighted": _stored(w.weighted if w is not None else zero),
            "actual_so_far": _stored(actual),
            "run_rate": None if forecast is None else _stored(forecast),
            "elapsed_working_days": elapsed,
            "working_days": total,
        }

    rows = [row(COMPANY, NO_MANAGER, w_company, company)]
    for manager in sorted(set(w_managers) | set(r_managers)):
        rows.append(row(MANAGER, manager, w_managers.get(manager), r_managers.get(manager)))
    t = forecast_snapshots
    with store.begin() as conn:
        conn.execute(
            t.delete().where(
                t.c.account_id == account_id,
                t.c.period_label == period.label,
                t.c.as_of_day == day,
            )
        )
        conn.execute(t.insert(), rows)
    return list_snapshots(store, account_id, period, day)


def _snapshot(r: Any) -> SnapshotRow:
    return SnapshotRow(
        period_label=r.period_label,
        as_of_day=r.as_of_day,
        as_of=r.as_of,
        scope=r.scope,
        manager_id=None if r.manager_id == NO_MANAGER else r.manager_id,
        open_deals=int(r.open_deals),
        pipeline_amount=r.pipeline_amount,
        weighted=r.weighted,
        actual_so_far=r.actual_so_far,
        run_rate=r.run_rate,
        elapsed_working_days=int(r.elapsed_working_days),
        working_days=int(r.working_days),
    )


def list_snapshots(
    store: Store, account_id: str, period: Period, as_of_day: date | None = None
) -> list[SnapshotRow]:
    """Stored snapshots of ``period`` (one day's, or all), by day, company first, then managers.

    This is also the lineage of :func:`forecast_accuracy`'s forecasts.
    """
    t = forecast_snapshots
    stmt = select(t).where(t.c.account_id == account_id, t.c.period_label == period.label)
    if as_of_day is not None:
        stmt = stmt.where(t.c.as_of_day == as_of_day)
    stmt = stmt.order_by(t.c.as_of_day, t.c.scope, t.c.manager_id)
    with store.engine.connect() as conn:
        return [_snapshot(r) for r in conn.execute(stmt)]


@dataclass(frozen=True)
class AccuracyRow:
    """Forecast against actual for the company (``keys`` ``{}``) or a manager."""

    keys: dict[str, str | None]
    method: str
    snapshot_day: date
    snapshot_as_of: datetime
    actual: Decimal
    forecast: Decimal | None

    @property
    def accuracy(self) -> Decimal | None:
        """1 − |actual − forecast| ÷ actual; None when actual is 0 or there is no forecast."""
        if self.forecast is None or not self.actual:
            return None
        return 1 - abs(self.actual - self.forecast) / self.actual

    @property
    def bias(self) -> Decimal | None:
        """Forecast − actual (positive = over-forecast)."""
        return None if self.forecast is None else self.forecast - self.actual

    @property
    def relative_bias(self) -> Decimal | None:
        """Bias ÷ actual; None when actual is 0."""
        bias = self.bias
        return None if bias is None or not self.actual else bias / self.actual


def forecast_accuracy(
    store: Store,
    account_id: str,
    period: Period,
    as_of_day: date | None = None,
    *,
    method: Literal["weighted", "run_rate"] = "weighted",
    now: datetime | None = None,
) -> list[AccuracyRow]:
    """Accuracy and bias of a stored forecast of an ended period: the company row first, then
    one row per manager in the snapshot or with revenue in the period (a manager missing from
    the snapshot had a forecast of 0).

    Raises:
        ConfigurationError: before the period has ended (at ``now``, default the current time),
            when the period has no snapshot (or none on ``as_of_day``), for an unknown method.
    """
    if method not in ("weighted", "run_rate"):
        raise ConfigurationError(f"method {method!r}: use weighted or run_rate")
    moment = now or datetime.now(UTC)
    if moment < period.end:
        raise ConfigurationError(
            f"period {period.label} ends {period.end.isoformat()}; "
            "forecast accuracy is measured once it has ended"
        )
    snaps = list_snapshots(store, account_id, period)
    if not snaps:
        raise ConfigurationError(
            f"no forecast snapshot of {period.label} for account {account_id!r}; "
            "take them with take_snapshot at fixed times during the period"
        )
    days = sorted({s.as_of_day for s in snaps})
    day = days[0] if as_of_day is None else as_of_day
    if day not in days:
        raise ConfigurationError(
            f"no snapshot of {period.label} taken on {day}; snapshots exist for "
            + ", ".join(d.isoformat() for d in days)
        )
    chosen = [s for s in snaps if s.as_of_day == day]
    company = next(s for s in chosen if s.scope == COMPANY)

    def forecast_of(s: SnapshotRow | None) -> Decimal | None:
        if s is None:
            return Decimal(0) if method == "weighted" or company.run_rate is not None else None
        if method == "weighted":
            return s.actual_so_far + s.weighted
        return s.run_rate

    actual_company = outcomes(store, account_id, period)[0].revenue
    actual = {
        r.keys["manager"]: r.revenue for r in outcomes(store, account_id, period, ["manager"])
    }
    by_manager = {s.manager_id: s for s in chosen if s.scope == MANAGER}
    out = [
        AccuracyRow(
            keys={},
            method=method,
            snapshot_day=day,
            snapshot_as_of=company.as_of,
            actual=actual_company,
            forecast=forecast_of(company),
        )
    ]
    for manager in sorted(set(by_manager) | set(actual), key=lambda m: m or ""):
        out.append(
            AccuracyRow(
                keys={"manager": manager},
                method=method,
                snapshot_day=day,
                snapshot_as_of=company.as_of,
                actual=actual.get(manager, Decimal("0.00")),
                forecast=forecast_of(by_manager.get(manager)),
            )
        )
    return out
