"""Sales regulations: validation, content-hash versions, defaults, pools, CRM required fields.

Hand-worked expectations:

* ``full.toml`` and ``full_reordered.toml`` state the same rules (tables and keys reordered,
  ``16`` vs ``16.0``, list order of set-like lists, a repeated list item, "9:00" vs "09:00",
  spaces inside an interval, an inline vs a nested table) → one version; changing one number
  (stage limit 40 → 41) → another version.
* Pool matching for the two pools of ``full.toml`` (first match wins): pipeline p1 / source
  site / segment smb → ``b2b-inbound``; source "mail" → not b2b (sources are site, phone) →
  ``rest`` (no criteria); with only ``b2b-inbound`` declared, that lead matches no pool → None.
* Required fields merged for stage ``s-offer``: file {amount, company_id} ∪ CRM deal field
  "Бюджет согласован" (required for s-offer and s-contract) ∪ CRM company field "ИНН" (for
  s-offer) → [amount, company.ИНН, company_id, Бюджет согласован] sorted by code point
  ("a" < "c" < "Б": 'company.' < 'company_' because '.' (0x2E) < '_' (0x5F)).
  Stage ``s-contract``: file {amount, expected_close_at, ИНН} ∪ CRM {Бюджет согласован} →
  [amount, expected_close_at, Бюджет согласован, ИНН] ("Б" U+0411 < "И" U+0418).
  A field without required stages (NULL) adds nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ropilot.core.errors import ConfigurationError, StoreError
from ropilot.core.models import Account
from ropilot.core.regulations import (
    Regulations,
    default_regulations,
    find_regulations,
    load_regulations,
    parse_regulations,
    pool_for,
    record_version,
    recorded_versions,
    regulations_version,
    required_field_rules,
    required_fields,
)
from ropilot.core.store import Store

DATA = Path(__file__).parent / "data" / "regulations"


def _error(text: str) -> str:
    with pytest.raises(ConfigurationError) as info:
        parse_regulations(text)
    return str(info.value)


# -- validation ----------------------------------------------------------------------------------


def test_full_file_reads_every_section() -> None:
    regs = load_regulations(DATA / "full.toml")
    assert regs.timezone == "Europe/Moscow"
    assert regs.working_hours.fri == [(540, 780), (840, 1020)]
    assert regs.working_hours.sat == []
    assert regs.activity_norms == {"calls_per_day": 40.0, "meetings_per_week": 5.0}
    b2b, rest = regs.routing.pools
    assert (b2b.name, rest.name) == ("b2b-inbound", "rest")
    assert b2b.sources == ["phone", "site"]
    assert b2b.weight_of("m1") == 2.0 and b2b.weight_of("m2") == 1.0 and b2b.weight_of("m3") == 1
    assert b2b.caps.per_period is not None and b2b.caps.per_period.max == 10
    assert b2b.caps.load_weights.open_task == 0.25
    assert b2b.caps.per_criteria[0].field == "product"
    assert b2b.efficiency.enabled and b2b.efficiency.prior_strength == 15
    assert b2b.rejoin == "catch_up" and b2b.catch_up_per_day == 2
    assert b2b.specialisation_match == ["product", "region"]
    assert b2b.take_into_work_minutes == 30
    assert rest.strategy == "weighted_fair" and rest.account_management
    assert regs.stage_limits == {"s-new": 4.0, "s-offer": 40.0}
    assert regs.required_fields["s-offer"] == ["amount", "company_id"]
    assert regs.clocks.no_activity_hours == 16
    assert [(e.level, e.after_hours) for e in regs.escalation] == [
        ("manager", 0),
        ("senior", 8),
        ("head", 16),
        ("reroute", 24),
    ]
    assert len(regs.version) == 12 and int(regs.version, 16) >= 0


def test_error_names_file_key_with_list_index() -> None:
    text = """
