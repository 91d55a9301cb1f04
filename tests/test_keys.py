"""Keys tier: rotation on, retained, and key policies that grant only what is needed."""

from __future__ import annotations

import json

from tests.cfn import as_list, props, resources


def _keys(tier):
    return resources(tier("keys"), "AWS::KMS::Key")


def test_three_keys_with_rotation_retained(tier):
    keys = _keys(tier)
    assert set(keys) == {"DataKey", "LogsKey", "SecretsKey"}
    for key in keys.values():
        assert props(key)["EnableKeyRotation"] is True
        assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
        assert props(key)["PendingWindowInDays"] == 30


def test_no_key_policy_statement_allows_everyone(tier):
    for name, key in _keys(tier).items():
        for statement in props(key)["KeyPolicy"]["Statement"]:
            assert statement["Principal"] not in ("*", {"AWS": "*"}), name
            assert statement["Effect"] == "Allow"


def test_account_use_is_only_through_named_services(tier):
    for name, key in _keys(tier).items():
        statements = {s["Sid"]: s for s in props(key)["KeyPolicy"]["Statement"]}
        use = statements["AccountUsesKeyThroughServices"]
        condition = use["Condition"]["StringEquals"]
        assert "kms:ViaService" in condition and "kms:CallerAccount" in condition, name
        admin = as_list(statements["AccountAdministersKey"]["Action"])
        assert not {"kms:Decrypt", "kms:Encrypt", "kms:*"} & set(admin), name


def test_logs_key_lets_cloudwatch_logs_encrypt_only_this_accounts_log_groups(tier):
    statements = {s["Sid"]: s for s in props(_keys(tier)["LogsKey"])["KeyPolicy"]["Statement"]}
    logs = statements["CloudWatchLogsEncryptsLogGroups"]
    assert "logs.${AWS::Region}.amazonaws.com" in json.dumps(logs["Principal"])
    assert "log-group:*" in json.dumps(logs["Condition"]["ArnLike"])


def test_service_principals_are_scoped_to_this_account(tier):
    for key in _keys(tier).values():
        for statement in props(key)["KeyPolicy"]["Statement"]:
            if "Service" in statement["Principal"]:
                assert statement.get("Condition"), statement["Sid"]


def test_outputs_feed_the_key_parameters(tier):
    assert set(tier("keys")["Outputs"]) == {"DataKeyArn", "LogsKeyArn", "SecretsKeyArn"}
