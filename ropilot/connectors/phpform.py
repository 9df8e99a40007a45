"""PHP-style bracket forms: ``parse_str`` and ``http_build_query`` done the way PHP does them.

amoCRM (and Bitrix24) POST their outbound webhooks as ``application/x-www-form-urlencoded``
bodies built by PHP's ``http_build_query``: nested arrays flattened into bracket keys
(``leads%5Bstatus%5D%5B0%5D%5Bid%5D=1``, i.e. ``leads[status][0][id]=1``), every value a string.

:func:`parse_str` decodes such a body into nested dicts exactly as PHP's ``parse_str`` does
(checked against PHP 8.2): the body is split on ``&``; each piece is split at its first ``=``
(no ``=`` means an empty value); ``+`` becomes a space and ``%XX`` a byte (a ``%`` not followed
by two hex digits is kept as it is); a name ends at its first NUL byte; in the top-level name
leading spaces are dropped and ``" "``/``"."`` become ``"_"``; ``[key]`` opens a nested map;
``[]`` (and ``[`` + one whitespace character + ``]``) appends at the map's next free integer
index; a later duplicate key wins (keeping the first one's position); text after a closing
bracket that is not another ``[`` is ignored; a ``[`` without a closing bracket is taken
literally (as ``_`` when it ends the top-level name). Every map stays a dict keyed by strings
(PHP arrays are ordered maps); :func:`to_lists` turns ``{"0": a, "1": b}`` into ``[a, b]`` the
way PHP's ``array_is_list`` / ``json_encode`` would.

Where PHP silently drops or truncates, this module raises
:class:`~ropilot.core.errors.PayloadError` instead: bodies over ``max_bytes``, more than
``max_vars`` pieces, nesting deeper than ``max_depth``, bytes that are not UTF-8. With
``strict=True`` it also refuses input PHP would accept but that ``http_build_query`` never
produces (bad ``%`` escapes, empty names, unclosed or trailing brackets, a key used both as a
value and as a map).

:func:`http_build_query` is the inverse, byte for byte like PHP's function with its defaults:
keys and values percent-encoded as by PHP's ``urlencode`` (space → ``+``; letters, digits and
``-_.`` kept; ``~`` encoded) or, with ``rfc3986=True``, ``rawurlencode``; ``None`` values and
empty containers emit nothing; ``True``/``False`` → ``1``/``0``; order preserved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ropilot.core.errors import PayloadError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_DEPTH",
    "DEFAULT_MAX_VARS",
    "http_build_query",
    "parse_str",
    "to_lists",
]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
"""Bodies larger than this (5 MiB) are refused."""

DEFAULT_MAX_DEPTH = 64
"""PHP's ``max_input_nesting_level`` default: deeper bracket keys are refused."""

DEFAULT_MAX_VARS = 100_000
"""At most this many ``name=value`` pieces (PHP's ``max_input_vars`` is 1000 by default)."""

_LONG_MIN = -(2**63)
_LONG_MAX = 2**63 - 1
_NUMERIC_KEY = re.compile(r"(?:0|-?[1-9][0-9]*)\Z")
_BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
_HEX = b"0123456789ABCDEF"
_C_SPACE = frozenset(" \t\n\v\f\r")
_KEEP_1738 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
_KEEP_3986 = _KEEP_1738 | {ord("~")}


def _int_key(key: str) -> int | None:
    """The integer PHP would use for ``key`` as an array key, or None for a string key."""
    if _NUMERIC_KEY.match(key) is None:
        return None
    value = int(key)
    if _LONG_MIN <= value <= _LONG_MAX:
        return value
    return None


class _PhpArray:
    """A PHP array being built: an ordered map plus PHP's ``nNextFreeElement``."""

    __slots__ = ("items", "next_free")

    def __init__(self) -> None:
        self.items: dict[str, Any] = {}
        self.next_free: int | None = None

    def _note_key(self, key: str) -> None:
        idx = _int_key(key)
        if idx is not None and (self.next_free is None or idx >= self.next_free):
            self.next_free = idx + 1 if idx < _LONG_MAX else _LONG_MAX

    def set(self, key: str, value: Any) -> None:
        self.items[key] = value
        self._note_key(key)

    def append_key(self) -> str | None:
        """The key ``[]`` inserts at, or None when PHP's insertion would fail."""
        key = str(0 if self.next_free is None else self.next_free)
        if key in self.items:
            return None
        return key

    def to_python(self) -> dict[str, Any]:
        return {k: v.to_python() if isinstance(v, _PhpArray) else v for k, v in self.items.items()}


