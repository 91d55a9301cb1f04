"""Wiring: the root is derived from the contracts and fails loudly on a broken contract."""

from __future__ import annotations

import pytest
from troposphere import Template

from neobank_cfn.errors import WiringError
from neobank_cfn.parameters import Param, wired
from neobank_cfn.tier import Output, Tier
from neobank_cfn.wiring import wire
from tests.cfn import resources


def _tier(name, inputs=(), outputs=()):
    return Tier(
        name=name,
        description=name,
        inputs=tuple(inputs),
        outputs=tuple(Output(o, o) for o in outputs),
        build=lambda config: Template(),
    )


def _in(name):
    return wired(name, "String", name, group="Test")


def test_order_follows_dependencies_not_declaration():
    order = wire([_tier("b", [_in("X")]), _tier("a", outputs=["X"])]).order
    assert [t.name for t in order] == ["a", "b"]


def test_output_given_by_two_tiers_fails():
    with pytest.raises(WiringError, match="X is given by both a and b"):
        wire([_tier("a", outputs=["X"]), _tier("b", outputs=["X"])])


def test_input_nobody_provides_fails():
    with pytest.raises(WiringError, match="input X of tier a is given by no tier"):
        wire([_tier("a", [_in("X")])])


def test_cycle_fails_and_names_it():
    with pytest.raises(WiringError, match="cycle: a -> b -> a"):
        wire([_tier("a", [_in("Y")], ["X"]), _tier("b", [_in("X")], ["Y"])])


def test_own_output_as_input_fails():
    with pytest.raises(WiringError, match="its own output"):
        wire([_tier("a", [_in("X")], ["X"])])


def test_root_parameter_defined_two_ways_fails():
    p1 = Param("Size", "one", allowed_values=("1",))
    p2 = Param("Size", "two", allowed_values=("2",))
    with pytest.raises(WiringError, match="Size is defined differently"):
        wire([_tier("a", [p1]), _tier("b", [p2])])


def test_every_nested_parameter_is_satisfied(plat, rendered):
    root = rendered["root.yaml"]
    for tier in plat.wiring.order:
        stack = root["Resources"][tier.logical_id]["Properties"]
        declared = set(rendered[tier.filename("yaml")]["Parameters"])
        assert set(stack["Parameters"]) == declared, tier.name
        for name, value in stack["Parameters"].items():
            if "Fn::GetAtt" in value:
                producer, attribute = value["Fn::GetAtt"]
                produced = rendered[f"{producer.removesuffix('Stack').lower()}.yaml"]["Outputs"]
                assert attribute == f"Outputs.{name}" and name in produced
            else:
                assert value == {"Ref": name} and name in root["Parameters"]


def test_root_parameters_are_exactly_what_tiers_need(plat, rendered):
    root_params = set(rendered["root.yaml"]["Parameters"])
    unwired = {p.name for t in plat.tiers for p in t.all_inputs if plat.wiring.sources[(t.name, p.name)] is None}
    assert root_params == unwired | {"TemplatesBucket", "TemplatesPrefix"}


def test_template_urls_come_from_bucket_and_prefix(plat, rendered):
    for logical, stack in resources(rendered["root.yaml"], "AWS::CloudFormation::Stack").items():
        url = stack["Properties"]["TemplateURL"]["Fn::Sub"]
        assert url.startswith("https://${TemplatesBucket}.s3.${AWS::Region}.${AWS::URLSuffix}/${TemplatesPrefix}")
        assert url.endswith(".yaml"), logical


def test_root_interface_labels_every_parameter(rendered):
    root = rendered["root.yaml"]
    interface = root["Metadata"]["AWS::CloudFormation::Interface"]
    grouped = [p for g in interface["ParameterGroups"] for p in g["Parameters"]]
    assert sorted(grouped) == sorted(root["Parameters"])
    assert set(interface["ParameterLabels"]) == set(root["Parameters"])
