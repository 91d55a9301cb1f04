"""`params sync`: missing root parameters are added with their defaults, values kept, order fixed, atomically."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from neobank_cfn.cli import main
from neobank_cfn.parameters import Param
from neobank_cfn.params_sync import sync_files, sync_values
from neobank_cfn.root import root_params
from tests.cfn import PROJECT

PARAMS = (
    Param("A", "a", default="1", allowed_values=("1", "2")),
    Param("Required", "no default", allowed_pattern="^x+$", constraint="x"),
    Param("B", "b", default="b-default", allowed_pattern="^.+$", constraint="anything"),
)


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _entries(path) -> list[tuple[str, str]]:
    return [(e["ParameterKey"], e["ParameterValue"]) for e in json.loads(path.read_text())]


def _write(path, pairs) -> None:
    path.write_text(json.dumps([{"ParameterKey": k, "ParameterValue": v} for k, v in pairs], indent=2) + "\n")


def test_sync_values_orders_fills_defaults_keeps_values_and_reports():
    entries, added, required, unknown = sync_values({"Stray": "s", "B": "mine"}, PARAMS)
    assert entries == [("A", "1"), ("B", "mine"), ("Stray", "s")]
    assert (added, required, unknown) == ([("A", "1")], ["Required"], ["Stray"])


def test_sync_files_writes_only_what_changed(tmp_path):
    stale, fresh = tmp_path / "stale.json", tmp_path / "fresh.json"
    _write(stale, [("B", "mine"), ("Required", "xx")])
    _write(fresh, [("A", "2"), ("Required", "xx"), ("B", "mine")])
    before = fresh.stat().st_mtime_ns
    results = sync_files([stale, fresh], PARAMS)
    assert [r.changed for r in results] == [True, False]
    assert _entries(stale) == [("A", "1"), ("Required", "xx"), ("B", "mine")]
    assert fresh.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.json", "stale.json"]  # no temp files left


def _project_file(tmp_path, env="dev", drop=(), extra=()):
    """A copy of params/<env>.json without the ``drop`` keys and with ``extra`` entries appended."""
    pairs = [(k, v) for k, v in _entries(PROJECT / f"params/{env}.json") if k not in drop] + list(extra)
    path = tmp_path / f"{env}.json"
    _write(path, pairs)
    return path


def test_cli_adds_a_new_services_parameters_with_defaults_in_root_order(run, tmp_path, plat):
    path = _project_file(tmp_path, drop=("CoreBankingCpu", "CoreBankingMemory", "ExecEnabled"))
    result = run("params", "sync", str(path))
    assert result.exit_code == 0, result.output
    assert "added CoreBankingCpu = '512'" in result.output and "added ExecEnabled = 'false'" in result.output
    values = dict(_entries(path))
    assert (values["CoreBankingCpu"], values["CoreBankingMemory"], values["ExecEnabled"]) == ("512", "1024", "false")
    assert values["CoreBankingDesiredCount"] == "1"  # dev's own value is kept, not reset to the default
    assert [k for k, _ in _entries(path)] == [p.name for p in root_params(plat.wiring, False)]
    assert run("params", "check", str(path)).exit_code == 0


def test_cli_reports_a_required_parameter_instead_of_inventing_it(run, tmp_path):
    path = _project_file(tmp_path, drop=("CoreBankingImageTag", "CoreBankingCpu"))
    result = run("params", "sync", str(path))
    assert result.exit_code == 1
    assert "CoreBankingImageTag: required (no default); add its value by hand" in result.output
    assert "CoreBankingImageTag" not in dict(_entries(path))
    assert dict(_entries(path))["CoreBankingCpu"] == "512"  # what could be added was added


def test_cli_keeps_unknown_keys_at_the_end_for_check_to_report(run, tmp_path):
    path = _project_file(tmp_path, extra=[("Bogus", "x")])
    result = run("params", "sync", str(path))
    assert result.exit_code == 0 and "Bogus: not a root parameter; kept" in result.output
    assert _entries(path)[-1] == ("Bogus", "x")


def test_committed_params_files_are_in_sync(run, tmp_path):
    copies = []
    for source in sorted((PROJECT / "params").glob("*.json")):
        copy = tmp_path / source.name
        copy.write_text(source.read_text())
        copies.append(copy)
    result = run("params", "sync", *map(str, copies))
    assert result.exit_code == 0
    assert all(line.endswith("up to date") for line in result.output.splitlines()), result.output


def test_cli_malformed_file_writes_nothing(run, tmp_path):
    good = _project_file(tmp_path, drop=("CoreBankingCpu",))
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    before = good.read_text()
    result = run("params", "sync", str(good), str(bad))
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "bad.json: not valid JSON" in lines[0] and "nothing was written" in lines[0]
    assert good.read_text() == before


def test_cli_missing_file(run, tmp_path):
    result = run("params", "sync", str(tmp_path / "none.json"))
    assert result.exit_code == 1 and "no such file" in result.output and "Traceback" not in result.output
