"""phpform: parse_str / http_build_query behave like PHP 8's functions."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ropilot.connectors.phpform import http_build_query, parse_str, to_lists
from ropilot.core.errors import PayloadError

# (input, json_encode(parse_str(input), JSON_FORCE_OBJECT)) recorded from PHP 8.2.36.
PHP_PARSE_STR = [
    ("a[b]xyz=1", '{"a":{"b":"1"}}'),
    ("a[b][c=1", '{"a":{"b":"1"}}'),
    ("a[b=1", '{"a_b":"1"}'),
    ("a.b c[x.y]=1", '{"a_b_c":{"x.y":"1"}}'),
    (" +a=1", '{"a":"1"}'),
    ("a=1&a[b]=2", '{"a":{"b":"2"}}'),
    ("a[b]=2&a=1", '{"a":"1"}'),
    ("a[]=1&a[5]=2&a[]=3", '{"a":{"0":"1","5":"2","6":"3"}}'),
    ("a[-5]=1&a[]=2", '{"a":{"-5":"1","-4":"2"}}'),
    ("a[]=1&a[]=2&a[0]=3", '{"a":{"0":"3","1":"2"}}'),
    ("=x&&&b", '{"b":""}'),
    ("a[b[c]]=1", '{"a":{"b[c":"1"}}'),
    ("a%00b=1", '{"a":"1"}'),
    ("a[x%00y]=1", '{"a_x":"1"}'),
    ("a=%zz%4", '{"a":"%zz%4"}'),
    ("a[][b]=1&a[][b]=2", '{"a":{"0":{"b":"1"},"1":{"b":"2"}}}'),
    ("a[01]=1&a[1]=2&a[]=3", '{"a":{"01":"1","1":"2","2":"3"}}'),
    ("a[b]=1&a[b][c]=2", '{"a":{"b":{"c":"2"}}}'),
    ("a]=1", '{"a]":"1"}'),
    ("a[=1", '{"a_":"1"}'),
    ("[a]=1", "{}"),
    ("a[ b ]=1", '{"a":{" b ":"1"}}'),
    ("a==b", '{"a":"=b"}'),
    ("a[9223372036854775807]=1&a[]=2", '{"a":{"9223372036854775807":"1"}}'),
    ("a[-0]=1&a[]=2", '{"a":{"-0":"1","0":"2"}}'),
    ("a[]=1&a[x]=2&a[]=3", '{"a":{"0":"1","x":"2","1":"3"}}'),
    ("0=a&1=b", '{"0":"a","1":"b"}'),
    ("a[b][]=1&a[b][]=2", '{"a":{"b":{"0":"1","1":"2"}}}'),
    ("a%5Bb%5D=1", '{"a":{"b":"1"}}'),
    ("a[b]%5Bc%5D=1", '{"a":{"b":{"c":"1"}}}'),
    ("a[b.c][d e]=%41%4", '{"a":{"b.c":{"d e":"A%4"}}}'),
    ("a. [b]=1", '{"a__":{"b":"1"}}'),
    ("a[b][c]d[e]=1", '{"a":{"b":{"c":"1"}}}'),
    ("a[[b]]=1", '{"a":{"[b":"1"}}'),
    ("a[b]]=1", '{"a":{"b":"1"}}'),
    ("x%2=1&y=%", '{"x%2":"1","y":"%"}'),
    ("a[b][c][d=1", '{"a":{"b":{"c":"1"}}}'),
    ("a[]]=1", '{"a":{"0":"1"}}'),
    ("a[9223372036854775808]=1&a[]=2", '{"a":{"9223372036854775808":"1","0":"2"}}'),
    (
        "a[-9223372036854775808]=1&a[]=2",
        '{"a":{"-9223372036854775808":"1","-9223372036854775807":"2"}}',
    ),
    ("a=%D0%BF%D1%80%D0%B8+%D0%B2%D0%B5%D1%82", '{"a":"при вет"}'),
    ("a=b=c&a[]=x", '{"a":{"0":"x"}}'),
    ("", "{}"),
    ("&", "{}"),
    ("a", '{"a":""}'),
    ("a[x]=1&a[y]=2&a[x]=3", '{"a":{"x":"3","y":"2"}}'),
    ("a[%20]=1", '{"a":{"0":"1"}}'),
    ("a[%20x]=1", '{"a":{" x":"1"}}'),
    ("a[x%20]=1", '{"a":{"x ":"1"}}'),
    ("a[%20%20]=1", '{"a":{"  ":"1"}}'),
    ("a%20[x]=1", '{"a_":{"x":"1"}}'),
    ("a[x][%09]=1&a[x][%0D]=2", '{"a":{"x":{"0":"1","1":"2"}}}'),
    ("%09a[x]=1", '{"\\ta":{"x":"1"}}'),
    ("a[%00]=1", '{"a_":"1"}'),
    ("a[x][%00y]=1", '{"a":{"x":"1"}}'),
    ("a%00[x]=1", '{"a":"1"}'),
    ("%00a[x]=1", "{}"),
    ("a[%0B]]=1", '{"a":{"0":"1"}}'),
    ("a[%20", '{"a__":""}'),
]


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.mark.parametrize(("body", "expected"), PHP_PARSE_STR)
def test_parse_str_matches_php(body: str, expected: str) -> None:
    # Compare as JSON text so the key order counts too.
    assert _dump(parse_str(body)) == _dump(json.loads(expected))
    assert _dump(parse_str(body.encode())) == _dump(json.loads(expected))


def test_http_build_query_matches_php() -> None:
    # Outputs recorded from PHP 8.2.36 http_build_query with the same input.
    data = {
        "a": {"b": [1, 2], "c d": "x~y é", "n": None, "e": [], "t": True, "f": False},
        5: "five",
        "x": -3,
    }
    assert http_build_query(data) == (
        "a%5Bb%5D%5B0%5D=1&a%5Bb%5D%5B1%5D=2&a%5Bc+d%5D=x%7Ey+%C3%A9&a%5Bt%5D=1&a%5Bf%5D=0"
        "&5=five&x=-3"
    )
    assert http_build_query({5: "five", "a": {7: "x"}}, numeric_prefix="p_") == (
        "p_5=five&a%5B7%5D=x"
    )


def test_http_build_query_options_and_types() -> None:
    assert http_build_query({"a b": "c~d"}, rfc3986=True) == "a%20b=c~d"
    assert http_build_query({"a": "1", "b": "2"}, arg_separator=";") == "a=1;b=2"
    assert http_build_query([["x", "y"]]) == "0%5B0%5D=x&0%5B1%5D=y"
    assert http_build_query({"p": Decimal("12.50")}) == "p=12.50"
    assert http_build_query({}) == ""
    assert http_build_query({"a": {"b": None, "c": {}}}) == ""
    with pytest.raises(TypeError, match="floats"):
        http_build_query({"a": 1.5})
    with pytest.raises(TypeError):
        http_build_query({"a": object()})
    with pytest.raises(TypeError):
        http_build_query({("t",): "x"})
    with pytest.raises(TypeError):
        http_build_query("a=b")


def test_to_lists() -> None:
    form = parse_str("a[0]=x&a[1]=y&b[1]=x&b[0]=y&c[0]=x&c[2]=y&d[x][0][k]=v&e=s")
    assert to_lists(form) == {
        "a": ["x", "y"],
        "b": {"1": "x", "0": "y"},  # out of order: PHP's json_encode keeps an object too
        "c": {"0": "x", "2": "y"},
        "d": {"x": [{"k": "v"}]},
        "e": "s",
    }
    assert to_lists({}) == {}
    assert to_lists([{"0": "a"}]) == [["a"]]


def test_duplicates_last_wins_and_brackets_append() -> None:
    form = parse_str("k=1&k=2&l[]=a&l[]=b&l[]=c&m[x]=1&m[y]=2&m[x]=3")
    assert form == {"k": "2", "l": {"0": "a", "1": "b", "2": "c"}, "m": {"x": "3", "y": "2"}}
    assert list(form["m"]) == ["x", "y"]


def test_limits() -> None:
    with pytest.raises(PayloadError, match="limit is 10 bytes"):
        parse_str(b"a=12345678901", max_bytes=10)
    assert parse_str(b"a=123456789", max_bytes=11) == {"a": "123456789"}
    with pytest.raises(PayloadError, match="variables"):
        parse_str("a=1&b=2&c=3", max_vars=2)
    deep = "a" + "[x]" * 65 + "=1"
    with pytest.raises(PayloadError, match="nests 65 levels"):
        parse_str(deep)
    assert parse_str("a" + "[x]" * 64 + "=1")["a"]["x"]["x"]["x"]


def test_default_limit_is_5_mib() -> None:
    body = b"a=" + b"x" * (5 * 1024 * 1024)
    with pytest.raises(PayloadError, match="5242880 bytes"):
        parse_str(body)


def test_invalid_utf8_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="UTF-8"):
        parse_str(b"a=%FF%FE")
    with pytest.raises(PayloadError, match="UTF-8"):
        parse_str(b"%C3=1")
    with pytest.raises(PayloadError, match="UTF-8"):
        parse_str(b"a=\xff")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a=%zz", "invalid percent escape"),
        ("a=%4", "invalid percent escape"),
        ("a", "has no '='"),
        ("=x", "empty base name"),
        ("[a]=1", "empty base name"),
        ("a[b=1", "unclosed"),
        ("a[b]x=1", "text after"),
        ("a=1&a[b]=2", "as a map"),
        ("a[b]=2&a=1", "which is a map"),
    ],
)
def test_strict_refuses_what_http_build_query_never_makes(body: str, message: str) -> None:
    parse_str(body)  # PHP accepts it
    with pytest.raises(PayloadError, match=message):
        parse_str(body, strict=True)


# ---------------------------------------------------------------------------------------------
# Round trip

_SCALARS = st.one_of(
    st.text(max_size=20), st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans()
)
_KEY = st.text(
    alphabet=st.characters(exclude_characters="[]\x00", exclude_categories=["Cs"]),
    min_size=1,
    max_size=10,
).filter(lambda k: k not in {" ", "\t", "\n", "\v", "\f", "\r"})  # "[ ]" means "[]" in PHP
_TOP_KEY = st.text(
    alphabet=st.characters(exclude_characters="[]\x00 .", exclude_categories=["Cs"]),
    min_size=1,
    max_size=10,
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=4),
        st.dictionaries(_KEY, inner, min_size=1, max_size=4),
    ),
    max_leaves=25,
)
_DOCS = st.dictionaries(_TOP_KEY, _VALUES, max_size=5)


def _php_view(value: Any) -> Any:
    """What parse_str gives back for a value: maps keyed by strings, leaves as strings."""
    if isinstance(value, dict):
        return {str(k): _php_view(v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(i): _php_view(v) for i, v in enumerate(value)}
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@settings(max_examples=300, deadline=None)
@given(_DOCS)
def test_round_trip(doc: dict[str, Any]) -> None:
    body = http_build_query(doc)
    assert body.isascii()
    decoded = parse_str(body, strict=True)
    assert _dump(decoded) == _dump(_php_view(doc))
    assert to_lists(decoded) == to_lists(_php_view(doc))
    assert http_build_query(decoded) == body


@pytest.mark.skipif(shutil.which("php") is None, reason="php is not installed (differential test)")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCS)
def test_against_real_php(doc: dict[str, Any]) -> None:
    script = (
        "$d = json_decode(file_get_contents('php://stdin'), true);"
        "$q = http_build_query($d); parse_str($q, $o);"
        "echo json_encode([$q, $o], JSON_FORCE_OBJECT|JSON_UNESCAPED_UNICODE);"
    )
    run = subprocess.run(
        ["php", "-r", script], input=json.dumps(doc), capture_output=True, text=True, check=True
    )
    php_query, php_decoded = json.loads(run.stdout).values()
    assert http_build_query(doc) == php_query
    assert _dump(parse_str(php_query)) == _dump(php_decoded)
