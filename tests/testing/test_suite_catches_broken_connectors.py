"""The suite passes a good connector and fails connectors broken on purpose."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel

from ropilot.connectors.base import Capability, ConnectorConfig, TaskDraft
from ropilot.connectors.http import DEFAULT_RESOLUTIONS, HttpClient, Resolution
from ropilot.core.errors import AuthenticationError
from ropilot.core.models import Event
from ropilot.core.store import Store
from ropilot.testing import ConnectorConformance, checks
from ropilot.testing.fake import FakeConfig, FakeConnector, FakeHarness

pytest_plugins = ["pytester"]


class TestFakeConnector(ConnectorConformance):
    """The reference fake connector passes the whole suite."""

    @pytest.fixture
    def harness(self, store: Store) -> FakeHarness:
        return FakeHarness(store)


@pytest.fixture
def conformance_store(tmp_path: Any) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'c.db'}")
    yield opened
    opened.close()


def _fails(check: Callable[..., None], harness: FakeHarness, *args: Any) -> str:
    with pytest.raises(AssertionError) as raised:
        check(harness, *args)
    return str(raised.value)


# -- broken connectors --------------------------------------------------------------------


class DuplicateKeys(FakeConnector):
    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        for record in super().read(stream, since=since):
            yield record
            if stream == "deals":
                yield record


class SwallowsAuthErrors(FakeConnector):
    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        try:
            yield from super().read(stream, since=since)
        except AuthenticationError:
            return


class NoRefreshHarness(FakeHarness):
    """The connector's HTTP client has no refreshable credentials: a 401 is not refreshed."""

    def http_client(self, *, good_credentials: bool = True) -> HttpClient:
        client = super().http_client(good_credentials=good_credentials)
        client.auth = _NoRefresh(client.auth)
        return client


class _NoRefresh:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def headers(self) -> dict[str, str]:
        return dict(self.inner.headers())

    def refresh(self) -> None:
        raise AuthenticationError("no refresh")


class IgnoresSince(FakeConnector):
    def read(self, stream: str, *, since: datetime | None = None) -> Iterator[BaseModel]:
        return super().read(stream)


class PlainSecretConfig(FakeConfig):
    api_token: str = "visible-token"


class PlainSecret(FakeConnector):
    config_model: ClassVar[type[ConnectorConfig]] = PlainSecretConfig


class PlainSecretHarness(FakeHarness):
    def connector(self, *, good_credentials: bool = True) -> FakeConnector:
        base = super().connector(good_credentials=good_credentials)
        config = PlainSecretConfig(**base.config.model_dump())
        return PlainSecret(config, base.client)  # type: ignore[attr-defined]


class CheckRaises(FakeConnector):
    def check(self) -> Any:
        self.client.get_json("me")
        return super().check()


class RetriesEverything(FakeHarness):
    def http_client(self, *, good_credentials: bool = True) -> HttpClient:
        client = super().http_client(good_credentials=good_credentials)
        client.resolutions = {
            **DEFAULT_RESOLUTIONS,
            400: Resolution.RETRY,
            403: Resolution.RETRY,
            422: Resolution.RETRY,
        }
        return client


class NeverRetries(FakeHarness):
    def http_client(self, *, good_credentials: bool = True) -> HttpClient:
        client = super().http_client(good_credentials=good_credentials)
        client.max_attempts = 1
        return client


class IgnoresIdempotencyKey(FakeConnector):
    def create_task(self, task: TaskDraft, *, idempotency_key: str) -> str:
        return super().create_task(task, idempotency_key=uuid.uuid4().hex)


class TrustsAnyWebhook(FakeConnector):
    def verify_webhook(self, *, token: str | None, body: bytes, content_type: str) -> None:
        return None


class UnstableDedupKeys(FakeConnector):
    def parse_webhook(
        self, body: bytes, content_type: str, *, received_at: datetime
    ) -> list[Event]:
        return [
            e.model_copy(update={"id": uuid.uuid4().hex})
            for e in super().parse_webhook(body, content_type, received_at=received_at)
        ]


class DeclaresNotes(FakeConnector):
    capabilities: ClassVar[frozenset[Capability]] = FakeConnector.capabilities | {
        Capability.ADD_NOTE
    }


class ForgetsRotatedTokens(FakeHarness):
    """Refreshed pairs are kept in memory only: the next connector has a dead refresh token."""

    def http_client(self, *, good_credentials: bool = True) -> HttpClient:
        client = super().http_client(good_credentials=good_credentials)
        client.auth = _MemoryOnly(self)
        return client


class _MemoryOnly:
    def __init__(self, harness: FakeHarness) -> None:
        self.harness = harness
        stored = harness.tokens.load()
        assert stored is not None
        self.pair = stored

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.pair.access_token}"}

    def refresh(self) -> None:
        assert self.pair.refresh_token is not None
        self.pair = self.harness.crm.refresh(self.pair.refresh_token)


