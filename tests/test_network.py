"""Network tier: subnets per AZ and tier, private data subnets, NAT choices, flow logs, endpoints."""

from __future__ import annotations

import ipaddress

import pytest

from tests.cfn import props, refs, resources


def _evaluate(node, vpc_cidr: str):
    """Resolve the Fn::If / Fn::Select / Fn::Cidr chain of a subnet CIDR for one VPC CIDR."""
    prefix = vpc_cidr.split("/")[1]
    if isinstance(node, dict) and "Fn::If" in node:
        condition, yes, no = node["Fn::If"]
        return _evaluate(yes if condition == f"VpcPrefix{prefix}" else no, vpc_cidr)
    if isinstance(node, dict) and "Fn::Select" in node:
        index, listing = node["Fn::Select"]
        return _evaluate(listing, vpc_cidr)[index]
    if isinstance(node, dict) and "Fn::Cidr" in node:
        block, count, bits = node["Fn::Cidr"]
        assert block == {"Ref": "VpcCidr"}
        network = ipaddress.ip_network(vpc_cidr)
        subnets = list(network.subnets(new_prefix=32 - bits))
        assert len(subnets) >= count, f"{vpc_cidr} cannot hold {count} /{32 - bits} blocks"
        return [str(s) for s in subnets[:count]]
    raise AssertionError(f"unexpected node {node}")


@pytest.mark.parametrize("vpc_cidr", ["10.0.0.0/16", "172.16.0.0/17", "192.168.0.0/18", "10.1.0.0/19", "10.2.0.0/20"])
def test_subnets_fit_the_vpc_and_never_overlap(tier, vpc_cidr):
    subnets = resources(tier("network"), "AWS::EC2::Subnet")
    networks = [ipaddress.ip_network(_evaluate(props(s)["CidrBlock"], vpc_cidr)) for s in subnets.values()]
    vpc = ipaddress.ip_network(vpc_cidr)
    assert all(n.subnet_of(vpc) for n in networks)
    assert all(n.prefixlen == vpc.prefixlen + 4 for n in networks)
    assert len(set(networks)) == len(networks) == 9


def test_each_subnet_tier_spreads_over_distinct_azs(tier):
    subnets = resources(tier("network"), "AWS::EC2::Subnet")
    for kind in ("Public", "App", "Data"):
        indexes = [props(subnets[f"{kind}Subnet{az}"])["AvailabilityZone"]["Fn::Select"][0] for az in "ABC"]
        assert indexes == [0, 1, 2]
        assert subnets[f"{kind}SubnetC"]["Condition"] == "HasThreeAzs"


def test_no_subnet_gives_public_ips(tier):
    for subnet in resources(tier("network"), "AWS::EC2::Subnet").values():
        assert props(subnet)["MapPublicIpOnLaunch"] is False


def _table_of(template, subnet):
    for assoc in resources(template, "AWS::EC2::SubnetRouteTableAssociation").values():
        if props(assoc)["SubnetId"] == {"Ref": subnet}:
            return props(assoc)["RouteTableId"]["Ref"]
    raise AssertionError(f"{subnet} has no route table")


def test_data_subnets_have_no_route_out_of_the_vpc(tier):
    network = tier("network")
    routes = resources(network, "AWS::EC2::Route").values()
    for az in "ABC":
        table = _table_of(network, f"DataSubnet{az}")
        for route in routes:
            if props(route)["RouteTableId"] == {"Ref": table}:
                pytest.fail(f"data route table {table} has a route {props(route)}")


def test_app_subnets_route_out_through_nat_only(tier):
    network = tier("network")
    routes = {props(r)["RouteTableId"]["Ref"]: props(r) for r in resources(network, "AWS::EC2::Route").values()}
    for az in "ABC":
        route = routes[_table_of(network, f"AppSubnet{az}")]
        assert "GatewayId" not in route
        assert refs(route["NatGatewayId"]) <= {"NatGatewayA", f"NatGateway{az}"}


def test_one_nat_outside_prod_one_per_az_on_request(tier):
    nats = resources(tier("network"), "AWS::EC2::NatGateway")
    assert "Condition" not in nats["NatGatewayA"]
    assert nats["NatGatewayB"]["Condition"] == "NatPerAz"
    assert nats["NatGatewayC"]["Condition"] == "NatInC"


def test_flow_logs_capture_all_traffic_to_an_encrypted_group(tier):
    network = tier("network")
    (flow,) = resources(network, "AWS::EC2::FlowLog").values()
    assert props(flow)["TrafficType"] == "ALL"
    group = network["Resources"][props(flow)["LogGroupName"]["Ref"]]
    assert props(group)["KmsKeyId"] == {"Ref": "LogsKeyArn"}
    assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_gateway_endpoints_serve_app_and_data_route_tables(tier):
    endpoints = resources(tier("network"), "AWS::EC2::VPCEndpoint")
    for name in ("S3GatewayEndpoint", "DynamodbGatewayEndpoint"):
        tables = refs(props(endpoints[name])["RouteTableIds"])
        assert tables == {f"{kind}RouteTable{az}" for kind in ("App", "Data") for az in "ABC"}


def test_interface_endpoints_behind_one_switch_with_https_from_vpc_only(tier):
    network = tier("network")
    interface = {
        props(e)["ServiceName"]["Fn::Sub"].rsplit("}.", 1)[1]: e
        for e in resources(network, "AWS::EC2::VPCEndpoint").values()
        if props(e)["VpcEndpointType"] == "Interface"
    }
    required = {"ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "sts", "kms", "xray"}
    assert required <= set(interface)
    for endpoint in interface.values():
        assert endpoint["Condition"] == "UseInterfaceEndpoints"
        assert props(endpoint)["PrivateDnsEnabled"] is True
        assert props(endpoint)["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]
    ingress = [
        props(r)
        for r in resources(network, "AWS::EC2::SecurityGroupIngress").values()
        if props(r)["GroupId"] == {"Ref": "EndpointSecurityGroup"}
    ]
    assert ingress == [
        {**ingress[0], "CidrIp": {"Ref": "VpcCidr"}, "FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}
    ]


def test_vpc_cidr_accepts_only_private_16_to_20(plat):
    param = next(p for t in plat.tiers for p in t.inputs if p.name == "VpcCidr")
    for good in ("10.0.0.0/16", "172.31.0.0/20", "192.168.0.0/18"):
        assert param.problem(good) is None, good
    for bad in ("10.0.0.0/8", "10.0.0.0/24", "8.8.0.0/16", "172.32.0.0/16", "192.169.0.0/16", "10.0.0.256/16"):
        assert param.problem(bad), bad
