"""Data tier: encrypted, private, TLS-only, backed up, and impossible to lose by a stack update or delete."""

from __future__ import annotations

import json

import pytest
import yaml

from neobank_cfn.config import parse_config
from neobank_cfn.contracts import table_arn, table_name, table_stream_arn
from neobank_cfn.lint import lint_paths
from neobank_cfn.params_check import check_values
from neobank_cfn.root import root_params
from neobank_cfn.tiers import data
from tests.cfn import as_list, condition_holds, one, params_file, props, refs, resources, walk


@pytest.fixture(scope="module")
def tpl(tier):
    return tier("data")


def _cluster(tpl):
    return props(one(tpl, "AWS::RDS::DBCluster")[1])


def _cache(tpl):
    return props(one(tpl, "AWS::ElastiCache::ReplicationGroup")[1])


# --- Aurora PostgreSQL -------------------------------------------------------------------------


def test_cluster_storage_is_encrypted_with_the_data_key(tpl):
    cluster = _cluster(tpl)
    assert cluster["StorageEncrypted"] is True
    assert cluster["KmsKeyId"] == {"Ref": "DataKeyArn"}


def test_master_password_is_managed_by_rds_under_the_secrets_key(tpl):
    cluster = _cluster(tpl)
    assert cluster["ManageMasterUserPassword"] is True
    assert cluster["MasterUserSecret"] == {"KmsKeyId": {"Ref": "SecretsKeyArn"}}
    assert "MasterUserPassword" not in cluster
    assert cluster["MasterUsername"] not in ("postgres", "admin", "root")
    assert tpl["Outputs"]["DatabaseSecretArn"]["Value"] == {
        "Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]
    }


def test_cluster_is_private_in_the_data_subnets_behind_its_security_group(tpl):
    cluster = _cluster(tpl)
    subnet_group = tpl["Resources"][cluster["DBSubnetGroupName"]["Ref"]]
    assert props(subnet_group)["SubnetIds"] == {"Ref": "DataSubnetIds"}
    assert cluster["VpcSecurityGroupIds"] == [{"Ref": "DatabaseSecurityGroupId"}]
    assert cluster["Port"] == 5432
    for instance in resources(tpl, "AWS::RDS::DBInstance").values():
        assert props(instance)["PubliclyAccessible"] is False


def test_cluster_protection_backups_and_windows(tpl):
    cluster = _cluster(tpl)
    assert cluster["DeletionProtection"] == {"Ref": "DeletionProtection"}
    assert cluster["BackupRetentionPeriod"] == {"Ref": "DatabaseBackupRetentionDays"}
    assert cluster["DeleteAutomatedBackups"] is False
    assert cluster["CopyTagsToSnapshot"] is True
    assert cluster["EnableIAMDatabaseAuthentication"] is True
    backup_start = int(cluster["PreferredBackupWindow"][:2])
    assert cluster["PreferredMaintenanceWindow"].startswith("sun:")
    assert backup_start < int(cluster["PreferredMaintenanceWindow"][4:6])  # backups finish before maintenance


def test_parameter_group_forces_tls_and_logs_connections(tpl):
    group = tpl["Resources"][_cluster(tpl)["DBClusterParameterGroupName"]["Ref"]]
    assert props(group)["Parameters"] == {"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1"}


@pytest.mark.parametrize("version", data.ENGINE_VERSIONS)
def test_parameter_group_family_follows_the_engine_version(tpl, version):
    family = props(tpl["Resources"]["DatabaseClusterParameterGroup"])["Family"]
    prefix, select = family["Fn::Join"][1]
    index, split = select["Fn::Select"]
    separator, ref = split["Fn::Split"]
    assert ref == {"Ref": "DatabaseEngineVersion"}
    assert prefix + version.split(separator)[index] == f"aurora-postgresql{version.split('.')[0]}"


