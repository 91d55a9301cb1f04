"""Keys tier: the customer-managed KMS keys everything else is encrypted with.

Three keys, so a grant on one never reaches the others: **data** (databases, tables, cache, queues,
topics, images, buckets), **logs** (CloudWatch Logs only) and **secrets** (Secrets Manager, SSM
SecureString, Lambda environments). Rotation is on; keys are retained on delete and replacement.

Key policies grant the account only key administration; use of a key by principals of the account is
allowed only through the AWS services that need it (``kms:ViaService`` with ``kms:CallerAccount``) and
still needs an IAM policy naming the key. Services that call KMS as themselves (CloudWatch Logs, SNS
delivering to encrypted queues, CloudWatch alarms publishing to encrypted topics) are named as service
principals, scoped to this account. This tier is separate from the security groups because the
network tier needs the logs key and the security groups need the VPC.
"""

from __future__ import annotations

from awacs.aws import Allow, ArnLike, Condition, Principal, Statement, StringEquals
from troposphere import GetAtt, Ref, Sub, Template
from troposphere.kms import Alias, Key

from neobank_cfn.config import PlatformConfig
from neobank_cfn.iam import ACCOUNT_ROOT, actions, document, regional_endpoints
from neobank_cfn.parameters import arn
from neobank_cfn.tier import Output, Tier, TierTemplate

GROUP = "Keys"
DATA_KEY_ARN = arn("DataKeyArn", "kms", "KMS key for data at rest.", group=GROUP, resource="key/.+")
LOGS_KEY_ARN = arn("LogsKeyArn", "kms", "KMS key for CloudWatch Logs.", group=GROUP, resource="key/.+")
SECRETS_KEY_ARN = arn("SecretsKeyArn", "kms", "KMS key for secrets.", group=GROUP, resource="key/.+")

ADMIN_ACTIONS = actions(
    "kms",
    "Create*",
    "Describe*",
    "Enable*",
    "List*",
    "Put*",
    "Update*",
    "Revoke*",
    "Disable*",
    "Get*",
    "Delete*",
    "TagResource",
    "UntagResource",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "RotateKeyOnDemand",
)
USE_ACTIONS = actions("kms", "Encrypt", "Decrypt", "ReEncrypt*", "GenerateDataKey*", "DescribeKey")

# Services allowed to use each key on behalf of the account's principals.
DATA_SERVICES = ("rds", "dynamodb", "elasticache", "sqs", "sns", "ecr", "s3", "ecs")
SECRETS_SERVICES = ("secretsmanager", "ssm", "lambda", "rds")
LOGS_SERVICES = ("logs",)


def _policy(services: tuple[str, ...], *extra: Statement) -> object:
    """Key policy: account administers; account principals use the key only through ``services``."""
    return document(
        Statement(
            Sid="AccountAdministersKey",
            Effect=Allow,
            Principal=Principal("AWS", [ACCOUNT_ROOT]),
            Action=ADMIN_ACTIONS,
            Resource=["*"],  # in a key policy "*" means this key
        ),
        Statement(
            Sid="AccountUsesKeyThroughServices",
            Effect=Allow,
            Principal=Principal("AWS", [ACCOUNT_ROOT]),
            Action=USE_ACTIONS + actions("kms", "CreateGrant", "ListGrants"),
            Resource=["*"],
            Condition=Condition(
                [
                    StringEquals(
                        {"kms:CallerAccount": Ref("AWS::AccountId"), "kms:ViaService": regional_endpoints(*services)}
                    ),
                ]
            ),
        ),
        *extra,
    )


