"""A real distribution, installed with pip, is discovered through its entry point.

The example distributions are built from a copy in tmp_path (so no build/ or *.egg-info is
left inside tests/) and installed with ``pip --target`` into a temporary folder that only the
subprocesses see on PYTHONPATH; the test venv is not modified.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import ropilot

HERE = Path(__file__).resolve().parent
REPO = Path(ropilot.__file__).resolve().parents[1]

LIST_SCRIPT = """
import json
from ropilot.plugins.listing import describe_plugins
from ropilot.plugins.manager import get_plugin_manager

pm = get_plugin_manager()
from ropilot.core.kpi.builtins import BUILTIN_KPIS
kpis = [
    k.name for batch in pm.hook.ropilot_register_kpis() for k in batch if k not in BUILTIN_KPIS
]
print(json.dumps({
    "plugins": [vars(i) for i in describe_plugins(pm)],
    "kpis": kpis,
}))
"""

LOAD_SCRIPT = """
from ropilot.core.errors import PluginLoadError
from ropilot.plugins.manager import get_plugin_manager

try:
    get_plugin_manager()
except PluginLoadError as exc:
    print("PluginLoadError:", exc)
else:
    print("loaded")
"""


def install(example: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp(example)
    source = work / "src"
    shutil.copytree(
        HERE / example,
        source,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    target = work / "site"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--disable-pip-version-check",
            "--quiet",
            "--target",
            str(target),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"pip install of {example} failed:\n{proc.stdout}\n{proc.stderr}")
    return target


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install("example_plugin", tmp_path_factory)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install("broken_plugin", tmp_path_factory)


def run(script: str, site: Path, cwd: Path, **switches: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROPILOT_")}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(REPO)])
    env.update(switches)
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def listing(site: Path, cwd: Path, **switches: str) -> dict[str, list]:
    return json.loads(run(LIST_SCRIPT, site, cwd, **switches))


def test_sources_tree_stays_clean() -> None:
    for example in ("example_plugin", "broken_plugin"):
        leftovers = [p.name for p in (HERE / example).iterdir() if p.suffix == ".egg-info"]
        assert not (HERE / example / "build").exists()
        assert leftovers == []


def test_installed_plugin_is_discovered_through_entry_point(
    example_site: Path, tmp_path: Path
) -> None:
    out = listing(example_site, tmp_path)
    plugins = {p["name"]: p for p in out["plugins"]}
    assert plugins["example"] == {
        "name": "example",
        "distribution": "ropilot-example-plugin",
        "version": "0.3.1",
        "hooks": ["ropilot_register_kpis"],
    }
    assert out["kpis"] == ["example_deals_won"]
    # built-ins are listed too
    assert plugins["ropilot.plugins.builtin_notifiers"]["distribution"] == "ropilot (built-in)"


def test_allow_list_blocks_or_admits_the_plugin(example_site: Path, tmp_path: Path) -> None:
    blocked = listing(example_site, tmp_path, ROPILOT_PLUGINS="other")
    assert "example" not in {p["name"] for p in blocked["plugins"]}
    assert blocked["kpis"] == []
    assert "ropilot.plugins.builtin_notifiers" in {p["name"] for p in blocked["plugins"]}

    by_dist = listing(example_site, tmp_path, ROPILOT_PLUGINS="other,ropilot-example-plugin")
    assert by_dist["kpis"] == ["example_deals_won"]
    by_ep = listing(example_site, tmp_path, ROPILOT_PLUGINS="example")
    assert by_ep["kpis"] == ["example_deals_won"]


def test_disable_autoload_switch(example_site: Path, tmp_path: Path) -> None:
    out = listing(example_site, tmp_path, ROPILOT_DISABLE_PLUGIN_AUTOLOAD="1")
    assert "example" not in {p["name"] for p in out["plugins"]}
    assert out["kpis"] == []


def test_broken_distribution_fails_with_its_name(broken_site: Path, tmp_path: Path) -> None:
    out = run(LOAD_SCRIPT, broken_site, tmp_path)
    assert out.startswith("PluginLoadError:")
    assert "ropilot-broken-plugin 0.0.7" in out
    assert "'broken = ropilot_broken_plugin'" in out
    assert "'ropilot_regster_kpis'" in out
    assert "Did you mean 'ropilot_register_kpis'" in out
    assert "ROPILOT_PLUGINS" in out

    assert run(LOAD_SCRIPT, broken_site, tmp_path, ROPILOT_PLUGINS="example").strip() == "loaded"
    assert (
        run(LOAD_SCRIPT, broken_site, tmp_path, ROPILOT_DISABLE_PLUGIN_AUTOLOAD="1").strip()
        == "loaded"
    )
