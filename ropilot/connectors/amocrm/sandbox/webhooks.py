"""Outbound webhooks: amoCRM's form encoding and delivery with its retry schedule (A8, D1 21–26)."""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote_plus, urlencode

import requests

if TYPE_CHECKING:
    from ropilot.connectors.amocrm.sandbox.state import SandboxState

USER_AGENT = "amoCRM-WebHook-client/1.0"
HookItem = tuple[str, str, str, dict[str, Any]]
"""(setting, section, action, fields): e.g. ("status_lead", "leads", "status", {...})."""

RETRY_DELAYS_4XX = (5 * 60, 15 * 60)
"""Delays before attempts 2 and 3 when the previous code was 0–99 or ≥ 300."""
RETRY_DELAYS_5XX = (5 * 60, 15 * 60, 15 * 60, 60 * 60)
"""Delays before attempts 2–5 when the previous code was 499 or 5xx."""


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}[{key}]" if prefix else str(key), item, out)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _flatten(f"{prefix}[{index}]", item, out)
    elif value is None:
        out.append((prefix, ""))
    elif isinstance(value, bool):
        out.append((prefix, "1" if value else "0"))
    else:
        out.append((prefix, str(value)))


def php_build_query(data: dict[str, Any]) -> str:
    """PHP ``http_build_query``: bracket keys percent-encoded, every value a string."""
    pairs: list[tuple[str, str]] = []
    _flatten("", data, pairs)
    return urlencode(pairs, quote_via=quote_plus)


def build_payload(items: Iterable[HookItem], account: dict[str, Any]) -> dict[str, Any]:
    """The nested form ``{section: {action: [fields…]}, account: {…}}`` of one delivery."""
    payload: dict[str, Any] = {}
    for _setting, section, action, fields in items:
        payload.setdefault(section, {}).setdefault(action, []).append(fields)
    payload["account"] = account
    return payload


def disconnect_signature(client_id: str, client_secret: str, account_id: int) -> str:
    """The ``signature`` of the disconnect hook: HMAC-SHA256(secret, "client_id|account_id")."""
    message = f"{client_id}|{account_id}".encode()
    return hmac.new(client_secret.encode(), message, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    """One delivery attempt's outcome (``state.deliveries`` keeps them all)."""

    webhook_id: int
    destination: str
    body: str
    attempt: int
    at: float
    status: int
    ok: bool


@dataclass
class _Pending:
    webhook_id: int
    destination: str
    body: str
    attempt: int
    due: float


@dataclass
class WebhookDispatcher:
    """Sends queued deliveries from a background thread; retries on the sandbox clock."""

    state: SandboxState
    deliveries: list[Delivery] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _stop: bool = False
    _busy: int = 0
    _invalid: dict[int, list[float]] = field(default_factory=dict)

    def enqueue(self, items: list[HookItem], base_url: str | None) -> None:
        """Queue one POST per subscribed webhook for the events of one write request."""
        if not items:
            return
        st = self.state
        with st.lock:
            hooks = [h for h in st.webhooks.values() if not h["disabled"]]
            account: dict[str, Any] = {
                "subdomain": st.subdomain,
                "id": st.account["id"],
                "_links": {"self": base_url or f"https://{st.subdomain}.amocrm.ru"},
            }
        now = st.clock.now()
        delay = max(st.config.webhook_batch_window, 0.0)
        with self._cond:
            for hook in hooks:
                wanted = [i for i in items if i[0] in hook["settings"]]
                if not wanted:
                    continue
                body = php_build_query(build_payload(wanted, account))
                self._pending.append(
                    _Pending(hook["id"], hook["destination"], body, 1, now + delay)
                )
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._stop = False
            self._thread = threading.Thread(
                target=self._run, name="amocrm-sandbox-webhooks", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop:
                    return
                now = self.state.clock.now()
                due = [p for p in self._pending if p.due <= now]
                if not due:
                    self._cond.wait(timeout=0.05)
                    continue
                for p in due:
                    self._pending.remove(p)
                self._busy += len(due)
            for p in due:
                try:
                    self._send(p)
                finally:
                    with self._cond:
                        self._busy -= 1
                        self._cond.notify_all()

    def _send(self, p: _Pending) -> None:
        st = self.state
        status = 0
        try:
            response = requests.post(
                p.destination,
                data=p.body.encode("ascii"),
                headers={
                    "User-Agent": USER_AGENT,
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Accept": "*/*",
                    "Connection": "close",
                },
                timeout=st.config.webhook_timeout,
                allow_redirects=False,
            )
            status = response.status_code
        except requests.RequestException:
            status = 0
        now = st.clock.now()
        ok = 100 <= status <= 299
        with self._cond:
            self.deliveries.append(
                Delivery(p.webhook_id, p.destination, p.body, p.attempt, now, status, ok)
            )
        if ok:
            return
        self._note_invalid(p.webhook_id, now)
        server_error = status == 499 or 500 <= status <= 599
        delays = RETRY_DELAYS_5XX if server_error else RETRY_DELAYS_4XX
        if p.attempt <= len(delays):
            with self._cond:
                self._pending.append(
                    _Pending(
                        p.webhook_id,
                        p.destination,
                        p.body,
                        p.attempt + 1,
                        now + delays[p.attempt - 1],
                    )
                )

    def _note_invalid(self, webhook_id: int, now: float) -> None:
        times = [t for t in self._invalid.get(webhook_id, []) if t > now - 7200] + [now]
        self._invalid[webhook_id] = times
        if len(times) > 100:
            with self.state.lock:
                hook = self.state.webhooks.get(webhook_id)
                if hook is not None:
                    hook["disabled"] = True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until nothing is due or being sent; False on timeout."""
        import time as _time

        end = _time.monotonic() + timeout
        with self._cond:
            while True:
                now = self.state.clock.now()
                if self._busy == 0 and not any(p.due <= now for p in self._pending):
                    return True
                left = end - _time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(timeout=min(left, 0.05))

    def pending(self) -> int:
        """Deliveries waiting (including scheduled retries)."""
        with self._cond:
            return len(self._pending)

    def stop(self) -> None:
        """Stop the sender thread."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def send_disconnect(self, url: str) -> int:
        """GET the disconnect hook as amoCRM does; returns the HTTP status (0 = no answer)."""
        st = self.state
        settings = st.auth.settings
        params = {
            "account_id": str(st.account["id"]),
            "client_uuid": settings.client_id,
            "signature": disconnect_signature(
                settings.client_id, settings.client_secret, int(st.account["id"])
            ),
        }
        try:
            response = requests.get(
                url,
                params=params,
                headers={"User-Agent": USER_AGENT},
                timeout=st.config.webhook_timeout,
            )
        except requests.RequestException:
            return 0
        return response.status_code