def _url_decode(raw: bytes, *, strict: bool) -> bytes:
    """PHP's ``urldecode``: ``+`` → space, ``%XX`` → byte, other ``%`` kept."""
    if strict and _BAD_ESCAPE.search(raw):
        bad = _BAD_ESCAPE.search(raw)
        assert bad is not None
        snippet = raw[bad.start() : bad.start() + 3].decode("ascii", "replace")
        raise PayloadError(f"form body: invalid percent escape {snippet!r} (expected %XX)")
    raw = raw.replace(b"+", b" ")
    if b"%" not in raw:
        return raw
    out = bytearray()
    i = 0
    n = len(raw)
    while i < n:
        c = raw[i]
        if c == 0x25 and i + 2 < n and _is_hex(raw[i + 1]) and _is_hex(raw[i + 2]):
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _is_hex(c: int) -> bool:
    return 0x30 <= c <= 0x39 or 0x41 <= c <= 0x46 or 0x61 <= c <= 0x66


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PayloadError(
            f"form body: {what} is not valid UTF-8 after percent-decoding "
            f"(byte {exc.start}: {raw[exc.start : exc.start + 4]!r})"
        ) from exc


def _split_name(name: str, *, strict: bool) -> tuple[str, list[str | None]] | None:
    """Split a decoded variable name into its base and bracket keys (None for ``[]``).

    Returns None when PHP would ignore the piece (an empty name).
    """
    name = name.split("\0", 1)[0]
    name = name.lstrip(" ")
    bracket = name.find("[")
    base_raw = name if bracket < 0 else name[:bracket]
    base = base_raw.replace(" ", "_").replace(".", "_")
    if not base:
        if strict:
            raise PayloadError(f"form body: variable name {name!r} has an empty base name")
        return None
    if bracket < 0:
        return base, []
    keys: list[str | None] = []
    pos = bracket  # at a '['
    while True:
        start = pos + 1
        # PHP skips one whitespace character before looking for "]": "[ ]" is "[]".
        check = start + 1 if name[start : start + 1] in _C_SPACE else start
        close = name.find("]", check)
        if close < 0:
            # Not an index: PHP keeps the text; at the top level '[' becomes '_'.
            if strict:
                raise PayloadError(f"form body: unclosed '[' in variable name {name!r}")
            if not keys:
                rest = name[pos + 1 :]
                for ch in " .[":
                    rest = rest.replace(ch, "_")
                return base + "_" + rest, []
            return base, keys
        keys.append(None if close == check else name[start:close])
        nxt = close + 1
        if nxt < len(name) and name[nxt] == "[":
            pos = nxt
            continue
        if strict and nxt < len(name):
            raise PayloadError(f"form body: text after ']' in variable name {name!r}")
        return base, keys


