"""Data tier: Aurora PostgreSQL, DynamoDB tables, an ElastiCache (Valkey) cache and application secrets.

Secure and lossless by default:

- Everything lives in the private data subnets and is encrypted at rest with the data key
  (Aurora storage and Performance Insights, DynamoDB tables, cache); secrets use the secrets key.
- TLS is enforced: the cluster parameter group sets ``rds.force_ssl``; the cache requires in-transit
  encryption (``TransitEncryptionMode: required``) and an AUTH token.
- No password exists anywhere in a template: RDS generates and rotates the master password in
  Secrets Manager; the cache AUTH token and the partner API key are generated secrets, and the token
  reaches the cache through a ``{{resolve:secretsmanager:...}}`` dynamic reference.
- Every stateful resource is retained (or snapshotted) on delete and replacement, deletion
  protection follows the ``DeletionProtection`` parameter, backups and point-in-time recovery are
  on, and a stack policy (see :mod:`neobank_cfn.stack_policy`) refuses replacement or removal.
- The Aurora reader and the cache's Multi-AZ failover are Conditions over parameters (on in prod,
  enforced by the ``ProductionDataIsProtected`` rule).

Non-secret connection settings are also written to SSM Parameter Store under
``/<Application>/<Environment>/`` (output ``ConfigParameterPath``) for the services to read.
"""

from __future__ import annotations

from troposphere import Equals as CfnEquals
from troposphere import GetAtt, GetAZs, If, Join, Not, Ref, Select, Split, Sub, Template
from troposphere.dynamodb import (
    AttributeDefinition,
    KeySchema,
    PointInTimeRecoverySpecification,
    SSESpecification,
    StreamSpecification,
    Table,
    TimeToLiveSpecification,
)
from troposphere.elasticache import (
    CloudWatchLogsDestinationDetails,
    DestinationDetails,
    LogDeliveryConfigurationRequest,
    ReplicationGroup,
)
from troposphere.elasticache import SubnetGroup as CacheSubnetGroup
from troposphere.iam import Role
from troposphere.rds import DBCluster, DBClusterParameterGroup, DBInstance, DBSubnetGroup, MasterUserSecret
from troposphere.secretsmanager import GenerateSecretString, Secret
from troposphere.ssm import Parameter as SsmParameter

from neobank_cfn import contracts
from neobank_cfn.config import PlatformConfig, TableConfig
from neobank_cfn.iam import assume_role
from neobank_cfn.logs import log_group
from neobank_cfn.naming import pascal, physical_name
from neobank_cfn.parameters import DELETION_PROTECTION, LOG_RETENTION_DAYS, Param, boolean
from neobank_cfn.rules import And, Equals, Rule
from neobank_cfn.rules import Not as RuleNot
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.keys import DATA_KEY_ARN, LOGS_KEY_ARN, SECRETS_KEY_ARN
from neobank_cfn.tiers.network import DATA_SUBNET_IDS
from neobank_cfn.tiers.security import CACHE_PORT, DATABASE_PORT, group_param

GROUP = "Data"

# Supported Aurora PostgreSQL minor versions (none deprecated per cfn-lint's RDS data). Only majors
# 16 and 17: 18 changes log_connections from a boolean to a list, which the parameter group sets.
ENGINE_VERSIONS = ("16.11", "16.13", "17.7", "17.9")
# Graviton classes Aurora PostgreSQL offers; burstable t4g only for dev/test.
INSTANCE_CLASSES = (
    "db.t4g.medium",
    "db.t4g.large",
    "db.r6g.large",
    "db.r6g.xlarge",
    "db.r6g.2xlarge",
    "db.r7g.large",
    "db.r7g.xlarge",
    "db.r7g.2xlarge",
    "db.r7g.4xlarge",
)
CACHE_ENGINE_VERSIONS = ("8.1", "8.2", "9.0", "9.1")
CACHE_NODE_TYPES = (
    "cache.t4g.micro",
    "cache.t4g.small",
    "cache.t4g.medium",
    "cache.m7g.large",
    "cache.m7g.xlarge",
    "cache.r7g.large",
    "cache.r7g.xlarge",
)

