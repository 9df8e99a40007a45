"""Run the sandbox on a local port in a background thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ropilot.connectors.amocrm.sandbox.app import create_app
from ropilot.connectors.amocrm.sandbox.config import SandboxConfig
from ropilot.connectors.amocrm.sandbox.seed import load_bundle, load_generated
from ropilot.connectors.amocrm.sandbox.state import SandboxState


@dataclass(frozen=True)
class Credentials:
    """What the sandbox issued to its one integration."""

    base_url: str
    client_id: str
    client_secret: str
    redirect_uri: str
    authorization_code: str
    long_lived_token: str
    subdomain: str
    account_id: int

    def as_dict(self) -> dict[str, Any]:
        """The credentials as a plain dict."""
        return {
            "base_url": self.base_url,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "redirect_uri": self.redirect_uri,
            "authorization_code": self.authorization_code,
            "long_lived_token": self.long_lived_token,
            "subdomain": self.subdomain,
            "account_id": self.account_id,
        }

    def describe(self) -> str:
        """Human-readable lines for a terminal."""
        return "\n".join(
            [
                f"amoCRM sandbox:      {self.base_url}",
                f"account id:          {self.account_id} (subdomain {self.subdomain})",
                f"client_id:           {self.client_id}",
                f"client_secret:       {self.client_secret}",
                f"redirect_uri:        {self.redirect_uri}",
                f"authorization code:  {self.authorization_code} (valid 20 minutes, once)",
                f"long-lived token:    {self.long_lived_token}",
            ]
        )

    def print(self) -> None:
        """Print :meth:`describe`."""
        print(self.describe())


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class SandboxServer:
    """A running sandbox: ``base_url``, ``credentials``, ``stop()``; a context manager."""

    def __init__(self, state: SandboxState, host: str, port: int, log_requests: bool) -> None:
        self.state = state
        self.app = create_app(state)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            self.app,
            threaded=True,
            request_handler=None if log_requests else _QuietHandler,
        )
        self._server.daemon_threads = True  # type: ignore[attr-defined]
        self.host = host
        self.port = int(self._server.server_port)
        shown = f"[{host}]" if ":" in host else host
        self.base_url = f"http://{shown}:{self.port}"
        state.base_url = self.base_url
        with state.lock:
            long_lived = state.auth.long_lived_token(f"{shown}:{self.port}")
        settings = state.auth.settings
        self.credentials = Credentials(
            base_url=self.base_url,
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            redirect_uri=settings.redirect_uri,
            authorization_code=state.authorization_code,
            long_lived_token=long_lived,
            subdomain=state.subdomain,
            account_id=int(state.account["id"]),
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"amocrm-sandbox-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self.state.dispatcher.stop()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def run_sandbox(
    state: SandboxState, host: str = "127.0.0.1", port: int = 0, *, log_requests: bool = True
) -> SandboxServer:
    """Serve ``state`` on ``host:port`` (0 = a free port) in a background thread.

    Args:
        state: the account to serve.
        host: the interface to listen on.
        port: the port; 0 picks a free one (see ``server.port`` / ``server.base_url``).
        log_requests: write werkzeug's access log lines to stderr.
    """
    return SandboxServer(state, host, port, log_requests)


def sandbox_from_options(
    bundle: Path | None, deals: int = 300, seed: int = 1, **switches: Any
) -> SandboxState:
    """A state from the CLI's options: a bundle path, else a generated account.

    Args:
        bundle: a bundle folder, .zip or .xlsx; None generates one.
        deals: deals to generate when ``bundle`` is None.
        seed: generator seed when ``bundle`` is None.
        **switches: :class:`SandboxConfig` fields (``rate_limit=0``, ``access_ttl=60``, …).

    Raises:
        TypeError: for an unknown switch.
        BundleError: if the bundle cannot be read.
    """
    config = SandboxConfig.from_switches(**switches)
    if bundle is not None:
        return load_bundle(Path(bundle), config)
    return load_generated(deals, seed, config)