def test_duplicate_keys_fail_the_streams_check(conformance_store: Store) -> None:
    message = _fails(checks.check_streams, FakeHarness(conformance_store, DuplicateKeys))
    assert "duplicate key" in message


def test_a_swallowed_401_fails_the_refresh_check(conformance_store: Store) -> None:
    harness = NoRefreshHarness(conformance_store, SwallowsAuthErrors)
    message = _fails(checks.check_refresh_on_401, harness)
    assert "refreshes" in message or "refresh" in message


def test_ignoring_since_fails_the_incremental_check(conformance_store: Store) -> None:
    message = _fails(
        checks.check_incremental, FakeHarness(conformance_store, IgnoresSince), conformance_store
    )
    assert "whole stream" in message or "before the bookmark" in message


def test_a_plain_secret_fails_the_config_check(conformance_store: Store) -> None:
    message = _fails(checks.check_config_secrets, PlainSecretHarness(conformance_store))
    assert "api_token" in message


def test_check_raising_on_bad_credentials_fails(conformance_store: Store) -> None:
    message = _fails(checks.check_bad_credentials, FakeHarness(conformance_store, CheckRaises))
    assert "raised AuthenticationError" in message


def test_retrying_4xx_fails_the_4xx_check(conformance_store: Store) -> None:
    message = _fails(checks.check_4xx_fatal, RetriesEverything(conformance_store))
    assert "expected FatalAPIError" in message


def test_not_retrying_429_fails_the_rate_limit_check(conformance_store: Store) -> None:
    message = _fails(checks.check_rate_limits_retried, NeverRetries(conformance_store))
    assert "instead of retrying" in message


def test_ignoring_the_idempotency_key_fails_the_task_check(conformance_store: Store) -> None:
    harness = FakeHarness(conformance_store, IgnoresIdempotencyKey)
    message = _fails(checks.check_create_task_idempotent, harness)
    assert "same idempotency key" in message


def test_accepting_tampered_webhooks_fails(conformance_store: Store) -> None:
    message = _fails(
        checks.check_webhook_tampering, FakeHarness(conformance_store, TrustsAnyWebhook)
    )
    assert "expected VerificationError, nothing was raised" in message


def test_unstable_dedup_keys_fail(conformance_store: Store) -> None:
    message = _fails(
        checks.check_webhook_samples, FakeHarness(conformance_store, UnstableDedupKeys)
    )
    assert "dedup keys" in message


def test_a_declared_capability_without_implementation_fails(conformance_store: Store) -> None:
    harness = FakeHarness(conformance_store, DeclaresNotes)
    message = _fails(checks.check_capabilities_exercised, harness, ConnectorConformance)
    assert "add_note" in message


def test_a_lost_rotated_refresh_token_fails(conformance_store: Store) -> None:
    message = _fails(
        checks.check_rotated_refresh_token_persisted, ForgetsRotatedTokens(conformance_store)
    )
    assert "not persisted" in message


def test_an_unimplemented_harness_operation_fails_for_a_declared_capability(
    conformance_store: Store,
) -> None:
    class NoWebhookSamples(FakeHarness):
        def webhook_samples(self) -> Any:
            raise NotImplementedError

    message = _fails(checks.check_webhook_samples, NoWebhookSamples(conformance_store))
    assert "declares 'webhooks'" in message


def test_an_unimplemented_operation_skips_for_an_undeclared_capability(
    conformance_store: Store,
) -> None:
    class ReadOnly(FakeConnector):
        capabilities: ClassVar[frozenset[Capability]] = frozenset({Capability.READ})

    class NoTouch(FakeHarness):
        def touch(self, stream: str) -> str:
            raise NotImplementedError

    with pytest.raises(pytest.skip.Exception):
        checks.check_incremental(NoTouch(conformance_store, ReadOnly), conformance_store)


def test_every_capability_is_mapped_to_existing_tests() -> None:
    for capability in Capability:
        names = checks.CAPABILITY_CHECKS[capability]
        assert names
        assert all(callable(getattr(ConnectorConformance, n)) for n in names)


def test_the_plugin_runs_a_one_class_suite(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_mycrm=textwrap.dedent(
            """
            import pytest
            from ropilot.testing import ConnectorConformance
            from ropilot.testing.fake import FakeHarness

            class TestMyCRM(ConnectorConformance):
                @pytest.fixture
                def harness(self, store):
                    return FakeHarness(store)
            """
        )
    )
    result = pytester.runpytest("-p", "ropilot.testing", "-m", "conformance", "-q")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0, result.stdout.str()
    assert outcomes["passed"] >= 12
    assert outcomes.get("skipped", 0) >= 1  # writes the fake does not declare, refused


def test_a_missing_harness_fixture_fails_clearly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_nothing=textwrap.dedent(
            """
            from ropilot.testing import ConnectorConformance

            class TestNothing(ConnectorConformance):
                pass
            """
        )
    )
    result = pytester.runpytest("-q", "-k", "test_check_good_credentials")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*must define a `harness` fixture*"])
