"""Stack policies: one per tier with stateful resources, naming exactly those resources."""

from __future__ import annotations

import copy
import json

import pytest

from neobank_cfn.aws import protect
from neobank_cfn.errors import UserError
from neobank_cfn.lint import template_files
from neobank_cfn.render import render, templates, write_files
from neobank_cfn.stack_policy import (
    PROTECTED_ACTIONS,
    STATEFUL,
    denied,
    policy_filename,
    protected_ids,
    stack_policy,
    unprotected,
)
from tests.cfn import PROJECT, project_platform, resources

TEMPLATE_NAMES = tuple(templates(project_platform()))


@pytest.fixture(scope="module")
def policies() -> dict[str, dict]:
    """Every stack policy the build writes, by file name, parsed."""
    return {name: json.loads(text) for name, text in render(project_platform()).items() if name.endswith(".json")}


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_each_policy_names_exactly_the_stateful_resources_of_its_template(rendered, policies, name):
    stateful = {logical for logical, res in resources(rendered[name]).items() if res["Type"] in STATEFUL}
    policy = policies.get(policy_filename(name.removesuffix(".yaml")))
    if not stateful:
        assert policy is None, f"{name} has no stateful resource but a stack policy"
        return
    assert policy is not None, f"{name} has stateful resources {sorted(stateful)} but no stack policy"
    assert denied(policy) == stateful
    assert unprotected(rendered[name], policy) == []


def test_the_data_and_keys_tiers_have_policies_and_the_root_has_none(policies):
    assert {"stack-policy-data.json", "stack-policy-keys.json"} <= set(policies)
    assert "stack-policy-root.json" not in policies
    data = denied(policies["stack-policy-data.json"])
    assert {"DatabaseCluster", "DatabaseWriterInstance", "CacheReplicationGroup", "PartnerApiKeySecret"} <= data
    assert {"IdempotencyKeysTable", "TransactionEventsTable"} <= data


def test_policy_denies_only_replace_and_delete_and_allows_every_other_update(policies):
    for name, policy in policies.items():
        deny, allow = policy["Statement"]
        assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", "*", list(PROTECTED_ACTIONS)), name
        assert deny["Resource"] == sorted(deny["Resource"]), f"{name} is not sorted"
        assert all(r.startswith("LogicalResourceId/") for r in deny["Resource"]), name
        assert allow == {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"}, name


def test_check_catches_a_stateful_resource_missing_from_the_policy(rendered, policies):
    tampered = copy.deepcopy(rendered["data.yaml"])
    tampered["Resources"]["ShadowLedgerTable"] = {
        "Type": "AWS::DynamoDB::Table",
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {},
    }
    committed = json.loads((PROJECT / "templates" / "stack-policy-data.json").read_text())
    assert unprotected(rendered["data.yaml"], committed) == []
    assert unprotected(tampered, committed) == ["ShadowLedgerTable"]
    assert unprotected(tampered, None) == protected_ids(tampered)
    # Deriving the policy again from the template picks the new resource up.
    assert "ShadowLedgerTable" in denied(stack_policy(tampered))


def test_an_allow_or_a_partial_deny_does_not_count_as_protection():
    template = {"Resources": {"Db": {"Type": "AWS::RDS::DBCluster"}}}
    allow_only = {"Statement": [{"Effect": "Allow", "Action": "Update:*", "Resource": "LogicalResourceId/Db"}]}
    replace_only = {"Statement": [{"Effect": "Deny", "Action": "Update:Replace", "Resource": "LogicalResourceId/Db"}]}
    assert unprotected(template, allow_only) == ["Db"]
    assert unprotected(template, replace_only) == ["Db"]
    assert stack_policy({"Resources": {"Sg": {"Type": "AWS::EC2::SecurityGroup"}}}) is None


def test_build_writes_policies_only_for_the_selected_tiers(plat):
    assert set(render(plat, only=("root",))) == {"root.yaml"}
    assert set(render(plat, only=("data",))) == {"data.yaml", "stack-policy-data.json"}
    json_build = render(plat, fmt="json")
    assert {n for n in json_build if n.startswith("stack-policy-")} == {
        n for n in render(plat) if n.startswith("stack-policy-")
    }
    assert json_build["stack-policy-data.json"] == render(plat)["stack-policy-data.json"]


def test_lint_skips_the_policy_files(plat, tmp_path):
    write_files(tmp_path, render(plat))
    linted = {p.name for p in template_files(tmp_path)}
    assert linted == {f"{n}.yaml" for n in plat.names}


@pytest.fixture
def deployed(moto_session):
    """A moto root stack with a DataStack and a KeysStack nested stack (small bodies moto can create)."""
    s3 = moto_session.client("s3")
    s3.create_bucket(Bucket="tpl", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="tpl", Key="nested.yaml", Body="Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    url = "https://tpl.s3.eu-west-1.amazonaws.com/nested.yaml"
    root = {
        "Resources": {
            logical: {"Type": "AWS::CloudFormation::Stack", "Properties": {"TemplateURL": url}}
            for logical in ("DataStack", "KeysStack")
        }
    }
    moto_session.client("cloudformation").create_stack(StackName="neobank-dev", TemplateBody=json.dumps(root))
    return moto_session


def _policies(tmp_path, *tiers):
    for tier in tiers:
        source = PROJECT / "templates" / f"stack-policy-{tier}.json"
        (tmp_path / source.name).write_text(source.read_text())
    return tmp_path


def test_protect_sets_each_policy_on_its_nested_stack_and_not_the_root(deployed, tmp_path):
    applied = protect("neobank-dev", _policies(tmp_path, "data", "keys"), deployed)
    cfn = deployed.client("cloudformation")
    assert [name for name, _ in applied] == ["stack-policy-data.json", "stack-policy-keys.json"]
    for name, stack_id in applied:
        logical = "DataStack" if "data" in name else "KeysStack"
        expected = cfn.describe_stack_resource(StackName="neobank-dev", LogicalResourceId=logical)
        assert stack_id == expected["StackResourceDetail"]["PhysicalResourceId"] != "neobank-dev"
        policy = json.loads(cfn.get_stack_policy(StackName=stack_id)["StackPolicyBody"])
        assert policy == json.loads((tmp_path / name).read_text())
    assert "StackPolicyBody" not in cfn.get_stack_policy(StackName="neobank-dev")


def test_protect_names_a_tier_the_stack_does_not_have(deployed, tmp_path):
    with pytest.raises(UserError, match=r"has no nested stack MessagingStack for stack-policy-messaging\.json"):
        protect("neobank-dev", _policies(tmp_path, "messaging"), deployed)


def test_protect_unknown_root_stack_is_one_line(deployed, tmp_path):
    with pytest.raises(UserError, match=r"^list the resources of nope: ValidationError"):
        protect("nope", _policies(tmp_path, "data"), deployed)
