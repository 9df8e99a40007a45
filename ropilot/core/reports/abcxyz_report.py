"""``report abcxyz``: ABC and XYZ classes of client companies and the AX…CZ matrix."""

from __future__ import annotations

from decimal import Decimal

from ropilot.core.kpi.abcxyz import abc_xyz, abc_xyz_matrix
from ropilot.core.kpi.registry import KpiContext
from ropilot.core.periods import Period, buckets
from ropilot.core.reports.kpi_report import base_report
from ropilot.core.reports.model import Column, Report, Section, Text
from ropilot.core.reports.names import add_names


def matrix_section(ctx: KpiContext, window: Period | None = None) -> Section:
    """The AX…CZ matrix alone, by the one-query path (the morning report)."""
    matrix, unclassified, win = abc_xyz_matrix(
        ctx.store, ctx.account_id, ctx.as_of.astimezone(ctx.zone).date(), window=window
    )
    return _matrix(matrix, unclassified, win, win)


def _matrix(
    matrix: dict[str, int], unclassified: dict[str, int], abc_window: Period, xyz_window: Period
) -> Section:
    rows = []
    for a in ["A", "B", "C"]:
        row: dict[str, object] = {"abc": a}
        for x in ["X", "Y", "Z"]:
            row[x] = matrix[a + x]
        row["unclassified"] = unclassified.get(a, 0)
        rows.append(row)
    months = len(buckets(xyz_window, "month"))
    return Section(
        "abcxyz_matrix",
        "ABC × XYZ: число клиентов",
        "ABC × XYZ: clients",
        [
            Column("abc", "ABC", "ABC", key=True),
            Column("X", "X", "X", "count"),
            Column("Y", "Y", "Y", "count"),
            Column("Z", "Z", "Z", "count"),
            Column("unclassified", "Без XYZ", "No XYZ", "count"),
        ],
        rows,
        [
            (
                f"ABC за {abc_window.label}: компании с выручкой > 0, по убыванию выручки, при "
                "равенстве по id; класс по накопленной доле до компании: < 80 % A, < 95 % B, "
                "иначе C",
                f"ABC over {abc_window.label}: companies with revenue > 0, revenue ↓, ties by "
                "id; class by the cumulative share before the company: < 80 % A, < 95 % B, else C",
            ),
            (
                f"XYZ за {xyz_window.label} ({months} мес., месяц без продаж = 0): коэффициент "
                "вариации = σ генеральной совокупности ÷ среднее; X ≤ 10 %, Y ≤ 25 %, Z выше; "
                "< 3 месяцев с выручкой → без класса",
                f"XYZ over {xyz_window.label} ({months} months, none = 0): CV = "
                "population σ ÷ mean; X ≤ 10 %, Y ≤ 25 %, Z above; < 3 months with revenue → none",
            ),
        ],
    )


def abcxyz_sections(
    ctx: KpiContext, window: Period | None = None, limit: int | None = None
) -> list[Section]:
    """The matrix and the client list (the first ``limit`` clients when given)."""
    result = abc_xyz(
        ctx.store,
        ctx.account_id,
        ctx.as_of.astimezone(ctx.zone).date(),
        xyz_period=window,
        abc_period=window,
    )
    matrix = _matrix(result.matrix, result.unclassified, result.abc_window, result.xyz_window)
    clients = result.clients if limit is None else result.clients[:limit]
    rows = []
    for c in clients:
        rows.append(
            {
                "company": c.company_id,
                "rank": c.abc.rank if c.abc else None,
                "revenue": c.abc.revenue if c.abc else Decimal(0),
                "share": c.abc.share if c.abc else None,
                "cumulative_share": c.abc.cumulative_share if c.abc else None,
                "abc": c.abc.abc if c.abc else None,
                "months_with_sales": c.xyz.months_with_sales if c.xyz else 0,
                "cv": c.xyz.cv if c.xyz else None,
                "xyz": c.xyz.xyz if c.xyz else None,
            }
        )
    notes: list[Text] = (
        []
        if limit is None or len(result.clients) <= limit
        else [
            (
                f"показаны {limit} из {len(result.clients)} клиентов",
                f"{limit} of {len(result.clients)} clients shown",
            )
        ]
    )
    listing = Section(
        "abcxyz_clients",
        "Клиенты: ABC и XYZ",
        "Clients: ABC and XYZ",
        [
            Column("company", "Контрагент", "Counterparty", key=True),
            Column("rank", "Место", "Rank", "count"),
            Column("revenue", "Выручка", "Revenue", "money"),
            Column("share", "Доля", "Share", "ratio"),
            Column("cumulative_share", "Накопленная доля", "Cumulative share", "ratio"),
            Column("abc", "ABC", "ABC"),
            Column("months_with_sales", "Месяцев с продажами", "Months with sales", "count"),
            Column("cv", "Коэф. вариации", "CV", "ratio"),
            Column("xyz", "XYZ", "XYZ"),
        ],
        rows,
        [],
        notes,
    )
    return [matrix, add_names(ctx.store, ctx.account_id, listing)]


def abcxyz_report(
    ctx: KpiContext, window: Period | None = None, limit: int | None = None
) -> Report:
    """The ``abcxyz`` report (window: the 12 complete months before --as-of unless given)."""
    return base_report(ctx, "abcxyz", abcxyz_sections(ctx, window, limit))
