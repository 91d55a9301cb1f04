"""Security groups and their rules, made one way.

Every group starts with no egress (a placeholder rule to 127.0.0.1/32 replaces the default allow-all,
which CloudFormation only removes when egress is declared inline); each allowed flow is then its own
ingress or egress resource with a Description, so groups can reference each other without cycles.
"""

from __future__ import annotations

from troposphere import Ref
from troposphere.ec2 import SecurityGroup, SecurityGroupEgress, SecurityGroupIngress, SecurityGroupRule

from neobank_cfn.tier import TierTemplate

NO_EGRESS = SecurityGroupRule(
    IpProtocol="icmp",
    FromPort=-1,
    ToPort=-1,
    CidrIp="127.0.0.1/32",
    Description="No egress unless a rule below allows it (replaces the default allow-all)",
)


def security_group(tt: TierTemplate, logical: str, description: str, vpc_id: object) -> SecurityGroup:
    """A security group in ``vpc_id`` that allows nothing until rules are added."""
    return tt.add(SecurityGroup(logical, GroupDescription=description, VpcId=vpc_id, SecurityGroupEgress=[NO_EGRESS]))


def _peer(source: SecurityGroup | None, cidr: object | None, field: str) -> dict:
    if (source is None) == (cidr is None):
        raise ValueError("give exactly one of a security group or a CIDR")
    return {field: Ref(source)} if source is not None else {"CidrIp": cidr}


def _rule(
    tt: TierTemplate,
    cls: type,
    logical: str,
    group: SecurityGroup,
    port: int,
    description: str,
    peer: dict,
    condition: str | None,
) -> SecurityGroupIngress | SecurityGroupEgress:
    extra = {"Condition": condition} if condition else {}
    return tt.add(
        cls(
            logical,
            GroupId=Ref(group),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            Description=description,
            **peer,
            **extra,
        )
    )


def ingress(
    tt: TierTemplate,
    logical: str,
    group: SecurityGroup,
    port: int,
    description: str,
    *,
    source: SecurityGroup | None = None,
    cidr: object | None = None,
    condition: str | None = None,
) -> SecurityGroupIngress:
    """Allow TCP ``port`` into ``group`` from the ``source`` group (or, for public listeners, a CIDR)."""
    peer = _peer(source, cidr, "SourceSecurityGroupId")
    return _rule(tt, SecurityGroupIngress, logical, group, port, description, peer, condition)


def egress(
    tt: TierTemplate,
    logical: str,
    group: SecurityGroup,
    port: int,
    description: str,
    *,
    destination: SecurityGroup | None = None,
    cidr: object | None = None,
) -> SecurityGroupEgress:
    """Allow TCP ``port`` out of ``group`` to the ``destination`` group (or a CIDR)."""
    peer = _peer(destination, cidr, "DestinationSecurityGroupId")
    return _rule(tt, SecurityGroupEgress, logical, group, port, description, peer, None)