DATABASE_ENGINE_VERSION = Param(
    "DatabaseEngineVersion",
    "Aurora PostgreSQL engine version. Minor upgrades also arrive automatically in the maintenance window; "
    "a major upgrade is a deliberate change (see docs/data.md).",
    default="17.9",
    allowed_values=ENGINE_VERSIONS,
    label="Aurora PostgreSQL version",
    group=GROUP,
)
DATABASE_INSTANCE_CLASS = Param(
    "DatabaseInstanceClass",
    "Instance class of the Aurora writer and reader (Graviton; db.t4g only for dev/test).",
    default="db.t4g.medium",
    allowed_values=INSTANCE_CLASSES,
    label="Aurora instance class",
    group=GROUP,
)
DATABASE_READER = boolean(
    "DatabaseReader",
    "Add an Aurora reader in a second AZ, the failover target of the writer (true in production).",
    "false",
    label="Aurora reader",
    group=GROUP,
)
DATABASE_BACKUP_RETENTION_DAYS = Param(
    "DatabaseBackupRetentionDays",
    "Days Aurora keeps automated backups for point-in-time restore (35 in production).",
    type="Number",
    default="7",
    min_value=1,
    max_value=35,
    constraint="a whole number of days from 1 to 35",
    label="Aurora backup retention (days)",
    group=GROUP,
)
CACHE_ENGINE_VERSION = Param(
    "CacheEngineVersion",
    "Valkey engine version of the cache.",
    default="8.2",
    allowed_values=CACHE_ENGINE_VERSIONS,
    label="Valkey version",
    group=GROUP,
)
CACHE_NODE_TYPE = Param(
    "CacheNodeType",
    "ElastiCache node type (Graviton).",
    default="cache.t4g.micro",
    allowed_values=CACHE_NODE_TYPES,
    label="Cache node type",
    group=GROUP,
)
CACHE_NODE_COUNT = Param(
    "CacheNodeCount",
    "Cache nodes: 1 primary plus replicas. 2 or more turns on automatic failover and Multi-AZ.",
    type="Number",
    default="1",
    allowed_values=("1", "2", "3"),
    label="Cache nodes",
    group=GROUP,
)

DATABASE_NAME = "neobank"
MASTER_USERNAME = "neobank_admin"  # not the engine default ("postgres")
BACKUP_WINDOW = "02:00-03:00"  # UTC; must not overlap the maintenance window
MAINTENANCE_WINDOW = "sun:03:30-sun:04:30"
CACHE_SNAPSHOT_WINDOW = "01:00-02:00"
CACHE_MAINTENANCE_WINDOW = "sun:05:00-sun:06:00"
CACHE_SNAPSHOT_RETENTION_DAYS = 7
CA_CERTIFICATE = "rds-ca-rsa2048-g1"
MONITORING_INTERVAL = 60  # seconds between enhanced-monitoring samples
PERFORMANCE_INSIGHTS_DAYS = 7  # the retention included at no charge
CACHE_TOKEN_KEY = "token"
# Outputs also shown by the root stack (where operators look first).
EXPOSED = frozenset({"DatabaseEndpoint", "DatabaseReaderEndpoint", "CacheEndpoint", "ConfigParameterPath"})

PRODUCTION_RULE = Rule(
    "ProductionDataIsProtected",
    "Production needs deletion protection, an Aurora reader and at least two cache nodes",
    And(
        (Equals("DeletionProtection", "true"), Equals("DatabaseReader", "true"), RuleNot(Equals("CacheNodeCount", "1")))
    ),
    when=Equals("Environment", "prod"),
)


def _conditions(tt: TierTemplate) -> None:
    tt.condition("HasDatabaseReader", CfnEquals(tt.ref("DatabaseReader"), "true"))
    tt.condition("CacheIsMultiAz", Not(CfnEquals(tt.ref("CacheNodeCount"), "1")))


def _keep(kind: str = "Retain") -> dict:
    """DeletionPolicy and UpdateReplacePolicy for a stateful resource."""
    return {"DeletionPolicy": kind, "UpdateReplacePolicy": kind}


