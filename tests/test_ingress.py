"""Ingress tier: cluster and capacity, load balancer and listeners, access-log bucket, WAF."""

from __future__ import annotations

import json
import re

import pytest

from neobank_cfn import contracts
from neobank_cfn.tiers import ingress
from tests.cfn import PROJECT, as_list, one, props, resources, walk

SCHEMES = ("internal", "internet-facing")


@pytest.fixture(scope="module")
def template(tier):
    return tier("ingress")


def _resolve(node: object, internet_facing: bool) -> object:
    """``node`` with every ``Fn::If`` on InternetFacing decided (NoValue dropped)."""
    if isinstance(node, dict) and "Fn::If" in node:
        condition, yes, no = node["Fn::If"]
        assert condition == "InternetFacing", condition
        return _resolve(yes if internet_facing else no, internet_facing)
    if isinstance(node, dict):
        resolved = {k: _resolve(v, internet_facing) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != {"Ref": "AWS::NoValue"}}
    if isinstance(node, list):
        return [_resolve(v, internet_facing) for v in node]
    return node


def _exists(resource: dict, internet_facing: bool) -> bool:
    condition = resource.get("Condition")
    assert condition in (None, "InternetFacing"), condition
    return condition is None or internet_facing


def _listeners(template, internet_facing: bool) -> dict[int, dict]:
    found = {}
    for listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values():
        if _exists(listener, internet_facing):
            found[props(listener)["Port"]] = props(listener)
    return found


def _lb_attributes(template) -> dict[str, object]:
    _, lb = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    return {a["Key"]: a["Value"] for a in props(lb)["LoadBalancerAttributes"]}


def test_internet_facing_condition_reads_the_scheme_parameter(template):
    assert template["Conditions"]["InternetFacing"] == {
        "Fn::Equals": [{"Ref": "LoadBalancerScheme"}, "internet-facing"]
    }


# Load balancer
@pytest.mark.parametrize("scheme", SCHEMES)
def test_scheme_and_subnets_follow_the_parameter(template, scheme):
    _, lb = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    p = _resolve(props(lb), scheme == "internet-facing")
    assert p["Scheme"] == {"Ref": "LoadBalancerScheme"}
    assert p["Type"] == "application"
    expected = "PublicSubnetIds" if scheme == "internet-facing" else "AppSubnetIds"
    assert p["Subnets"] == {"Ref": expected}
    assert p["SecurityGroups"] == [{"Ref": "LoadBalancerSecurityGroupId"}]


def test_invalid_headers_are_dropped_and_desync_mitigation_is_strictest(template):
    attributes = _lb_attributes(template)
    assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true"
    assert attributes["routing.http.desync_mitigation_mode"] == "strictest"
    assert attributes["waf.fail_open.enabled"] == "false"


def test_deletion_protection_comes_from_its_parameter(template):
    assert _lb_attributes(template)["deletion_protection.enabled"] == {"Ref": "LoadBalancerDeletionProtection"}


def test_access_and_connection_logs_go_to_the_dedicated_bucket(template):
    attributes = _lb_attributes(template)
    bucket, _ = one(template, "AWS::S3::Bucket")
    for kind in ("access_logs", "connection_logs"):
        assert attributes[f"{kind}.s3.enabled"] == "true"
        assert attributes[f"{kind}.s3.bucket"] == {"Ref": bucket}
        assert attributes[f"{kind}.s3.prefix"] == ingress.LOG_PREFIXES[kind]


def test_load_balancer_waits_for_the_log_bucket_policy(template):
    _, lb = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    policy, _ = one(template, "AWS::S3::BucketPolicy")
    assert policy in as_list(lb["DependsOn"])


