"""Invariants every emitted template must keep, parametrised over every template.

A new tier inherits every check here without writing a test. Where a rule has an exception, the
exception is named in the check (never a blanket skip).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re

import pytest
import troposphere

from neobank_cfn.iam import ACTIONS_WITHOUT_RESOURCE_PERMISSIONS
from neobank_cfn.render import templates
from neobank_cfn.stack_policy import STATEFUL
from neobank_cfn.tags import STANDARD_TAG_KEYS
from tests.cfn import as_list, project_platform, props, resources, walk

TEMPLATE_NAMES = tuple(templates(project_platform()))
pytestmark = pytest.mark.parametrize("name", TEMPLATE_NAMES)

KEEP = {"Retain", "Snapshot", "RetainExceptOnCreate"}


def _is_cmk(value: object) -> bool:
    """A reference to one of our keys (Ref/GetAtt of a key parameter or resource), never a literal alias."""
    return isinstance(value, dict) and bool(value)


def _encrypted(type_: str, p: dict) -> bool | None:
    """True/False for types that must be encrypted with a CMK; None for other types."""
    checks = {
        "AWS::Logs::LogGroup": lambda: _is_cmk(p.get("KmsKeyId")),
        "AWS::SQS::Queue": lambda: _is_cmk(p.get("KmsMasterKeyId")),
        "AWS::SNS::Topic": lambda: _is_cmk(p.get("KmsMasterKeyId")),
        "AWS::DynamoDB::Table": lambda: (
            p.get("SSESpecification", {}).get("SSEEnabled") is True
            and p["SSESpecification"].get("SSEType") == "KMS"
            and _is_cmk(p["SSESpecification"].get("KMSMasterKeyId"))
        ),
        "AWS::RDS::DBCluster": lambda: p.get("StorageEncrypted") is True and _is_cmk(p.get("KmsKeyId")),
        "AWS::ElastiCache::ReplicationGroup": lambda: (
            p.get("AtRestEncryptionEnabled") is True
            and p.get("TransitEncryptionEnabled") is True
            and _is_cmk(p.get("KmsKeyId"))
        ),
        "AWS::SecretsManager::Secret": lambda: _is_cmk(p.get("KmsKeyId")),
        "AWS::ECR::Repository": lambda: (
            p.get("EncryptionConfiguration", {}).get("EncryptionType") == "KMS"
            and _is_cmk(p["EncryptionConfiguration"].get("KmsKey"))
        ),
        "AWS::Lambda::Function": lambda: _is_cmk(p.get("KmsKeyArn")),
        "AWS::Kinesis::Stream": lambda: _is_cmk(p.get("StreamEncryption", {}).get("KeyId")),
    }
    check = checks.get(type_)
    return check() if check else None


def test_parameters_are_described_and_constrained(rendered, name):
    for pname, param in rendered[name].get("Parameters", {}).items():
        assert param.get("Description"), f"{name}: parameter {pname} has no Description"
        typed = param["Type"].startswith(("AWS::", "List<AWS::"))
        constrained = typed or any(
            k in param for k in ("AllowedValues", "AllowedPattern", "MinValue", "MaxValue", "MaxLength")
        )
        assert constrained, f"{name}: parameter {pname} has no constraint"
        if "AllowedPattern" in param or "MinValue" in param:
            assert param.get("ConstraintDescription"), f"{name}: parameter {pname} has no ConstraintDescription"


def test_encryption_at_rest_uses_a_customer_managed_key(rendered, name):
    for logical, res in resources(rendered[name]).items():
        result = _encrypted(res["Type"], props(res))
        if res["Type"] == "AWS::S3::Bucket":
            rules = props(res)["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            algorithm = rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"]
            waived = "ELB access logs" in json.dumps(res.get("Metadata", {}).get("Waivers", {}))
            assert algorithm.startswith("aws:kms") or waived, f"{name}: bucket {logical} is not KMS-encrypted"
            continue
        assert result in (None, True), f"{name}: {logical} ({res['Type']}) is not encrypted with a CMK"


def test_log_groups_have_retention(rendered, name):
    for logical, res in resources(rendered[name], "AWS::Logs::LogGroup").items():
        assert "RetentionInDays" in props(res), f"{name}: log group {logical} keeps logs forever"


def test_stateful_resources_survive_delete_and_replace(rendered, name):
    for logical, res in resources(rendered[name]).items():
        if res["Type"] in STATEFUL:
            assert res.get("DeletionPolicy") in KEEP, f"{name}: {logical} has no Retain/Snapshot DeletionPolicy"
            assert res.get("UpdateReplacePolicy") in KEEP, f"{name}: {logical} has no UpdateReplacePolicy"


def _ingress_rules(template: dict):
    for logical, res in resources(template).items():
        if res["Type"] == "AWS::EC2::SecurityGroupIngress":
            yield logical, props(res)
        if res["Type"] == "AWS::EC2::SecurityGroup":
            for rule in props(res).get("SecurityGroupIngress", []):
                yield logical, {**rule, "GroupId": {"Ref": logical}}


def test_no_open_ingress_but_the_public_listener(rendered, name):
    for logical, rule in _ingress_rules(rendered[name]):
        if rule.get("CidrIp") == "0.0.0.0/0" or rule.get("CidrIpv6") == "::/0":
            assert rule["GroupId"] == {"Ref": "LoadBalancerSecurityGroup"}, f"{name}: {logical} open to the internet"
            assert rule["FromPort"] == rule["ToPort"] and rule["FromPort"] in (80, 443), f"{name}: {logical}"


def test_every_security_group_rule_is_described(rendered, name):
    for logical, res in resources(rendered[name]).items():
        if res["Type"] in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            assert props(res).get("Description"), f"{name}: {logical} has no Description"
        if res["Type"] == "AWS::EC2::SecurityGroup":
            for rule in props(res).get("SecurityGroupIngress", []) + props(res).get("SecurityGroupEgress", []):
                assert rule.get("Description"), f"{name}: a rule of {logical} has no Description"
            assert props(res).get("SecurityGroupEgress"), f"{name}: {logical} keeps the default allow-all egress"


def _branches(node: object):
    """``node`` itself, or both branches of an ``Fn::If`` (recursively), minus ``AWS::NoValue``."""
    if isinstance(node, dict) and "Fn::If" in node:
        for branch in node["Fn::If"][1:]:
            yield from _branches(branch)
    elif node != {"Ref": "AWS::NoValue"}:
        yield node


def _identity_policies(template: dict):
    for logical, res in resources(template).items():
        p = props(res)
        if res["Type"] == "AWS::IAM::Role":
            # A conditional inline policy (e.g. ECS Exec only when enabled) is checked in both branches.
            for entry in p.get("Policies", []):
                for policy in _branches(entry):
                    yield logical, policy["PolicyDocument"]
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield logical, p["PolicyDocument"]


def test_iam_actions_and_resources_are_scoped(rendered, name):
    for logical, document in _identity_policies(rendered[name]):
        for statement in document["Statement"]:
            actions = as_list(statement["Action"])
            for action in actions:
                assert action != "*" and not str(action).endswith(":*"), f"{name}: {logical} allows {action}"
            if "*" in as_list(statement.get("Resource", [])):
                loose = set(actions) - ACTIONS_WITHOUT_RESOURCE_PERMISSIONS
                assert not loose, f"{name}: {logical} grants {sorted(loose)} on '*'"


def test_no_managed_admin_policies(rendered, name):
    for logical, res in resources(rendered[name], "AWS::IAM::Role").items():
        for arn in props(res).get("ManagedPolicyArns", []):
            assert "AdministratorAccess" not in json.dumps(arn) and "FullAccess" not in json.dumps(arn), logical


def test_resource_policies_open_to_everyone_only_deny(rendered, name):
    for logical, res in resources(rendered[name]).items():
        if res["Type"] in ("AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy"):
            document = props(res).get("PolicyDocument") or props(res).get("PolicyDocument", {})
            for statement in document["Statement"]:
                if statement.get("Principal") in ("*", {"AWS": "*"}, {"AWS": ["*"]}):
                    assert statement["Effect"] == "Deny", f"{name}: {logical} allows everyone"


# Resource type -> the policy types (and their property naming the resource) that can make it TLS-only.
TLS_POLICIES = {
    "AWS::SQS::Queue": (("AWS::SQS::QueuePolicy", "Queues"), ("AWS::SQS::QueueInlinePolicy", "Queue")),
    "AWS::SNS::Topic": (("AWS::SNS::TopicPolicy", "Topics"), ("AWS::SNS::TopicInlinePolicy", "TopicArn")),
}
INSECURE = {"Bool": {"aws:SecureTransport": "false"}}


def _denies_plain_http(template: dict, logical: str, policy_types: tuple[tuple[str, str], ...]) -> bool:
    for policy_type, key in policy_types:
        for policy in resources(template, policy_type).values():
            if {"Ref": logical} not in as_list(props(policy)[key]):
                continue
            for statement in props(policy)["PolicyDocument"]["Statement"]:
                everyone = statement.get("Principal") in ("*", {"AWS": "*"}, {"AWS": ["*"]})
                if statement["Effect"] == "Deny" and everyone and statement.get("Condition") == INSECURE:
                    return True
    return False


def test_queues_and_topics_refuse_requests_without_tls(rendered, name):
    for type_, policy_types in TLS_POLICIES.items():
        for logical in resources(rendered[name], type_):
            assert _denies_plain_http(rendered[name], logical, policy_types), f"{name}: {logical} accepts plain HTTP"


def _taggable_types() -> dict[str, str]:
    """Resource type -> its tag property, from troposphere's resource classes."""
    found: dict[str, str] = {}
    for module in pkgutil.iter_modules(troposphere.__path__):
        try:
            mod = importlib.import_module(f"troposphere.{module.name}")
        except Exception:
            continue
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, troposphere.AWSObject) and hasattr(obj, "resource_type"):
                for prop in ("Tags", "UserPoolTags"):
                    if prop in getattr(obj, "props", {}):
                        found[obj.resource_type] = prop
    return found