def _cluster(tt: TierTemplate) -> DBCluster:
    subnets = tt.add(
        DBSubnetGroup(
            "DatabaseSubnetGroup",
            DBSubnetGroupDescription=Sub("${Application} ${Environment}: Aurora in the private data subnets"),
            SubnetIds=tt.ref("DataSubnetIds"),
        )
    )
    major = Select(0, Split(".", tt.ref("DatabaseEngineVersion")))
    parameters = tt.add(
        DBClusterParameterGroup(
            "DatabaseClusterParameterGroup",
            Description=Sub("${Application} ${Environment}: TLS only, connections logged"),
            Family=Join("", ["aurora-postgresql", major]),
            Parameters={"rds.force_ssl": "1", "log_connections": "1", "log_disconnections": "1"},
        )
    )
    identifier = physical_name("aurora")
    # RDS would create the export's log group unencrypted and kept forever; create it first, our way.
    logs = log_group(tt, "DatabaseLogGroup", Sub("/aws/rds/cluster/${Application}-${Environment}-aurora/postgresql"))
    return tt.add(
        DBCluster(
            "DatabaseCluster",
            DBClusterIdentifier=identifier,
            Engine="aurora-postgresql",
            EngineVersion=tt.ref("DatabaseEngineVersion"),
            DatabaseName=DATABASE_NAME,
            Port=DATABASE_PORT,
            MasterUsername=MASTER_USERNAME,
            ManageMasterUserPassword=True,
            MasterUserSecret=MasterUserSecret(KmsKeyId=tt.ref("SecretsKeyArn")),
            EnableIAMDatabaseAuthentication=True,
            StorageEncrypted=True,
            KmsKeyId=tt.ref("DataKeyArn"),
            DBSubnetGroupName=Ref(subnets),
            VpcSecurityGroupIds=[tt.ref("DatabaseSecurityGroupId")],
            DBClusterParameterGroupName=Ref(parameters),
            DeletionProtection=tt.ref("DeletionProtection"),
            BackupRetentionPeriod=tt.ref("DatabaseBackupRetentionDays"),
            PreferredBackupWindow=BACKUP_WINDOW,
            PreferredMaintenanceWindow=MAINTENANCE_WINDOW,
            CopyTagsToSnapshot=True,
            DeleteAutomatedBackups=False,  # backups outlive the cluster for their retention period
            EnableCloudwatchLogsExports=["postgresql"],
            DependsOn=[logs.title],
            **_keep(),
        )
    )


def _monitoring_role(tt: TierTemplate) -> Role:
    """The role RDS enhanced monitoring uses to publish OS metrics (AWS's own scoped managed policy)."""
    return tt.add(
        Role(
            "DatabaseMonitoringRole",
            AssumeRolePolicyDocument=assume_role("monitoring.rds.amazonaws.com"),
            ManagedPolicyArns=[
                Sub("arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")
            ],
        )
    )


def _instance(tt: TierTemplate, logical: str, cluster: DBCluster, role: Role, az: int, **extra: object) -> DBInstance:
    """An Aurora instance in AZ number ``az`` of the data subnets, never publicly reachable."""
    return tt.add(
        DBInstance(
            logical,
            Engine="aurora-postgresql",
            DBClusterIdentifier=Ref(cluster),
            DBInstanceClass=tt.ref("DatabaseInstanceClass"),
            AvailabilityZone=Select(az, GetAZs("")),
            PubliclyAccessible=False,
            AutoMinorVersionUpgrade=True,
            CACertificateIdentifier=CA_CERTIFICATE,
            EnablePerformanceInsights=True,
            PerformanceInsightsKMSKeyId=tt.ref("DataKeyArn"),
            PerformanceInsightsRetentionPeriod=PERFORMANCE_INSIGHTS_DAYS,
            MonitoringInterval=MONITORING_INTERVAL,
            MonitoringRoleArn=GetAtt(role, "Arn"),
            PromotionTier=az,
            # Aurora instances accept Retain or Delete only (their data lives in the cluster volume).
            **_keep(),
            **extra,
        )
    )


def _database(tt: TierTemplate) -> DBCluster:
    cluster = _cluster(tt)
    role = _monitoring_role(tt)
    _instance(tt, "DatabaseWriterInstance", cluster, role, 0)
    _instance(tt, "DatabaseReaderInstance", cluster, role, 1, Condition="HasDatabaseReader")
    return cluster


def _generated_secret(tt: TierTemplate, logical: str, description: str, key: str) -> Secret:
    """A Secrets Manager secret ``{"<key>": "<64 random letters and digits>"}`` under the secrets key."""
    return tt.add(
        Secret(
            logical,
            Description=Sub(f"${{Application}} ${{Environment}}: {description}"),
            KmsKeyId=tt.ref("SecretsKeyArn"),
            GenerateSecretString=GenerateSecretString(
                SecretStringTemplate="{}",
                GenerateStringKey=key,
                PasswordLength=64,
                ExcludePunctuation=True,  # AUTH tokens allow only a few symbols; letters and digits suffice
            ),
            **_keep(),
        )
    )


