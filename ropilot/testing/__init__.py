"""The connector conformance suite every connector (built-in or a plugin's) passes.

A connector's test module enables it with one class::

    import pytest
    from ropilot.testing import ConnectorConformance

    class TestMyCRM(ConnectorConformance):
        @pytest.fixture
        def harness(self, store):
            with MyCRMHarness(store) as harness:  # implements ropilot.testing.Harness
                yield harness

This module is also a pytest plugin (``pytest -p ropilot.testing``, or
``pytest_plugins = ["ropilot.testing"]`` in the root ``conftest.py``): it registers the
``conformance`` marker, marks every conformance test with it (``-m conformance`` runs just the
suite) and adds the ``conformance_store`` fixture. The subclass alone works without it.

See docs/connectors.md, section 5, and :mod:`ropilot.testing.checks` for what is checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ropilot.core.store import Store
from ropilot.testing import checks
from ropilot.testing.harness import FieldSample, Harness, HarnessBase, WebhookSample
from ropilot.testing.suite import ConnectorConformance

__all__ = [
    "ConnectorConformance",
    "FieldSample",
    "Harness",
    "HarnessBase",
    "WebhookSample",
    "checks",
]

MARKER = "conformance"


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``conformance`` marker."""
    config.addinivalue_line(
        "markers", f"{MARKER}: a check of the ropilot connector conformance suite"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of a :class:`ConnectorConformance` subclass ``conformance``."""
    for item in items:
        owner = getattr(item, "cls", None)
        if isinstance(owner, type) and issubclass(owner, ConnectorConformance):
            item.add_marker(MARKER)


@pytest.fixture
def conformance_store(tmp_path: Path) -> Iterator[Store]:
    """An empty SQLite store, for harnesses used outside :class:`ConnectorConformance`."""
    opened = Store.open(f"sqlite:///{tmp_path / 'conformance.db'}")
    try:
        yield opened
    finally:
        opened.close()