def test_postgresql_log_goes_to_an_encrypted_group_created_first(tpl):
    cluster_res = tpl["Resources"]["DatabaseCluster"]
    cluster = props(cluster_res)
    assert cluster["EnableCloudwatchLogsExports"] == ["postgresql"]
    group = props(tpl["Resources"]["DatabaseLogGroup"])
    assert (
        group["LogGroupName"]["Fn::Sub"] == f"/aws/rds/cluster/{cluster['DBClusterIdentifier']['Fn::Sub']}/postgresql"
    )
    assert group["KmsKeyId"] == {"Ref": "LogsKeyArn"}
    assert "DatabaseLogGroup" in as_list(cluster_res["DependsOn"])


def test_instances_monitored_with_encrypted_performance_insights(tpl):
    role = props(tpl["Resources"]["DatabaseMonitoringRole"])
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": ["monitoring.rds.amazonaws.com"]
    }
    assert json.dumps(role["ManagedPolicyArns"]).endswith('service-role/AmazonRDSEnhancedMonitoringRole"}]')
    for instance in resources(tpl, "AWS::RDS::DBInstance").values():
        p = props(instance)
        assert p["Engine"] == "aurora-postgresql" and p["DBClusterIdentifier"] == {"Ref": "DatabaseCluster"}
        assert p["EnablePerformanceInsights"] is True
        assert p["PerformanceInsightsKMSKeyId"] == {"Ref": "DataKeyArn"}
        assert p["MonitoringInterval"] > 0
        assert p["MonitoringRoleArn"] == {"Fn::GetAtt": ["DatabaseMonitoringRole", "Arn"]}
        assert p["AutoMinorVersionUpgrade"] is True
        assert p["DBInstanceClass"] == {"Ref": "DatabaseInstanceClass"}


def test_one_writer_and_a_reader_in_another_az_on_request(tpl):
    instances = resources(tpl, "AWS::RDS::DBInstance")
    assert set(instances) == {"DatabaseWriterInstance", "DatabaseReaderInstance"}
    writer, reader = instances["DatabaseWriterInstance"], instances["DatabaseReaderInstance"]
    assert "Condition" not in writer
    assert reader["Condition"] == "HasDatabaseReader"
    azs = [props(i)["AvailabilityZone"]["Fn::Select"][0] for i in (writer, reader)]
    assert azs == [0, 1]


# --- DynamoDB ------------------------------------------------------------------------------------


def test_one_table_per_configured_table(tpl, plat):
    tables = resources(tpl, "AWS::DynamoDB::Table")
    assert len(tables) == len(plat.config.tables) >= 2
    for config in plat.config.tables:
        table = props(tables[f"{''.join(w.capitalize() for w in config.name.split('-'))}Table"])
        assert table["TableName"] == {"Fn::Sub": f"${{Application}}-${{Environment}}-{config.name}"}
        expected = [{"AttributeName": config.partition_key, "KeyType": "HASH"}]
        if config.sort_key:
            expected.append({"AttributeName": config.sort_key, "KeyType": "RANGE"})
        assert table["KeySchema"] == expected


def test_tables_are_on_demand_recoverable_encrypted_and_protected(tpl):
    for name, table in resources(tpl, "AWS::DynamoDB::Table").items():
        p = props(table)
        assert p["BillingMode"] == "PAY_PER_REQUEST", name
        assert p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert p["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKeyArn"}}
        assert p["DeletionProtectionEnabled"] == {"Ref": "DeletionProtection"}, name