def _log_delivery(log_type: str, group: object) -> LogDeliveryConfigurationRequest:
    return LogDeliveryConfigurationRequest(
        DestinationType="cloudwatch-logs",
        DestinationDetails=DestinationDetails(
            CloudWatchLogsDetails=CloudWatchLogsDestinationDetails(LogGroup=Ref(group))
        ),
        LogFormat="json",
        LogType=log_type,
    )


def _cache(tt: TierTemplate) -> tuple[ReplicationGroup, Secret]:
    subnets = tt.add(
        CacheSubnetGroup(
            "CacheSubnetGroup",
            Description=Sub("${Application} ${Environment}: cache in the private data subnets"),
            SubnetIds=tt.ref("DataSubnetIds"),
        )
    )
    token = _generated_secret(tt, "CacheAuthSecret", "ElastiCache AUTH token", CACHE_TOKEN_KEY)
    slow = log_group(tt, "CacheSlowLogGroup", Sub("/aws/elasticache/${Application}-${Environment}/slow-log"))
    engine = log_group(tt, "CacheEngineLogGroup", Sub("/aws/elasticache/${Application}-${Environment}/engine-log"))
    multi_az = If("CacheIsMultiAz", True, False)
    cache = tt.add(
        ReplicationGroup(
            "CacheReplicationGroup",
            ReplicationGroupId=physical_name("cache"),
            ReplicationGroupDescription=Sub("${Application} ${Environment} cache (Valkey)"),
            Engine="valkey",
            EngineVersion=tt.ref("CacheEngineVersion"),
            CacheNodeType=tt.ref("CacheNodeType"),
            NumCacheClusters=tt.ref("CacheNodeCount"),
            AutomaticFailoverEnabled=multi_az,
            MultiAZEnabled=multi_az,
            Port=CACHE_PORT,
            CacheSubnetGroupName=Ref(subnets),
            SecurityGroupIds=[tt.ref("CacheSecurityGroupId")],
            AtRestEncryptionEnabled=True,
            KmsKeyId=tt.ref("DataKeyArn"),
            TransitEncryptionEnabled=True,
            TransitEncryptionMode="required",
            AuthToken=Sub(f"{{{{resolve:secretsmanager:${{{token.title}}}:SecretString:{CACHE_TOKEN_KEY}}}}}"),
            AutoMinorVersionUpgrade=True,
            SnapshotRetentionLimit=CACHE_SNAPSHOT_RETENTION_DAYS,
            SnapshotWindow=CACHE_SNAPSHOT_WINDOW,
            PreferredMaintenanceWindow=CACHE_MAINTENANCE_WINDOW,
            LogDeliveryConfigurations=[_log_delivery("slow-log", slow), _log_delivery("engine-log", engine)],
            **_keep("Snapshot"),
        )
    )
    return cache, token


def _table(tt: TierTemplate, table: TableConfig) -> Table:
    keys = [(table.partition_key, "HASH")] + ([(table.sort_key, "RANGE")] if table.sort_key else [])
    kwargs: dict = {}
    if table.ttl_attribute:
        kwargs["TimeToLiveSpecification"] = TimeToLiveSpecification(AttributeName=table.ttl_attribute, Enabled=True)
    if table.stream:
        kwargs["StreamSpecification"] = StreamSpecification(StreamViewType=table.stream)
    return tt.add(
        Table(
            f"{pascal(table.name)}Table",
            TableName=physical_name(table.name),
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[AttributeDefinition(AttributeName=name, AttributeType="S") for name, _ in keys],
            KeySchema=[KeySchema(AttributeName=name, KeyType=kind) for name, kind in keys],
            PointInTimeRecoverySpecification=PointInTimeRecoverySpecification(PointInTimeRecoveryEnabled=True),
            SSESpecification=SSESpecification(SSEEnabled=True, SSEType="KMS", KMSMasterKeyId=tt.ref("DataKeyArn")),
            DeletionProtectionEnabled=tt.ref("DeletionProtection"),
            **kwargs,
            **_keep(),
        )
    )


def _config_parameters(tt: TierTemplate, values: list[tuple[str, str, object]]) -> None:
    """Plain SSM String parameters ``/<Application>/<Environment>/<path>`` (never secret values)."""
    for _, path, value in values:
        tt.add(
            SsmParameter(
                f"{pascal(path)}Parameter",
                Name=Sub(f"/${{Application}}/${{Environment}}/{path}"),
                Type="String",
                Value=value,
                Description=f"neobank_cfn data tier: {path}",
            )
        )


