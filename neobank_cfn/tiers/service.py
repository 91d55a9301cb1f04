"""Service tiers: one nested stack per microservice in ``config.services``, all from one builder.

Each stack holds the service's ECR repository, its Fargate task definition (the Spring Boot container
plus an OpenTelemetry collector sidecar that sends traces to X-Ray), the two IAM roles, a target group
with a listener rule on the shared HTTPS listener, deployment alarms, the ECS service and its auto
scaling. Adding an entry to
``platform.yaml`` adds a stack; nothing here names a particular service.

Decisions (see docs/services.md for the reasons in full):

- **Rolling deployments only**, with the deployment circuit breaker and CloudWatch-alarm rollback.
  AWS documents both failure-detection methods for the rolling (``ECS``) strategy only; native
  blue/green shifts traffic between two target groups, which the request-count scaling policy and
  the target-group alarms (bound to one target group) cannot follow.
- **Read-only root file system unless ECS Exec is on.** The SSM agent behind ECS Exec needs a
  writable container file system (AWS documents read-only roots as unsupported for ECS Exec), so
  the app container is read-only exactly when ``ExecEnabled`` is false, which a Rule enforces in
  prod. ``/tmp`` is always a writable task volume.
- **Secrets only through the container ``Secrets`` property**, read by the execution role with the
  secrets key through Secrets Manager; never environment variables.
"""

from __future__ import annotations

import json
from functools import partial

from awacs.aws import StringEquals
from troposphere import Equals as CfnEquals
from troposphere import GetAtt, If, Join, NoValue, Ref, Sub, Template
from troposphere.applicationautoscaling import (
    PredefinedMetricSpecification,
    ScalableTarget,
    ScalingPolicy,
    TargetTrackingScalingPolicyConfiguration,
)
from troposphere.cloudwatch import Alarm, MetricDimension
from troposphere.ecr import EncryptionConfiguration, ImageScanningConfiguration, LifecyclePolicy, Repository
from troposphere.ecs import (
    AwsvpcConfiguration,
    ContainerDefinition,
    ContainerDependency,
    DeploymentAlarms,
    DeploymentCircuitBreaker,
    DeploymentConfiguration,
    DeploymentController,
    Environment,
    HealthCheck,
    LinuxParameters,
    LoadBalancer,
    LogConfiguration,
    MountPoint,
    NetworkConfiguration,
    PortMapping,
    RuntimePlatform,
    Secret,
    Service,
    TaskDefinition,
    Volume,
)
from troposphere.elasticloadbalancingv2 import (
    Condition,
    HostHeaderConfig,
    ListenerRule,
    ListenerRuleAction,
    Matcher,
    PathPatternConfig,
    TargetGroup,
    TargetGroupAttribute,
)
from troposphere.iam import Role

from neobank_cfn import contracts
from neobank_cfn.config import FARGATE_SIZES, PlatformConfig, ServiceConfig
from neobank_cfn.iam import actions, allow, allow_unscoped, assume_role, inline_policy, regional_endpoints
from neobank_cfn.logs import log_group
from neobank_cfn.naming import pascal, physical_name
from neobank_cfn.parameters import LOG_RETENTION_DAYS, Param, boolean
from neobank_cfn.rules import Equals, OneOf, Rule
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.keys import DATA_KEY_ARN, LOGS_KEY_ARN, SECRETS_KEY_ARN
from neobank_cfn.tiers.network import APP_SUBNET_IDS, VPC_ID
from neobank_cfn.tiers.security import group_param

