""":class:`ConnectorConformance`: the one test class a connector's test module subclasses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from ropilot.core.store import Store
from ropilot.testing import checks
from ropilot.testing.harness import Harness


class ConnectorConformance:
    """The connector conformance suite, in the style of Meltano's and Airbyte's standard tests.

    Subclass it in a test module (the name must start with ``Test``) and provide a ``harness``
    fixture returning a :class:`~ropilot.testing.harness.Harness`::

        from ropilot.testing import ConnectorConformance

        class TestMyCRM(ConnectorConformance):
            @pytest.fixture
            def harness(self, store):
                with MyCRMHarness(store) as harness:
                    yield harness

    The suite brings its own ``store`` fixture (an empty SQLite store in ``tmp_path``), which
    the harness may use for tokens. Each ``test_*`` method runs one check of
    :mod:`ropilot.testing.checks`; :data:`~ropilot.testing.checks.CAPABILITY_CHECKS` says
    which exercise each capability.

    Attributes:
        stream: the stream the paging, retry, refresh and incremental checks read (default:
            ``deals``, else the first cursor-ordered stream, else the last stream).
    """

    stream: ClassVar[str | None] = None

    @pytest.fixture
    def harness(self) -> Harness:
        """Override: the harness of the connector under test."""
        pytest.fail(
            f"{type(self).__name__} must define a `harness` fixture returning a "
            "ropilot.testing.Harness (see docs/connectors.md, section 5)"
        )

    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        """An empty, migrated SQLite store of the suite's own."""
        opened = Store.open(f"sqlite:///{tmp_path / 'conformance.db'}")
        try:
            yield opened
        finally:
            opened.close()

    # -- configuration and capabilities -------------------------------------------------

    def test_config_secrets(self, harness: Harness) -> None:
        checks.check_config_secrets(harness)

    def test_capabilities_exercised(self, harness: Harness) -> None:
        checks.check_capabilities_exercised(harness, type(self))

    # -- check() ------------------------------------------------------------------------

    def test_check_good_credentials(self, harness: Harness) -> None:
        checks.check_good_credentials(harness)

    def test_check_bad_credentials(self, harness: Harness) -> None:
        checks.check_bad_credentials(harness)

    # -- reads --------------------------------------------------------------------------

    def test_streams_validate(self, harness: Harness) -> None:
        checks.check_streams(harness)

    def test_stage_history(self, harness: Harness) -> None:
        checks.check_stage_history(harness)

    def test_pagination(self, harness: Harness) -> None:
        checks.check_pagination(harness, self.stream)

    def test_incremental(self, harness: Harness, store: Store) -> None:
        checks.check_incremental(harness, store, self.stream)

    # -- errors and retries -------------------------------------------------------------

    def test_rate_limits_retried(self, harness: Harness) -> None:
        checks.check_rate_limits_retried(harness, self.stream)

    def test_5xx_retried_with_backoff(self, harness: Harness) -> None:
        checks.check_5xx_retried_with_backoff(harness, self.stream)

    def test_4xx_fatal(self, harness: Harness) -> None:
        checks.check_4xx_fatal(harness, self.stream)

    # -- tokens -------------------------------------------------------------------------

    def test_refresh_on_401(self, harness: Harness) -> None:
        checks.check_refresh_on_401(harness, self.stream)

    def test_rotated_refresh_token_persisted(self, harness: Harness) -> None:
        checks.check_rotated_refresh_token_persisted(harness, self.stream)

    # -- writes -------------------------------------------------------------------------

    def test_set_responsible(self, harness: Harness) -> None:
        checks.check_set_responsible(harness)

    def test_create_task_idempotent(self, harness: Harness) -> None:
        checks.check_create_task_idempotent(harness)

    def test_add_note_idempotent(self, harness: Harness) -> None:
        checks.check_add_note_idempotent(harness)

    def test_update_field(self, harness: Harness) -> None:
        checks.check_update_field(harness)

    # -- webhooks -----------------------------------------------------------------------

    def test_webhook_samples(self, harness: Harness) -> None:
        checks.check_webhook_samples(harness)

    def test_webhook_tampering(self, harness: Harness) -> None:
        checks.check_webhook_tampering(harness)
