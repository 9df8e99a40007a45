"""Fixtures: one small generated bundle per session, a fresh sandbox state per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from ropilot.connectors.amocrm.sandbox import (
    SandboxClock,
    SandboxConfig,
    SandboxServer,
    SandboxState,
    create_app,
    load_bundle,
    run_sandbox,
)
from ropilot.generator import generate_bundle


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("amocrm-bundle")
    generate_bundle(path, deals=200, seed=1)
    return path


def make_state(bundle_dir: Path, **switches: Any) -> SandboxState:
    """A state on a frozen clock (real time at the start), rate limit off unless given."""
    switches.setdefault("rate_limit", 0)
    clock = SandboxClock()
    clock.freeze()
    return load_bundle(bundle_dir, SandboxConfig.from_switches(**switches), clock)


@pytest.fixture
def fresh(bundle_dir: Path) -> Iterator[Callable[..., SandboxState]]:
    """Make states with switches: ``fresh(rate_limit=7)``."""
    made: list[SandboxState] = []

    def make(**switches: Any) -> SandboxState:
        st = make_state(bundle_dir, **switches)
        made.append(st)
        return st

    yield make
    for st in made:
        st.dispatcher.stop()


@pytest.fixture
def state(bundle_dir: Path) -> Iterator[SandboxState]:
    made = make_state(bundle_dir)
    yield made
    made.dispatcher.stop()


@pytest.fixture
def token(state: SandboxState) -> str:
    with state.lock:
        return state.auth.long_lived_token()


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(state: SandboxState) -> FlaskClient:
    return create_app(state).test_client()


@pytest.fixture
def server(state: SandboxState) -> Iterator[SandboxServer]:
    with run_sandbox(state, log_requests=False) as running:
        yield running