# Listeners
@pytest.mark.parametrize("scheme", SCHEMES)
def test_https_listener_uses_tls13_and_the_certificate_parameter(template, scheme):
    https = _listeners(template, scheme == "internet-facing")[443]
    assert https["Protocol"] == "HTTPS"
    assert https["SslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
    assert https["Certificates"] == [{"CertificateArn": {"Ref": "LoadBalancerCertificateArn"}}]


def test_https_default_action_is_a_json_404(template):
    (action,) = _listeners(template, False)[443]["DefaultActions"]
    assert action["Type"] == "fixed-response"
    config = action["FixedResponseConfig"]
    assert config["StatusCode"] == "404"
    assert config["ContentType"] == "application/json"
    assert json.loads(config["MessageBody"]) == {"message": "Not Found"}


def test_https_responses_carry_security_headers(template):
    attributes = {a["Key"]: a["Value"] for a in _listeners(template, False)[443]["ListenerAttributes"]}
    assert attributes["routing.http.response.strict_transport_security.header_value"].startswith("max-age=31536000")
    assert attributes["routing.http.response.x_content_type_options.header_value"] == "nosniff"
    assert attributes["routing.http.response.server.enabled"] == "false"


def test_internal_load_balancer_listens_on_443_only(template):
    assert set(_listeners(template, False)) == {443}


def test_port_80_exists_only_when_internet_facing_and_only_redirects(template):
    listeners = _listeners(template, True)
    assert set(listeners) == {80, 443}
    http = listeners[80]
    assert http["Protocol"] == "HTTP"
    (action,) = http["DefaultActions"]
    assert action["Type"] == "redirect"
    assert action["RedirectConfig"]["Protocol"] == "HTTPS"
    assert action["RedirectConfig"]["Port"] == "443"
    assert action["RedirectConfig"]["StatusCode"] == "HTTP_301"


# Access-log bucket
def test_log_bucket_blocks_public_access_is_versioned_owner_enforced_and_retained(template):
    _, bucket = one(template, "AWS::S3::Bucket")
    p = props(bucket)
    assert p["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert p["VersioningConfiguration"] == {"Status": "Enabled"}
    assert p["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"


def test_log_bucket_uses_sse_s3_with_the_reason_recorded(template):
    _, bucket = one(template, "AWS::S3::Bucket")
    rule = props(bucket)["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    reason = bucket["Metadata"]["Waivers"]["SSE-KMS"]
    assert "ELB access logs" in reason and "SSE-S3" in reason
    assert "cfn-lint" not in bucket["Metadata"]  # nothing is silenced, the reason is only recorded


def test_log_bucket_expires_logs_after_the_parameter(template):
    _, bucket = one(template, "AWS::S3::Bucket")
    rules = {r["Id"]: r for r in props(bucket)["LifecycleConfiguration"]["Rules"]}
    expire = rules["ExpireLoadBalancerLogs"]
    assert expire["Status"] == "Enabled"
    assert expire["ExpirationInDays"] == {"Ref": "LoadBalancerLogExpiryDays"}
    assert expire["NoncurrentVersionExpiration"]["NoncurrentDays"] > 0
    assert "Prefix" not in expire and "Filter" not in expire  # every log, whatever its prefix


def _statements(template) -> dict[str, dict]:
    _, policy = one(template, "AWS::S3::BucketPolicy")
    return {s["Sid"]: s for s in props(policy)["PolicyDocument"]["Statement"]}


def test_log_bucket_policy_denies_requests_without_tls(template):
    bucket, _ = one(template, "AWS::S3::Bucket")
    _, policy = one(template, "AWS::S3::BucketPolicy")
    assert props(policy)["Bucket"] == {"Ref": bucket}
    deny = _statements(template)["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert as_list(deny["Action"]) == ["s3:*"]
    assert [r["Fn::Sub"] for r in deny["Resource"]] == [
        f"arn:${{AWS::Partition}}:s3:::${{{bucket}}}",
        f"arn:${{AWS::Partition}}:s3:::${{{bucket}}}/*",
    ]


def test_only_elb_log_delivery_may_write_and_only_under_this_account(template):
    statements = _statements(template)
    allows = [s for s in statements.values() if s["Effect"] == "Allow"]
    assert [s["Sid"] for s in allows] == ["ElbDeliversLogs"]
    (allow,) = allows
    assert allow["Principal"] == {"Service": ["logdelivery.elasticloadbalancing.amazonaws.com"]}
    assert as_list(allow["Action"]) == ["s3:PutObject"]
    paths = [r["Fn::Sub"] for r in allow["Resource"]]
    assert paths == [
        f"arn:${{AWS::Partition}}:s3:::${{LoadBalancerLogBucket}}/{prefix}/AWSLogs/${{AWS::AccountId}}/*"
        for prefix in ingress.LOG_PREFIXES.values()
    ]


# WAF
def _acl(template) -> tuple[str, dict]:
    return one(template, "AWS::WAFv2::WebACL")


def test_web_acl_is_regional_with_the_managed_rule_groups(template):
    _, acl = _acl(template)
    p = props(acl)
    assert p["Scope"] == "REGIONAL"
    assert p["DefaultAction"] == {"Allow": {}}
    managed = [
        r["Statement"]["ManagedRuleGroupStatement"] for r in p["Rules"] if "ManagedRuleGroupStatement" in r["Statement"]
    ]
    assert {(m["VendorName"], m["Name"]) for m in managed} == {
        ("AWS", "AWSManagedRulesCommonRuleSet"),
        ("AWS", "AWSManagedRulesKnownBadInputsRuleSet"),
        ("AWS", "AWSManagedRulesSQLiRuleSet"),
        ("AWS", "AWSManagedRulesAmazonIpReputationList"),
    }
    for rule in p["Rules"]:
        if "ManagedRuleGroupStatement" in rule["Statement"]:
            assert rule["OverrideAction"] == {"None": {}}, f"{rule['Name']} only counts"


def test_web_acl_rule_priorities_are_unique_and_metrics_are_on(template):
    _, acl = _acl(template)
    p = props(acl)
    priorities = [r["Priority"] for r in p["Rules"]]
    assert len(set(priorities)) == len(priorities)
    # Two environments in one account must not share the WebACL metric dimension.
    assert p["VisibilityConfig"]["MetricName"] == {"Fn::Sub": "${Application}-${Environment}-waf"}
    for config in [p["VisibilityConfig"], *(r["VisibilityConfig"] for r in p["Rules"])]:
        assert config["CloudWatchMetricsEnabled"] is True
        assert config["SampledRequestsEnabled"] is True


@pytest.mark.parametrize("scheme", SCHEMES)
def test_rate_rule_blocks_per_client_at_the_parameter(template, scheme):
    _, acl = _acl(template)
    (rule,) = [r for r in props(acl)["Rules"] if "RateBasedStatement" in r["Statement"]]
    assert rule["Action"] == {"Block": {}}
    statement = _resolve(rule["Statement"]["RateBasedStatement"], scheme == "internet-facing")
    assert statement["Limit"] == {"Ref": "WafRateLimit"}
    if scheme == "internet-facing":
        assert statement["AggregateKeyType"] == "IP"
        assert "ForwardedIPConfig" not in statement
    else:  # behind the VPC link the source address is the VPC link's: count the client the API names
        assert statement["AggregateKeyType"] == "FORWARDED_IP"
        assert statement["ForwardedIPConfig"]["HeaderName"] == "X-Client-Ip"


def test_web_acl_is_associated_with_the_load_balancer(template):
    lb, _ = one(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    acl, _ = _acl(template)
    _, association = one(template, "AWS::WAFv2::WebACLAssociation")
    assert props(association) == {"ResourceArn": {"Ref": lb}, "WebACLArn": {"Fn::GetAtt": [acl, "Arn"]}}
    assert "Condition" not in association


def test_waf_logs_to_an_encrypted_aws_waf_logs_group_with_credentials_redacted(template):
    acl, _ = _acl(template)
    _, logging = one(template, "AWS::WAFv2::LoggingConfiguration")
    p = props(logging)
    assert p["ResourceArn"] == {"Fn::GetAtt": [acl, "Arn"]}
    (destination,) = p["LogDestinationConfigs"]
    # WAF wants the log group ARN without the ":*" that GetAtt Arn ends with.
    match = re.fullmatch(
        r"arn:\$\{AWS::Partition\}:logs:\$\{AWS::Region\}:\$\{AWS::AccountId\}:log-group:\$\{(\w+)\}",
        destination["Fn::Sub"],
    )
    assert match, destination
    group = template["Resources"][match.group(1)]
    assert group["Type"] == "AWS::Logs::LogGroup"
    name = props(group)["LogGroupName"]["Fn::Sub"][0]
    assert name.startswith("aws-waf-logs-${Application}-${Environment}")
    assert props(group)["KmsKeyId"] == {"Ref": "LogsKeyArn"}
    redacted = {f["SingleHeader"]["Name"].lower() for f in p["RedactedFields"]}
    assert "authorization" in redacted


# Cluster
def test_cluster_turns_on_container_insights_from_its_parameter(template):
    _, cluster = one(template, "AWS::ECS::Cluster")
    assert props(cluster)["ClusterSettings"] == [{"Name": "containerInsights", "Value": {"Ref": "ContainerInsights"}}]
    param = template["Parameters"]["ContainerInsights"]
    assert "disabled" not in param["AllowedValues"] and "enhanced" in param["AllowedValues"]


def test_ecs_exec_is_encrypted_and_logged_to_an_encrypted_group(template):
    _, cluster = one(template, "AWS::ECS::Cluster")
    config = props(cluster)["Configuration"]["ExecuteCommandConfiguration"]
    assert config["KmsKeyId"] == {"Ref": "DataKeyArn"}
    assert config["Logging"] == "OVERRIDE"
    log = config["LogConfiguration"]
    assert log["CloudWatchEncryptionEnabled"] is True
    group = template["Resources"][log["CloudWatchLogGroupName"]["Ref"]]
    assert props(group)["KmsKeyId"] == {"Ref": "LogsKeyArn"}
    assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_capacity_provider_strategy_comes_from_parameters(template):
    cluster, _ = one(template, "AWS::ECS::Cluster")
    _, association = one(template, "AWS::ECS::ClusterCapacityProviderAssociations")
    p = props(association)
    assert p["Cluster"] == {"Ref": cluster}
    assert sorted(p["CapacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    strategy = {s["CapacityProvider"]: s for s in p["DefaultCapacityProviderStrategy"]}
    assert strategy["FARGATE"]["Base"] == {"Ref": "FargateBase"}
    assert strategy["FARGATE"]["Weight"] == {"Ref": "FargateWeight"}
    assert strategy["FARGATE_SPOT"]["Weight"] == {"Ref": "FargateSpotWeight"}
    assert strategy["FARGATE_SPOT"].get("Base", 0) == 0  # only one provider may carry a base


# Contract, parameters and rules
def test_outputs_are_the_contract_names(template):
    expected = {
        contracts.CLUSTER_NAME.name,
        contracts.CLUSTER_ARN.name,
        contracts.HTTPS_LISTENER_ARN.name,
        contracts.LOAD_BALANCER_FULL_NAME.name,
        contracts.LOAD_BALANCER_DNS_NAME.name,
        contracts.EXEC_LOG_GROUP_NAME.name,
        contracts.EXEC_LOG_GROUP_ARN.name,
    }
    assert set(template["Outputs"]) == expected
    https = [
        k for k, v in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items() if props(v)["Port"] == 443
    ]
    assert template["Outputs"]["HttpsListenerArn"]["Value"] == {"Ref": https[0]}
    assert template["Outputs"]["LoadBalancerFullName"]["Value"] == {
        "Fn::GetAtt": ["LoadBalancer", "LoadBalancerFullName"]
    }


def test_ingress_parameters_are_grouped_and_labelled(template):
    labels = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterLabels"]
    groups = {
        g["Label"]["default"]: g["Parameters"]
        for g in template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    }
    own = [p.name for p in ingress.TIER.inputs if p.group == "Ingress"]
    assert set(own) <= set(groups["Ingress"])
    for name in own:
        assert labels[name]["default"] != name


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("arn:aws:acm:eu-west-1:111122223333:certificate/0f3c2a7e-5b1d-4c8e-9a26-7d41e8b3c901", True),
        ("arn:aws-us-gov:acm:us-gov-west-1:111122223333:certificate/0f3c2a7e-5b1d-4c8e-9a26-7d41e8b3c901", True),
        ("arn:aws:acm:eu-west-1:111122223333:certificate/not-a-uuid", False),
        ("arn:aws:iam::111122223333:server-certificate/legacy", False),
        ("arn:aws:acm:eu-west-1:1111:certificate/0f3c2a7e-5b1d-4c8e-9a26-7d41e8b3c901", False),
        ("", False),
    ],
)
def test_certificate_parameter_accepts_only_acm_certificate_arns(value, ok):
    assert (ingress.CERTIFICATE_ARN.problem(value) is None) is ok


def _rules():
    return {rule.name: rule for rule in ingress.TIER.rules}


PROD_OK = {
    "Environment": "prod",
    "LoadBalancerDeletionProtection": "true",
    "FargateBase": "2",
    "FargateWeight": "1",
    "FargateSpotWeight": "0",
}


@pytest.mark.parametrize(
    ("overrides", "broken"),
    [
        ({}, set()),
        ({"LoadBalancerDeletionProtection": "false"}, {"ProductionProtectsTheLoadBalancer"}),
        ({"FargateBase": "0"}, {"ProductionKeepsAnOnDemandBase"}),
        ({"FargateWeight": "0"}, {"CapacityStrategyPlacesTasks"}),
        ({"Environment": "dev", "LoadBalancerDeletionProtection": "false", "FargateBase": "0"}, set()),
    ],
)
def test_rules_guard_prod_and_the_capacity_strategy(overrides, broken):
    values = PROD_OK | overrides
    assert {name for name, rule in _rules().items() if rule.violated(values)} == broken


def test_rules_reach_the_root_template(rendered):
    root_rules = rendered["root.yaml"].get("Rules", {})
    assert set(_rules()) <= set(root_rules)


def test_no_plain_http_target_anywhere_in_the_tier(template):
    # Port 80 is the redirect listener only; nothing forwards to a target group from this tier.
    for node in walk(template):
        if isinstance(node, dict) and node.get("Type") == "forward":
            pytest.fail(f"unexpected forward action {node}")


def _env(name: str) -> dict[str, str]:
    return {e["ParameterKey"]: e["ParameterValue"] for e in json.loads((PROJECT / f"params/{name}.json").read_text())}


def test_dev_is_spot_heavy_and_prod_is_on_demand_and_protected():
    dev, prod = _env("dev"), _env("prod")
    assert int(dev["FargateSpotWeight"]) > int(dev["FargateWeight"]) and dev["FargateBase"] == "0"
    assert int(prod["FargateBase"]) >= 2 and prod["FargateSpotWeight"] == "0"
    assert (dev["LoadBalancerDeletionProtection"], prod["LoadBalancerDeletionProtection"]) == ("false", "true")
    assert int(prod["LoadBalancerLogExpiryDays"]) >= 365
    for name in ("dev", "staging", "prod"):
        assert ingress.CERTIFICATE_ARN.problem(_env(name)["LoadBalancerCertificateArn"]) is None
