"""Parameter files: every params/<env>.json is complete and valid; the check finds every kind of mistake."""

from __future__ import annotations

import json

import pytest

from neobank_cfn.params_check import check_file
from neobank_cfn.root import root_params
from tests.cfn import PROJECT

ENV_FILES = sorted((PROJECT / "params").glob("*.json"))


def _check(plat, path):
    return check_file(path, root_params(plat.wiring, False), plat.wiring.root_rules())


def _values(path):
    return {e["ParameterKey"]: e["ParameterValue"] for e in json.loads(path.read_text())}


def test_one_file_per_environment():
    assert [p.stem for p in ENV_FILES] == ["dev", "prod", "staging"]


@pytest.mark.parametrize("path", ENV_FILES, ids=[p.stem for p in ENV_FILES])
def test_env_file_passes_and_names_every_root_parameter(plat, path):
    assert _check(plat, path) == []
    assert set(_values(path)) == {p.name for p in root_params(plat.wiring, False)}
    assert _values(path)["Environment"] == path.stem


def test_dev_is_cheap_and_prod_is_highly_available():
    dev, prod = _values(PROJECT / "params/dev.json"), _values(PROJECT / "params/prod.json")
    assert (dev["NatGateways"], dev["AzCount"]) == ("single", "2")
    assert (prod["NatGateways"], prod["AzCount"]) == ("per-az", "3")


def _write(tmp_path, base="dev", **overrides):
    values = _values(PROJECT / f"params/{base}.json") | overrides
    path = tmp_path / "p.json"
    entries = [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items() if v is not None]
    path.write_text(json.dumps(entries))
    return path


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"Bogus": "x"}, "Bogus: not a parameter of the root template"),
        ({"CostCenter": None}, "CostCenter: required (no default)"),
        ({"VpcCidr": "10.0.0.0/8"}, "VpcCidr: '10.0.0.0/8' does not match"),
        ({"VpcCidr": "8.8.0.0/16"}, "VpcCidr: '8.8.0.0/16' does not match"),
        ({"AzCount": "4"}, "AzCount: '4' is not one of 2, 3"),
        ({"LogRetentionDays": "abc"}, "LogRetentionDays: 'abc' is not a number"),
        ({"AzCount": 3}, "AzCount: must be a string"),
    ],
)
def test_each_mistake_is_one_line_naming_the_key(plat, tmp_path, overrides, expected):
    problems = _check(plat, _write(tmp_path, **overrides))
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"NatGateways": "single"}, "rule ProductionSurvivesAnAzOutage fails"),
        ({"LoadBalancerDeletionProtection": "false"}, "rule ProductionProtectsTheLoadBalancer fails"),
        ({"FargateBase": "0"}, "rule ProductionKeepsAnOnDemandBase fails"),
        ({"FargateWeight": "0"}, "rule CapacityStrategyPlacesTasks fails"),
        ({"DeletionProtection": "false"}, "rule ProductionDataIsProtected fails"),
    ],
)
def test_each_broken_rule_in_prod_is_one_line_naming_the_rule(plat, tmp_path, overrides, expected):
    # Start from prod.json, which satisfies every rule, so exactly one rule breaks.
    problems = _check(plat, _write(tmp_path, base="prod", **overrides))
    assert len(problems) == 1 and expected in problems[0], problems


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "not valid JSON at line 1"),
        ('{"a": 1}', "must be a JSON list"),
        ('[{"ParameterKey": "A"}]', "entry 0 must have exactly ParameterKey and ParameterValue"),
    ],
)
def test_malformed_files(plat, tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    problems = _check(plat, path)
    assert len(problems) == 1 and expected in problems[0]