def _tagged_principals_decrypt() -> Statement:
    """Direct use by this application's own roles (ABAC on the standard tags), e.g. ECS Exec sessions."""
    return Statement(
        Sid="ApplicationRolesUseKeyDirectly",
        Effect=Allow,
        Principal=Principal("AWS", [ACCOUNT_ROOT]),
        Action=actions("kms", "Decrypt", "GenerateDataKey", "DescribeKey"),
        Resource=["*"],
        Condition=Condition(
            [
                StringEquals(
                    {
                        "aws:PrincipalTag/Application": Ref("Application"),
                        "aws:PrincipalTag/Environment": Ref("Environment"),
                        "aws:PrincipalAccount": Ref("AWS::AccountId"),
                    }
                )
            ]
        ),
    )


def _service_statement(sid: str, services: tuple[str, ...]) -> Statement:
    """AWS services that encrypt for this account as themselves (scoped by aws:SourceAccount)."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("Service", [f"{s}.amazonaws.com" for s in services]),
        Action=actions("kms", "GenerateDataKey*", "Decrypt"),
        Resource=["*"],
        Condition=Condition([StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")})]),
    )


def _logs_statement() -> Statement:
    """CloudWatch Logs encrypts this account's log groups (per the CloudWatch Logs KMS guide)."""
    return Statement(
        Sid="CloudWatchLogsEncryptsLogGroups",
        Effect=Allow,
        Principal=service_principal_regional("logs"),
        Action=actions("kms", "Encrypt*", "Decrypt*", "ReEncrypt*", "GenerateDataKey*", "Describe*"),
        Resource=["*"],
        Condition=Condition(
            [
                ArnLike(
                    {
                        "kms:EncryptionContext:aws:logs:arn": Sub(
                            "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
                        )
                    }
                )
            ]
        ),
    )


def service_principal_regional(service: str) -> Principal:
    """Regional service principal, e.g. ``logs.<region>.amazonaws.com``."""
    return Principal("Service", [Sub(f"{service}.${{AWS::Region}}.amazonaws.com")])


def _key(tt: TierTemplate, logical: str, purpose: str, policy: object) -> Key:
    key = tt.add(
        Key(
            logical,
            Description=Sub(f"${{Application}} ${{Environment}}: {purpose}"),
            EnableKeyRotation=True,
            KeySpec="SYMMETRIC_DEFAULT",
            KeyUsage="ENCRYPT_DECRYPT",
            MultiRegion=False,
            PendingWindowInDays=30,
            KeyPolicy=policy,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    alias_suffix = logical.removesuffix("Key").lower()
    tt.add(
        Alias(
            f"{logical}Alias",
            AliasName=Sub(f"alias/${{Application}}/${{Environment}}/{alias_suffix}"),
            TargetKeyId=Ref(key),
        )
    )
    return key


def build(config: PlatformConfig) -> Template:
    """The keys tier template."""
    del config
    tt = TierTemplate(TIER)
    data = _key(
        tt,
        "DataKey",
        "data at rest (Aurora, DynamoDB, ElastiCache, SQS, SNS, ECR, S3)",
        _policy(
            DATA_SERVICES,
            _service_statement("AwsServicesDeliverEncryptedMessages", ("sns", "cloudwatch", "events")),
            _tagged_principals_decrypt(),
        ),
    )
    logs = _key(tt, "LogsKey", "CloudWatch Logs", _policy(LOGS_SERVICES, _logs_statement()))
    secrets = _key(tt, "SecretsKey", "secrets (Secrets Manager, SSM, Lambda environments)", _policy(SECRETS_SERVICES))
    tt.output("DataKeyArn", GetAtt(data, "Arn"))
    tt.output("LogsKeyArn", GetAtt(logs, "Arn"))
    tt.output("SecretsKeyArn", GetAtt(secrets, "Arn"))
    return tt.finish()


TIER = Tier(
    name="keys",
    description="customer-managed KMS keys for data, logs and secrets",
    inputs=(),
    outputs=(
        Output("DataKeyArn", "KMS key for data at rest", expose=True),
        Output("LogsKeyArn", "KMS key for CloudWatch Logs", expose=True),
        Output("SecretsKeyArn", "KMS key for secrets", expose=True),
    ),
    build=build,
)
