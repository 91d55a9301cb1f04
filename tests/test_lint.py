"""cfn-lint over every emitted template: zero errors, warnings and informational findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from neobank_cfn.lint import lint_paths, template_files
from neobank_cfn.render import render, write_files
from tests.cfn import PROJECT, project_platform

COMMITTED = template_files(PROJECT / "templates")


@pytest.mark.parametrize("path", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_template_is_lint_clean(path):
    assert [str(f) for f in lint_paths([path])] == []


@pytest.fixture(scope="module")
def local_variant(tmp_path_factory) -> Path:
    """The whole platform with a root that points at tier files by relative path."""
    out = tmp_path_factory.mktemp("local")
    write_files(out, render(project_platform(), local_urls=True))
    return out


def test_local_urls_variant_passes_cross_template_checks(local_variant):
    # With relative TemplateURLs cfn-lint reads the nested templates too: E3043 checks every nested
    # parameter exists and none is missing, E1010 that every GetAtt Outputs.X names a real output.
    findings = lint_paths(template_files(local_variant))
    assert [str(f) for f in findings] == []


def _broken_root(local_variant: Path, tmp_path: Path, old: str, new: str) -> set[str]:
    for child in local_variant.glob("*.yaml"):
        (tmp_path / child.name).write_text(child.read_text())
    root = tmp_path / "root.yaml"
    text = root.read_text()
    assert old in text
    root.write_text(text.replace(old, new))
    return {f.rule for f in lint_paths([root])}


def test_cross_template_check_catches_a_wrong_output_name(local_variant, tmp_path):
    rules = _broken_root(local_variant, tmp_path, "NetworkStack.Outputs.VpcId", "NetworkStack.Outputs.NoSuchOutput")
    assert "E1010" in rules, rules


def test_cross_template_check_catches_a_missing_nested_parameter(local_variant, tmp_path):
    rules = _broken_root(local_variant, tmp_path, "LogsKeyArn: !GetAtt", "UnknownInput: !GetAtt")
    assert "E3043" in rules, rules


def test_known_bad_fixture_fails():
    findings = lint_paths([PROJECT / "tests" / "fixtures" / "bad.yaml"])
    assert {f.rule[0] for f in findings} >= {"E", "W"}
