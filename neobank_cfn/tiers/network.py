"""Network tier: the VPC, three subnet tiers per AZ, NAT, flow logs and VPC endpoints.

The VPC CIDR (a private /16 to /20) is cut by ``Fn::Cidr`` into 16 equal blocks: public subnets take
blocks 0-2, application subnets 3-5 and data subnets 6-8 (one per AZ), leaving 9-15 free for growth.
Two or three AZs, one NAT gateway or one per AZ, and the interface endpoints are Conditions over
parameters, so one template serves every environment. Data subnets have no route out of the VPC.
"""

from __future__ import annotations

from troposphere import And as CfnAnd
from troposphere import Condition as CfnCondition
from troposphere import Equals as CfnEquals
from troposphere import GetAtt, GetAZs, If, Join, Ref, Select, Split, Sub, Tags, Template
from troposphere.ec2 import (
    EIP,
    VPC,
    FlowLog,
    InternetGateway,
    NatGateway,
    Route,
    RouteTable,
    SecurityGroup,
    Subnet,
    SubnetRouteTableAssociation,
    VPCEndpoint,
    VPCGatewayAttachment,
)
from troposphere.iam import Role

from neobank_cfn.config import PlatformConfig
from neobank_cfn.iam import actions, allow, assume_role, inline_policy
from neobank_cfn.logs import log_group
from neobank_cfn.naming import physical_name
from neobank_cfn.parameters import LOG_RETENTION_DAYS, Param, boolean, wired
from neobank_cfn.rules import And, Equals, Rule
from neobank_cfn.security_groups import ingress, security_group
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.keys import LOGS_KEY_ARN

GROUP = "Network"
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
VPC_CIDR = Param(
    "VpcCidr",
    "IPv4 CIDR of the VPC: a private (RFC 1918) range from /16 to /20.",
    default="10.0.0.0/16",
    allowed_pattern=(
        rf"^(10\.{_OCTET}\.{_OCTET}\.{_OCTET}|172\.(1[6-9]|2[0-9]|3[01])\.{_OCTET}\.{_OCTET}"
        rf"|192\.168\.{_OCTET}\.{_OCTET})/(1[6-9]|20)$"
    ),
    constraint="a private IPv4 CIDR (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16) with a /16-/20 prefix",
    label="VPC CIDR",
    group=GROUP,
)
AZ_COUNT = Param(
    "AzCount",
    "Availability Zones to spread subnets over (3 for production).",
    default="2",
    allowed_values=("2", "3"),
    label="Availability Zones",
    group=GROUP,
)
NAT_GATEWAYS = Param(
    "NatGateways",
    "One shared NAT gateway (cheaper) or one per AZ (survives an AZ outage).",
    default="single",
    allowed_values=("single", "per-az"),
    label="NAT gateways",
    group=GROUP,
)
INTERFACE_ENDPOINTS = boolean(
    "InterfaceEndpoints",
    "Create interface endpoints (ECR, Logs, Secrets Manager, SSM, STS, KMS, X-Ray) so tasks reach AWS "
    "APIs without the NAT gateway.",
    "false",
    label="Interface endpoints",
    group=GROUP,
)

VPC_ID = wired("VpcId", "AWS::EC2::VPC::Id", "The platform VPC.", group=GROUP)
PUBLIC_SUBNET_IDS = wired(
    "PublicSubnetIds", "List<AWS::EC2::Subnet::Id>", "Public subnets (load balancer, NAT).", group=GROUP
)
APP_SUBNET_IDS = wired(
    "AppSubnetIds", "List<AWS::EC2::Subnet::Id>", "Private application subnets (tasks, functions).", group=GROUP
)
DATA_SUBNET_IDS = wired(
    "DataSubnetIds", "List<AWS::EC2::Subnet::Id>", "Private data subnets (no route out of the VPC).", group=GROUP
)

AZS = ("A", "B", "C")
INTERFACE_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "ssmmessages", "sts", "kms", "xray")
GATEWAY_SERVICES = ("s3", "dynamodb")
SUBNET_BLOCKS = {"Public": 0, "App": 3, "Data": 6}
PREFIX_BITS = {"16": 12, "17": 11, "18": 10, "19": 9, "20": 8}  # /prefix -> host bits of a 1/16 block


def _conditions(tt: TierTemplate) -> None:
    three = tt.condition("HasThreeAzs", CfnEquals(tt.ref("AzCount"), "3"))
    per_az = tt.condition("NatPerAz", CfnEquals(tt.ref("NatGateways"), "per-az"))
    tt.condition("NatInC", CfnAnd(CfnCondition(per_az), CfnCondition(three)))
    tt.condition("UseInterfaceEndpoints", CfnEquals(tt.ref("InterfaceEndpoints"), "true"))
    prefix = Select(1, Split("/", tt.ref("VpcCidr")))
    for length in list(PREFIX_BITS)[:-1]:  # the last prefix is the fallback of the Fn::If chain
        tt.condition(f"VpcPrefix{length}", CfnEquals(prefix, length))


