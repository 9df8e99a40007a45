"""The data-quality check contract and the check catalogue.

A check is any object with ``name``, ``description``, ``severity`` and ``run(ctx)`` yielding
:class:`FindingDraft` rows. Built-ins (``ropilot.plugins.builtin_quality``) and plugins register
the same way, through the ``ropilot_register_quality_checks`` hook; :class:`CheckCatalogue`
refuses two checks with one name. Checks select candidates with SQL over the store and only
do per-record arithmetic (business hours, checksums) in Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

from ropilot.core.errors import PluginLoadError
from ropilot.core.store import Store

if TYPE_CHECKING:
    from ropilot.core.regulations import Regulations

__all__ = [
    "SEVERITIES",
    "CheckCatalogue",
    "FindingDraft",
    "QualityCheck",
    "QualityContext",
    "Severity",
]

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[str, ...] = get_args(Severity)


@dataclass(frozen=True)
class FindingDraft:
    """One problem a check found, before the store gives it an id and first/last seen."""

    check: str  # the check's name
    entity: str  # "deal" | "contact" | "company" | "task"
    entity_id: str
    severity: Severity
    owner_id: str | None  # the responsible manager
    message: str  # one line, what to fix
    details: Mapping[str, Any] = field(default_factory=dict)  # evidence (JSON-serialisable)


@dataclass(frozen=True)
class QualityContext:
    """What a check runs against: one account of the store, as of one moment (UTC-aware)."""

    store: Store
    account_id: str
    as_of: datetime
    regulations: Regulations


@runtime_checkable
class QualityCheck(Protocol):
    """A data-quality check (built-in or plugin)."""

    name: str
    description: str
    severity: Severity

    def run(self, ctx: QualityContext) -> Iterable[FindingDraft]: ...


class CheckCatalogue:
    """Checks by name, in registration order; a name used twice is a plugin error."""

    def __init__(self, checks: Iterable[Any] = ()) -> None:
        self._checks: dict[str, QualityCheck] = {}
        for check in checks:
            self.add(check)

    def add(self, check: Any) -> None:
        name = getattr(check, "name", None)
        if not isinstance(name, str) or not name:
            raise PluginLoadError(f"quality check {check!r} has no name")
        if not callable(getattr(check, "run", None)):
            raise PluginLoadError(f"quality check {name!r} has no run(ctx) method")
        if getattr(check, "severity", None) not in SEVERITIES:
            raise PluginLoadError(
                f"quality check {name!r}: severity must be one of {', '.join(SEVERITIES)}"
            )
        if name in self._checks:
            raise PluginLoadError(f"two quality checks are named {name!r}; rename one plugin's")
        self._checks[name] = check

    def get(self, name: str) -> QualityCheck:
        try:
            return self._checks[name]
        except KeyError:
            known = ", ".join(self._checks) or "none"
            raise PluginLoadError(f"unknown quality check {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        return list(self._checks)

    def select(self, names: Iterable[str] | None = None) -> list[QualityCheck]:
        """The named checks (all when ``names`` is empty or None), in catalogue order."""
        wanted = list(names or ())
        if not wanted:
            return list(self._checks.values())
        for n in wanted:
            self.get(n)
        return [c for n, c in self._checks.items() if n in wanted]

    def __iter__(self) -> Iterator[QualityCheck]:
        return iter(self._checks.values())

    def __len__(self) -> int:
        return len(self._checks)
