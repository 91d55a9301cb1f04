"""templates/ is exactly what the generator emits now, and output is deterministic."""

from __future__ import annotations

from neobank_cfn.render import render
from tests.cfn import PROJECT, project_platform


def test_committed_templates_match_a_fresh_build():
    fresh = render(project_platform())
    committed = {p.name: p.read_text() for p in (PROJECT / "templates").iterdir() if not p.name.startswith(".")}
    assert sorted(committed) == sorted(fresh), "templates/ has missing or stale files: run `make templates`"
    for name, text in fresh.items():
        assert committed[name] == text, f"templates/{name} drifted: run `make templates` and commit"


def test_two_builds_are_byte_identical():
    for fmt in ("yaml", "json"):
        assert render(project_platform(), fmt=fmt) == render(project_platform(), fmt=fmt)