def test_ttl_and_stream_only_where_configured(tpl, plat):
    tables = resources(tpl, "AWS::DynamoDB::Table")
    for config in plat.config.tables:
        table = props(next(t for t in tables.values() if config.name in props(t)["TableName"]["Fn::Sub"]))
        if config.ttl_attribute:
            assert table["TimeToLiveSpecification"] == {"AttributeName": config.ttl_attribute, "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in table
        if config.stream:
            assert table["StreamSpecification"] == {"StreamViewType": config.stream}
        else:
            assert "StreamSpecification" not in table


def test_table_outputs_follow_the_configuration():
    config = parse_config(
        {
            "tables": [
                {"name": "ledger", "partition_key": "account", "sort_key": "entry", "stream": "NEW_IMAGE"},
                {"name": "sessions", "partition_key": "id", "ttl_attribute": "expires"},
            ],
            "services": [{"name": "svc", "path": "/svc/*", "tables": ["ledger"]}],
        }
    )
    built = data.build(config).to_dict()
    outputs = set(built["Outputs"])
    assert {table_name("ledger").name, table_arn("ledger").name, table_stream_arn("ledger").name} <= outputs
    assert {table_name("sessions").name, table_arn("sessions").name} <= outputs
    assert table_stream_arn("sessions").name not in outputs
    assert built["Outputs"]["LedgerTableStreamArn"]["Value"] == {"Fn::GetAtt": ["LedgerTable", "StreamArn"]}
    assert props(built["Resources"]["SessionsTable"])["TimeToLiveSpecification"]["AttributeName"] == "expires"


# --- ElastiCache ---------------------------------------------------------------------------------


def test_cache_requires_tls_and_is_encrypted_with_the_data_key(tpl):
    cache = _cache(tpl)
    assert cache["TransitEncryptionEnabled"] is True
    assert cache["TransitEncryptionMode"] == "required"
    assert cache["AtRestEncryptionEnabled"] is True
    assert cache["KmsKeyId"] == {"Ref": "DataKeyArn"}
    assert cache["Engine"] == "valkey" and cache["Port"] == 6379


def test_cache_auth_token_is_a_dynamic_reference_to_a_generated_secret(tpl):
    token = _cache(tpl)["AuthToken"]["Fn::Sub"]
    assert token == "{{resolve:secretsmanager:${CacheAuthSecret}:SecretString:token}}"
    secret = props(tpl["Resources"]["CacheAuthSecret"])
    assert secret["KmsKeyId"] == {"Ref": "SecretsKeyArn"}
    assert secret["GenerateSecretString"]["GenerateStringKey"] == "token"
    assert 16 <= secret["GenerateSecretString"]["PasswordLength"] <= 128  # ElastiCache AUTH token limits
    assert secret["GenerateSecretString"]["ExcludePunctuation"] is True
    assert "SecretString" not in secret
    assert tpl["Outputs"]["CacheAuthSecretArn"]["Value"] == {"Ref": "CacheAuthSecret"}


def test_cache_is_private_with_snapshots_and_encrypted_logs(tpl):
    cache = _cache(tpl)
    subnet_group = tpl["Resources"][cache["CacheSubnetGroupName"]["Ref"]]
    assert props(subnet_group)["SubnetIds"] == {"Ref": "DataSubnetIds"}
    assert cache["SecurityGroupIds"] == [{"Ref": "CacheSecurityGroupId"}]
    assert cache["SnapshotRetentionLimit"] > 0
    delivered = {c["LogType"]: c["DestinationDetails"]["CloudWatchLogsDetails"]["LogGroup"]["Ref"] for c in cache[
        "LogDeliveryConfigurations"
    ]}  # fmt: skip
    assert set(delivered) == {"slow-log", "engine-log"}
    for group in delivered.values():
        assert props(tpl["Resources"][group])["KmsKeyId"] == {"Ref": "LogsKeyArn"}


def test_cache_failover_and_multi_az_follow_the_node_count(tpl):
    cache = _cache(tpl)
    for key in ("AutomaticFailoverEnabled", "MultiAZEnabled"):
        assert cache[key] == {"Fn::If": ["CacheIsMultiAz", True, False]}
    assert cache["NumCacheClusters"] == {"Ref": "CacheNodeCount"}
    assert condition_holds(tpl, "CacheIsMultiAz", {"CacheNodeCount": "2"})
    assert not condition_holds(tpl, "CacheIsMultiAz", {"CacheNodeCount": "1"})


# --- Environments, conditions and the production rule -------------------------------------------


def test_prod_parameters_turn_on_every_protection(tpl):
    prod, dev = params_file("prod"), params_file("dev")
    assert condition_holds(tpl, "HasDatabaseReader", prod) and condition_holds(tpl, "CacheIsMultiAz", prod)
    assert not condition_holds(tpl, "HasDatabaseReader", dev) and not condition_holds(tpl, "CacheIsMultiAz", dev)
    assert prod["DeletionProtection"] == "true" and dev["DeletionProtection"] == "false"
    assert (prod["DatabaseBackupRetentionDays"], dev["DatabaseBackupRetentionDays"]) == ("35", "7")
    assert not prod["DatabaseInstanceClass"].startswith("db.t")


def test_production_rule_is_in_the_template_and_the_root(tpl, rendered):
    rule = tpl["Rules"]["ProductionDataIsProtected"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "Environment"}, "prod"]}
    assert rendered["root.yaml"]["Rules"]["ProductionDataIsProtected"] == rule