GROUP = "Services"
COLLECTOR_CONTAINER = "otel-collector"
XRAY_PORT = 2000  # the collector's X-Ray receiver (UDP), for apps still on the X-Ray SDK
OTLP_HTTP_PORT = 4318
# The ADOT collector's configuration, passed inline (AOT_CONFIG_CONTENT): traces only, received on the
# task's loopback as OTLP or X-Ray segments, exported to X-Ray. No metrics or logs exporters, so the
# collector never creates log groups of its own (they would be unencrypted and kept forever).
COLLECTOR_CONFIG = {
    "extensions": {"health_check": {"endpoint": "127.0.0.1:13133"}},
    "receivers": {
        "otlp": {
            "protocols": {"grpc": {"endpoint": "127.0.0.1:4317"}, "http": {"endpoint": f"127.0.0.1:{OTLP_HTTP_PORT}"}}
        },
        "awsxray": {"endpoint": f"127.0.0.1:{XRAY_PORT}", "transport": "udp"},
    },
    "processors": {
        "resourcedetection": {"detectors": ["env", "ecs"]},
        "batch/traces": {"timeout": "1s", "send_batch_size": 50},
    },
    "exporters": {"awsxray": {}},
    "service": {
        "extensions": ["health_check"],
        "pipelines": {
            "traces": {
                "receivers": ["otlp", "awsxray"],
                "processors": ["resourcedetection", "batch/traces"],
                "exporters": ["awsxray"],
            }
        },
    },
}
TMP_VOLUME = "tmp"
RUN_AS = "1000:1000"  # a non-root uid:gid; the image must let it read the app and write /tmp
STOP_TIMEOUT_SECONDS = 60  # Spring Boot graceful shutdown (30 s default) plus headroom; Fargate max 120
HEALTH_START_PERIOD_SECONDS = 90  # JVM start-up before failed container health checks count
DEREGISTRATION_DELAY_SECONDS = 30
CPU_TARGET_PERCENT = 60.0
MEMORY_TARGET_PERCENT = 75.0
SCALE_OUT_COOLDOWN = 60
SCALE_IN_COOLDOWN = 300
TARGET_5XX_PER_MINUTE = 10
LISTENER_PRIORITY_STEP = 10
JAVA_TOOL_OPTIONS = (
    "-XX:MaxRAMPercentage=75.0 -XX:InitialRAMPercentage=50.0 -XX:+ExitOnOutOfMemoryError -Djava.io.tmpdir=/tmp"
)
MEMORY_SIZES = tuple(str(m) for m in sorted({m for sizes in FARGATE_SIZES.values() for m in sizes}))
_IMAGE_TAG = r"^(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"

# Root parameters shared by every service tier (defined once; each service tier imports them).
CPU_ARCHITECTURE = Param(
    "CpuArchitecture",
    "CPU architecture of every service's tasks: ARM64 (Graviton, cheaper per vCPU) or X86_64. Images "
    "must be built for it (or multi-architecture).",
    default="ARM64",
    allowed_values=("ARM64", "X86_64"),
    label="CPU architecture",
    group=GROUP,
)
EXEC_ENABLED = boolean(
    "ExecEnabled",
    "Allow ECS Exec (aws ecs execute-command) into the services' containers. Needs a writable root "
    "file system, so containers are read-only only when this is false; must be false in prod.",
    "false",
    label="ECS Exec",
    group=GROUP,
)
HEALTH_CHECK_GRACE_PERIOD = Param(
    "HealthCheckGracePeriod",
    "Seconds ECS ignores failing load balancer health checks of a new task while the JVM starts.",
    type="Number",
    default="120",
    min_value=60,
    max_value=1800,
    constraint="60-1800 seconds (a Spring Boot JVM needs at least a minute)",
    label="Health check grace period (s)",
    group=GROUP,
)
COLLECTOR_IMAGE = Param(
    "CollectorImage",
    "AWS Distro for OpenTelemetry collector sidecar image (traces to X-Ray), pinned to a version (never latest).",
    default="public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3",
    allowed_pattern=r"^[a-z0-9.-]+(/[a-z0-9._-]+)+:(?!latest$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$",
    constraint="an image reference with an explicit version tag other than latest",
    label="OpenTelemetry collector image",
    group=GROUP,
)
UNTAGGED_IMAGE_EXPIRY_DAYS = Param(
    "UntaggedImageExpiryDays",
    "Days an untagged image stays in a service repository before the lifecycle policy expires it.",
    type="Number",
    default="7",
    min_value=1,
    max_value=365,
    constraint="1-365 days",
    label="Untagged image expiry (days)",
    group=GROUP,
)
TAGGED_IMAGES_KEPT = Param(
    "TaggedImagesKept",
    "Tagged images each service repository keeps (older ones expire); enough to roll back and audit.",
    type="Number",
    default="50",
    min_value=5,
    max_value=1000,
    constraint="5-1000 images",
    label="Tagged images kept",
    group=GROUP,
)
SHARED_PARAMS = (
    CPU_ARCHITECTURE,
    EXEC_ENABLED,
    HEALTH_CHECK_GRACE_PERIOD,
    COLLECTOR_IMAGE,
    UNTAGGED_IMAGE_EXPIRY_DAYS,
    TAGGED_IMAGES_KEPT,
)

SHARED_RULES = (
    Rule(
        "ExecDisabledInProduction",
        "ECS Exec (ExecEnabled) must be false in prod",
        Equals("ExecEnabled", "false"),
        when=Equals("Environment", "prod"),
    ),
)

