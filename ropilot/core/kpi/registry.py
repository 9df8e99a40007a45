"""The KPI catalogue: named figures that reports, plans and motivation look up by name.

A KPI definition says what it is (name, titles, unit, the convention it follows) and how to get
it: ``compute`` returns one row per group for a context (account, period, as-of moment,
dimensions), ``explain`` returns the records behind one group's figure (lineage). Definitions
that come from the same query share it through ``KpiContext.cached``, so a report asking for
revenue, average check and win rate runs the outcomes query once.

The built-ins (``ropilot.core.kpi.builtins``) and plugins (hook ``ropilot_register_kpis``)
register the same way; ``KpiCatalogue`` refuses two KPIs with one name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from ropilot.core.errors import ConfigurationError, PluginLoadError
from ropilot.core.periods import Period
from ropilot.core.reports.model import Unit
from ropilot.core.store import Store

T = TypeVar("T")

Keys = dict[str, str | None]


@dataclass
class KpiContext:
    """What a KPI is computed for. ``as_of`` is the moment figures "as of T" use."""

    store: Store
    account_id: str
    period: Period
    as_of: datetime
    by: tuple[str, ...] = ()
    currency: str = "RUB"
    options: Mapping[str, Any] = field(default_factory=dict)
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)
    _locks: dict[Any, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return self.period.zone

    def cached(self, key: Any, compute: Callable[[], T]) -> T:
        """``compute()`` once per context and key (queries shared by several KPIs), also when
        report sections run in parallel threads.
        """
        full = (key, self.by)
        with self._guard:
            lock = self._locks.setdefault(full, threading.Lock())
        with lock:
            if full not in self._cache:
                self._cache[full] = compute()
            result: T = self._cache[full]
        return result


@dataclass(frozen=True)
class KpiRow:
    """One group's value of a KPI."""

    keys: Keys
    value: Any


@dataclass(frozen=True)
class KpiDefinition:
    """A KPI as the catalogue knows it.

    Attributes:
        name: unique key, e.g. ``"revenue"``.
        title_ru, title_en: shown in reports.
        unit: how values read (``money``, ``count``, ``ratio``, ``days`` …).
        compute: ``compute(ctx) -> list[KpiRow]``; one row per group of ``ctx.by`` that has data.
        explain: ``explain(ctx, keys) -> list[dict]``: the records behind one group's value.
        convention: the label of the convention followed where two exist.
        dimensions: the dimensions it can be cut by (``None``: every deal dimension).
    """

    name: str
    title_ru: str
    title_en: str
    unit: Unit
    compute: Callable[[KpiContext], list[KpiRow]]
    explain: Callable[[KpiContext, Keys], list[dict[str, Any]]] | None = None
    convention: str | None = None
    dimensions: tuple[str, ...] | None = None
    description: str = ""
    convention_ru: str | None = None
    """The convention in Russian (reports show it with ``--lang ru``)."""

    def title(self, lang: str) -> str:
        return self.title_ru if lang == "ru" else self.title_en


class KpiCatalogue:
    """KPI definitions by name, in registration order."""

    def __init__(self, definitions: Iterable[KpiDefinition] = ()) -> None:
        self._by_name: dict[str, KpiDefinition] = {}
        for d in definitions:
            self.add(d)

    def add(self, definition: KpiDefinition) -> None:
        if not isinstance(definition, KpiDefinition):
            raise PluginLoadError(
                f"a KPI plugin returned {type(definition).__name__}, not a KpiDefinition"
            )
        if definition.name in self._by_name:
            raise PluginLoadError(
                f"two KPIs are named {definition.name!r}; KPI names must be unique"
            )
        self._by_name[definition.name] = definition

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Any:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        return list(self._by_name)

    def get(self, name: str) -> KpiDefinition:
        """The definition named ``name``.

        Raises:
            ConfigurationError: naming the known KPIs when there is no such KPI.
        """
        try:
            return self._by_name[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown KPI {name!r}; known: {', '.join(self._by_name)}"
            ) from None

    def select(self, names: Sequence[str] | None) -> list[KpiDefinition]:
        """Definitions for ``names`` (all when ``None``), checking dimensions are supported."""
        return [self.get(n) for n in names] if names else list(self)


def compute_table(
    ctx: KpiContext, definitions: Sequence[KpiDefinition]
) -> list[tuple[Keys, dict[str, Any]]]:
    """Several KPIs merged into one row per group (groups sorted by their key values).

    Raises:
        ConfigurationError: when a KPI cannot be cut by one of ``ctx.by``.
    """
    for d in definitions:
        if d.dimensions is not None:
            bad = [b for b in ctx.by if b not in d.dimensions]
            if bad:
                raise ConfigurationError(
                    f"KPI {d.name!r} cannot be cut by {', '.join(bad)}; "
                    f"it supports {', '.join(d.dimensions) or 'no dimensions'}"
                )
    merged: dict[tuple[Any, ...], tuple[Keys, dict[str, Any]]] = {}
    for d in definitions:
        for row in d.compute(ctx):
            k = tuple(row.keys.get(b) for b in ctx.by)
            entry = merged.setdefault(k, ({b: row.keys.get(b) for b in ctx.by}, {}))
            entry[1][d.name] = row.value
    if not ctx.by and not merged:
        merged[()] = ({}, {})
    return [merged[k] for k in sorted(merged, key=lambda t: tuple(str(v or "") for v in t))]
