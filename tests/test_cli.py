"""The command line, including every bad-input path: one line, non-zero exit, nothing written."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from neobank_cfn import __version__
from neobank_cfn.cli import main
from tests.cfn import PROJECT


@pytest.fixture
def run():
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), catch_exceptions=False)


def _one_error_line(result):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_version(run):
    assert __version__ in run("--version").output


@pytest.mark.parametrize(
    "command", [[], ["build"], ["lint"], ["params"], ["params", "check"], ["upload"], ["deploy"], ["protect"], ["docs"]]
)
def test_every_command_has_help_with_an_example(run, command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and ("Example" in result.output or command == ["params"])


def test_build_writes_every_template_and_the_stack_policies(run, tmp_path, plat):
    result = run("build", "--out", str(tmp_path))
    assert result.exit_code == 0
    written = {p.name for p in tmp_path.iterdir()}
    policies = {name for name in written if name.startswith("stack-policy-")}
    assert written - policies == {f"{n}.yaml" for n in plat.names}
    assert {"stack-policy-keys.json", "stack-policy-data.json"} <= policies
    assert all(json.loads((tmp_path / name).read_text())["Statement"] for name in policies)


def test_build_json_and_selected_tiers(run, tmp_path):
    result = run("build", "--format", "json", "--tier", "network", "--tier", "root", "--out", str(tmp_path))
    assert result.exit_code == 0
    # The network tier keeps its flow-log group, so its stack policy comes with it; the root has none.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["network.json", "root.json", "stack-policy-network.json"]
    root = json.loads((tmp_path / "root.json").read_text())
    assert root["Resources"]["NetworkStack"]["Properties"]["TemplateURL"]["Fn::Sub"].endswith("network.json")


def test_local_urls_point_at_relative_files(run, tmp_path):
    run("build", "--local-urls", "--tier", "root", "--out", str(tmp_path))
    root = yaml.safe_load((tmp_path / "root.yaml").read_text().replace("!", ""))
    assert root["Resources"]["NetworkStack"]["Properties"]["TemplateURL"] == "network.yaml"
    assert "TemplatesBucket" not in root["Parameters"]


def test_unknown_tier(run, tmp_path):
    result = run("build", "--tier", "nope", "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "unknown tier 'nope'" in _one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_bad_format_is_a_usage_error(run, tmp_path):
    result = run("build", "--format", "xml", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "xml" in result.output
    assert not (tmp_path / "out").exists()


def test_unwritable_out(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run("build", "--out", str(blocker / "sub"))
    assert result.exit_code == 1
    assert "cannot create output directory" in _one_error_line(result)


def test_bad_platform_file(run, tmp_path):
    config = tmp_path / "platform.yaml"
    config.write_text("services:\n  - name: core-banking\n    path: /a/*\n    cpu: 300\n")
    result = run("build", "--config", str(config), "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert "cpu 300 is not a Fargate size" in _one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_params_check_ok_and_bad(run, tmp_path):
    files = [str(p) for p in sorted((PROJECT / "params").glob("*.json"))]
    assert run("params", "check", *files).exit_code == 0
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"ParameterKey": "Bogus", "ParameterValue": "x"}]))
    result = run("params", "check", str(bad))
    assert result.exit_code == 1
    assert "Bogus: not a parameter" in result.output and "Traceback" not in result.output


def test_lint_clean_and_failing(run):
    assert run("lint", str(PROJECT / "templates")).exit_code == 0
    result = run("lint", str(PROJECT / "tests/fixtures/bad.yaml"))
    assert result.exit_code == 1 and "bad.yaml:" in result.output


def test_lint_missing_path_is_a_usage_error(run, tmp_path):
    result = run("lint", str(tmp_path / "none"))
    assert result.exit_code == 2