TAGGABLE = _taggable_types()


def test_taggable_resources_carry_the_standard_tags(rendered, name):
    for logical, res in resources(rendered[name]).items():
        prop = TAGGABLE.get(res["Type"])
        if not prop:
            continue
        tags = props(res).get(prop)
        assert tags, f"{name}: {logical} has no tags"
        keys = set(tags) if isinstance(tags, dict) else {t["Key"] for t in tags}
        assert set(STANDARD_TAG_KEYS) <= keys, f"{name}: {logical} lacks {set(STANDARD_TAG_KEYS) - keys}"


def test_no_exports_or_imports(rendered, name):
    text = json.dumps(rendered[name])
    assert "Fn::ImportValue" not in text, f"{name} imports a value (exports lock updates)"
    for output in rendered[name].get("Outputs", {}).values():
        assert "Export" not in output, f"{name} exports a value"


def test_no_account_ids_or_regions_baked_in(rendered, name):
    text = json.dumps(rendered[name])
    assert not re.search(r"(?<![0-9])[0-9]{12}(?![0-9])", text), f"{name} contains what looks like an account id"
    assert not re.search(
        r"\b(us|eu|ap|sa|ca|me|af|il|mx)-(east|west|north|south|central|northeast|southeast)-[0-9]\b", text
    ), f"{name} names a region"


