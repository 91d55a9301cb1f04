"""Security tier: groups per component, chained by reference, every flow explicit."""

from __future__ import annotations

from tests.cfn import props, resources


def _rules(template, type_):
    return [props(r) | {"_condition": r.get("Condition")} for r in resources(template, type_).values()]


def _into(template, group):
    return [r for r in _rules(template, "AWS::EC2::SecurityGroupIngress") if r["GroupId"] == {"Ref": group}]


def _out_of(template, group):
    return [r for r in _rules(template, "AWS::EC2::SecurityGroupEgress") if r["GroupId"] == {"Ref": group}]


def test_database_takes_5432_from_the_app_only(tier):
    rules = _into(tier("security"), "DatabaseSecurityGroup")
    assert [(r["FromPort"], r["ToPort"], r["SourceSecurityGroupId"]) for r in rules] == [
        (5432, 5432, {"Ref": "AppSecurityGroup"})
    ]


def test_cache_takes_6379_from_the_app_only(tier):
    rules = _into(tier("security"), "CacheSecurityGroup")
    assert [(r["FromPort"], r["SourceSecurityGroupId"]) for r in rules] == [(6379, {"Ref": "AppSecurityGroup"})]


def test_app_takes_only_service_ports_from_the_load_balancer(tier, plat):
    rules = _into(tier("security"), "AppSecurityGroup")
    ports = sorted({s.port for s in plat.config.services})
    assert sorted(r["FromPort"] for r in rules) == ports
    assert all(r["SourceSecurityGroupId"] == {"Ref": "LoadBalancerSecurityGroup"} for r in rules)


def test_load_balancer_open_to_internet_only_when_internet_facing(tier):
    rules = _into(tier("security"), "LoadBalancerSecurityGroup")
    public = [r for r in rules if r.get("CidrIp") == "0.0.0.0/0"]
    assert sorted(r["FromPort"] for r in public) == [80, 443]
    assert all(r["_condition"] == "InternetFacing" for r in public)
    private = [r for r in rules if "SourceSecurityGroupId" in r]
    assert [(r["FromPort"], r["SourceSecurityGroupId"], r["_condition"]) for r in private] == [
        (443, {"Ref": "VpcLinkSecurityGroup"}, "Internal")
    ]


def test_vpc_link_reaches_only_the_load_balancer_on_443(tier):
    security = tier("security")
    assert _into(security, "VpcLinkSecurityGroup") == []
    assert [(r["FromPort"], r["DestinationSecurityGroupId"]) for r in _out_of(security, "VpcLinkSecurityGroup")] == [
        (443, {"Ref": "LoadBalancerSecurityGroup"})
    ]


def test_lambda_group_is_egress_only_https(tier):
    security = tier("security")
    assert _into(security, "LambdaSecurityGroup") == []
    assert [r["FromPort"] for r in _out_of(security, "LambdaSecurityGroup")] == [443]


def test_data_stores_have_no_egress(tier):
    security = tier("security")
    for group in ("DatabaseSecurityGroup", "CacheSecurityGroup"):
        assert _out_of(security, group) == []
        (inline,) = props(security["Resources"][group])["SecurityGroupEgress"]
        assert inline["CidrIp"] == "127.0.0.1/32"


def test_no_all_protocol_egress(tier):
    for rule in _rules(tier("security"), "AWS::EC2::SecurityGroupEgress"):
        assert rule["IpProtocol"] == "tcp" and rule["FromPort"] == rule["ToPort"]
