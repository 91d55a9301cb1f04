"""Values tiers hand to each other, defined once: the output of one tier is the input of another.

A producing tier declares ``Output(p.name, ...)`` for each of these and a consuming tier takes the
same :class:`~neobank_cfn.parameters.Param` as an input, so the root wires them by name. Names of
per-resource values come from the platform configuration (``payments`` -> ``PaymentsQueueArn``).
"""

from __future__ import annotations

from neobank_cfn.naming import pascal
from neobank_cfn.parameters import Param, arn, identifier

DATA = "Data"
MESSAGING = "Messaging"
APPLICATION = "Application"
IDENTITY = "Identity"

_HOST = r"^[A-Za-z0-9.-]+$"
_NUMBER = r"^[0-9]+$"
_NAME = r"^[A-Za-z0-9._/-]+$"
_URL = r"^https://[A-Za-z0-9./:_-]+$"

# Data tier (Aurora PostgreSQL, ElastiCache, application secrets, SSM configuration).
DATABASE_ENDPOINT = identifier("DatabaseEndpoint", "Aurora writer endpoint.", group=DATA, pattern=_HOST)
DATABASE_READER_ENDPOINT = identifier("DatabaseReaderEndpoint", "Aurora reader endpoint.", group=DATA, pattern=_HOST)
DATABASE_PORT = identifier("DatabasePort", "Aurora port.", group=DATA, pattern=_NUMBER)
DATABASE_NAME = identifier("DatabaseName", "Name of the application database.", group=DATA, pattern=_NAME)
DATABASE_SECRET_ARN = arn(
    "DatabaseSecretArn", "secretsmanager", "RDS-managed master user secret.", group=DATA, resource="secret:.+"
)
CACHE_ENDPOINT = identifier("CacheEndpoint", "ElastiCache primary endpoint.", group=DATA, pattern=_HOST)
CACHE_PORT = identifier("CachePort", "ElastiCache port.", group=DATA, pattern=_NUMBER)
CACHE_AUTH_SECRET_ARN = arn(
    "CacheAuthSecretArn", "secretsmanager", "Secret holding the cache AUTH token.", group=DATA, resource="secret:.+"
)
PARTNER_API_KEY_SECRET_ARN = arn(
    "PartnerApiKeySecretArn", "secretsmanager", "Generated third-party API key.", group=DATA, resource="secret:.+"
)
CONFIG_PARAMETER_PATH = identifier(
    "ConfigParameterPath", "SSM Parameter Store path of the non-secret configuration.", group=DATA, pattern=_NAME
)


def table_name(table: str) -> Param:
    """Name of the DynamoDB table ``table``."""
    return identifier(f"{pascal(table)}TableName", f"DynamoDB table {table}.", group=DATA, pattern=_NAME)


def table_arn(table: str) -> Param:
    """ARN of the DynamoDB table ``table``."""
    return arn(f"{pascal(table)}TableArn", "dynamodb", f"DynamoDB table {table}.", group=DATA, resource="table/.+")


def table_stream_arn(table: str) -> Param:
    """ARN of the stream of DynamoDB table ``table`` (tables with a stream only)."""
    return arn(
        f"{pascal(table)}TableStreamArn", "dynamodb", f"Stream of table {table}.", group=DATA, resource="table/.+"
    )


# Messaging tier (SQS, SNS).
ALARM_TOPIC_ARN = arn("AlarmTopicArn", "sns", "SNS topic for operational alarms.", group=MESSAGING)


def queue_url(queue: str) -> Param:
    """URL of the SQS queue ``queue``."""
    return identifier(f"{pascal(queue)}QueueUrl", f"SQS queue {queue}.", group=MESSAGING, pattern=_URL)


def queue_arn(queue: str) -> Param:
    """ARN of the SQS queue ``queue``."""
    return arn(f"{pascal(queue)}QueueArn", "sqs", f"SQS queue {queue}.", group=MESSAGING)


def dead_letter_queue_arn(queue: str) -> Param:
    """ARN of the dead-letter queue of ``queue``."""
    return arn(f"{pascal(queue)}DlqArn", "sqs", f"Dead-letter queue of {queue}.", group=MESSAGING)


def dead_letter_queue_name(queue: str) -> Param:
    """Name of the dead-letter queue of ``queue`` (the QueueName dimension of its metrics)."""
    return identifier(f"{pascal(queue)}DlqName", f"Dead-letter queue of {queue}.", group=MESSAGING, pattern=_NAME)


def topic_arn(topic: str) -> Param:
    """ARN of the SNS topic ``topic``."""
    return arn(f"{pascal(topic)}TopicArn", "sns", f"SNS topic {topic}.", group=MESSAGING)


# Application ingress (ECS cluster, load balancer) for the services and the API.
CLUSTER_NAME = identifier("ClusterName", "ECS cluster.", group=APPLICATION, pattern=_NAME)
CLUSTER_ARN = arn("ClusterArn", "ecs", "ECS cluster.", group=APPLICATION, resource="cluster/.+")
HTTPS_LISTENER_ARN = arn(
    "HttpsListenerArn", "elasticloadbalancing", "HTTPS listener of the load balancer.", group=APPLICATION,
    resource="listener/.+",
)  # fmt: skip
LOAD_BALANCER_FULL_NAME = identifier(
    "LoadBalancerFullName", "Load balancer name as CloudWatch dimensions use it.", group=APPLICATION, pattern=_NAME
)
LOAD_BALANCER_DNS_NAME = identifier("LoadBalancerDnsName", "Load balancer DNS name.", group=APPLICATION, pattern=_HOST)
EXEC_LOG_GROUP_NAME = identifier(
    "ExecLogGroupName", "Log group of ECS Exec sessions (task roles write to it).", group=APPLICATION, pattern=_NAME
)
EXEC_LOG_GROUP_ARN = arn(
    "ExecLogGroupArn", "logs", "Log group of ECS Exec sessions (for scoping task-role policies).", group=APPLICATION,
    resource="log-group:.+",
)  # fmt: skip

# Identity tier (customer tokens the API's JWT authorizer accepts: Cognito, or an external OIDC issuer).
JWT_ISSUER = identifier("JwtIssuer", "Issuer URL of customer access tokens.", group=IDENTITY, pattern=_URL)
JWT_AUDIENCE = identifier(
    "JwtAudience", "Audience (client id) customer tokens must carry.", group=IDENTITY, pattern=r"^[A-Za-z0-9._:/-]+$"
)

# Header the API sets on every request it forwards to the load balancer, overwriting any value a client
# sent: the caller's source IP as API Gateway saw it. API Gateway reserves X-Forwarded-For (it cannot be
# mapped), so behind the VPC link this is the one trustworthy client address for WAF and the services.
CLIENT_IP_HEADER = "X-Client-Ip"
