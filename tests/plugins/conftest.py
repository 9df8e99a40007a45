"""Fixtures for the plugin tests: fake installed distributions in a temporary folder."""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import pytest

from ropilot.plugins import manager

# Keep the host environment's switches out of the tests.
_SWITCHES = (manager.DISABLE_AUTOLOAD_ENV, manager.PLUGINS_ENV, manager.TRACE_ENV)


@pytest.fixture(autouse=True)
def _clean_plugin_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fake_dists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., str]]:
    """Return ``make(dist, version, source, ep_name=None) -> module name``.

    Each call writes a module and a ``.dist-info`` folder declaring one entry point of group
    ``ropilot`` into ``tmp_path``; the manager then sees exactly these distributions (the
    real site-packages are not scanned), discovered through the real importlib.metadata.
    """
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(
        manager,
        "_entry_points",
        lambda: [
            ep
            for dist in metadata.distributions(path=[str(root)])
            for ep in dist.entry_points
            if ep.group == manager.ENTRY_POINT_GROUP
        ],
    )
    modules: list[str] = []

    def make(dist: str, version: str, source: str, ep_name: str | None = None) -> str:
        module = f"ropilot_fake_{uuid.uuid4().hex[:10]}"
        modules.append(module)
        (root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8"
        )
        (info / "entry_points.txt").write_text(
            f"[ropilot]\n{ep_name or module} = {module}\n", encoding="utf-8"
        )
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)