@pytest.mark.parametrize(
    "override",
    [{"DeletionProtection": "false"}, {"DatabaseReader": "false"}, {"CacheNodeCount": "1"}],
    ids=lambda o: next(iter(o)),
)
def test_production_without_protection_is_refused(plat, override):
    values = params_file("prod") | override
    problems = check_values("prod", values, root_params(plat.wiring, False), plat.wiring.root_rules())
    assert len(problems) == 1 and "ProductionDataIsProtected" in problems[0], problems
    dev = params_file("dev") | override
    assert check_values("dev", dev, root_params(plat.wiring, False), plat.wiring.root_rules()) == []


# --- Lossless by construction --------------------------------------------------------------------


def test_every_stateful_resource_is_kept(tpl):
    expected = {
        "AWS::RDS::DBCluster": "Retain",  # Retain: a cluster cannot be deleted while it has (retained) instances
        "AWS::RDS::DBInstance": "Retain",  # Aurora instances accept only Retain or Delete
        "AWS::ElastiCache::ReplicationGroup": "Snapshot",
        "AWS::DynamoDB::Table": "Retain",
        "AWS::SecretsManager::Secret": "Retain",
        "AWS::Logs::LogGroup": "Retain",
    }
    for logical, res in resources(tpl).items():
        if res["Type"] in expected:
            assert res["DeletionPolicy"] == res["UpdateReplacePolicy"] == expected[res["Type"]], logical


def test_partner_api_key_is_a_generated_placeholder(tpl):
    secret = props(tpl["Resources"]["PartnerApiKeySecret"])
    assert secret["KmsKeyId"] == {"Ref": "SecretsKeyArn"}
    assert "GenerateSecretString" in secret and "SecretString" not in secret
    assert tpl["Outputs"]["PartnerApiKeySecretArn"]["Value"] == {"Ref": "PartnerApiKeySecret"}


# --- Outputs and SSM configuration ---------------------------------------------------------------


def test_outputs_are_the_agreed_contract(tpl, plat):
    expected = {
        "DatabaseEndpoint",
        "DatabaseReaderEndpoint",
        "DatabasePort",
        "DatabaseName",
        "DatabaseSecretArn",
        "CacheEndpoint",
        "CachePort",
        "CacheAuthSecretArn",
        "PartnerApiKeySecretArn",
        "ConfigParameterPath",
    }
    for table in plat.config.tables:
        expected |= {table_name(table.name).name, table_arn(table.name).name}
        if table.stream:
            expected.add(table_stream_arn(table.name).name)
    assert set(tpl["Outputs"]) == expected


def test_no_secret_value_in_outputs_or_parameters(tpl):
    for name, output in tpl["Outputs"].items():
        text = json.dumps(output)
        assert "resolve:" not in text and "SecretString" not in text, name
    for name, param in resources(tpl, "AWS::SSM::Parameter").items():
        assert "resolve:" not in json.dumps(param), name


def test_ssm_configuration_mirrors_the_outputs_under_one_path(tpl):
    parameters = resources(tpl, "AWS::SSM::Parameter")
    assert tpl["Outputs"]["ConfigParameterPath"]["Value"] == {"Fn::Sub": "/${Application}/${Environment}/"}
    values = []
    for name, param in parameters.items():
        p = props(param)
        assert p["Type"] == "String", name  # plain configuration; secrets stay in Secrets Manager
        assert p["Name"]["Fn::Sub"].startswith("/${Application}/${Environment}/"), name
        values.append(json.dumps(p["Value"], sort_keys=True))
    outputs = [json.dumps(o["Value"], sort_keys=True) for n, o in tpl["Outputs"].items() if n != "ConfigParameterPath"]
    assert sorted(values) == sorted(outputs)


