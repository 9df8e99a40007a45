"""PHP-style query strings (``filter[statuses][0][status_id]=1``) and lenient number parsing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART = re.compile(r"\[([^\[\]]*)\]")


def parse_brackets(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Nest ``a[b][c]=v`` pairs as PHP does; ``a[]=v`` appends; digit-keyed dicts become lists.

    A plain repeated key (``a=1&a=2``) becomes a list as well.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        match = _KEY.match(raw_key)
        if not match:
            root[raw_key] = value
            continue
        parts = [match.group(1), *_PART.findall(match.group(2))]
        node: Any = root
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if last:
                    node.append(value)
                    break
                child: Any = {}
                node.append(child)
                node = child
                continue
            if part == "" and i > 0:
                # handled by the parent turning into a list below
                part = str(len(node))
            if last:
                if part in node and not isinstance(node[part], dict):
                    previous = node[part]
                    node[part] = (
                        [*previous, value]
                        if isinstance(previous, list)
                        else [
                            previous,
                            value,
                        ]
                    )
                else:
                    node[part] = value
            else:
                nxt = node.get(part)
                if not isinstance(nxt, dict | list):
                    nxt = {}
                    node[part] = nxt
                node = nxt
    return {k: _listify(v) for k, v in root.items()}


def _listify(value: Any) -> Any:
    if isinstance(value, dict):
        converted = {k: _listify(v) for k, v in value.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(value, list):
        return [_listify(v) for v in value]
    return value


def as_int(value: Any) -> int | None:
    """An integer from an int, a float with no fraction part or a numeric string; else None."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s)
        except ValueError:
            try:
                number = float(s)
            except ValueError:
                return None
            return int(number) if number.is_integer() else None
    return None


def as_list(value: Any) -> list[Any]:
    """A scalar, a list or a digit-keyed dict as a list; comma-separated strings split."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = list(value.values())
    if not isinstance(value, list):
        value = [value]
    out: list[Any] = []
    for item in value:
        if isinstance(item, str) and "," in item:
            out.extend(part.strip() for part in item.split(",") if part.strip())
        else:
            out.append(item)
    return out


def int_set(value: Any) -> set[int] | None:
    """Integer values of a filter (scalar, list or comma list); None when the filter is absent."""
    if value is None:
        return None
    out: set[int] = set()
    for item in as_list(value):
        number = as_int(item)
        if number is not None:
            out.add(number)
    return out


def with_values(raw: Any) -> set[str]:
    """The ``with`` parameter (comma list, repeated or ``with[]``) as a set of names."""
    return {str(v).strip() for v in as_list(raw) if str(v).strip()}
