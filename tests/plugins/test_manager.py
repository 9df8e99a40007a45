from __future__ import annotations

import logging

import pluggy
import pytest

from ropilot import __version__
from ropilot.core.errors import PluginLoadError, RopilotError
from ropilot.core.kpi.builtins import BUILTIN_KPIS
from ropilot.plugins import manager
from ropilot.plugins.listing import RUNTIME_DISTRIBUTION, describe_plugins
from ropilot.plugins.manager import DEFAULT_PLUGINS, get_plugin_manager

GOOD = """
    from ropilot import hookimpl

    @hookimpl
    def ropilot_register_kpis():
        return ["kpi-from-{tag}"]
"""


def good(tag: str) -> str:
    return GOOD.replace("{tag}", tag)


def kpis(pm: pluggy.PluginManager) -> list[str]:
    """KPIs registered by third-party plugins (the built-in ones left out)."""
    return [
        kpi for batch in pm.hook.ropilot_register_kpis() for kpi in batch if kpi not in BUILTIN_KPIS
    ]


# -- built-ins and factory --------------------------------------------------------------------


def test_every_default_plugin_is_registered_as_builtin() -> None:
    pm = get_plugin_manager(load_entrypoints=False)
    infos = {info.name: info for info in describe_plugins(pm)}
    assert set(DEFAULT_PLUGINS) <= set(infos)
    for name in DEFAULT_PLUGINS:
        assert infos[name].distribution == "ropilot (built-in)"
        assert infos[name].version == __version__
        assert infos[name].builtin
        assert infos[name].hooks, f"built-in {name} implements no hook"
    assert "ropilot_register_notifiers" in infos["ropilot.plugins.builtin_notifiers"].hooks


def test_each_call_builds_an_independent_manager() -> None:
    first = get_plugin_manager(load_entrypoints=False)
    second = get_plugin_manager(load_entrypoints=False)
    assert first is not second

    class Extra:
        @staticmethod
        def ropilot_register_kpis() -> list[str]:
            return ["extra"]

    first.register(Extra(), name="extra")
    assert kpis(first) == ["extra"]
    assert kpis(second) == []
    assert second.get_plugin("extra") is None


def test_plugin_registered_by_code_is_listed_as_such() -> None:
    pm = get_plugin_manager(load_entrypoints=False)

    class Extra:
        @staticmethod
        def ropilot_register_kpis() -> list[str]:
            return []

    pm.register(Extra(), name="by-code")
    info = next(i for i in describe_plugins(pm) if i.name == "by-code")
    assert info.distribution == RUNTIME_DISTRIBUTION
    assert info.hooks == ["ropilot_register_kpis"]
    assert not info.builtin


def test_describe_plugins_with_plain_pluggy_manager() -> None:
    pm = pluggy.PluginManager("ropilot")

    class P:
        @staticmethod
        def ropilot_on_event(event: object) -> None:
            return None

        @staticmethod
        def ropilot_register_kpis() -> list[str]:
            return []

    from ropilot.plugins import hookspecs
    from ropilot.plugins.markers import hookimpl

    hookimpl(P.ropilot_on_event)
    hookimpl(P.ropilot_register_kpis)
    pm.add_hookspecs(hookspecs)
    pm.register(P(), name="plain")
    [info] = describe_plugins(pm)
    assert (info.name, info.distribution) == ("plain", RUNTIME_DISTRIBUTION)
    assert info.hooks == ["ropilot_on_event", "ropilot_register_kpis"]


# -- entry points -----------------------------------------------------------------------------


def test_entry_point_plugin_is_loaded_with_its_distribution(fake_dists) -> None:
    fake_dists("acme-kpis", "2.5.0", good("acme"), ep_name="acme")
    pm = get_plugin_manager()
    assert kpis(pm) == ["kpi-from-acme"]
    source = pm.plugin_sources["acme"]
    assert (source.distribution, source.version) == ("acme-kpis", "2.5.0")
    assert source.entry_point is not None and source.entry_point.startswith("acme = ")
    info = next(i for i in describe_plugins(pm) if i.name == "acme")
    assert (info.distribution, info.version, info.hooks) == (
        "acme-kpis",
        "2.5.0",
        ["ropilot_register_kpis"],
    )


@pytest.mark.parametrize("value", ["1", "true", "YES", " on "])
def test_disable_autoload_switch(fake_dists, value: str) -> None:
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    pm = get_plugin_manager(env={"ROPILOT_DISABLE_PLUGIN_AUTOLOAD": value})
    assert kpis(pm) == []
    assert pm.get_plugin("acme") is None
    # built-ins still load
    assert pm.get_plugin("ropilot.plugins.builtin_notifiers") is not None