def test_no_secret_values(rendered, name):
    for logical, res in resources(rendered[name]).items():
        for key in ("MasterUserPassword", "AuthToken", "Password", "SecretString"):
            value = props(res).get(key)
            if value is not None:
                assert "{{resolve:secretsmanager:" in json.dumps(value), f"{name}: {logical}.{key} is a literal"
    for pname in rendered[name].get("Parameters", {}):
        assert not re.search(r"password|token|secretvalue", pname, re.I), f"{name}: parameter {pname} carries a secret"


def test_every_waiver_has_a_reason(rendered, name):
    for logical, res in resources(rendered[name]).items():
        metadata = res.get("Metadata", {})
        ignored = metadata.get("cfn-lint", {}).get("config", {}).get("ignore_checks", [])
        for rule in ignored:
            reason = metadata.get("Waivers", {}).get(rule, "")
            assert len(reason) > 20, f"{name}: {logical} waives {rule} without a reason"
    assert "cfn-lint" not in rendered[name].get("Metadata", {}), f"{name} silences cfn-lint template-wide"


def test_no_walk_finds_plain_http_urls(rendered, name):
    # Plain HTTP only on a task's own loopback (an app talking to its sidecar never leaves the task).
    for node in walk(rendered[name]):
        if isinstance(node, str) and node.startswith("http://") and not node.startswith("http://127.0.0.1:"):
            pytest.fail(f"{name}: plain-HTTP URL {node}")


