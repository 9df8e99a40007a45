"""amoCRM webhooks: decoding, normalization into events, dedup keys, verification."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ropilot.connectors.amocrm.webhooks import (
    decode_webhook_body,
    disconnect_signature,
    events_from_form,
    parse_webhook,
    verify_disconnect_signature,
    verify_token,
    verify_webhook,
)
from ropilot.connectors.phpform import http_build_query, parse_str, to_lists
from ropilot.core.errors import ConfigurationError, PayloadError, VerificationError
from ropilot.core.models import Event, EventAction

DATA = Path(__file__).parent / "data"
# The shared reference folder sits beside the repository (absent in a bare clone).
REFERENCE = Path(__file__).resolve().parents[4].parent / "shared/reference/fixtures/amocrm"
FORM = "application/x-www-form-urlencoded"
RECEIVED = datetime(2024, 7, 10, 12, 0, tzinfo=UTC)
TOKEN = "k9Qw2-secret-token-7f3a0c"


def _pairs(folder: Path) -> list[Any]:
    return [
        pytest.param(f, f.with_name(f.name.replace(".form.txt", ".decoded.json")), id=f.name)
        for f in sorted(folder.glob("*.form.txt"))
    ]


def _body(path: Path) -> bytes:
    # The reference files end with a newline that is not part of the body.
    return path.read_bytes().removesuffix(b"\n")


def _parse(body: bytes | str, **kw: Any) -> list[Event]:
    raw = body.encode() if isinstance(body, str) else body
    return parse_webhook(
        raw,
        FORM,
        account_id=kw.pop("account_id", "acc-1"),
        received_at=kw.pop("received_at", RECEIVED),
        **kw,
    )


def _own(name: str) -> bytes:
    return (DATA / f"{name}.form.txt").read_bytes()


def _own_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / f"{name}.decoded.json").read_text("utf-8"))
    return data


# ---------------------------------------------------------------------------------------------
# Fixtures decode to their JSON view and encode back byte for byte


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=f"reference fixtures not found at {REFERENCE}")
@pytest.mark.parametrize(("form", "decoded"), _pairs(REFERENCE) if REFERENCE.is_dir() else [])
def test_reference_fixture_decodes(form: Path, decoded: Path) -> None:
    body = _body(form)
    expected = json.loads(decoded.read_text("utf-8"))
    assert to_lists(decode_webhook_body(body, FORM)) == expected
    assert http_build_query(expected) == body.decode("ascii")
    events = _parse(body)
    (action,) = expected["leads"]
    assert [(e.entity, e.action, e.entity_id) for e in events] == [
        (
            "deal",
            {
                "add": EventAction.ADDED,
                "update": EventAction.UPDATED,
                "status": EventAction.STAGE_CHANGED,
                "responsible": EventAction.RESPONSIBLE_CHANGED,
                "delete": EventAction.DELETED,
            }[action],
            expected["leads"][action][0]["id"],
        )
    ]


def test_reference_fixtures_are_all_checked() -> None:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference fixtures not found at {REFERENCE}")
    assert len(_pairs(REFERENCE)) >= 5


@pytest.mark.parametrize(("form", "decoded"), _pairs(DATA))
def test_own_fixture_decodes(form: Path, decoded: Path) -> None:
    body = form.read_bytes()
    expected = json.loads(decoded.read_text("utf-8"))
    assert to_lists(decode_webhook_body(body, FORM)) == expected
    assert to_lists(parse_str(body)) == expected
    assert http_build_query(expected) == body.decode("ascii")


def test_own_fixtures_present() -> None:
    assert {p.id for p in _pairs(DATA)} == {
        "contacts_add.form.txt",
        "mixed.form.txt",
        "task_update_closed.form.txt",
        "unsorted_delete_accept.form.txt",
    }


# ---------------------------------------------------------------------------------------------
# Events


def test_mixed_body_gives_events_in_order() -> None:
    events = _parse(_own("mixed"))
    assert [(e.entity, e.action, e.entity_id) for e in events] == [
        ("deal", EventAction.ADDED, "8100004"),
        ("deal", EventAction.STAGE_CHANGED, "8100001"),
        ("deal", EventAction.STAGE_CHANGED, "8100002"),
        ("deal", EventAction.RESPONSIBLE_CHANGED, "8100003"),
        ("deal", EventAction.DELETED, "8100005"),
        ("deal", EventAction.RESTORED, "8100006"),
        ("note", EventAction.NOTE_ADDED, "9500001"),
        ("contact", EventAction.UPDATED, "7100001"),
        ("task", EventAction.ADDED, "3100002"),
    ]
    assert all(e.connector == "amocrm" and e.account_id == "acc-1" for e in events)
    assert all(e.received_at == RECEIVED for e in events)
    assert len({e.id for e in events}) == len(events)

    added, won, lost, resp, deleted, restored, note, contact, task = events
    assert added.occurred_at == datetime.fromtimestamp(1720000100, UTC)
    assert added.payload["stage_id"] == "5200001"
    assert added.payload["name"] == "Поставка №04 & co"
    assert added.payload["custom_field_values"] == {
        "910001": ["Выставка"],
        "910002": ["1719900000"],
        "910003": ["a b", "c=d"],
    }
    assert added.payload["custom_fields"][0]["values"] == [{"value": "Выставка", "enum": "920001"}]
    assert "old_stage_id" not in added.payload

    assert won.payload["stage_id"] == "5100001:142"
    assert won.payload["old_stage_id"] == "5200003"
    assert won.payload["status_id"] == "142"  # the raw field is kept
    assert lost.payload["stage_id"] == "5100001:143"
    assert lost.payload["old_stage_id"] == "5100002:142"  # won in another pipeline before
    assert lost.payload["old_pipeline_id"] == "5100002"
    assert lost.occurred_at == datetime.fromtimestamp(1720000500, UTC)

    assert resp.payload["responsible_user_id"] == "6100003"
    assert resp.payload["old_responsible_user_id"] == "6100002"

    assert deleted.occurred_at == RECEIVED  # no time in a delete
    assert deleted.payload == {
        "id": "8100005",
        "type": "lead",
        "amocrm_entity": "leads",
        "amocrm_action": "delete",
    }
    assert restored.payload["amocrm_action"] == "restore"

    assert note.payload["parent_entity"] == "company"
    assert note.payload["parent_id"] == "7200001"
    assert note.payload["note"]["text"] == "Звонок: 5 мин"
    assert note.occurred_at == datetime.fromtimestamp(1720000600, UTC)

    assert contact.occurred_at == datetime.fromtimestamp(1720000700, UTC)
    # Task times are account-local "Y-m-d H:i:s": Moscow is UTC+3.
    assert task.occurred_at == datetime(2024, 7, 3, 9, 0, tzinfo=UTC)
    assert task.payload["parent_entity"] == "deal"
    assert task.payload["parent_id"] == "8100004"
    assert task.payload["completed"] is False


def test_task_zone_is_configurable() -> None:
    from zoneinfo import ZoneInfo

    (task,) = _parse(_own("task_update_closed"), zone=ZoneInfo("Asia/Novosibirsk"))
    assert task.occurred_at == datetime(2024, 7, 3, 11, 30, tzinfo=UTC)  # 18:30 at UTC+7
    (task,) = _parse(_own("task_update_closed"))
    assert task.occurred_at == datetime(2024, 7, 3, 15, 30, tzinfo=UTC)
    assert (task.entity, task.action, task.entity_id) == ("task", EventAction.UPDATED, "3100001")
    assert task.payload["completed"] is True
    assert task.payload["result"] == {"id": "3900001", "text": "Договорились о встрече"}


def test_contacts_and_companies_share_the_contacts_key() -> None:
    contact, company = _parse(_own("contacts_add"))
    assert (contact.entity, contact.entity_id, contact.action) == (
        "contact",
        "7100001",
        EventAction.ADDED,
    )
    assert (company.entity, company.entity_id, company.action) == (
        "company",
        "7200001",
        EventAction.ADDED,
    )
    assert contact.payload["custom_field_values"] == {
        "910101": ["+7 (900) 000-00-01", "+79000000002"]
    }
    assert contact.payload["linked_leads_id"] == {"8100001": {"ID": "8100001"}}
    assert company.occurred_at == datetime.fromtimestamp(1720000150, UTC)


def test_unsorted_delete() -> None:
    (event,) = _parse(_own("unsorted_delete_accept"))
    assert (event.entity, event.action) == ("unsorted", EventAction.DELETED)
    assert event.entity_id == "f3b1c9d2-0000-4a1e-9c55-acme00000001"
    assert event.payload["accept_result"] == {"leads": ["8100009"], "contacts": ["7100009"]}
    assert event.occurred_at == datetime.fromtimestamp(1720000300, UTC)


def test_flat_note_and_scalar_delete_shapes() -> None:
    events = _parse(
        "leads[note][0][element_id]=8100001&leads[note][0][element_type]=2&leads[delete]=8100009&account[subdomain]=acme"
    )
    assert [(e.entity, e.action, e.entity_id) for e in events] == [
        ("deal", EventAction.NOTE_ADDED, "8100001"),  # no note id: the event is about the lead
        ("deal", EventAction.DELETED, "8100009"),
    ]


def test_items_follow_their_index_and_unknown_keys_are_ignored() -> None:
    body = "leads[add][10][id]=3&leads[add][2][id]=2&leads[add][0][id]=1&talk[add][0][id]=5&leads[merge][0][id]=4&account[subdomain]=acme"
    assert [e.entity_id for e in _parse(body)] == ["1", "2", "3"]
    assert _parse("account[subdomain]=acme&account[id]=1") == []


# ---------------------------------------------------------------------------------------------
# Dedup keys


def _pieces(body: bytes) -> list[bytes]:
    return body.split(b"&")


@settings(max_examples=50, deadline=None)
@given(st.randoms(use_true_random=False))
def test_dedup_keys_survive_reordering(rnd: random.Random) -> None:
    body = _own("mixed")
    pieces = _pieces(body)
    rnd.shuffle(pieces)
    reordered = b"&".join(pieces)
    original = {(e.entity, e.entity_id, e.action): e.id for e in _parse(body)}
    shuffled = {
        (e.entity, e.entity_id, e.action): e.id
        for e in _parse(reordered, received_at=RECEIVED + timedelta(minutes=5))
    }
    assert shuffled == original


def test_dedup_keys_stable_across_redelivery_and_rebatching() -> None:
    first = _parse(_own("mixed"))
    again = _parse(_own("mixed"), received_at=RECEIVED + timedelta(hours=1, minutes=35))
    assert [e.id for e in again] == [e.id for e in first]
    # The same events delivered one per POST, each at index 0.
    form = _own_json("mixed")
    single: list[str] = []
    for entity, actions in form.items():
        if entity == "account":
            continue
        for action, items in actions.items():
            for item in items:
                body = http_build_query({entity: {action: [item]}, "account": form["account"]})
                (event,) = _parse(body)
                single.append(event.id)
    assert single == [e.id for e in first]
    assert all(len(e.id) == 64 and int(e.id, 16) >= 0 for e in first)


def _status_body(**fields: str) -> str:
    item = {
        "id": "8100001",
        "status_id": "5200002",
        "old_status_id": "5200001",
        "pipeline_id": "5100001",
        "last_modified": "1720000100",
        "updated_at": "1720000100",
        "name": "x",
    }
    item.update(fields)
    return http_build_query({"leads": {"status": [item]}, "account": {"subdomain": "acme"}})


def test_dedup_keys_differ_for_different_events() -> None:
    (base,) = _parse(_status_body())
    variants = [
        _status_body(status_id="5200003"),
        _status_body(old_status_id="5200003"),
        _status_body(pipeline_id="5100002"),
        _status_body(last_modified="1720000101", updated_at="1720000101"),
        _status_body(id="8100002"),
        _status_body(old_pipeline_id="5100002"),
    ]
    ids = [base.id] + [_parse(v)[0].id for v in variants]
    assert len(set(ids)) == len(ids)
    # Another action on the same lead at the same time, and another account.
    update = _status_body().replace("%5Bstatus%5D", "%5Bupdate%5D")
    assert _parse(update)[0].id != base.id
    assert _parse(_status_body(), account_id="acc-2")[0].id != base.id
    # Fields that are not part of the event (the name, the account block) do not count.
    assert _parse(_status_body(name="renamed"))[0].id == base.id
    assert _parse(_status_body() + "&account%5Bid%5D=41000007")[0].id == base.id


def test_dedup_keys_tell_task_close_from_result() -> None:
    form = _own_json("task_update_closed")
    item = form["task"]["update"][0]
    closed = _parse(http_build_query(form))[0].id
    open_item = dict(item, status="0", action_close="0")
    open_item.pop("result")
    reopened = _parse(http_build_query({"task": {"update": [open_item]}}))[0].id
    other_result = dict(item, result={"id": "3900002", "text": "x"})
    with_other = _parse(http_build_query({"task": {"update": [other_result]}}))[0].id
    assert len({closed, reopened, with_other}) == 3


# ---------------------------------------------------------------------------------------------
# Verification


def _verify(
    form: dict[str, Any],
    token: str | None = TOKEN,
    account_id: str | None = "41000007",
    subdomain: str | None = "acme",
) -> None:
    verify_webhook(
        path_token=token,
        expected_token=TOKEN,
        form=form,
        expected_account_id=account_id,
        expected_subdomain=subdomain,
    )


def test_verify_accepts_the_installation() -> None:
    form = decode_webhook_body(_own("mixed"), FORM)
    _verify(form)
    _verify(form, account_id=None)
    _verify(form, subdomain=None)
    _verify(form, subdomain="ACME")  # subdomains compare case-insensitively
    # Old payloads carry only the subdomain.
    _verify(decode_webhook_body(_own("task_update_closed"), FORM))


@pytest.mark.parametrize(
    "token", [None, "", TOKEN[:-1], TOKEN + "x", TOKEN[:-1] + "X", TOKEN.upper(), "ключ"]
)
def test_verify_rejects_a_tampered_token(token: str | None) -> None:
    form = decode_webhook_body(_own("mixed"), FORM)
    with pytest.raises(VerificationError, match="token"):
        _verify(form, token=token)
    with pytest.raises(VerificationError):
        verify_token(token, TOKEN)


def test_verify_rejects_other_accounts() -> None:
    form = decode_webhook_body(_own("mixed"), FORM)
    with pytest.raises(VerificationError, match=r"account\[id\]"):
        _verify(form, account_id="41000008")
    with pytest.raises(VerificationError, match=r"account\[subdomain\]"):
        _verify(form, subdomain="acme2")
    with pytest.raises(VerificationError, match=r"account\[id\]"):
        _verify(form, account_id="41000008", subdomain="acme")  # one mismatch is enough
    no_account = {k: v for k, v in form.items() if k != "account"}
    with pytest.raises(VerificationError, match="no account block"):
        _verify(no_account)
    # Only the subdomain is carried, but only the id is configured: nothing to check.
    old = decode_webhook_body(_own("task_update_closed"), FORM)
    with pytest.raises(VerificationError, match="neither"):
        _verify(old, subdomain=None)
    # An item claiming another amoCRM account.
    tampered = decode_webhook_body(
        _own("mixed").replace(b"account_id%5D=41000007", b"account_id%5D=41000009", 1), FORM
    )
    with pytest.raises(VerificationError, match=r"leads\[add\]\[0\]\[account_id\]"):
        _verify(tampered)


def test_verify_configuration_and_shape_errors() -> None:
    form = decode_webhook_body(_own("mixed"), FORM)
    with pytest.raises(ConfigurationError):
        _verify(form, account_id=None, subdomain=None)
    with pytest.raises(ConfigurationError):
        verify_webhook(
            path_token="",
            expected_token="",
            form=form,
            expected_account_id="1",
            expected_subdomain=None,
        )
    with pytest.raises(PayloadError):
        _verify(decode_webhook_body(b"account=acme&leads[add][0][id]=1", FORM))


# ---------------------------------------------------------------------------------------------
# Broken bodies


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", FORM, "empty body"),
        (b"  \n", FORM, "empty body"),
        (b"&&", FORM, "no variables"),
        (b'{"leads": {"add": []}}', "application/json", "content type"),
        (b"leads[add][0][id]=1", "text/plain", "content type"),
        (b"leads[add][0][id]=1", None, "content type"),
        (b"leads[add][0][id]=1", FORM + "; charset=windows-1251", "charset"),
        (b"leads[add][0][name]=%D0%9F%D0", FORM, "UTF-8"),
        (b"leads[add][0][name]=\xcf\xf0\xe8", FORM, "UTF-8"),
        (b"leads[add][0][id]=1%", FORM, "percent escape"),
        (b"leads[add][0][id=1", FORM, "unclosed"),
        (b"leads[add][0][id]=1&leads[add][0]=2", FORM, "which is a map"),
        (b"leads=1", FORM, "not a map of actions"),
        (b"leads[add][0][name]=x", FORM, "carries no id"),
        (b"leads[add][0][id]=abc", FORM, "not an amoCRM id"),
        (b"leads[add]=12x", FORM, "not an amoCRM id"),
        (
            b"contacts[add][0][id]=1&contacts[add][0][type]=robot",
            FORM,
            "expected contact or company",
        ),
        (b"leads[add][0][id]=1&" + b"x" * (5 * 1024 * 1024), FORM, "limit is 5242880 bytes"),
    ],
)
def test_broken_bodies_are_payload_errors(
    body: bytes, content_type: str | None, message: str
) -> None:
    with pytest.raises(PayloadError, match=message) as info:
        parse_webhook(body, content_type, account_id="acc-1", received_at=RECEIVED)  # type: ignore[arg-type]
    assert info.value.status == 400


def test_content_type_with_charset_is_accepted() -> None:
    events = parse_webhook(
        _own("contacts_add"),
        "Application/X-WWW-Form-Urlencoded; charset=UTF-8",
        account_id="a",
        received_at=RECEIVED,
    )
    assert len(events) == 2


def test_naive_received_at_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        events_from_form({}, account_id="a", received_at=datetime(2024, 1, 1))


# ---------------------------------------------------------------------------------------------
# Disconnect hook

CLIENT_ID = "4c3e4b1a-0000-4000-8000-00000000c11d"
CLIENT_SECRET = "s3cr3t-Client"
# PHP: hash_hmac("sha256", "$client_id|41000007", $client_secret)
SIGNATURE = "a327afcfd7ec1902912f77c344d67f888b1839aaa6561acc4bfa3d701e229ed0"


def test_disconnect_signature_accepted() -> None:
    assert (
        disconnect_signature(
            client_id=CLIENT_ID, client_secret=CLIENT_SECRET, account_id="41000007"
        )
        == SIGNATURE
    )
    verify_disconnect_signature(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, account_id="41000007", signature=SIGNATURE
    )
    verify_disconnect_signature(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        account_id="41000007",
        signature=SIGNATURE.upper(),
    )


@pytest.mark.parametrize(
    ("account_id", "signature", "secret"),
    [
        ("41000008", SIGNATURE, CLIENT_SECRET),
        ("41000007", SIGNATURE[:-1] + "1", CLIENT_SECRET),
        ("41000007", SIGNATURE, "other-secret"),
        ("41000007", None, CLIENT_SECRET),
        ("41000007", "", CLIENT_SECRET),
        ("", SIGNATURE, CLIENT_SECRET),
        ("41000007", SIGNATURE[:32], CLIENT_SECRET),
    ],
)
def test_disconnect_signature_rejected(account_id: str, signature: str | None, secret: str) -> None:
    with pytest.raises(VerificationError):
        verify_disconnect_signature(
            client_id=CLIENT_ID, client_secret=secret, account_id=account_id, signature=signature
        )


def test_disconnect_signature_needs_a_secret() -> None:
    with pytest.raises(ConfigurationError):
        verify_disconnect_signature(
            client_id=CLIENT_ID, client_secret="", account_id="41000007", signature=SIGNATURE
        )