@pytest.mark.parametrize("value", ["0", "", "false", "no"])
def test_falsy_disable_switch_keeps_autoload(fake_dists, value: str) -> None:
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    pm = get_plugin_manager(env={"ROPILOT_DISABLE_PLUGIN_AUTOLOAD": value})
    assert kpis(pm) == ["kpi-from-acme"]


def test_explicit_load_entrypoints_wins_over_env(fake_dists) -> None:
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    assert kpis(get_plugin_manager(load_entrypoints=True, env={manager.DISABLE_AUTOLOAD_ENV: "1"}))
    assert not kpis(get_plugin_manager(load_entrypoints=False, env={}))


def test_env_defaults_to_os_environ(fake_dists, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    monkeypatch.setenv("ROPILOT_DISABLE_PLUGIN_AUTOLOAD", "1")
    assert kpis(get_plugin_manager()) == []
    monkeypatch.delenv("ROPILOT_DISABLE_PLUGIN_AUTOLOAD")
    monkeypatch.setenv("ROPILOT_PLUGINS", "beta")
    fake_dists("beta-kpis", "1.0", good("beta"), ep_name="beta")
    assert kpis(get_plugin_manager()) == ["kpi-from-beta"]


def test_allow_list_by_entry_point_or_distribution_name(fake_dists) -> None:
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    fake_dists("Beta_Plugin", "1.0", good("beta"), ep_name="beta")
    fake_dists("gamma-plugin", "1.0", good("gamma"), ep_name="gamma")

    def loaded(**kwargs: object) -> set[str]:
        return set(kpis(get_plugin_manager(**kwargs)))  # type: ignore[arg-type]

    assert loaded() == {"kpi-from-acme", "kpi-from-beta", "kpi-from-gamma"}
    assert loaded(env={"ROPILOT_PLUGINS": "acme"}) == {"kpi-from-acme"}
    # distribution names match after PEP 503 normalisation
    assert loaded(env={"ROPILOT_PLUGINS": " acme , beta.plugin"}) == {
        "kpi-from-acme",
        "kpi-from-beta",
    }
    assert loaded(env={"ROPILOT_PLUGINS": ""}) == {
        "kpi-from-acme",
        "kpi-from-beta",
        "kpi-from-gamma",
    }
    assert loaded(allow=["gamma"], env={"ROPILOT_PLUGINS": "acme"}) == {"kpi-from-gamma"}
    assert loaded(allow=[]) == set()


def test_allow_list_naming_a_missing_plugin_warns(fake_dists, caplog) -> None:
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    with caplog.at_level(logging.WARNING, logger="ropilot.plugins.manager"):
        pm = get_plugin_manager(allow=["acme", "nosuch"])
    assert kpis(pm) == ["kpi-from-acme"]
    assert "nosuch" in caplog.text
    assert "acme" not in caplog.text.replace("nosuch", "")


def assert_names_distribution(error: PluginLoadError, dist: str, version: str) -> None:
    message = str(error)
    assert dist in message
    assert version in message
    assert "ROPILOT_PLUGINS" in message
    assert "ROPILOT_DISABLE_PLUGIN_AUTOLOAD" in message


def test_import_error_names_distribution(fake_dists) -> None:
    fake_dists("needs-missing", "3.1.4", "import ropilot_no_such_module_xyz\n", ep_name="needy")
    with pytest.raises(PluginLoadError) as info:
        get_plugin_manager()
    assert_names_distribution(info.value, "needs-missing", "3.1.4")
    assert "needy = " in str(info.value)
    assert "ropilot_no_such_module_xyz" in str(info.value)
    assert isinstance(info.value, RopilotError)
    assert isinstance(info.value.__cause__, ImportError)


def test_exception_at_import_names_distribution(fake_dists) -> None:
    fake_dists("explodes", "0.9", "raise RuntimeError('boom at import')\n", ep_name="boom")
    with pytest.raises(PluginLoadError, match="boom at import") as info:
        get_plugin_manager()
    assert_names_distribution(info.value, "explodes", "0.9")


def test_broken_plugin_is_skipped_when_not_allowed(fake_dists) -> None:
    fake_dists("explodes", "0.9", "raise RuntimeError('boom')\n", ep_name="boom")
    fake_dists("acme-kpis", "1.0", good("acme"), ep_name="acme")
    assert kpis(get_plugin_manager(allow=["acme"])) == ["kpi-from-acme"]
    assert kpis(get_plugin_manager(load_entrypoints=False)) == []


def test_hookimpl_with_unknown_argument_fails_validation(fake_dists) -> None:
    source = """
        from ropilot import hookimpl

        @hookimpl
        def ropilot_on_event(event, context, account):
            return None
    """
    fake_dists("bad-args", "1.2", source, ep_name="badargs")
    with pytest.raises(PluginLoadError, match="account") as info:
        get_plugin_manager()
    assert_names_distribution(info.value, "bad-args", "1.2")


def test_historic_hook_cannot_be_a_hookwrapper(fake_dists) -> None:
    source = """
        from ropilot import hookimpl

        @hookimpl(hookwrapper=True)
        def ropilot_configure(settings):
            yield
    """
    fake_dists("bad-wrapper", "1.0", source, ep_name="badwrapper")
    with pytest.raises(PluginLoadError) as info:
        get_plugin_manager()
    assert_names_distribution(info.value, "bad-wrapper", "1.0")


def test_misspelled_hook_fails_loudly_with_suggestion(fake_dists) -> None:
    source = """
        from ropilot import hookimpl

        @hookimpl
        def ropilot_regster_kpis():
            return []
    """
    fake_dists("typo-plugin", "4.0.1", source, ep_name="typo")
    with pytest.raises(PluginLoadError) as info:
        get_plugin_manager()
    message = str(info.value)
    assert_names_distribution(info.value, "typo-plugin", "4.0.1")
    assert "'ropilot_regster_kpis'" in message
    assert "Did you mean 'ropilot_register_kpis'" in message


def test_misspelled_hook_without_marker_also_fails(fake_dists) -> None:
    fake_dists("typo2", "1.0", "def ropilot_on_evnt(event, context):\n    pass\n", ep_name="t2")
    with pytest.raises(PluginLoadError, match="ropilot_on_evnt"):
        get_plugin_manager()


def test_unmarked_hook_function_is_an_implementation(fake_dists) -> None:
    fake_dists("unmarked", "1.0", "def ropilot_register_kpis():\n    return ['u']\n")
    assert kpis(get_plugin_manager()) == ["u"]


def test_optional_unknown_hook_is_accepted(fake_dists) -> None:
    source = """
        from ropilot import hookimpl

        @hookimpl(optionalhook=True)
        def ropilot_hook_from_the_future():
            return 1

        @hookimpl
        def ropilot_register_kpis():
            return ["still-here"]
    """
    fake_dists("future", "1.0", source, ep_name="future")
    assert kpis(get_plugin_manager()) == ["still-here"]


def test_duplicate_entry_point_name_names_both_distributions(fake_dists) -> None:
    fake_dists("first-dist", "1.0", good("one"), ep_name="same")
    fake_dists("second-dist", "2.0", good("two"), ep_name="same")
    with pytest.raises(PluginLoadError, match="already taken") as info:
        get_plugin_manager()
    assert "first-dist" in str(info.value)
    assert "second-dist" in str(info.value)


def test_entry_point_pointing_at_an_object(fake_dists) -> None:
    source = """
        class Plugin:
            def __init__(self):
                self.calls = 0

            def ropilot_register_kpis(self):
                self.calls += 1
                return ["from-object"]

        plugin = Plugin()
    """
    module = fake_dists("object-plugin", "1.0", source, ep_name="obj")
    # rewrite the entry point to name the object inside the module
    import importlib.metadata as md

    [dist] = [d for d in md.distributions() if d.metadata["Name"] == "object-plugin"]
    ep_file = dist._path / "entry_points.txt"  # type: ignore[attr-defined]
    ep_file.write_text(f"[ropilot]\nobj = {module}:plugin\n", encoding="utf-8")
    pm = get_plugin_manager()
    assert kpis(pm) == ["from-object"]
    assert pm.get_plugin("obj").calls == 1


# -- tracing ----------------------------------------------------------------------------------


def test_trace_switch_writes_hook_calls_to_stderr(capsys) -> None:
    pm = get_plugin_manager(load_entrypoints=False, env={"ROPILOT_TRACE_PLUGINS": "1"})
    pm.hook.ropilot_register_notifiers()
    assert "ropilot_register_notifiers" in capsys.readouterr().err

    quiet = get_plugin_manager(load_entrypoints=False, env={})
    quiet.hook.ropilot_register_notifiers()
    assert capsys.readouterr().err == ""
