"""A tiny ropilot plugin: registers one KPI definition."""

from dataclasses import dataclass

from ropilot import hookimpl


@dataclass(frozen=True)
class DealsWonKpi:
    """Counts won deals."""

    name: str = "example_deals_won"
    title: str = "Deals won (example plugin)"
    unit: str = "count"


@hookimpl
def ropilot_register_kpis():
    return [DealsWonKpi()]