def _values(
    cluster: DBCluster, cache: ReplicationGroup, cache_secret: Secret, partner: Secret, tables: list[tuple]
) -> list[tuple[str, str, object]]:
    """(output name, SSM path, value) of every connection setting the services need."""
    values: list[tuple[str, str, object]] = [
        ("DatabaseEndpoint", "database/endpoint", GetAtt(cluster, "Endpoint.Address")),
        ("DatabaseReaderEndpoint", "database/reader-endpoint", GetAtt(cluster, "ReadEndpoint.Address")),
        ("DatabasePort", "database/port", GetAtt(cluster, "Endpoint.Port")),
        ("DatabaseName", "database/name", DATABASE_NAME),
        ("DatabaseSecretArn", "database/secret-arn", GetAtt(cluster, "MasterUserSecret.SecretArn")),
        ("CacheEndpoint", "cache/endpoint", GetAtt(cache, "PrimaryEndPoint.Address")),
        ("CachePort", "cache/port", GetAtt(cache, "PrimaryEndPoint.Port")),
        ("CacheAuthSecretArn", "cache/auth-secret-arn", Ref(cache_secret)),
        ("PartnerApiKeySecretArn", "partner/api-key-secret-arn", Ref(partner)),
    ]
    for table, resource in tables:
        values.append((contracts.table_name(table.name).name, f"tables/{table.name}/name", Ref(resource)))
        values.append((contracts.table_arn(table.name).name, f"tables/{table.name}/arn", GetAtt(resource, "Arn")))
        if table.stream:
            stream = contracts.table_stream_arn(table.name).name
            values.append((stream, f"tables/{table.name}/stream-arn", GetAtt(resource, "StreamArn")))
    return values


def build(config: PlatformConfig) -> Template:
    """The data tier template."""
    tt = TierTemplate(tier(config))
    _conditions(tt)
    cluster = _database(tt)
    cache, cache_secret = _cache(tt)
    tables = [(table, _table(tt, table)) for table in config.tables]
    partner = _generated_secret(tt, "PartnerApiKeySecret", "third-party partner API key (replace the value)", "apiKey")
    values = _values(cluster, cache, cache_secret, partner, tables)
    _config_parameters(tt, values)
    for name, _, value in values:
        tt.output(name, value)
    tt.output("ConfigParameterPath", Sub("/${Application}/${Environment}/"))
    return tt.finish()


def _outputs(config: PlatformConfig) -> tuple[Output, ...]:
    fixed = (
        contracts.DATABASE_ENDPOINT,
        contracts.DATABASE_READER_ENDPOINT,
        contracts.DATABASE_PORT,
        contracts.DATABASE_NAME,
        contracts.DATABASE_SECRET_ARN,
        contracts.CACHE_ENDPOINT,
        contracts.CACHE_PORT,
        contracts.CACHE_AUTH_SECRET_ARN,
        contracts.PARTNER_API_KEY_SECRET_ARN,
        contracts.CONFIG_PARAMETER_PATH,
    )
    per_table: list[Param] = []
    for table in config.tables:
        per_table += [contracts.table_name(table.name), contracts.table_arn(table.name)]
        if table.stream:
            per_table.append(contracts.table_stream_arn(table.name))
    return tuple(Output(p.name, p.description, expose=p.name in EXPOSED) for p in fixed + tuple(per_table))


def tier(config: PlatformConfig) -> Tier:
    """The data tier's contract; its outputs include one name and ARN (and stream ARN) per table."""
    return Tier(
        name="data",
        description="Aurora PostgreSQL, DynamoDB tables, ElastiCache (Valkey) and application secrets",
        inputs=(
            DATA_SUBNET_IDS,
            group_param("Database"),
            group_param("Cache"),
            DATA_KEY_ARN,
            LOGS_KEY_ARN,
            SECRETS_KEY_ARN,
            LOG_RETENTION_DAYS,
            DELETION_PROTECTION,
            DATABASE_ENGINE_VERSION,
            DATABASE_INSTANCE_CLASS,
            DATABASE_READER,
            DATABASE_BACKUP_RETENTION_DAYS,
            CACHE_ENGINE_VERSION,
            CACHE_NODE_TYPE,
            CACHE_NODE_COUNT,
        ),
        outputs=_outputs(config),
        build=build,
        rules=(PRODUCTION_RULE,),
    )