[[routing.pools]]
name = "a"
[[routing.pools]]
name = "b"
[routing.pools.caps]
per_period = { period = "year", max = 3 }
"""
    message = _error(text)
    assert message.startswith("regulations.toml: key routing.pools[1].caps.per_period.period:")
    assert "'day', 'week' or 'month'" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("colour = 1", "regulations.toml: key colour: unknown key"),
        ("[clocks]\nno_activity = 3", "key clocks.no_activity: unknown key"),
        ('[working_hours]\nmon = ["9-13"]', "key working_hours.mon[0]: '9-13': write a working"),
        ('[working_hours]\ntue = ["25:00-26:00"]', "key working_hours.tue[0]: '25:00-26:00'"),
        ('[working_hours]\nwed = ["14:00-09:00"]', "key working_hours.wed[0]: a working interval"),
        (
            '[working_hours]\nmon = ["09:00-13:00", "12:00-14:00"]',
            "key working_hours.mon: working intervals of one day overlap",
        ),
        ('[working_hours]\nfunday = ["09:00-13:00"]', "key working_hours.funday: unknown key"),
        ("[activity_norms]\ncalls_per_dya = 3", "key activity_norms: 'calls_per_dya'"),
        ("[activity_norms]\ncalls_per_day = -1", "key activity_norms.calls_per_day:"),
        ('timezone = "Mars/Olympus"', "key timezone: unknown IANA time zone 'Mars/Olympus'"),
        (
            '[[routing.pools]]\nname = "a"\n[[routing.pools]]\nname = "a"',
            "key routing.pools: pool names must be unique: a repeated",
        ),
        (
            '[[routing.pools]]\nname = "a"\nrejoin = "catch_up"',
            'key routing.pools[0]: rejoin = "catch_up" needs catch_up_per_day',
        ),
        (
            '[[routing.pools]]\nname = "a"\nweights = { m1 = 0 }',
            "key routing.pools[0].weights.m1: Input should be greater than 0",
        ),
        (
            '[[routing.pools]]\nname = "a"\nspecialisation_match = ["colour"]',
            "key routing.pools[0].specialisation_match[0]:",
        ),
        (
            '[[routing.pools]]\nname = "a"\n[routing.pools.efficiency]\nmin_factor = 1.2',
            "key routing.pools[0].efficiency: min_factor must be ≤ 1 ≤ max_factor",
        ),
        (
            '[[routing.pools]]\nname = "a"\n[routing.pools.caps]\n'
            'per_criteria = [{ field = "colour", value = "x", period = "day", max = 1 }]',
            "key routing.pools[0].caps.per_criteria[0].field:",
        ),
        ('[stage_limits]\n"s1" = 0', "key stage_limits.s1: Input should be greater than 0"),
        (
            '[[escalation]]\nlevel = "head"\nafter_hours = 1\n'
            '[[escalation]]\nlevel = "senior"\nafter_hours = 5',
            "key escalation: escalation must go manager → senior → head → reroute",
        ),
        ('version = "abc"', "key version: the version is computed from the content"),
        ("[clocks\n", "regulations.toml: not valid TOML"),
    ],
)
def test_errors_name_the_key(text: str, expected: str) -> None:
    assert expected in _error(text)


def test_missing_file() -> None:
    with pytest.raises(ConfigurationError, match="regulations file not found"):
        load_regulations(DATA / "nope.toml")


# -- versions ------------------------------------------------------------------------------------


def test_version_ignores_layout_and_order() -> None:
    a = load_regulations(DATA / "full.toml")
    b = load_regulations(DATA / "full_reordered.toml")
    assert a.version == b.version
    assert a == b


def test_version_changes_with_content() -> None:
    text = (DATA / "full.toml").read_text(encoding="utf-8")
    changed = text.replace('"s-offer" = 40', '"s-offer" = 41')
    assert changed != text
    assert parse_regulations(changed).version != parse_regulations(text).version
    # Pool order is meaningful (first match wins): swapping pools is another version.
    a = parse_regulations('[[routing.pools]]\nname = "x"\n[[routing.pools]]\nname = "y"')
    b = parse_regulations('[[routing.pools]]\nname = "y"\n[[routing.pools]]\nname = "x"')
    assert a.version != b.version


def test_version_is_sha256_of_canonical_content() -> None:
    import hashlib
    import json

    regs = default_regulations()
    canonical = json.dumps(
        regs.content(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert regs.version == hashlib.sha256(canonical).hexdigest()[:12]
    assert "version" not in regs.content()


def test_empty_file_is_the_defaults() -> None:
    assert parse_regulations("").version == default_regulations().version


def test_frozen() -> None:
    regs = default_regulations()
    with pytest.raises(ValueError, match="frozen"):
        regs.timezone = "Asia/Yekaterinburg"  # type: ignore[misc]


# -- defaults ----------------------------------------------------------------------------------


def test_defaults() -> None:
    regs = default_regulations()
    assert isinstance(regs, Regulations)
    assert regs.timezone is None
    assert str(regs.zone("Asia/Yekaterinburg")) == "Asia/Yekaterinburg"
    (pool,) = regs.routing.pools
    assert pool.name == "default" and pool.strategy == "weighted_fair"
    assert pool.managers == [] and pool.teams == [] and pool.weights == {}
    assert pool.caps.per_period is None and pool.caps.max_open_load is None
    assert pool.rejoin == "min_level" and pool.account_management
    # 9–13 and 14–18 Monday to Friday: 8 hours a day, 40 a week.
    for weekday in range(5):
        assert regs.working_hours.for_weekday(weekday) == [(540, 780), (840, 1080)]
    assert regs.working_hours.for_weekday(5) == [] and regs.working_hours.for_weekday(6) == []
    assert regs.clocks.no_activity_hours == 24 and regs.clocks.next_step_required
    assert [e.level for e in regs.escalation] == ["manager", "senior", "head", "reroute"]
    assert regs.stage_limits == {} and regs.required_fields == {}


def test_find_regulations_next_to_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "conf" / "ropilot.toml"
    config.parent.mkdir()
    assert find_regulations(config) is None
    (tmp_path / "regulations.toml").write_text("")
    assert find_regulations(config) == Path("regulations.toml")
    (config.parent / "regulations.toml").write_text("")
    assert find_regulations(config) == config.parent / "regulations.toml"


# -- pools --------------------------------------------------------------------------------------


def test_pool_for_first_match() -> None:
    regs = load_regulations(DATA / "full.toml")
    lead = {"pipeline_id": "p1", "source": "site", "segment": "smb"}
    assert pool_for(regs, lead) is regs.routing.pools[0]
    assert pool_for(regs, {**lead, "source": "mail"}) is regs.routing.pools[1]
    assert pool_for(regs, {**lead, "segment": None}) is regs.routing.pools[1]
    only_b2b = parse_regulations('[[routing.pools]]\nname = "b2b"\nsources = ["site"]')
    assert pool_for(only_b2b, {"pipeline_id": "p1", "source": "mail"}) is None
    assert pool_for(only_b2b, {"pipeline_id": "p1", "source": "site"}) is not None
    assert pool_for(default_regulations(), {}) is default_regulations().routing.pools[0]


def test_pool_for_accepts_objects() -> None:
    class Lead:
        pipeline_id = "p1"
        source = "phone"

    regs = parse_regulations('[[routing.pools]]\nname = "p"\nsources = ["phone"]')
    assert pool_for(regs, Lead()) is regs.routing.pools[0]


# -- store: versions and required fields -------------------------------------------------------


def _account(store: Store) -> None:
    store.upsert_account(Account(id="acme", name="Acme"))


def test_record_version_idempotent_and_replayable(store: Store) -> None:
    _account(store)
    regs = load_regulations(DATA / "full.toml")
    assert record_version(store, "acme", regs, source="full.toml") == regs.version
    assert record_version(store, "acme", regs, source="elsewhere.toml") == regs.version
    with store.begin() as conn:
        record_version(store, "acme", default_regulations(), conn=conn)
    versions = recorded_versions(store, "acme")
    assert sorted(v["version"] for v in versions) == sorted(
        [regs.version, default_regulations().version]
    )
    first = next(v for v in versions if v["version"] == regs.version)
    assert first["source"] == "full.toml"  # the first recording stays
    back = regulations_version(store, "acme", regs.version)
    assert back == regs and back.version == regs.version
    with pytest.raises(StoreError, match="no regulations version 'deadbeef0000'"):
        regulations_version(store, "acme", "deadbeef0000")
    with pytest.raises(StoreError):
        regulations_version(store, "other", regs.version)


def test_required_fields_merge_file_and_crm(store: Store) -> None:
    _account(store)
    store.upsert_custom_field_defs(
        "acme",
        [
            {
                "entity": "deals",
                "id": "701",
                "name": "Бюджет согласован",
                "type": "checkbox",
                "required_stage_ids": ["s-offer", "s-contract"],
            },
            {
                "entity": "companies",
                "id": "801",
                "name": "ИНН",
                "type": "text",
                "required_stage_ids": ["s-offer"],
            },
            {
                "entity": "deals",
                "id": "702",
                "name": "Comment",
                "type": "text",
                "required_stage_ids": None,
            },
            {
                "entity": "deals",
                "id": "703",
                "name": "amount",  # same name as a file rule: kept once, as the file's
                "type": "numeric",
                "required_stage_ids": ["s-offer"],
            },
        ],
    )
    regs = load_regulations(DATA / "full.toml")
    merged = required_fields(store, "acme", regs)
    assert merged == {
        "s-contract": ["amount", "expected_close_at", "Бюджет согласован", "ИНН"],
        "s-offer": ["amount", "company.ИНН", "company_id", "Бюджет согласован"],
    }
    rules = {(r.stage_id, r.name): r for r in required_field_rules(store, "acme", regs)}
    assert rules[("s-offer", "amount")].origin == "file"
    assert rules[("s-offer", "company.ИНН")].origin == "crm"
    assert rules[("s-offer", "company.ИНН")].field_id == "801"
    # Without a file: the CRM's rules alone.
    assert required_fields(store, "acme", default_regulations()) == {
        "s-contract": ["Бюджет согласован"],
        "s-offer": ["amount", "company.ИНН", "Бюджет согласован"],
    }
    assert required_fields(store, "other", default_regulations()) == {}


def test_quality_duplicates_section_is_validated() -> None:
    regs = parse_regulations("[quality.duplicates]\nnoise_limit = 5\nfuzzy_person_names = true\n")
    assert regs.quality.duplicates.noise_limit == 5
    assert regs.quality.duplicates.fuzzy_person_names is True
    assert regs.quality.duplicates.fuzzy_threshold == 90
    assert "quality.duplicates.noise_limit" in _error("[quality.duplicates]\nnoise_limit = 1\n")
    assert "quality.duplicates.fuzzy_threshold" in _error(
        "[quality.duplicates]\nfuzzy_threshold = 101\n"
    )
    assert "quality.duplicates.colour" in _error('[quality.duplicates]\ncolour = "red"\n')