def test_inputs_come_from_the_other_tiers_and_root_parameters(tpl, plat):
    params = set(tpl["Parameters"])
    assert {"DataSubnetIds", "DatabaseSecurityGroupId", "CacheSecurityGroupId", "DataKeyArn", "SecretsKeyArn"} <= params
    used = refs(tpl["Resources"]) | refs(tpl["Outputs"]) | refs(tpl.get("Conditions", {}))
    subs = " ".join(n["Fn::Sub"] for n in walk(tpl) if isinstance(n, dict) and isinstance(n.get("Fn::Sub"), str))
    for name in params:
        assert name in used or f"${{{name}}}" in subs, f"{name} is unused"


# --- AWS values: every allowed parameter value is one AWS accepts (per cfn-lint's AWS data) --------


def test_every_allowed_engine_version_and_class_is_current(tmp_path):
    resources_: dict = {}
    for i, version in enumerate(data.ENGINE_VERSIONS):
        resources_[f"Cluster{i}"] = {
            "Type": "AWS::RDS::DBCluster",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Engine": "aurora-postgresql",
                "EngineVersion": version,
                "MasterUsername": "probe",
                "ManageMasterUserPassword": True,
                "BackupRetentionPeriod": 7,
            },
        }
    for i, instance_class in enumerate(data.INSTANCE_CLASSES):
        resources_[f"Instance{i}"] = {
            "Type": "AWS::RDS::DBInstance",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "Engine": "aurora-postgresql",
                "DBClusterIdentifier": "probe",
                "DBInstanceClass": instance_class,
            },
        }
    # cfn-lint checks Valkey versions and node types on CacheCluster (the same values a replication group takes).
    for i, version in enumerate(data.CACHE_ENGINE_VERSIONS):
        for j, node_type in enumerate(data.CACHE_NODE_TYPES):
            resources_[f"Cache{i}x{j}"] = {
                "Type": "AWS::ElastiCache::CacheCluster",
                "DeletionPolicy": "Snapshot",
                "UpdateReplacePolicy": "Snapshot",
                "Properties": {
                    "Engine": "valkey",
                    "EngineVersion": version,
                    "CacheNodeType": node_type,
                    "NumCacheNodes": 1,
                    "SnapshotRetentionLimit": 1,
                },
            }
    probe = tmp_path / "probe.yaml"
    probe.write_text(yaml.safe_dump({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources_}))
    assert [str(f) for f in lint_paths([probe])] == []


def test_the_probe_catches_values_aws_rejects(tmp_path):
    probe = tmp_path / "probe.yaml"
    keep = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
    cluster = {"Engine": "aurora-postgresql", "EngineVersion": "16.4", "MasterUsername": "probe",
               "ManageMasterUserPassword": True, "BackupRetentionPeriod": 7}  # fmt: skip
    instance = {"Engine": "aurora-postgresql", "DBClusterIdentifier": "probe", "DBInstanceClass": "db.t4g.micro"}
    cache = {"Engine": "valkey", "EngineVersion": "7.0", "CacheNodeType": "cache.t4g.nano", "NumCacheNodes": 1,
             "SnapshotRetentionLimit": 1}  # fmt: skip
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Resources": {
            "Cluster": {"Type": "AWS::RDS::DBCluster", **keep, "Properties": cluster},
            "Instance": {"Type": "AWS::RDS::DBInstance", **keep, "Properties": instance},
            "Cache": {"Type": "AWS::ElastiCache::CacheCluster", **keep, "Properties": cache},
        },
    }
    probe.write_text(yaml.safe_dump(template))
    rules = {f.rule for f in lint_paths([probe])}
    # Deprecated Aurora version, instance class Aurora PostgreSQL lacks, unknown Valkey version and node type.
    assert {"W3690", "E3025", "E3695", "E3647"} <= rules, rules


def test_root_shows_the_endpoints_and_the_configuration_path(rendered):
    root_outputs = rendered["root.yaml"]["Outputs"]
    for name in ("DatabaseEndpoint", "DatabaseReaderEndpoint", "CacheEndpoint", "ConfigParameterPath"):
        assert root_outputs[name]["Value"] == {"Fn::GetAtt": ["DataStack", f"Outputs.{name}"]}
    assert "DatabaseSecretArn" not in root_outputs and "CacheAuthSecretArn" not in root_outputs
