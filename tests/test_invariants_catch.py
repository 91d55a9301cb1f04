"""The invariants can fail: each one, run on a template that breaks it, raises."""

from __future__ import annotations

import pytest

from tests import test_invariants as inv

GOOD_TAGS = [{"Key": k, "Value": {"Ref": k}} for k in ("Application", "Environment", "CostCenter", "Owner")]


def _template(**resources):
    return {"bad": {"Resources": resources}}


CASES = [
    (inv.test_parameters_are_described_and_constrained, {"bad": {"Parameters": {"P": {"Type": "String"}}}}),
    (
        inv.test_encryption_at_rest_uses_a_customer_managed_key,
        _template(Q={"Type": "AWS::SQS::Queue", "Properties": {}}),
    ),
    (inv.test_log_groups_have_retention, _template(L={"Type": "AWS::Logs::LogGroup", "Properties": {}})),
    (
        inv.test_stateful_resources_survive_delete_and_replace,
        _template(T={"Type": "AWS::DynamoDB::Table", "Properties": {}}),
    ),
    (
        inv.test_no_open_ingress_but_the_public_listener,
        _template(
            I={
                "Type": "AWS::EC2::SecurityGroupIngress",
                "Properties": {"GroupId": {"Ref": "DatabaseSecurityGroup"}, "CidrIp": "0.0.0.0/0", "FromPort": 5432},
            }
        ),
    ),
    (
        inv.test_every_security_group_rule_is_described,
        _template(E={"Type": "AWS::EC2::SecurityGroupEgress", "Properties": {"GroupId": {"Ref": "G"}}}),
    ),
    (
        inv.test_iam_actions_and_resources_are_scoped,
        _template(
            R={
                "Type": "AWS::IAM::Role",
                "Properties": {
                    "Policies": [
                        {"PolicyDocument": {"Statement": [{"Action": ["sqs:SendMessage"], "Resource": ["*"]}]}}
                    ]
                },
            }
        ),
    ),
    (
        inv.test_resource_policies_open_to_everyone_only_deny,
        _template(
            P={
                "Type": "AWS::SQS::QueuePolicy",
                "Properties": {"PolicyDocument": {"Statement": [{"Effect": "Allow", "Principal": "*"}]}},
            }
        ),
    ),
    (
        inv.test_taggable_resources_carry_the_standard_tags,
        _template(V={"Type": "AWS::EC2::VPC", "Properties": {"Tags": GOOD_TAGS[:2]}}),
    ),
    (inv.test_no_exports_or_imports, {"bad": {"Outputs": {"O": {"Value": "x", "Export": {"Name": "x"}}}}}),
    (inv.test_no_account_ids_or_regions_baked_in, {"bad": {"Description": "arn:aws:s3:::x-123456789012"}}),
    (inv.test_no_account_ids_or_regions_baked_in, {"bad": {"Description": "deployed in eu-west-1"}}),
    (
        inv.test_no_secret_values,
        _template(D={"Type": "AWS::RDS::DBCluster", "Properties": {"MasterUserPassword": "hunter2"}}),
    ),
    (
        inv.test_every_waiver_has_a_reason,
        _template(X={"Type": "AWS::SQS::Queue", "Metadata": {"cfn-lint": {"config": {"ignore_checks": ["W1"]}}}}),
    ),
]


@pytest.mark.parametrize(("check", "template"), CASES, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(CASES)])
def test_invariant_catches_a_violation(check, template):
    with pytest.raises(AssertionError):
        check(template, "bad")


def test_quota_check_catches_too_many_parameters():
    params = {f"P{i}": {"Type": "String"} for i in range(201)}
    with pytest.raises(AssertionError, match="201 Parameters"):
        inv.test_within_cloudformation_quotas({"bad": {"Parameters": params}}, "bad")