def _az_condition(az: str) -> str | None:
    return "HasThreeAzs" if az == "C" else None


def _subnet_cidr(block: int) -> object:
    """CIDR of 1/16th block ``block`` of the VPC, whatever its prefix (/16-/20)."""
    lengths = list(PREFIX_BITS)
    value: object = Select(block, _cidr(PREFIX_BITS[lengths[-1]]))
    for length in reversed(lengths[:-1]):
        value = If(f"VpcPrefix{length}", Select(block, _cidr(PREFIX_BITS[length])), value)
    return value


def _cidr(bits: int) -> dict:
    return {"Fn::Cidr": [Ref("VpcCidr"), 16, bits]}


def _per_az(values: dict[str, object]) -> If:
    """A list with the C value only when there are three AZs."""
    return If("HasThreeAzs", [values[a] for a in AZS], [values[a] for a in AZS[:2]])


def _vpc(tt: TierTemplate) -> tuple[VPC, InternetGateway, VPCGatewayAttachment]:
    vpc = tt.add(
        VPC(
            "Vpc",
            CidrBlock=tt.ref("VpcCidr"),
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=Tags(Name=Sub("${Application}-${Environment}")),
        )
    )
    igw = tt.add(InternetGateway("InternetGateway"))
    attachment = tt.add(VPCGatewayAttachment("InternetGatewayAttachment", VpcId=Ref(vpc), InternetGatewayId=Ref(igw)))
    return vpc, igw, attachment


def _subnets(tt: TierTemplate, vpc: VPC, kind: str) -> dict[str, Subnet]:
    subnets = {}
    for index, az in enumerate(AZS):
        kwargs: dict = {
            "VpcId": Ref(vpc),
            "AvailabilityZone": Select(index, GetAZs("")),
            "CidrBlock": _subnet_cidr(SUBNET_BLOCKS[kind] + index),
            "MapPublicIpOnLaunch": False,
            "Tags": Tags(Name=physical_name(f"{kind.lower()}-{az.lower()}"), Tier=kind.lower()),
        }
        if _az_condition(az):
            kwargs["Condition"] = _az_condition(az)
        subnets[az] = tt.add(Subnet(f"{kind}Subnet{az}", **kwargs))
    return subnets


def _route_table(
    tt: TierTemplate, vpc: VPC, logical: str, subnets: dict[str, Subnet], azs: tuple[str, ...]
) -> RouteTable:
    condition = _az_condition(azs[0]) if len(azs) == 1 else None
    kwargs = {"Condition": condition} if condition else {}
    table = tt.add(RouteTable(logical, VpcId=Ref(vpc), **kwargs))
    for az in azs:
        extra = {"Condition": _az_condition(az)} if _az_condition(az) else {}
        tt.add(
            SubnetRouteTableAssociation(
                f"{subnets[az].title}RouteTableAssociation", SubnetId=Ref(subnets[az]), RouteTableId=Ref(table), **extra
            )
        )
    return table


def _nat_gateways(
    tt: TierTemplate, public: dict[str, Subnet], attachment: VPCGatewayAttachment
) -> dict[str, NatGateway]:
    conditions = {"A": None, "B": "NatPerAz", "C": "NatInC"}
    gateways = {}
    for az in AZS:
        extra = {"Condition": conditions[az]} if conditions[az] else {}
        eip = tt.add(EIP(f"NatEip{az}", Domain="vpc", DependsOn=[attachment.title], **extra))
        gateways[az] = tt.add(
            NatGateway(
                f"NatGateway{az}",
                AllocationId=GetAtt(eip, "AllocationId"),
                SubnetId=Ref(public[az]),
                ConnectivityType="public",
                **extra,
            )
        )
    return gateways


def _routing(
    tt: TierTemplate,
    vpc: VPC,
    igw: InternetGateway,
    attachment: VPCGatewayAttachment,
    subnets: dict[str, dict[str, Subnet]],
) -> dict[str, dict[str, object]]:
    """Route tables; returns the private route tables' refs by subnet kind and AZ (for gateway endpoints)."""
    public_table = _route_table(tt, vpc, "PublicRouteTable", subnets["Public"], AZS)
    tt.add(
        Route(
            "PublicDefaultRoute",
            RouteTableId=Ref(public_table),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=Ref(igw),
            DependsOn=[attachment.title],
        )
    )
    nats = _nat_gateways(tt, subnets["Public"], attachment)
    private: dict[str, dict[str, object]] = {"App": {}, "Data": {}}
    for az in AZS:
        app_table = _route_table(tt, vpc, f"AppRouteTable{az}", subnets["App"], (az,))
        nat = Ref(nats["A"]) if az == "A" else If("NatPerAz", Ref(nats[az]), Ref(nats["A"]))
        extra = {"Condition": _az_condition(az)} if _az_condition(az) else {}
        tt.add(
            Route(
                f"AppDefaultRoute{az}",
                RouteTableId=Ref(app_table),
                DestinationCidrBlock="0.0.0.0/0",
                NatGatewayId=nat,
                **extra,
            )
        )
        private["App"][az] = Ref(app_table)
        # Data route tables get no default route: nothing in a data subnet can reach the internet.
        private["Data"][az] = Ref(_route_table(tt, vpc, f"DataRouteTable{az}", subnets["Data"], (az,)))
    return private


