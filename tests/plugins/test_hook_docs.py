"""Every hook has a docstring, a section in docs/plugins.md and a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from ropilot.plugins import hookspecs

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "plugins.md"
TESTS = REPO / "tests"


def hook_names() -> list[str]:
    names = [
        name
        for name, obj in vars(hookspecs).items()
        if name.startswith(hookspecs.HOOK_PREFIX) and callable(obj) and hasattr(obj, "ropilot_spec")
    ]
    assert names, "no hookspecs found"
    return sorted(names)


HOOKS = hook_names()


def doc_sections() -> dict[str, str]:
    """Map each ``## heading`` of the author guide to the text under it."""
    parts = re.split(r"^## (.+?)\s*$", DOCS.read_text(encoding="utf-8"), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


def test_every_exported_hook_is_a_spec() -> None:
    exported = {name for name in hookspecs.__all__ if name.startswith("ropilot_")}
    assert exported == set(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_docstring_documenting_its_arguments(name: str) -> None:
    func = getattr(hookspecs, name)
    doc = inspect.getdoc(func)
    assert doc and len(doc.splitlines()) >= 3, f"{name} needs a real docstring"
    params = list(inspect.signature(func).parameters)
    if params:
        assert "Args:" in doc, f"{name}: document the arguments in an Args: section"
    for param in params:
        assert re.search(rf"^\s+{param}:", doc, re.M), f"{name}: argument {param} undocumented"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_has_a_section_in_the_author_guide(name: str) -> None:
    sections = doc_sections()
    assert name in sections, f"docs/plugins.md has no section '## {name}'"
    body = sections[name]
    assert "```python" in body, f"the section on {name} needs an example"
    assert f"def {name}(" in body, f"the example of {name} should implement it"


def test_author_guide_has_no_section_for_a_missing_hook() -> None:
    documented = {h for h in doc_sections() if h.startswith("ropilot_")}
    assert documented - set(HOOKS) == set(), "sections for hooks that do not exist"


@pytest.mark.parametrize("name", HOOKS)
def test_hook_is_named_in_some_test(name: str) -> None:
    this = Path(__file__).resolve()
    files = [p for p in TESTS.rglob("test_*.py") if p.resolve() != this]
    hits = [p for p in files if name in p.read_text(encoding="utf-8")]
    assert hits, f"no test under tests/ mentions {name}; add one proving it is called"