# What every service tier consumes from the other tiers.
COMMON_INPUTS = (
    LOG_RETENTION_DAYS,
    LOGS_KEY_ARN,
    DATA_KEY_ARN,
    SECRETS_KEY_ARN,
    VPC_ID,
    APP_SUBNET_IDS,
    group_param("App"),
    contracts.CLUSTER_NAME,
    contracts.HTTPS_LISTENER_ARN,
    contracts.LOAD_BALANCER_FULL_NAME,
    contracts.EXEC_LOG_GROUP_ARN,
    contracts.ALARM_TOPIC_ARN,
    contracts.DATABASE_ENDPOINT,
    contracts.DATABASE_PORT,
    contracts.DATABASE_NAME,
    contracts.DATABASE_SECRET_ARN,
    contracts.CACHE_ENDPOINT,
    contracts.CACHE_PORT,
    contracts.CACHE_AUTH_SECRET_ARN,
    contracts.CONFIG_PARAMETER_PATH,
)


def tier_name(service: ServiceConfig) -> str:
    """``service-<name>``: the tier (and template file) of ``service``."""
    return f"service-{service.name}"


def service_params(service: ServiceConfig) -> tuple[Param, ...]:
    """The service's own root parameters, named ``<PascalName><Setting>``, defaults from the config."""
    prefix, group = pascal(service.name), f"Service {service.name}"

    def count(setting: str, description: str, default: int, low: int, label: str) -> Param:
        return Param(
            f"{prefix}{setting}",
            description,
            type="Number",
            default=str(default),
            min_value=low,
            max_value=100,
            constraint=f"{low}-100 tasks",
            label=f"{service.name}: {label}",
            group=group,
        )

    return (
        Param(
            f"{prefix}ImageTag",
            f"Tag of the {service.name} image in its ECR repository to run (tags are immutable; not latest).",
            allowed_pattern=_IMAGE_TAG,
            constraint="a Docker tag: letters, digits, '_', '.', '-', at most 128 characters, not latest",
            label=f"{service.name}: image tag",
            group=group,
        ),
        Param(
            f"{prefix}Cpu",
            f"CPU units of each {service.name} task (1024 = 1 vCPU); the memory must suit it.",
            default=str(service.cpu),
            allowed_values=tuple(str(cpu) for cpu in FARGATE_SIZES),
            label=f"{service.name}: CPU units",
            group=group,
        ),
        Param(
            f"{prefix}Memory",
            f"Memory (MiB) of each {service.name} task; valid Fargate sizes for its CPU only (see Rules).",
            default=str(service.memory),
            allowed_values=MEMORY_SIZES,
            label=f"{service.name}: memory (MiB)",
            group=group,
        ),
        count(
            "DesiredCount",
            f"Tasks of {service.name} to run on create and update (0 to bootstrap).",
            service.desired_count,
            0,
            "desired tasks",
        ),
        count(
            "MinCapacity",
            f"Fewest tasks auto scaling leaves {service.name} with.",
            service.min_capacity,
            0,
            "minimum tasks",
        ),
        count(
            "MaxCapacity", f"Most tasks auto scaling gives {service.name}.", service.max_capacity, 1, "maximum tasks"
        ),
        Param(
            f"{prefix}RequestsPerTarget",
            f"Load balancer requests per {service.name} task per minute that request-count scaling aims for.",
            type="Number",
            default=str(service.requests_per_target),
            min_value=10,
            max_value=100000,
            constraint="10-100000 requests per task per minute",
            label=f"{service.name}: requests per task per minute",
            group=group,
        ),
    )


def size_rules(service: ServiceConfig) -> tuple[Rule, ...]:
    """One Rule per Fargate CPU size: the service's memory must be valid with its CPU."""
    prefix = pascal(service.name)
    return tuple(
        Rule(
            f"{prefix}FargateSize{cpu}",
            f"{service.name}: with {cpu} CPU units, memory must be one of {', '.join(str(m) for m in sizes)} MiB",
            OneOf(f"{prefix}Memory", tuple(str(m) for m in sizes)),
            when=Equals(f"{prefix}Cpu", str(cpu)),
        )
        for cpu, sizes in FARGATE_SIZES.items()
    )


def _queues(service: ServiceConfig) -> tuple[str, ...]:
    """Queues the service touches (consumes, then sends), once each."""
    return tuple(dict.fromkeys(service.consumes + service.sends))


def _wired_inputs(service: ServiceConfig) -> tuple[Param, ...]:
    """The per-resource inputs named by the service's access list."""
    inputs: list[Param] = []
    if service.partner_api_key:
        inputs.append(contracts.PARTNER_API_KEY_SECRET_ARN)
    for table in service.tables:
        inputs += [contracts.table_name(table), contracts.table_arn(table)]
    for queue in _queues(service):
        inputs += [contracts.queue_url(queue), contracts.queue_arn(queue)]
    inputs += [contracts.topic_arn(topic) for topic in service.publishes]
    return tuple(inputs)


