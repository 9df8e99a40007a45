from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from ropilot.connectors.amocrm.connector import AmoCRMConfig, AmoCRMConnector
from ropilot.connectors.phpform import http_build_query
from ropilot.core.errors import ConfigurationError, VerificationError
from ropilot.core.models import EventAction

FORM = "application/x-www-form-urlencoded"


def _connector(**kw: Any) -> AmoCRMConnector:
    config = AmoCRMConfig(
        account_id="main",
        base_url="https://acme.amocrm.ru",
        webhook_token=SecretStr("s3cret-token"),
        amo_account_id="7039099",
        **kw,
    )
    return AmoCRMConnector(config, client=None)  # type: ignore[arg-type]


def _body(account_id: str = "7039099", subdomain: str = "acme") -> bytes:
    data = {
        "leads": {
            "status": {
                "0": {
                    "id": "25399013",
                    "status_id": "142",
                    "old_status_id": "7039101",
                    "pipeline_id": "3142",
                    "last_modified": "1413554372",
                }
            },
            "responsible": {
                "0": {
                    "id": "25399014",
                    "responsible_user_id": "2",
                    "old_responsible_user_id": "1",
                    "last_modified": "1413554373",
                }
            },
        },
        "account": {"subdomain": subdomain, "id": account_id},
    }
    return http_build_query(data).encode()


def test_verified_body_gives_normalized_events() -> None:
    connector = _connector()
    connector.verify_webhook(token="s3cret-token", body=_body(), content_type=FORM)
    events = connector.parse_webhook(_body(), FORM, received_at=datetime(2026, 1, 1, tzinfo=UTC))
    assert [(e.entity, e.entity_id, e.action) for e in events] == [
        ("deal", "25399013", EventAction.STAGE_CHANGED),
        ("deal", "25399014", EventAction.RESPONSIBLE_CHANGED),
    ]
    assert events[0].payload["stage_id"] == "3142:142"
    again = connector.parse_webhook(_body(), FORM, received_at=datetime(2026, 2, 1, tzinfo=UTC))
    assert [e.id for e in again] == [e.id for e in events]  # stable dedup keys


@pytest.mark.parametrize(
    ("token", "body"),
    [
        ("wrong", _body()),
        ("s3cret-token", _body(account_id="1")),
        ("s3cret-token", _body(subdomain="other")),
    ],
)
def test_tampered_requests_are_refused(token: str, body: bytes) -> None:
    with pytest.raises(VerificationError):
        _connector().verify_webhook(token=token, body=body, content_type=FORM)


def test_no_webhook_token_configured_is_a_configuration_error() -> None:
    connector = AmoCRMConnector(
        AmoCRMConfig(account_id="main", base_url="https://acme.amocrm.ru"),
        client=None,  # type: ignore[arg-type]
    )
    with pytest.raises(ConfigurationError, match="webhook_token"):
        connector.verify_webhook(token="x", body=_body(), content_type=FORM)
