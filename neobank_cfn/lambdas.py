"""Lambda functions, made one way: inline Python from ``neobank_cfn/functions``, in the VPC, traced,
with a KMS-encrypted environment, an explicit log group and a role that grants only what the function
needs.

A tier using :func:`vpc_function` must take these inputs: ``AppSubnetIds``, ``LambdaSecurityGroupId``,
``SecretsKeyArn`` (environment encryption), ``LogsKeyArn`` and ``LogRetentionDays`` (the log group).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from awacs.aws import Statement, StringEquals
from troposphere import GetAtt, Ref, Sub
from troposphere.awslambda import Code, Environment, Function, LoggingConfig, TracingConfig, VPCConfig
from troposphere.iam import Role

from neobank_cfn.functions import HANDLER, source
from neobank_cfn.iam import actions, allow, allow_unscoped, assume_role, inline_policy, regional_endpoints
from neobank_cfn.logs import log_group
from neobank_cfn.naming import physical_name
from neobank_cfn.tier import TierTemplate

# The newest Python runtime both Lambda and cfn-lint know, on Graviton (cheaper per GB-second).
RUNTIME = "python3.13"
ARCHITECTURE = "arm64"
# The ENI actions a VPC function's role needs (AWS's AWSLambdaVPCAccessExecutionRole lists the same).
VPC_ACCESS_ACTIONS = actions(
    "ec2",
    "CreateNetworkInterface",
    "DescribeNetworkInterfaces",
    "DescribeSubnets",
    "DeleteNetworkInterface",
    "AssignPrivateIpAddresses",
    "UnassignPrivateIpAddresses",
)


class FunctionLoggingConfig(LoggingConfig):
    """``LoggingConfig`` of a function (troposphere's class lacks ``LogFormat``)."""

    props = {**LoggingConfig.props, "LogFormat": (str, False)}


@dataclass(frozen=True)
class FunctionSpec:
    """One function: its logical id, name suffix, source module and what it is allowed to do."""

    logical: str  # e.g. PartnerAuthorizer -> PartnerAuthorizerFunction, ...Role, ...LogGroup
    name: str  # physical name suffix, e.g. partner-authorizer
    module: str  # module in neobank_cfn/functions
    description: str
    environment: dict[str, object]
    statements: tuple[Statement, ...]  # least-privilege grants beyond logs, tracing, ENIs and the env key
    condition: str | None = None
    timeout: int = 10
    memory: int = 256


def via_service(*services: str) -> StringEquals:
    """``kms:ViaService`` condition: the key may be used only through these services in this Region."""
    return StringEquals({"kms:ViaService": regional_endpoints(*services)})


def function_name(spec: FunctionSpec) -> Sub:
    """``<Application>-<Environment>-<name>``: the function's physical name."""
    return physical_name(spec.name)


def _role(tt: TierTemplate, spec: FunctionSpec, logs: object) -> Role:
    statements: Sequence[Statement] = (
        allow("WriteOwnLogGroup", actions("logs", "CreateLogStream", "PutLogEvents"), [GetAtt(logs, "Arn")]),
        allow_unscoped("SendTraces", actions("xray", "PutTraceSegments", "PutTelemetryRecords")),
        allow_unscoped("ManageVpcNetworkInterfaces", VPC_ACCESS_ACTIONS),
        allow("DecryptEnvironment", actions("kms", "Decrypt"), [tt.ref("SecretsKeyArn")], via_service("lambda")),
        *spec.statements,
    )
    extra = {"Condition": spec.condition} if spec.condition else {}
    return tt.add(
        Role(
            f"{spec.logical}Role",
            AssumeRolePolicyDocument=assume_role("lambda.amazonaws.com"),
            Policies=[inline_policy(spec.name, *statements)],
            **extra,
        )
    )


def vpc_function(tt: TierTemplate, spec: FunctionSpec, concurrency: object) -> Function:
    """A function in the application subnets, with its role and log group; returns the function.

    The log group is named ``/aws/lambda/<function name>`` and is created even when the function's
    condition is false: log groups are retained on delete, so a conditional one would block turning the
    function back on ("already exists"), and an empty log group costs nothing.
    """
    logs = log_group(tt, f"{spec.logical}LogGroup", Sub("/aws/lambda/${Name}", Name=function_name(spec)))
    role = _role(tt, spec, logs)
    extra = {"Condition": spec.condition} if spec.condition else {}
    return tt.add(
        Function(
            f"{spec.logical}Function",
            FunctionName=function_name(spec),
            Description=spec.description,
            Runtime=RUNTIME,
            Architectures=[ARCHITECTURE],
            Handler=HANDLER,
            Code=Code(ZipFile=source(spec.module)),
            Role=GetAtt(role, "Arn"),
            MemorySize=spec.memory,
            Timeout=spec.timeout,
            ReservedConcurrentExecutions=concurrency,
            TracingConfig=TracingConfig(Mode="Active"),
            KmsKeyArn=tt.ref("SecretsKeyArn"),
            Environment=Environment(Variables=spec.environment),
            VpcConfig=VPCConfig(SubnetIds=tt.ref("AppSubnetIds"), SecurityGroupIds=[tt.ref("LambdaSecurityGroupId")]),
            LoggingConfig=FunctionLoggingConfig(
                LogFormat="JSON", LogGroup=Ref(logs), ApplicationLogLevel="INFO", SystemLogLevel="WARN"
            ),
            **extra,
        )
    )
