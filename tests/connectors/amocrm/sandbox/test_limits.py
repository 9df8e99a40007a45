"""Rate limit (non-JSON 429), 403 block, fault plan, 402, latency, concurrency."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import requests

from ropilot.connectors.amocrm.sandbox import Fault, SandboxState, create_app, run_sandbox


def _is_json(text: str) -> bool:
    import json

    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def test_429_is_not_json_above_the_rate(fresh: Callable[..., SandboxState]) -> None:
    state = fresh(rate_limit=7, block_after=0)
    client = create_app(state).test_client()
    token = state.auth.long_lived_token()
    h = {"Authorization": f"Bearer {token}"}
    codes = [client.get("/api/v4/leads?limit=1", headers=h).status_code for _ in range(10)]
    assert codes == [200] * 7 + [429] * 3
    r = client.get("/api/v4/leads?limit=1", headers=h)
    assert r.status_code == 429
    assert r.data and not _is_json(r.get_data(as_text=True))
    assert "Retry-After" not in r.headers
    state.clock.advance(1)
    assert client.get("/api/v4/leads?limit=1", headers=h).status_code == 200
    state.config.retry_after = 2
    for _ in range(10):
        r = client.get("/api/v4/leads?limit=1", headers=h)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"


def test_block_after_k_violations_until_unblock(fresh: Callable[..., SandboxState]) -> None:
    state = fresh(rate_limit=7, block_after=5, block_window=60)
    client = create_app(state).test_client()
    h = {"Authorization": f"Bearer {state.auth.long_lived_token()}"}
    codes = [client.get("/api/v4/account", headers=h).status_code for _ in range(12)]
    assert codes == [200] * 7 + [429] * 5
    state.clock.advance(3600)
    for path in ("/api/v4/account", "/api/v4/leads", "/oauth2/access_token"):
        r = client.get(path, headers=h)
        assert r.status_code == 403
        text = r.get_data(as_text=True)
        assert (
            "403 Forbidden" in text and "nginx" in text and r.content_type.startswith("text/html")
        )
    state.unblock()
    assert client.get("/api/v4/account", headers=h).status_code == 200


def test_strikes_outside_the_window_do_not_block(fresh: Callable[..., SandboxState]) -> None:
    state = fresh(rate_limit=1, block_after=3, block_window=10)
    client = create_app(state).test_client()
    h = {"Authorization": f"Bearer {state.auth.long_lived_token()}"}
    for _ in range(4):
        assert client.get("/api/v4/account", headers=h).status_code == 200
        assert client.get("/api/v4/account", headers=h).status_code == 429
        state.clock.advance(6)
    assert not state.limiter.blocked


def test_fault_plan(client: object, state: SandboxState, auth: dict[str, str]) -> None:
    from flask.testing import FlaskClient

    assert isinstance(client, FlaskClient)
    state.faults.add("GET /api/v4/leads", [429, 503, 500], then=None)
    got = [client.get("/api/v4/leads?limit=1", headers=auth) for _ in range(4)]
    assert [r.status_code for r in got] == [429, 503, 500, 200]
    for r in got[:3]:
        assert not _is_json(r.get_data(as_text=True))
    assert "nginx" in got[1].get_data(as_text=True)
    # other routes are untouched; wildcards and `then`
    state.faults.add("* /api/v4/contacts*", [], then=Fault(502, headers={"X-Test": "1"}))
    assert client.get("/api/v4/tasks?limit=1", headers=auth).status_code == 200
    r = client.get("/api/v4/contacts/1", headers=auth)
    assert r.status_code == 502 and r.headers["X-Test"] == "1"
    state.faults.clear()
    state.faults.add(
        "GET /api/v4/account", [401, 402, Fault(418, body="teapot", content_type="text/plain")]
    )
    r = client.get("/api/v4/account", headers=auth)
    assert r.status_code == 401 and r.get_json(force=True)["title"] == "Unauthorized"
    assert client.get("/api/v4/account", headers=auth).status_code == 402
    r = client.get("/api/v4/account", headers=auth)
    assert r.status_code == 418 and r.data == b"teapot"
    assert client.get("/api/v4/account", headers=auth).status_code == 200
    assert state.faults.pending() == 0


def test_payment_required_and_latency(
    client: object, state: SandboxState, auth: dict[str, str]
) -> None:
    from flask.testing import FlaskClient

    assert isinstance(client, FlaskClient)
    state.config.payment_required = True
    r = client.get("/api/v4/leads", headers=auth)
    assert r.status_code == 402 and r.content_type == "application/problem+json"
    state.config.payment_required = False
    state.config.latency = 0.2
    start = time.monotonic()
    assert client.get("/api/v4/account", headers=auth).status_code == 200
    assert time.monotonic() - start >= 0.2


def test_dropped_connection_fault(fresh: Callable[..., SandboxState]) -> None:
    state = fresh()
    with run_sandbox(state, log_requests=False) as server:
        h = {"Authorization": f"Bearer {server.credentials.long_lived_token}"}
        state.faults.add("GET /api/v4/account", [0])
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{server.base_url}/api/v4/account", headers=h, timeout=5)
        assert (
            requests.get(f"{server.base_url}/api/v4/account", headers=h, timeout=5).status_code
            == 200
        )


def test_concurrent_readers_get_consistent_pages_and_are_counted(
    fresh: Callable[..., SandboxState],
) -> None:
    state = fresh(rate_limit=7, block_after=0, account_rate_limit=0)
    with run_sandbox(state, log_requests=False) as server:
        h = {"Authorization": f"Bearer {server.credentials.long_lived_token}"}
        results: list[int] = []
        lock = threading.Lock()
        barrier = threading.Barrier(20)

        def hit() -> None:
            barrier.wait()
            r = requests.get(f"{server.base_url}/api/v4/leads?limit=5", headers=h, timeout=10)
            with lock:
                results.append(r.status_code)

        threads = [threading.Thread(target=hit) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == [200] * 7 + [429] * 13
        assert state.limiter.allowed == 7 and state.limiter.rejected == 13

        # no limit: 8 threads page through everything at once and all see the same data
        state.config.rate_limit = 0
        want = sorted(state.records["leads"])
        seen: list[list[int]] = []

        def crawl() -> None:
            ids: list[int] = []
            page = 1
            while True:
                r = requests.get(
                    f"{server.base_url}/api/v4/leads",
                    params={"limit": "30", "page": str(page), "order[updated_at]": "asc"},
                    headers=h,
                    timeout=10,
                )
                body = r.json()
                ids += [x["id"] for x in body["_embedded"]["leads"]]
                if "next" not in body["_links"]:
                    break
                page += 1
            with lock:
                seen.append(ids)

        threads = [threading.Thread(target=crawl) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(seen) == 8
        assert all(s == seen[0] for s in seen)
        assert sorted(seen[0]) == want
