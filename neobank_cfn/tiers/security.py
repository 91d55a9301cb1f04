"""Security tier: one security group per component, chained by group reference rather than CIDR.

Flows allowed, and nothing else:

- API Gateway VPC link -> load balancer: 443 (the VPC link group has no ingress).
- Internet -> load balancer: 443, and 80 for the redirect, only when the load balancer is
  internet-facing (``LoadBalancerScheme``).
- Load balancer -> application: each service's container port (from the platform configuration).
- Application -> database 5432, -> cache 6379, -> HTTPS 443 (AWS APIs, partner APIs).
- Lambda functions: egress HTTPS 443 only.
"""

from __future__ import annotations

from troposphere import Equals as CfnEquals
from troposphere import Ref, Template

from neobank_cfn.config import PlatformConfig
from neobank_cfn.parameters import Param, wired
from neobank_cfn.security_groups import egress, ingress, security_group
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.network import VPC_ID

GROUP = "Security"
DATABASE_PORT = 5432
CACHE_PORT = 6379
HTTPS = 443
ANYWHERE = "0.0.0.0/0"

LOAD_BALANCER_SCHEME = Param(
    "LoadBalancerScheme",
    "internal: only API Gateway (through its VPC link) reaches the load balancer; internet-facing: "
    "the load balancer also takes HTTPS from the internet.",
    default="internal",
    allowed_values=("internal", "internet-facing"),
    label="Load balancer scheme",
    group="Ingress",
)

GROUPS = {
    "LoadBalancer": "Application Load Balancer",
    "App": "ECS tasks of the application services",
    "Database": "Aurora PostgreSQL cluster",
    "Cache": "ElastiCache replication group",
    "Lambda": "Lambda functions (authorizer, pre-processing)",
    "VpcLink": "API Gateway VPC link to the load balancer",
}


def group_param(component: str) -> Param:
    """The wired parameter carrying ``component``'s security group id (e.g. ``AppSecurityGroupId``)."""
    return wired(
        f"{component}SecurityGroupId",
        "AWS::EC2::SecurityGroup::Id",
        f"Security group: {GROUPS[component]}.",
        group=GROUP,
    )


def build(config: PlatformConfig) -> Template:
    """The security tier template."""
    tt = TierTemplate(TIER)
    public = tt.condition("InternetFacing", CfnEquals(tt.ref("LoadBalancerScheme"), "internet-facing"))
    internal = tt.condition("Internal", CfnEquals(tt.ref("LoadBalancerScheme"), "internal"))
    groups = {
        name: security_group(tt, f"{name}SecurityGroup", f"{purpose}", tt.ref("VpcId"))
        for name, purpose in GROUPS.items()
    }
    lb, app = groups["LoadBalancer"], groups["App"]

    ingress(tt, "LoadBalancerIngressHttpsFromVpcLink", lb, HTTPS, "HTTPS from the API Gateway VPC link",
            source=groups["VpcLink"], condition=internal)  # fmt: skip
    ingress(tt, "LoadBalancerIngressHttpsFromInternet", lb, HTTPS, "Public HTTPS listener",
            cidr=ANYWHERE, condition=public)  # fmt: skip
    ingress(tt, "LoadBalancerIngressHttpFromInternet", lb, 80, "Public HTTP listener (redirects to HTTPS only)",
            cidr=ANYWHERE, condition=public)  # fmt: skip
    egress(
        tt, "VpcLinkEgressHttpsToLoadBalancer", groups["VpcLink"], HTTPS, "HTTPS to the load balancer", destination=lb
    )

    for port in sorted({service.port for service in config.services}):
        names = ", ".join(s.name for s in config.services if s.port == port)
        egress(
            tt, f"LoadBalancerEgressToApp{port}", lb, port, f"To the containers on {port} ({names})", destination=app
        )
        ingress(tt, f"AppIngressFromLoadBalancer{port}", app, port, f"From the load balancer on {port} ({names})",
                source=lb)  # fmt: skip

    egress(tt, "AppEgressToDatabase", app, DATABASE_PORT, "PostgreSQL to the database", destination=groups["Database"])
    egress(tt, "AppEgressToCache", app, CACHE_PORT, "Redis (TLS) to the cache", destination=groups["Cache"])
    egress(tt, "AppEgressHttps", app, HTTPS, "HTTPS to AWS APIs and partner APIs", cidr=ANYWHERE)
    ingress(tt, "DatabaseIngressFromApp", groups["Database"], DATABASE_PORT, "PostgreSQL from the application",
            source=app)  # fmt: skip
    ingress(tt, "CacheIngressFromApp", groups["Cache"], CACHE_PORT, "Redis (TLS) from the application", source=app)
    egress(tt, "LambdaEgressHttps", groups["Lambda"], HTTPS, "HTTPS to AWS APIs", cidr=ANYWHERE)

    for name, group in groups.items():
        tt.output(f"{name}SecurityGroupId", Ref(group))
    return tt.finish()


TIER = Tier(
    name="security",
    description="security groups per component, chained by group reference",
    inputs=(VPC_ID, LOAD_BALANCER_SCHEME),
    outputs=tuple(Output(f"{name}SecurityGroupId", f"Security group: {purpose}") for name, purpose in GROUPS.items()),
    build=build,
)