def _flow_logs(tt: TierTemplate, vpc: VPC) -> None:
    group = log_group(tt, "FlowLogGroup")
    role = tt.add(
        Role(
            "FlowLogRole",
            AssumeRolePolicyDocument=assume_role("vpc-flow-logs.amazonaws.com"),
            Policies=[
                inline_policy(
                    "deliver-flow-logs",
                    allow(
                        "WriteFlowLogs",
                        actions("logs", "CreateLogStream", "PutLogEvents", "DescribeLogGroups", "DescribeLogStreams"),
                        [GetAtt(group, "Arn")],
                    ),
                )
            ],
        )
    )
    tt.add(
        FlowLog(
            "VpcFlowLog",
            ResourceId=Ref(vpc),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=Ref(group),
            DeliverLogsPermissionArn=GetAtt(role, "Arn"),
            MaxAggregationInterval=60,
        )
    )


def _endpoints(
    tt: TierTemplate, vpc: VPC, private: dict[str, dict[str, object]], app: dict[str, Subnet]
) -> SecurityGroup:
    route_tables = If(
        "HasThreeAzs",
        [private[k][a] for k in ("App", "Data") for a in AZS],
        [private[k][a] for k in ("App", "Data") for a in AZS[:2]],
    )
    for service in GATEWAY_SERVICES:
        tt.add(
            VPCEndpoint(
                f"{service.capitalize()}GatewayEndpoint",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Gateway",
                RouteTableIds=route_tables,
            )
        )
    group = security_group(
        tt, "EndpointSecurityGroup", "Interface VPC endpoints: HTTPS from inside the VPC only", Ref(vpc)
    )
    ingress(
        tt, "EndpointIngressHttpsFromVpc", group, 443, "HTTPS to AWS APIs from inside the VPC", cidr=tt.ref("VpcCidr")
    )
    for service in INTERFACE_SERVICES:
        tt.add(
            VPCEndpoint(
                "".join(part.capitalize() for part in service.split(".")) + "InterfaceEndpoint",
                Condition="UseInterfaceEndpoints",
                VpcId=Ref(vpc),
                ServiceName=Sub(f"com.amazonaws.${{AWS::Region}}.{service}"),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=_per_az({a: Ref(app[a]) for a in AZS}),
                SecurityGroupIds=[Ref(group)],
            )
        )
    return group


def build(config: PlatformConfig) -> Template:
    """The network tier template."""
    del config
    tt = TierTemplate(TIER)
    _conditions(tt)
    vpc, igw, attachment = _vpc(tt)
    subnets = {kind: _subnets(tt, vpc, kind) for kind in SUBNET_BLOCKS}
    private = _routing(tt, vpc, igw, attachment, subnets)
    _flow_logs(tt, vpc)
    endpoint_group = _endpoints(tt, vpc, private, subnets["App"])
    tt.output("VpcId", Ref(vpc))
    for kind in SUBNET_BLOCKS:
        tt.output(f"{kind}SubnetIds", Join(",", _per_az({a: Ref(s) for a, s in subnets[kind].items()})))
    tt.output("AvailabilityZones", Join(",", _per_az({a: GetAtt(subnets["App"][a], "AvailabilityZone") for a in AZS})))
    tt.output("EndpointSecurityGroupId", Ref(endpoint_group))
    return tt.finish()


TIER = Tier(
    name="network",
    description="VPC, public/application/data subnets, NAT, flow logs and VPC endpoints",
    inputs=(VPC_CIDR, AZ_COUNT, NAT_GATEWAYS, INTERFACE_ENDPOINTS, LOG_RETENTION_DAYS, LOGS_KEY_ARN),
    outputs=(
        Output("VpcId", "VPC id", expose=True),
        Output("PublicSubnetIds", "Public subnet ids, comma-separated"),
        Output("AppSubnetIds", "Private application subnet ids, comma-separated"),
        Output("DataSubnetIds", "Private data subnet ids, comma-separated"),
        Output("AvailabilityZones", "Availability Zones in use, comma-separated", expose=True),
        Output("EndpointSecurityGroupId", "Security group of the interface endpoints"),
    ),
    build=build,
    rules=(
        Rule(
            "ProductionSurvivesAnAzOutage",
            "In prod, use three AZs and one NAT gateway per AZ",
            And((Equals("NatGateways", "per-az"), Equals("AzCount", "3"))),
            when=Equals("Environment", "prod"),
        ),
    ),
)