def _secure_transport_denied(template: dict, bucket: str) -> bool:
    """True when a bucket policy in ``template`` denies every non-TLS request to ``bucket``."""
    for res in resources(template, "AWS::S3::BucketPolicy").values():
        if props(res).get("Bucket") != {"Ref": bucket}:
            continue
        for statement in props(res)["PolicyDocument"]["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
                and as_list(statement["Action"]) == ["s3:*"]
            ):
                return True
    return False


def test_buckets_block_public_access_and_take_tls_only(rendered, name):
    for logical, res in resources(rendered[name], "AWS::S3::Bucket").items():
        block = props(res).get("PublicAccessBlockConfiguration", {})
        flags = ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
        assert all(block.get(flag) is True for flag in flags), f"{name}: bucket {logical} allows public access"
        assert _secure_transport_denied(rendered[name], logical), f"{name}: bucket {logical} accepts plain HTTP"


def test_listeners_are_tls13_or_redirect_to_https(rendered, name):
    for logical, res in resources(rendered[name], "AWS::ElasticLoadBalancingV2::Listener").items():
        p = props(res)
        if p.get("Protocol") == "HTTPS":
            # TLS13-1-2-* and TLS13-1-3-* offer TLS 1.3 and nothing older than 1.2 (TLS13-1-0/1-1 do).
            assert re.match(r"ELBSecurityPolicy-TLS13-1-[23]-", str(p.get("SslPolicy", ""))), (
                f"{name}: {logical} must take TLS 1.3 and nothing older than TLS 1.2"
            )
            continue
        actions = p["DefaultActions"]
        assert actions and all(
            a["Type"] == "redirect" and a["RedirectConfig"].get("Protocol") == "HTTPS" for a in actions
        ), f"{name}: {logical} serves plain HTTP instead of redirecting"


def test_every_recorded_exception_has_a_reason(rendered, name):
    for logical, res in resources(rendered[name]).items():
        for topic, reason in res.get("Metadata", {}).get("Waivers", {}).items():
            assert isinstance(reason, str) and len(reason) > 20, f"{name}: {logical} waives {topic} without a reason"


# CloudFormation quotas (User Guide, "Understand CloudFormation quotas"): a template given by S3 URL may
# be 1 MB; at most 500 resources, 200 parameters, 200 outputs. The root is always deployed by URL
# (it grows with every service past the 51,200 bytes allowed for a template body sent inline).
QUOTAS = {"Resources": 500, "Parameters": 200, "Outputs": 200}
MAX_TEMPLATE_BYTES = 1_000_000


def test_within_cloudformation_quotas(rendered, name):
    for section, limit in QUOTAS.items():
        count = len(rendered[name].get(section, {}))
        assert count <= limit, f"{name}: {count} {section}, CloudFormation allows {limit}"
    assert len(json.dumps(rendered[name])) <= MAX_TEMPLATE_BYTES, f"{name} is over the 1 MB template quota"
