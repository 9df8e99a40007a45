"""An offline amoCRM (Kommo) API v4 sandbox: a local Flask server seeded from a bundle.

It behaves as ``crm_apis.md`` part D1 describes (HAL envelopes, 204 for empty pages, strict
refresh-token rotation, 7 rps with a non-JSON 429 and a 403 block, a fault plan, a virtual
clock, outbound webhooks) so that any client written against the amoCRM docs can be pointed
at it::

    from ropilot.connectors.amocrm.sandbox import run_sandbox, sandbox_from_options

    state = sandbox_from_options(None, deals=300, seed=1, rate_limit=7)
    with run_sandbox(state) as server:
        server.credentials.print()
        ...  # http://127.0.0.1:PORT/api/v4/leads with the long-lived token

See docs/amocrm-sandbox.md.
"""

from ropilot.connectors.amocrm.sandbox.app import create_app
from ropilot.connectors.amocrm.sandbox.clock import SandboxClock
from ropilot.connectors.amocrm.sandbox.config import SandboxConfig
from ropilot.connectors.amocrm.sandbox.limits import Fault, FaultPlan, RateLimiter
from ropilot.connectors.amocrm.sandbox.seed import load_bundle, load_generated
from ropilot.connectors.amocrm.sandbox.server import (
    Credentials,
    SandboxServer,
    run_sandbox,
    sandbox_from_options,
)
from ropilot.connectors.amocrm.sandbox.state import SandboxState
from ropilot.connectors.amocrm.sandbox.webhooks import php_build_query

__all__ = [
    "Credentials",
    "Fault",
    "FaultPlan",
    "RateLimiter",
    "SandboxClock",
    "SandboxConfig",
    "SandboxServer",
    "SandboxState",
    "create_app",
    "load_bundle",
    "load_generated",
    "php_build_query",
    "run_sandbox",
    "sandbox_from_options",
]
