"""The amoCRM connector passes the conformance suite against the sandbox and ``responses``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ropilot.connectors.amocrm.testing import AmoCRMResponsesHarness, AmoCRMSandboxHarness
from ropilot.core.store import Store
from ropilot.testing import ConnectorConformance


class TestAmoCRMSandbox(ConnectorConformance):
    @pytest.fixture
    def harness(self, store: Store) -> Iterator[AmoCRMSandboxHarness]:
        with AmoCRMSandboxHarness(store) as harness:
            yield harness


class TestAmoCRMResponses(ConnectorConformance):
    @pytest.fixture
    def harness(self, store: Store) -> Iterator[AmoCRMResponsesHarness]:
        with AmoCRMResponsesHarness(store) as harness:
            yield harness
