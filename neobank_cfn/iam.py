"""IAM policy documents, built with awacs through one helper per pattern so scoping is decided once.

Every statement names its resources. The only ``*`` resources allowed are for actions whose APIs
have no resource-level permissions; they go through :func:`allow_unscoped`, which accepts only the
actions listed in :data:`ACTIONS_WITHOUT_RESOURCE_PERMISSIONS` (the invariant tests read the same list).
"""

from __future__ import annotations

from collections.abc import Iterable

from awacs.aws import (
    Action,
    Allow,
    Bool,
    Condition,
    ConditionElement,
    Deny,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import Sub
from troposphere.iam import Policy as RolePolicy

ACCOUNT_ROOT = Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")

# Actions whose APIs have no resource-level permissions: the only ones allowed on Resource "*".
ACTIONS_WITHOUT_RESOURCE_PERMISSIONS = frozenset(
    {
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
        "ecr:GetAuthorizationToken",
        "ssmmessages:CreateControlChannel",
        "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel",
        "ssmmessages:OpenDataChannel",
        "cloudwatch:PutMetricData",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    }
)


def actions(service: str, *names: str) -> list[Action]:
    """``service:Name`` actions."""
    return [Action(service, name) for name in names]


def regional_endpoints(*services: str) -> list[Sub]:
    """``<service>.<region>.amazonaws.com`` for each service: the values ``kms:ViaService`` compares."""
    return [Sub(f"{service}.${{AWS::Region}}.amazonaws.com") for service in services]


def document(*statements: Statement) -> PolicyDocument:
    """A policy document of ``statements``."""
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def allow(
    sid: str, action_list: Iterable[Action], resources: Iterable[object], *conditions: ConditionElement
) -> Statement:
    """Allow ``action_list`` on exactly ``resources`` (never ``*``: see :func:`allow_unscoped`)."""
    resource_list = list(resources)
    if not resource_list or "*" in resource_list:
        raise ValueError(f"statement {sid}: name the resources; use allow_unscoped for APIs without them")
    kwargs: dict = {"Sid": sid, "Effect": Allow, "Action": list(action_list), "Resource": resource_list}
    if conditions:
        kwargs["Condition"] = Condition(list(conditions))
    return Statement(**kwargs)


def allow_unscoped(sid: str, action_list: Iterable[Action]) -> Statement:
    """Allow actions on ``*``: only those in :data:`ACTIONS_WITHOUT_RESOURCE_PERMISSIONS`.

    Their APIs cannot be scoped to a resource (AWS's Service Authorization Reference lists no
    resource type for them), so ``*`` is the narrowest grant that works.
    """
    action_list = list(action_list)
    unscoped = [a.JSONrepr() for a in action_list if a.JSONrepr() not in ACTIONS_WITHOUT_RESOURCE_PERMISSIONS]
    if unscoped:
        raise ValueError(f"statement {sid}: {', '.join(unscoped)} can be scoped to resources; use allow()")
    return Statement(Sid=sid, Effect=Allow, Action=action_list, Resource=["*"])


def service_principal(service: str) -> Principal:
    """The principal of an AWS service, e.g. ``ecs-tasks.amazonaws.com``."""
    return Principal("Service", [service])


def assume_role(service: str) -> PolicyDocument:
    """Trust policy letting ``service`` assume the role, only on behalf of this account."""
    return document(
        Statement(
            Effect=Allow,
            Principal=service_principal(service),
            Action=[Action("sts", "AssumeRole")],
            Condition=Condition([StringEquals({"aws:SourceAccount": Sub("${AWS::AccountId}")})]),
        )
    )


def deny_insecure_transport(sid: str, action_list: Iterable[Action], resources: Iterable[object]) -> Statement:
    """Deny any request made without TLS (``aws:SecureTransport`` false) on ``resources``."""
    return Statement(
        Sid=sid,
        Effect=Deny,
        Principal=Principal("*"),
        Action=list(action_list),
        Resource=list(resources),
        Condition=Condition([Bool({"aws:SecureTransport": "false"})]),
    )


def allow_principal(
    sid: str,
    principal: Principal,
    action_list: Iterable[Action],
    resources: Iterable[object],
    *conditions: ConditionElement,
) -> Statement:
    """Resource-policy statement: allow ``principal`` ``action_list`` on exactly ``resources``.

    For queue, topic and bucket policies; ``conditions`` (e.g. ``aws:SourceArn``) narrow a service
    principal to the one resource acting for this account.
    """
    resource_list = list(resources)
    if not resource_list or "*" in resource_list:
        raise ValueError(f"statement {sid}: name the resources the principal may act on")
    kwargs: dict = {
        "Sid": sid,
        "Effect": Allow,
        "Principal": principal,
        "Action": list(action_list),
        "Resource": resource_list,
    }
    if conditions:
        kwargs["Condition"] = Condition(list(conditions))
    return Statement(**kwargs)


def inline_policy(name: str, *statements: Statement) -> RolePolicy:
    """An inline role policy (``Policies`` entry) named ``name``."""
    return RolePolicy(PolicyName=name, PolicyDocument=document(*statements))