def parse_str(
    body: bytes | str,
    *,
    strict: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_vars: int = DEFAULT_MAX_VARS,
) -> dict[str, Any]:
    """Decode a PHP-style form body into nested dicts, as PHP's ``parse_str`` does.

    Args:
        body: the raw body (bytes as received, or text).
        strict: also refuse input that ``http_build_query`` never produces (see module doc).
        max_bytes: refuse larger bodies.
        max_depth: refuse names with more bracket levels than this.
        max_vars: refuse bodies with more ``name=value`` pieces than this.

    Returns:
        Nested dicts keyed by strings, in body order; every leaf value is a string. An empty
        body gives ``{}``.

    Raises:
        PayloadError: the body is too large, too deep, has too many pieces, is not UTF-8, or
            (with ``strict``) is not in the shape ``http_build_query`` produces.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    if len(raw) > max_bytes:
        raise PayloadError(f"form body is {len(raw)} bytes; the limit is {max_bytes} bytes")
    root = _PhpArray()
    pieces = [p for p in raw.split(b"&") if p]
    if len(pieces) > max_vars:
        raise PayloadError(
            f"form body has {len(pieces)} variables; the limit is {max_vars} variables"
        )
    for piece in pieces:
        raw_name, eq, raw_value = piece.partition(b"=")
        if strict and not eq:
            raise PayloadError(
                f"form body: piece {piece[:60].decode('utf-8', 'replace')!r} has no '='"
            )
        name = _text(_url_decode(raw_name, strict=strict), "a variable name")
        value = _text(_url_decode(raw_value, strict=strict), f"the value of {name!r}")
        split = _split_name(name, strict=strict)
        if split is None:
            continue
        base, keys = split
        if len(keys) > max_depth:
            raise PayloadError(
                f"form body: variable {name[:80]!r} nests {len(keys)} levels; "
                f"the limit is {max_depth}"
            )
        _assign(root, base, keys, value, strict=strict, name=name)
    return root.to_python()


def _assign(
    root: _PhpArray, base: str, keys: list[str | None], value: str, *, strict: bool, name: str
) -> None:
    target = root
    key: str | None = base
    for sub in keys:
        if key is None:
            key = target.append_key()
            if key is None:
                if strict:
                    raise PayloadError(f"form body: cannot append to {name!r} (index overflow)")
                return
            child = _PhpArray()
            target.set(key, child)
        else:
            existing = target.items.get(key)
            if isinstance(existing, _PhpArray):
                child = existing
            else:
                if existing is not None and strict:
                    raise PayloadError(
                        f"form body: {name!r} uses {key!r} as a map after it was given a value"
                    )
                child = _PhpArray()
                target.set(key, child)
        target = child
        key = sub
    if key is None:
        key = target.append_key()
        if key is None:
            if strict:
                raise PayloadError(f"form body: cannot append to {name!r} (index overflow)")
            return
    elif strict and isinstance(target.items.get(key), _PhpArray):
        raise PayloadError(f"form body: {name!r} gives a value to {key!r}, which is a map")
    target.set(key, value)


def to_lists(value: Any) -> Any:
    """Turn maps keyed ``"0"``, ``"1"``, … ``"n-1"`` (in that order) into lists, recursively.

    This is what PHP's ``json_encode`` does with such arrays. Other maps stay dicts; an empty
    map stays ``{}``. Lists and scalars are walked and returned as they are.
    """
    if isinstance(value, Mapping):
        converted = {str(k): to_lists(v) for k, v in value.items()}
        if converted and all(k == str(i) for i, k in enumerate(converted)):
            return list(converted.values())
        return converted
    if isinstance(value, list):
        return [to_lists(v) for v in value]
    return value


def _encode(text: str, keep: frozenset[int], *, plus: bool) -> str:
    out = bytearray()
    for b in text.encode("utf-8"):
        if b in keep:
            out.append(b)
        elif b == 0x20 and plus:
            out.append(0x2B)
        else:
            out += b"%" + bytes((_HEX[b >> 4], _HEX[b & 15]))
    return out.decode("ascii")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"http_build_query: cannot encode {value!r}")
        return str(value)
    if isinstance(value, float):
        raise TypeError(
            "http_build_query: floats are not encoded (PHP's float formatting depends on its "
            f"ini settings); pass {value!r} as a string"
        )
    raise TypeError(f"http_build_query: cannot encode a {type(value).__name__}")


def http_build_query(
    data: Mapping[Any, Any] | Sequence[Any],
    *,
    numeric_prefix: str = "",
    arg_separator: str = "&",
    rfc3986: bool = False,
) -> str:
    """Encode nested dicts and lists as PHP's ``http_build_query`` does.

    Args:
        data: a mapping (string or integer keys) or a list (indices are its keys); values are
            strings, ints (written in decimal, even past 64 bits where PHP would have a float),
            bools, Decimals, None (skipped), or nested mappings and lists.
        numeric_prefix: put before integer keys of the top level only (as PHP does).
        arg_separator: between pieces.
        rfc3986: encode like ``rawurlencode`` (space → ``%20``, ``~`` kept) instead of
            ``urlencode``.

    Returns:
        The body, ASCII only, e.g. ``leads%5Bstatus%5D%5B0%5D%5Bid%5D=1&account%5Bid%5D=2``.

    Raises:
        TypeError: a key or value of a type PHP arrays cannot hold here (floats included).
    """
    keep = _KEEP_3986 if rfc3986 else _KEEP_1738
    plus = not rfc3986
    parts: list[str] = []

    def items(node: Mapping[Any, Any] | Sequence[Any]) -> list[tuple[str, bool, Any]]:
        out: list[tuple[str, bool, Any]] = []
        if isinstance(node, Mapping):
            for k, v in node.items():
                if isinstance(k, bool) or not isinstance(k, str | int):
                    raise TypeError(f"http_build_query: key {k!r} is not a str or int")
                text = str(k)
                out.append((text, _int_key(text) is not None, v))
        else:
            out.extend((str(i), True, v) for i, v in enumerate(node))
        return out

    def walk(node: Mapping[Any, Any] | Sequence[Any], prefix: str | None) -> None:
        for key, numeric, value in items(node):
            if prefix is None:
                enc = (numeric_prefix if numeric else "") + _encode(key, keep, plus=plus)
                full = enc
            else:
                full = prefix + "%5B" + _encode(key, keep, plus=plus) + "%5D"
            if value is None:
                continue
            if isinstance(value, Mapping) or (
                isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)
            ):
                walk(value, full)
                continue
            parts.append(full + "=" + _encode(_scalar(value), keep, plus=plus))

    if not isinstance(data, Mapping | Sequence) or isinstance(data, str | bytes | bytearray):
        raise TypeError("http_build_query: data must be a mapping or a list")
    walk(data, None)
    return arg_separator.join(parts)
