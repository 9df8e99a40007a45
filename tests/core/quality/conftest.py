"""Fixture: a store loaded with the hand-made account of bundle.py."""

from __future__ import annotations

import pytest

from ropilot.core.store import Store
from tests.core.quality.bundle import load


@pytest.fixture
def loaded(store: Store) -> Store:
    load(store)
    return store