def make_tier(service: ServiceConfig) -> Tier:
    """The contract of ``service``'s tier; its template is built by :func:`build`."""
    prefix = pascal(service.name)
    return Tier(
        name=tier_name(service),
        description=f"the {service.name} service on Fargate behind the shared HTTPS listener",
        inputs=COMMON_INPUTS + _wired_inputs(service) + SHARED_PARAMS + service_params(service),
        outputs=(
            Output(f"{prefix}RepositoryUri", f"ECR repository of the {service.name} images", expose=True),
            Output(f"{prefix}ServiceName", f"ECS service name of {service.name}", expose=True),
        ),
        build=partial(build, service.name),
        rules=SHARED_RULES + size_rules(service),
    )


def tiers(config: PlatformConfig) -> tuple[Tier, ...]:
    """One tier per configured service, in configuration order."""
    return tuple(make_tier(service) for service in config.services)


def listener_priority(config: PlatformConfig, name: str) -> int:
    """Listener rule priority of service ``name``: (position + 1) * 10, stable when services are appended."""
    return ([s.name for s in config.services].index(name) + 1) * LISTENER_PRIORITY_STEP


def _env_name(name: str, suffix: str) -> str:
    """``payments`` + ``QUEUE_URL`` -> ``PAYMENTS_QUEUE_URL``."""
    return f"{name.upper().replace('-', '_')}_{suffix}"


# -- resources, in template order -------------------------------------------------------------


def _conditions(tt: TierTemplate) -> None:
    tt.condition("ExecOn", CfnEquals(tt.ref("ExecEnabled"), "true"))


def _lifecycle_policy() -> Sub:
    """Expire untagged images after N days; keep the newest N tagged images."""
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Expire untagged images",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": "${UntaggedImageExpiryDays}",
                },
                "action": {"type": "expire"},
            },
            {
                "rulePriority": 2,
                "description": "Keep the newest tagged images",
                "selection": {
                    "tagStatus": "tagged",
                    "tagPatternList": ["*"],
                    "countType": "imageCountMoreThan",
                    "countNumber": "${TaggedImagesKept}",
                },
                "action": {"type": "expire"},
            },
        ]
    }
    # The counts are numbers in the policy JSON: drop the quotes around their ${} placeholders.
    text = json.dumps(policy, separators=(",", ":"))
    for name in ("UntaggedImageExpiryDays", "TaggedImagesKept"):
        text = text.replace(f'"${{{name}}}"', f"${{{name}}}")
    return Sub(text)


