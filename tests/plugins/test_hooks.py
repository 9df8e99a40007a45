"""One test (at least) per hook, proving it is called as docs/plugins.md says."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import click
import flask
import pytest
from click.testing import CliRunner

from ropilot import hookimpl
from ropilot.core.kpi.builtins import BUILTIN_KPIS
from ropilot.core.models import Event, EventAction
from ropilot.plugins import builtin_quality
from ropilot.plugins.builtin_notifiers import LogNotifier
from ropilot.plugins.builtin_routing import routing_strategies
from ropilot.plugins.events import DispatchResult, dispatch_event
from ropilot.plugins.manager import RopilotPluginManager, get_plugin_manager


@pytest.fixture
def pm() -> RopilotPluginManager:
    return get_plugin_manager(load_entrypoints=False)


def flat(batches: list[list[Any]]) -> list[Any]:
    return [item for batch in batches for item in batch]


class Named:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Named({self.name!r})"


# -- register hooks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "hook",
    [
        "ropilot_register_connectors",
        "ropilot_register_kpis",
        "ropilot_register_quality_checks",
        "ropilot_register_routing_strategies",
        "ropilot_register_notifiers",
    ],
)
def test_register_hook_collects_every_plugin(pm: RopilotPluginManager, hook: str) -> None:
    a, b, c = Named("a"), Named("b"), Named("c")

    def plugin(name: str, result: list[Any] | None) -> object:
        impl = hookimpl(specname=hook)(lambda: result)
        return type(name, (), {"impl": staticmethod(impl)})

    pm.register(plugin("P1", [a, b]), name="p1")
    pm.register(plugin("P2", None), name="p2")  # None contributes nothing
    pm.register(plugin("P3", [c]), name="p3")
    collected = [x for x in flat(getattr(pm.hook, hook)()) if isinstance(x, Named)]
    assert sorted(x.name for x in collected) == ["a", "b", "c"]


def test_register_connectors_returns_classes(pm: RopilotPluginManager) -> None:
    class FakeConnector:
        name = "fakecrm"

    class Plugin:
        @hookimpl
        def ropilot_register_connectors(self) -> list[type]:
            return [FakeConnector]

    pm.register(Plugin())
    registered = flat(pm.hook.ropilot_register_connectors())
    assert FakeConnector in registered
    assert [c.name for c in registered].count("fakecrm") == 1


def test_register_kpis_and_quality_checks_from_one_plugin(pm: RopilotPluginManager) -> None:
    kpi = SimpleNamespace(name="won_amount", title="Won", unit="money")
    check = SimpleNamespace(name="no_task", description="d", severity="warning")

    class Plugin:
        @hookimpl
        def ropilot_register_kpis(self) -> list[Any]:
            return [kpi]

        @hookimpl
        def ropilot_register_quality_checks(self) -> list[Any]:
            return [check]

    pm.register(Plugin())
    assert [k for k in flat(pm.hook.ropilot_register_kpis()) if k not in BUILTIN_KPIS] == [kpi]
    builtin = builtin_quality.ropilot_register_quality_checks()
    assert [c for c in flat(pm.hook.ropilot_register_quality_checks()) if c not in builtin] == [
        check
    ]


def test_register_notifiers_includes_builtin_log_notifier(
    pm: RopilotPluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    notifiers = {n.name: n for n in flat(pm.hook.ropilot_register_notifiers())}
    assert isinstance(notifiers["log"], LogNotifier)
    with caplog.at_level(logging.DEBUG, logger="ropilot.notifications"):
        notifiers["log"].notify("Plan at 40%", level="warning", recipient="m-7", data={"p": 40})
        notifiers["log"].notify("Quiet", level="debug")
    first, second = caplog.records
    assert first.name == "ropilot.notifications"
    assert first.levelno == logging.WARNING
    assert first.getMessage() == "[to m-7] Plan at 40%"
    assert first.ropilot_recipient == "m-7"
    assert first.ropilot_data == {"p": 40}
    assert (second.levelno, second.getMessage()) == (logging.DEBUG, "Quiet")


def test_log_notifier_rejects_unknown_level() -> None:
    with pytest.raises(ValueError, match="Unknown notification level 'loud'"):
        LogNotifier().notify("x", level="loud")


def test_register_routing_strategies_and_pick(pm: RopilotPluginManager) -> None:
    round_robin = Named("round_robin")

    class Plugin:
        @hookimpl
        def ropilot_register_routing_strategies(self) -> list[Any]:
            return [round_robin]

    pm.register(Plugin())
    strategies = routing_strategies(pm)
    # the plugin's round_robin overrides the built-in one; the other built-ins stay
    assert strategies["round_robin"] is round_robin
    assert set(strategies) == {"round_robin", "weighted_fair", "least_loaded"}
    # no plugin picks: the built-in trylast fallback looks the name up
    assert pm.hook.ropilot_pick_routing_strategy(name="round_robin", strategies=strategies) is (
        round_robin
    )
    assert pm.hook.ropilot_pick_routing_strategy(name="nope", strategies=strategies) is None


def test_pick_routing_strategy_is_firstresult(pm: RopilotPluginManager) -> None:
    calls: list[str] = []
    weighted = Named("weighted:3")
    registered = Named("weighted")

    class Declines:
        @hookimpl
        def ropilot_pick_routing_strategy(self, name: str) -> None:
            calls.append("declines")
            return None

    class Picks:
        @hookimpl
        def ropilot_pick_routing_strategy(self, name: str) -> Any:
            calls.append("picks")
            return weighted if name.startswith("weighted:") else None

    class NeverReached:
        @hookimpl(trylast=True)
        def ropilot_pick_routing_strategy(self, name: str) -> Any:
            calls.append("never")
            return Named("other")

    pm.register(NeverReached())
    pm.register(Picks())
    pm.register(Declines())  # registered last: called first
    picked = pm.hook.ropilot_pick_routing_strategy(
        name="weighted:3", strategies={"weighted": registered}
    )
    assert picked is weighted
    assert calls == ["declines", "picks"]


def test_register_blueprints_serves_plugin_routes(pm: RopilotPluginManager) -> None:
    bp = flask.Blueprint("hello_plugin", __name__, url_prefix="/plugins/hello")

    @bp.get("/ping")
    def ping() -> str:
        return "pong from plugin"

    class Plugin:
        @hookimpl
        def ropilot_register_blueprints(self) -> list[flask.Blueprint]:
            return [bp]

    pm.register(Plugin())
    app = flask.Flask("test")
    for blueprint in flat(pm.hook.ropilot_register_blueprints()):
        app.register_blueprint(blueprint)
    response = app.test_client().get("/plugins/hello/ping")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "pong from plugin"


def test_register_commands_adds_click_commands(pm: RopilotPluginManager) -> None:
    class Plugin:
        @hookimpl
        def ropilot_register_commands(self, cli: click.Group) -> None:
            @cli.command()
            @click.argument("who")
            def greet(who: str) -> None:
                """Say hello."""
                click.echo(f"hello {who}")

    pm.register(Plugin())

    @click.group()
    def cli() -> None:
        """The ropilot command stand-in."""

    pm.hook.ropilot_register_commands(cli=cli)
    result = CliRunner().invoke(cli, ["greet", "world"])
    assert result.exit_code == 0, result.output
    assert result.output == "hello world\n"


# -- configure (historic) ---------------------------------------------------------------------


def test_configure_is_historic(pm: RopilotPluginManager) -> None:
    seen: list[tuple[str, object]] = []

    class Early:
        @hookimpl
        def ropilot_configure(self, settings: object) -> None:
            seen.append(("early", settings))

    class Late:
        @hookimpl
        def ropilot_configure(self, settings: object) -> None:
            seen.append(("late", settings))

    settings = SimpleNamespace(timezone="Europe/Moscow")
    pm.register(Early())
    pm.hook.ropilot_configure.call_historic(kwargs={"settings": settings})
    assert seen == [("early", settings)]
    pm.register(Late())  # registered after the call: still configured, at registration
    assert seen == [("early", settings), ("late", settings)]


# -- on_event (fan-out with isolation) --------------------------------------------------------


class Recorder:
    def __init__(self, label: str, fail: bool = False) -> None:
        self.label = label
        self.fail = fail
        self.events: list[tuple[object, object]] = []

    @hookimpl
    def ropilot_on_event(self, event: object, context: dict[str, Any]) -> str:
        self.events.append((event, context))
        if self.fail:
            raise RuntimeError(f"{self.label} is broken")
        return f"{self.label} handled"


def test_on_event_failure_does_not_starve_other_plugins(
    pm: RopilotPluginManager, caplog: pytest.LogCaptureFixture
) -> None:
    healthy = Recorder("healthy")
    broken = Recorder("broken", fail=True)
    pm.register(healthy, name="healthy-plugin")
    pm.register(broken, name="broken-plugin")  # registered last: called first
    event = Event(
        account_id="acc-1",
        id="ev-1",
        connector="amocrm",
        entity="deal",
        entity_id="42",
        action=EventAction.STAGE_CHANGED,
        occurred_at=datetime(2024, 5, 1, 9, 30, tzinfo=UTC),
        payload={"secret": "x"},
    )
    context = {"settings": None}

    with caplog.at_level(logging.ERROR, logger="ropilot.plugins.events"):
        result = dispatch_event(pm, event, context)

    assert isinstance(result, DispatchResult)
    assert broken.events == [(event, context)]
    assert healthy.events == [(event, context)]
    assert result.results == {"healthy-plugin": "healthy handled"}
    assert not result.ok
    [failure] = result.failures
    assert failure.plugin == "broken-plugin"
    assert isinstance(failure.error, RuntimeError)
    assert "broken-plugin" in str(failure)
    assert result.called == ["healthy-plugin", "broken-plugin"]
    [record] = caplog.records
    assert "broken-plugin" in record.getMessage()
    assert "deal.stage_changed (id ev-1)" in record.getMessage()
    assert "secret" not in record.getMessage()
    assert record.exc_info is not None


def test_on_event_every_plugin_sees_every_event(pm: RopilotPluginManager) -> None:
    plugins = [Recorder(f"p{i}") for i in range(3)]
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"p{i}")
    for event in ("e1", "e2"):
        assert dispatch_event(pm, event).ok
    for plugin in plugins:
        assert [e for e, _ in plugin.events] == ["e1", "e2"]
        assert all(ctx == {} for _, ctx in plugin.events)


def test_on_event_order_and_wrappers(pm: RopilotPluginManager) -> None:
    order: list[str] = []

    class First:
        @hookimpl(tryfirst=True)
        def ropilot_on_event(self, event: object) -> None:
            order.append("first")

    class Plain:
        @hookimpl
        def ropilot_on_event(self, event: object) -> None:
            order.append("plain")
            raise KeyError("plain")

    class Wrapper:
        @hookimpl(wrapper=True)
        def ropilot_on_event(self, event: object) -> Any:
            order.append("wrap>")
            try:
                return (yield)
            finally:
                order.append("<wrap")

    pm.register(First(), name="first")
    pm.register(Plain(), name="plain")
    pm.register(Wrapper(), name="wrapper")
    result = dispatch_event(pm, "e")
    # the wrapper wraps each call but is not itself a handler with a result
    assert order == ["wrap>", "first", "<wrap", "wrap>", "plain", "<wrap"]
    assert list(result.results) == ["first"]
    assert [f.plugin for f in result.failures] == ["plain"]


def test_on_event_base_exceptions_propagate(pm: RopilotPluginManager) -> None:
    class Interrupts:
        @hookimpl
        def ropilot_on_event(self, event: object) -> None:
            raise KeyboardInterrupt

    pm.register(Interrupts())
    with pytest.raises(KeyboardInterrupt):
        dispatch_event(pm, "e")


def test_plain_hook_call_would_stop_at_first_failure(pm: RopilotPluginManager) -> None:
    """Why dispatch_event exists: pluggy's own call stops at the first exception."""
    healthy = Recorder("healthy")
    pm.register(healthy, name="healthy")
    pm.register(Recorder("broken", fail=True), name="broken")
    with pytest.raises(RuntimeError):
        pm.hook.ropilot_on_event(event="e", context={})
    assert healthy.events == []
    dispatch_event(pm, "e")
    assert len(healthy.events) == 1