def _repository(tt: TierTemplate, service: ServiceConfig) -> Repository:
    return tt.add(
        Repository(
            "Repository",
            RepositoryName=physical_name(service.name, "/"),
            ImageScanningConfiguration=ImageScanningConfiguration(ScanOnPush=True),
            ImageTagMutability="IMMUTABLE",
            EncryptionConfiguration=EncryptionConfiguration(EncryptionType="KMS", KmsKey=tt.ref("DataKeyArn")),
            LifecyclePolicy=LifecyclePolicy(LifecyclePolicyText=_lifecycle_policy()),
            EmptyOnDelete=False,
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )


def _secrets(tt: TierTemplate, service: ServiceConfig) -> list[Secret]:
    """Container secrets, each one JSON key of a secret (the data tier's formats): the database user of
    the RDS-managed secret, the cache AUTH ``token``, the partner ``apiKey``."""
    secrets = [
        Secret(Name="SPRING_DATASOURCE_USERNAME", ValueFrom=Sub("${DatabaseSecretArn}:username::")),
        Secret(Name="SPRING_DATASOURCE_PASSWORD", ValueFrom=Sub("${DatabaseSecretArn}:password::")),
        Secret(Name="SPRING_DATA_REDIS_PASSWORD", ValueFrom=Sub("${CacheAuthSecretArn}:token::")),
    ]
    if service.partner_api_key:
        secrets.append(Secret(Name="PARTNER_API_KEY", ValueFrom=Sub("${PartnerApiKeySecretArn}:apiKey::")))
    return secrets


def secret_arns(tt: TierTemplate, service: ServiceConfig) -> list[Ref]:
    """The secrets the service's containers read (the execution role may read exactly these)."""
    names = ["DatabaseSecretArn", "CacheAuthSecretArn"] + (
        ["PartnerApiKeySecretArn"] if service.partner_api_key else []
    )
    return [tt.ref(name) for name in names]


def _environment(tt: TierTemplate, service: ServiceConfig) -> list[Environment]:
    """Plain (non-secret) settings from the wired outputs, sorted by name."""
    values: dict[str, object] = {
        "SPRING_PROFILES_ACTIVE": tt.ref("Environment"),
        "SERVER_PORT": str(service.port),
        "JAVA_TOOL_OPTIONS": JAVA_TOOL_OPTIONS,
        "SPRING_DATASOURCE_URL": Sub(
            "jdbc:postgresql://${DatabaseEndpoint}:${DatabasePort}/${DatabaseName}?sslmode=require"
        ),
        "DATABASE_HOST": tt.ref("DatabaseEndpoint"),
        "DATABASE_PORT": tt.ref("DatabasePort"),
        "DATABASE_NAME": tt.ref("DatabaseName"),
        "SPRING_DATA_REDIS_HOST": tt.ref("CacheEndpoint"),
        "SPRING_DATA_REDIS_PORT": tt.ref("CachePort"),
        "SPRING_DATA_REDIS_SSL_ENABLED": "true",
        "CONFIG_PARAMETER_PATH": tt.ref("ConfigParameterPath"),
        "AWS_REGION": Ref("AWS::Region"),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{XRAY_PORT}",
        # OpenTelemetry SDK / ADOT Java agent settings: traces to the sidecar over the task's loopback.
        "OTEL_SERVICE_NAME": service.name,
        "OTEL_RESOURCE_ATTRIBUTES": Sub("deployment.environment=${Environment}"),
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{OTLP_HTTP_PORT}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_PROPAGATORS": "tracecontext,baggage,xray",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    for table in service.tables:
        values[_env_name(table, "TABLE_NAME")] = tt.ref(contracts.table_name(table).name)
    for queue in _queues(service):
        values[_env_name(queue, "QUEUE_URL")] = tt.ref(contracts.queue_url(queue).name)
    for topic in service.publishes:
        values[_env_name(topic, "TOPIC_ARN")] = tt.ref(contracts.topic_arn(topic).name)
    return [Environment(Name=name, Value=values[name]) for name in sorted(values)]


def _awslogs(group: object, prefix: str) -> LogConfiguration:
    return LogConfiguration(
        LogDriver="awslogs",
        Options={"awslogs-group": Ref(group), "awslogs-region": Ref("AWS::Region"), "awslogs-stream-prefix": prefix},
    )


def _app_container(tt: TierTemplate, service: ServiceConfig, repository: Repository, logs: object) -> object:
    prefix = pascal(service.name)
    return ContainerDefinition(
        Name=service.name,
        Image=Join(":", [GetAtt(repository, "RepositoryUri"), tt.ref(f"{prefix}ImageTag")]),
        Essential=True,
        PortMappings=[PortMapping(ContainerPort=service.port, Protocol="tcp", Name="http", AppProtocol="http")],
        Environment=_environment(tt, service),
        Secrets=_secrets(tt, service),
        LogConfiguration=_awslogs(logs, service.name),
        # CMD-SHELL so the image's curl is found on PATH; the image must ship curl.
        HealthCheck=HealthCheck(
            Command=["CMD-SHELL", f"curl -fsS -o /dev/null localhost:{service.port}{service.health_path} || exit 1"],
            Interval=30,
            Timeout=5,
            Retries=3,
            StartPeriod=HEALTH_START_PERIOD_SECONDS,
        ),
        User=RUN_AS,
        ReadonlyRootFilesystem=If("ExecOn", False, True),
        MountPoints=[MountPoint(SourceVolume=TMP_VOLUME, ContainerPath="/tmp", ReadOnly=False)],
        LinuxParameters=LinuxParameters(InitProcessEnabled=True),
        StopTimeout=STOP_TIMEOUT_SECONDS,
        DependsOn=[ContainerDependency(ContainerName=COLLECTOR_CONTAINER, Condition="START")],
    )


def _collector_container(tt: TierTemplate, logs: object) -> object:
    """ADOT collector sidecar; non-essential, so a tracing outage never stops the service."""
    return ContainerDefinition(
        Name=COLLECTOR_CONTAINER,
        Image=tt.ref("CollectorImage"),
        Essential=False,
        Cpu=64,
        MemoryReservation=128,
        Environment=[
            Environment(Name="AWS_REGION", Value=Ref("AWS::Region")),
            Environment(Name="AOT_CONFIG_CONTENT", Value=json.dumps(COLLECTOR_CONFIG, sort_keys=True)),
        ],
        HealthCheck=HealthCheck(Command=["/healthcheck"], Interval=30, Timeout=5, Retries=3, StartPeriod=15),
        LogConfiguration=_awslogs(logs, "otel"),
        User=RUN_AS,
        ReadonlyRootFilesystem=True,
    )


def _execution_role(tt: TierTemplate, service: ServiceConfig, repository: Repository, logs: list) -> Role:
    """Pull this repository, write these log groups, read exactly these secrets with the secrets key."""
    return tt.add(
        Role(
            "ExecutionRole",
            AssumeRolePolicyDocument=assume_role("ecs-tasks.amazonaws.com"),
            Policies=[
                inline_policy(
                    "start-task",
                    allow_unscoped("AuthenticateToEcr", actions("ecr", "GetAuthorizationToken")),
                    allow(
                        "PullServiceImage",
                        actions("ecr", "BatchCheckLayerAvailability", "GetDownloadUrlForLayer", "BatchGetImage"),
                        [GetAtt(repository, "Arn")],
                    ),
                    allow(
                        "WriteContainerLogs",
                        actions("logs", "CreateLogStream", "PutLogEvents"),
                        [GetAtt(group, "Arn") for group in logs],
                    ),
                    allow("ReadServiceSecrets", actions("secretsmanager", "GetSecretValue"), secret_arns(tt, service)),
                    allow(
                        "DecryptSecrets",
                        actions("kms", "Decrypt"),
                        [tt.ref("SecretsKeyArn")],
                        _via("secretsmanager"),
                    ),
                )
            ],
        )
    )


def _via(*services: str) -> StringEquals:
    """Condition: the key is used only through these AWS services (``kms:ViaService``)."""
    values = regional_endpoints(*services)
    return StringEquals({"kms:ViaService": values if len(values) > 1 else values[0]})


def _task_statements(tt: TierTemplate, service: ServiceConfig) -> list:
    """What the application itself may do: exactly its tables, queues, topics and configuration."""
    statements = []
    if service.tables:
        arns = [tt.ref(contracts.table_arn(t).name) for t in service.tables]
        statements.append(
            allow(
                "UseTables",
                actions(
                    "dynamodb",
                    "GetItem",
                    "BatchGetItem",
                    "Query",
                    "PutItem",
                    "UpdateItem",
                    "DeleteItem",
                    "BatchWriteItem",
                    "ConditionCheckItem",
                    "DescribeTable",
                ),
                arns + [Sub(f"${{{contracts.table_arn(t).name}}}/index/*") for t in service.tables],
            )
        )
    if service.consumes:
        statements.append(
            allow(
                "ConsumeQueues",
                actions("sqs", "ReceiveMessage", "DeleteMessage", "ChangeMessageVisibility", "GetQueueAttributes"),
                [tt.ref(contracts.queue_arn(q).name) for q in service.consumes],
            )
        )
    if service.sends:
        statements.append(
            allow(
                "SendToQueues",
                actions("sqs", "SendMessage"),
                [tt.ref(contracts.queue_arn(q).name) for q in service.sends],
            )
        )
    if service.publishes:
        statements.append(
            allow(
                "PublishToTopics",
                actions("sns", "Publish"),
                [tt.ref(contracts.topic_arn(t).name) for t in service.publishes],
            )
        )
    if service.tables or service.consumes or service.sends or service.publishes:
        statements.append(
            allow(
                "UseDataKeyThroughServices",
                actions("kms", "Decrypt", "GenerateDataKey"),
                [tt.ref("DataKeyArn")],
                _via("sqs", "sns", "dynamodb"),
            )
        )
    statements += [
        # ConfigParameterPath starts and ends with "/": the wildcard covers the path (for
        # GetParametersByPath) and every parameter under it.
        allow(
            "ReadConfiguration",
            actions("ssm", "GetParameter", "GetParameters", "GetParametersByPath"),
            [Sub("arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterPath}*")],
        ),
        allow_unscoped(
            "SendTraces",
            actions(
                "xray",
                "PutTraceSegments",
                "PutTelemetryRecords",
                "GetSamplingRules",
                "GetSamplingTargets",
                "GetSamplingStatisticSummaries",
            ),
        ),
    ]
    return statements


def _exec_policy(tt: TierTemplate) -> object:
    """ECS Exec sessions: the SSM channels, the session key (the data key, set on the cluster by the
    ingress tier) and the encrypted session log group; only while ``ExecEnabled`` is true."""
    return inline_policy(
        "ecs-exec",
        allow_unscoped(
            "OpenExecSessions",
            actions(
                "ssmmessages", "CreateControlChannel", "CreateDataChannel", "OpenControlChannel", "OpenDataChannel"
            ),
        ),
        allow("DecryptExecSessions", actions("kms", "Decrypt"), [tt.ref("DataKeyArn")]),
        # The agent checks the session log group is encrypted; DescribeLogGroups lists groups, so it is
        # scoped to this account's and Region's log groups rather than to one group.
        allow(
            "FindExecLogGroup",
            actions("logs", "DescribeLogGroups"),
            [Sub("arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*")],
        ),
        allow(
            "WriteExecSessionLogs",
            actions("logs", "CreateLogStream", "DescribeLogStreams", "PutLogEvents"),
            [tt.ref("ExecLogGroupArn")],
        ),
    )


def _task_role(tt: TierTemplate, service: ServiceConfig) -> Role:
    return tt.add(
        Role(
            "TaskRole",
            AssumeRolePolicyDocument=assume_role("ecs-tasks.amazonaws.com"),
            Policies=[
                inline_policy("application", *_task_statements(tt, service)),
                If("ExecOn", _exec_policy(tt), NoValue),
            ],
        )
    )


def _task_definition(tt: TierTemplate, service: ServiceConfig, repository: Repository) -> TaskDefinition:
    app_logs = log_group(tt, "AppLogGroup")
    collector_logs = log_group(tt, "CollectorLogGroup")
    execution = _execution_role(tt, service, repository, [app_logs, collector_logs])
    task = _task_role(tt, service)
    prefix = pascal(service.name)
    return tt.add(
        TaskDefinition(
            "TaskDefinition",
            Family=physical_name(service.name),
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu=tt.ref(f"{prefix}Cpu"),
            Memory=tt.ref(f"{prefix}Memory"),
            RuntimePlatform=RuntimePlatform(CpuArchitecture=tt.ref("CpuArchitecture"), OperatingSystemFamily="LINUX"),
            ExecutionRoleArn=GetAtt(execution, "Arn"),
            TaskRoleArn=GetAtt(task, "Arn"),
            Volumes=[Volume(Name=TMP_VOLUME)],
            ContainerDefinitions=[
                _app_container(tt, service, repository, app_logs),
                _collector_container(tt, collector_logs),
            ],
        )
    )


def _load_balancing(tt: TierTemplate, service: ServiceConfig, priority: int) -> tuple[TargetGroup, ListenerRule]:
    group = tt.add(
        TargetGroup(
            "TargetGroup",
            TargetType="ip",
            Protocol="HTTP",
            ProtocolVersion="HTTP1",
            Port=service.port,
            VpcId=tt.ref("VpcId"),
            HealthCheckEnabled=True,
            HealthCheckProtocol="HTTP",
            HealthCheckPort="traffic-port",
            HealthCheckPath=service.health_path,
            HealthCheckIntervalSeconds=15,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            Matcher=Matcher(HttpCode="200"),
            TargetGroupAttributes=[
                TargetGroupAttribute(
                    Key="deregistration_delay.timeout_seconds", Value=str(DEREGISTRATION_DELAY_SECONDS)
                ),
            ],
        )
    )
    conditions = [Condition(Field="path-pattern", PathPatternConfig=PathPatternConfig(Values=[service.path]))]
    if service.host:
        conditions.append(Condition(Field="host-header", HostHeaderConfig=HostHeaderConfig(Values=[service.host])))
    rule = tt.add(
        ListenerRule(
            "ListenerRule",
            ListenerArn=tt.ref("HttpsListenerArn"),
            Priority=priority,
            Conditions=conditions,
            Actions=[ListenerRuleAction(Type="forward", TargetGroupArn=Ref(group))],
        )
    )
    return group, rule


def _alarms(tt: TierTemplate, service: ServiceConfig, group: TargetGroup) -> list[Alarm]:
    """Alarms that fail (and roll back) a deployment: target 5xx responses, unhealthy targets."""
    dimensions = [
        MetricDimension(Name="LoadBalancer", Value=tt.ref("LoadBalancerFullName")),
        MetricDimension(Name="TargetGroup", Value=GetAtt(group, "TargetGroupFullName")),
    ]
    common = {
        "Namespace": "AWS/ApplicationELB",
        "Dimensions": dimensions,
        "Period": 60,
        "EvaluationPeriods": 3,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
        "TreatMissingData": "notBreaching",
        "AlarmActions": [tt.ref("AlarmTopicArn")],
        "OKActions": [tt.ref("AlarmTopicArn")],
    }
    return [
        tt.add(
            Alarm(
                "Target5xxAlarm",
                AlarmDescription=f"{service.name}: {TARGET_5XX_PER_MINUTE}+ 5xx responses a minute from the "
                "tasks (fails and rolls back a deployment)",
                MetricName="HTTPCode_Target_5XX_Count",
                Statistic="Sum",
                Threshold=TARGET_5XX_PER_MINUTE,
                DatapointsToAlarm=2,
                **common,
            )
        ),
        tt.add(
            Alarm(
                "UnhealthyTargetsAlarm",
                AlarmDescription=f"{service.name}: a task failed load balancer health checks for 3 minutes "
                "(fails and rolls back a deployment)",
                MetricName="UnHealthyHostCount",
                Statistic="Maximum",
                Threshold=1,
                DatapointsToAlarm=3,
                **common,
            )
        ),
    ]


def _service(
    tt: TierTemplate,
    service: ServiceConfig,
    task: TaskDefinition,
    group: TargetGroup,
    rule: ListenerRule,
    alarms: list[Alarm],
) -> Service:
    return tt.add(
        Service(
            "Service",
            # The target group must be attached to the listener before the service registers tasks.
            DependsOn=[rule.title],
            Cluster=tt.ref("ClusterName"),
            TaskDefinition=Ref(task),
            DesiredCount=tt.ref(f"{pascal(service.name)}DesiredCount"),
            # No LaunchType and no CapacityProviderStrategy: the cluster's default strategy (ingress tier,
            # FARGATE/FARGATE_SPOT weights per environment) places the tasks.
            PlatformVersion="LATEST",
            NetworkConfiguration=NetworkConfiguration(
                AwsvpcConfiguration=AwsvpcConfiguration(
                    Subnets=tt.ref("AppSubnetIds"),
                    SecurityGroups=[tt.ref("AppSecurityGroupId")],
                    AssignPublicIp="DISABLED",
                )
            ),
            LoadBalancers=[
                LoadBalancer(ContainerName=service.name, ContainerPort=service.port, TargetGroupArn=Ref(group))
            ],
            HealthCheckGracePeriodSeconds=tt.ref("HealthCheckGracePeriod"),
            DeploymentController=DeploymentController(Type="ECS"),
            DeploymentConfiguration=DeploymentConfiguration(
                Strategy="ROLLING",
                MinimumHealthyPercent=100,
                MaximumPercent=200,
                DeploymentCircuitBreaker=DeploymentCircuitBreaker(Enable=True, Rollback=True),
                Alarms=DeploymentAlarms(AlarmNames=[Ref(a) for a in alarms], Enable=True, Rollback=True),
            ),
            AvailabilityZoneRebalancing="ENABLED",
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            EnableExecuteCommand=If("ExecOn", True, False),
        )
    )


def _scaling(tt: TierTemplate, service: ServiceConfig, ecs_service: Service, group: TargetGroup) -> None:
    """Target tracking on CPU, memory and requests per task; the ECS service-linked role does the scaling."""
    prefix = pascal(service.name)
    # No RoleARN: Application Auto Scaling then uses its service-linked role for ECS.
    target = tt.add(
        ScalableTarget(
            "ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", tt.ref("ClusterName"), GetAtt(ecs_service, "Name")]),
            MinCapacity=tt.ref(f"{prefix}MinCapacity"),
            MaxCapacity=tt.ref(f"{prefix}MaxCapacity"),
        )
    )
    policies = {
        "Cpu": ("ECSServiceAverageCPUUtilization", CPU_TARGET_PERCENT, None),
        "Memory": ("ECSServiceAverageMemoryUtilization", MEMORY_TARGET_PERCENT, None),
        "RequestCount": (
            "ALBRequestCountPerTarget",
            tt.ref(f"{prefix}RequestsPerTarget"),
            Join("/", [tt.ref("LoadBalancerFullName"), GetAtt(group, "TargetGroupFullName")]),
        ),
    }
    for name, (metric, value, label) in policies.items():
        spec = {"PredefinedMetricType": metric}
        if label is not None:
            spec["ResourceLabel"] = label
        tt.add(
            ScalingPolicy(
                f"{name}ScalingPolicy",
                PolicyName=f"{service.name}-{name.lower()}-target-tracking",
                PolicyType="TargetTrackingScaling",
                ScalingTargetId=Ref(target),
                TargetTrackingScalingPolicyConfiguration=TargetTrackingScalingPolicyConfiguration(
                    PredefinedMetricSpecification=PredefinedMetricSpecification(**spec),
                    TargetValue=value,
                    ScaleOutCooldown=SCALE_OUT_COOLDOWN,
                    ScaleInCooldown=SCALE_IN_COOLDOWN,
                ),
            )
        )


def build(name: str, config: PlatformConfig) -> Template:
    """The template of service ``name``'s tier."""
    service = config.service(name)
    tt = TierTemplate(make_tier(service))
    _conditions(tt)
    repository = _repository(tt, service)
    task = _task_definition(tt, service, repository)
    group, rule = _load_balancing(tt, service, listener_priority(config, name))
    alarms = _alarms(tt, service, group)
    ecs_service = _service(tt, service, task, group, rule, alarms)
    _scaling(tt, service, ecs_service, group)
    prefix = pascal(service.name)
    tt.output(f"{prefix}RepositoryUri", GetAtt(repository, "RepositoryUri"))
    tt.output(f"{prefix}ServiceName", GetAtt(ecs_service, "Name"))
    return tt.finish()
