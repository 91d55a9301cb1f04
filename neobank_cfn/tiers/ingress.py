"""Ingress tier: the shared ECS cluster, the Application Load Balancer and the WAF in front of it.

- **Cluster**: Container Insights, Fargate and Fargate Spot capacity providers with a default
  strategy from parameters (Spot-heavy in dev, an on-demand base in prod), and ECS Exec sessions
  encrypted with the data key and logged to an encrypted log group.
- **Load balancer**: internal (behind the API Gateway VPC link, in the application subnets) or
  internet-facing (in the public subnets), per ``LoadBalancerScheme``. One HTTPS listener with a
  TLS 1.3 + post-quantum security policy whose default action is a JSON 404; the services tier adds
  one listener rule per service. Port 80 exists only when internet-facing, and only redirects.
  Invalid headers are dropped, desync mitigation is strictest, and access and connection logs go to
  a dedicated bucket (SSE-S3: the only encryption ELB log delivery supports).
- **WAF**: a regional web ACL on the load balancer with AWS managed rule groups and a per-client
  rate limit, logging to an encrypted ``aws-waf-logs-`` log group with credentials redacted.
"""

from __future__ import annotations

from awacs.aws import Allow, Condition, Deny, NumericLessThan, Principal, Statement
from troposphere import AWSObject, Equals, GetAtt, If, NoValue, Ref, Select, Split, Sub
from troposphere.ecs import (
    CapacityProviderStrategy,
    Cluster,
    ClusterCapacityProviderAssociations,
    ClusterConfiguration,
    ClusterSetting,
    ExecuteCommandConfiguration,
    ExecuteCommandLogConfiguration,
)
from troposphere.elasticloadbalancingv2 import (
    Action,
    Certificate,
    FixedResponseConfig,
    Listener,
    ListenerAttribute,
    LoadBalancer,
    LoadBalancerAttributes,
    RedirectConfig,
)
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)
from troposphere.wafv2 import (
    AllowAction,
    BlockAction,
    DefaultAction,
    ForwardedIPConfiguration,
    LoggingConfiguration,
    LoggingConfigurationFieldToMatch,
    ManagedRuleGroupStatement,
    OverrideAction,
    RateBasedStatement,
    RuleAction,
    SingleHeader,
    VisibilityConfig,
    WebACL,
    WebACLAssociation,
    WebACLRule,
)
from troposphere.wafv2 import Statement as WafStatement

from neobank_cfn.config import PlatformConfig
from neobank_cfn.contracts import CLIENT_IP_HEADER
from neobank_cfn.iam import actions, deny_insecure_transport, document
from neobank_cfn.logs import log_group
from neobank_cfn.naming import physical_name
from neobank_cfn.parameters import ARN_PARTITION, LOG_RETENTION_DAYS, Param, boolean
from neobank_cfn.rules import And, Not, Rule
from neobank_cfn.rules import Equals as RuleEquals
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.keys import DATA_KEY_ARN, LOGS_KEY_ARN
from neobank_cfn.tiers.network import APP_SUBNET_IDS, PUBLIC_SUBNET_IDS
from neobank_cfn.tiers.security import LOAD_BALANCER_SCHEME, group_param

GROUP = "Ingress"

# AWS's recommended ALB policy (the console default since 2025-09): TLS 1.3 and TLS 1.2 with AEAD,
# forward-secret ciphers only, and hybrid post-quantum (ML-KEM) key exchange with classical fallback.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"
# The service principal ELB uses to write access and connection logs (all commercial Regions and
# GovCloud; the per-Region ELB account ids are a legacy alternative we never bake in).
ELB_LOG_DELIVERY = "logdelivery.elasticloadbalancing.amazonaws.com"
LOG_PREFIXES = {"access_logs": "access", "connection_logs": "connection"}
NONCURRENT_LOG_DAYS = 30  # a deleted or expired log file stays recoverable this long
NOT_FOUND_BODY = '{"message":"Not Found"}'
HSTS = "max-age=31536000; includeSubDomains"
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesKnownBadInputsRuleSet",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesSQLiRuleSet",
)
REDACTED_HEADERS = ("authorization", "cookie")
RATE_WINDOW_SECONDS = 300

CERTIFICATE_ARN = Param(
    "LoadBalancerCertificateArn",
    "ACM certificate (in this Region) the HTTPS listener presents. With an internal load balancer, "
    "API Gateway verifies this certificate's name through the VPC link.",
    allowed_pattern=(
        rf"^{ARN_PARTITION}:acm:[a-z0-9-]+:[0-9]{{12}}:certificate/"
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    ),
    constraint="an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<uuid>",
    label="Load balancer certificate ARN",
    group=GROUP,
)
CONTAINER_INSIGHTS = Param(
    "ContainerInsights",
    "CloudWatch Container Insights level: enhanced adds per-task and per-container metrics (costs more); "
    "enabled gives cluster and service metrics.",
    default="enhanced",
    allowed_values=("enhanced", "enabled"),
    label="Container Insights",
    group=GROUP,
)
FARGATE_BASE = Param(
    "FargateBase",
    "Tasks of each service that always run on on-demand Fargate before the weights apply.",
    type="Number",
    default="1",
    min_value=0,
    max_value=100000,
    constraint="a whole number from 0 to 100000",
    label="On-demand Fargate base (tasks per service)",
    group=GROUP,
)
FARGATE_WEIGHT = Param(
    "FargateWeight",
    "Relative share of tasks above the base placed on on-demand Fargate.",
    type="Number",
    default="1",
    min_value=0,
    max_value=1000,
    constraint="a whole number from 0 to 1000",
    label="On-demand Fargate weight",
    group=GROUP,
)
FARGATE_SPOT_WEIGHT = Param(
    "FargateSpotWeight",
    "Relative share of tasks above the base placed on Fargate Spot (cheaper, can be interrupted).",
    type="Number",
    default="0",
    min_value=0,
    max_value=1000,
    constraint="a whole number from 0 to 1000",
    label="Fargate Spot weight",
    group=GROUP,
)
DELETION_PROTECTION = boolean(
    "LoadBalancerDeletionProtection",
    "Refuse to delete the load balancer until this is switched off (true in prod).",
    "true",
    label="Load balancer deletion protection",
    group=GROUP,
)
LOG_EXPIRY_DAYS = Param(
    "LoadBalancerLogExpiryDays",
    "Days the load balancer's access and connection logs are kept in S3 (PCI DSS 10.5.1: at least 365).",
    type="Number",
    default="400",
    min_value=1,
    max_value=3650,
    constraint="a whole number of days from 1 to 3650",
    label="Load balancer log expiry (days)",
    group=GROUP,
)
WAF_RATE_LIMIT = Param(
    "WafRateLimit",
    f"Requests one client may make in {RATE_WINDOW_SECONDS // 60} minutes before the WAF blocks it.",
    type="Number",
    default="2000",
    min_value=10,
    max_value=2000000000,
    constraint="a whole number from 10 (the WAF minimum) to 2000000000",
    label="WAF rate limit (requests per client per 5 minutes)",
    group=GROUP,
)
LOAD_BALANCER_GROUP = group_param("LoadBalancer")

INTERNET_FACING = "InternetFacing"


def _attributes(pairs: dict[str, object], kind: type) -> list:
    """``[{Key, Value}]`` load balancer or listener attributes from a mapping."""
    return [kind(Key=key, Value=value) for key, value in pairs.items()]


def _cluster(tt: TierTemplate) -> tuple[Cluster, object]:
    exec_logs = log_group(tt, "ExecLogGroup")
    cluster = tt.add(
        Cluster(
            "Cluster",
            ClusterSettings=[ClusterSetting(Name="containerInsights", Value=tt.ref("ContainerInsights"))],
            Configuration=ClusterConfiguration(
                ExecuteCommandConfiguration=ExecuteCommandConfiguration(
                    KmsKeyId=tt.ref("DataKeyArn"),
                    Logging="OVERRIDE",
                    LogConfiguration=ExecuteCommandLogConfiguration(
                        CloudWatchLogGroupName=Ref(exec_logs), CloudWatchEncryptionEnabled=True
                    ),
                )
            ),
        )
    )
    tt.add(
        ClusterCapacityProviderAssociations(
            "ClusterCapacityProviders",
            Cluster=Ref(cluster),
            CapacityProviders=["FARGATE", "FARGATE_SPOT"],
            DefaultCapacityProviderStrategy=[
                CapacityProviderStrategy(
                    CapacityProvider="FARGATE", Base=tt.ref("FargateBase"), Weight=tt.ref("FargateWeight")
                ),
                CapacityProviderStrategy(CapacityProvider="FARGATE_SPOT", Base=0, Weight=tt.ref("FargateSpotWeight")),
            ],
        )
    )
    return cluster, exec_logs


def _bucket_arn(bucket: Bucket, path: str = "") -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:s3:::${{{bucket.title}}}{path}")


def _log_bucket(tt: TierTemplate) -> tuple[Bucket, BucketPolicy]:
    bucket = tt.add(
        Bucket(
            "LoadBalancerLogBucket",
            BucketEncryption=BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    ServerSideEncryptionRule(
                        ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(SSEAlgorithm="AES256")
                    )
                ]
            ),
            PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=OwnershipControls(Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            LifecycleConfiguration=LifecycleConfiguration(
                Rules=[
                    LifecycleRule(
                        Id="ExpireLoadBalancerLogs",
                        Status="Enabled",
                        ExpirationInDays=tt.ref("LoadBalancerLogExpiryDays"),
                        NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_LOG_DAYS),
                        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(DaysAfterInitiation=1),
                    ),
                    LifecycleRule(Id="RemoveExpiredDeleteMarkers", Status="Enabled", ExpiredObjectDeleteMarker=True),
                ]
            ),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    tt.exempt(
        bucket,
        "SSE-KMS",
        "ELB access logs and connection logs can only be delivered to a bucket encrypted with SSE-S3 "
        "(Elastic Load Balancing User Guide, 'Enable access logs for your Application Load Balancer', "
        "bucket requirements); SSE-KMS makes delivery fail. Access is limited by the bucket policy instead.",
    )
    everything = [_bucket_arn(bucket), _bucket_arn(bucket, "/*")]
    delivery = [_bucket_arn(bucket, f"/{prefix}/AWSLogs/${{AWS::AccountId}}/*") for prefix in LOG_PREFIXES.values()]
    policy = tt.add(
        BucketPolicy(
            "LoadBalancerLogBucketPolicy",
            Bucket=Ref(bucket),
            PolicyDocument=document(
                deny_insecure_transport("DenyInsecureTransport", actions("s3", "*"), everything),
                Statement(
                    Sid="DenyTlsOlderThan12",
                    Effect=Deny,
                    Principal=Principal("*"),
                    Action=actions("s3", "*"),
                    Resource=everything,
                    Condition=Condition([NumericLessThan({"s3:TlsVersion": 1.2})]),
                ),
                # Only this account's load balancers: the account id is part of every writable path.
                Statement(
                    Sid="ElbDeliversLogs",
                    Effect=Allow,
                    Principal=Principal("Service", [ELB_LOG_DELIVERY]),
                    Action=actions("s3", "PutObject"),
                    Resource=delivery,
                ),
            ),
        )
    )
    return bucket, policy


def _load_balancer(tt: TierTemplate, bucket: Bucket, policy: BucketPolicy) -> LoadBalancer:
    attributes: dict[str, object] = {
        "deletion_protection.enabled": tt.ref("LoadBalancerDeletionProtection"),
        "routing.http.drop_invalid_header_fields.enabled": "true",
        "routing.http.desync_mitigation_mode": "strictest",
        "routing.http.x_amzn_tls_version_and_cipher_suite.enabled": "true",
        "routing.http.xff_header_processing.mode": "append",
        "waf.fail_open.enabled": "false",
        "idle_timeout.timeout_seconds": "60",
        "zonal_shift.config.enabled": "true",
    }
    for kind, prefix in LOG_PREFIXES.items():
        attributes |= {f"{kind}.s3.enabled": "true", f"{kind}.s3.bucket": Ref(bucket), f"{kind}.s3.prefix": prefix}
    return tt.add(
        LoadBalancer(
            "LoadBalancer",
            Type="application",
            Scheme=tt.ref("LoadBalancerScheme"),
            IpAddressType="ipv4",
            Subnets=If(INTERNET_FACING, tt.ref("PublicSubnetIds"), tt.ref("AppSubnetIds")),
            SecurityGroups=[tt.ref("LoadBalancerSecurityGroupId")],
            LoadBalancerAttributes=_attributes(attributes, LoadBalancerAttributes),
            # ELB checks it may write to the bucket when logging is switched on.
            DependsOn=[policy.title],
        )
    )


def _listeners(tt: TierTemplate, lb: LoadBalancer) -> Listener:
    https = tt.add(
        Listener(
            "HttpsListener",
            LoadBalancerArn=Ref(lb),
            Port=443,
            Protocol="HTTPS",
            SslPolicy=TLS_POLICY,
            Certificates=[Certificate(CertificateArn=tt.ref("LoadBalancerCertificateArn"))],
            DefaultActions=[
                Action(
                    Type="fixed-response",
                    FixedResponseConfig=FixedResponseConfig(
                        StatusCode="404", ContentType="application/json", MessageBody=NOT_FOUND_BODY
                    ),
                )
            ],
            ListenerAttributes=_attributes(
                {
                    "routing.http.response.server.enabled": "false",
                    "routing.http.response.strict_transport_security.header_value": HSTS,
                    "routing.http.response.x_content_type_options.header_value": "nosniff",
                    "routing.http.response.x_frame_options.header_value": "DENY",
                },
                ListenerAttribute,
            ),
        )
    )
    tt.add(
        Listener(
            "HttpRedirectListener",
            Condition=INTERNET_FACING,
            LoadBalancerArn=Ref(lb),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[
                Action(
                    Type="redirect",
                    RedirectConfig=RedirectConfig(
                        Protocol="HTTPS",
                        Port="443",
                        Host="#{host}",
                        Path="/#{path}",
                        Query="#{query}",
                        StatusCode="HTTP_301",
                    ),
                )
            ],
        )
    )
    return https


def _visibility(metric: object) -> VisibilityConfig:
    return VisibilityConfig(CloudWatchMetricsEnabled=True, SampledRequestsEnabled=True, MetricName=metric)


def _managed_rule(name: str, priority: int) -> WebACLRule:
    return WebACLRule(
        Name=name,
        Priority=priority,
        OverrideAction=OverrideAction(**{"None": {}}),
        Statement=WafStatement(ManagedRuleGroupStatement=ManagedRuleGroupStatement(VendorName="AWS", Name=name)),
        VisibilityConfig=_visibility(name),
    )


def _rate_rule(tt: TierTemplate, priority: int) -> WebACLRule:
    """Per-client rate limit.

    Behind the VPC link every request comes from a VPC link address, so an internal load balancer
    counts per client by the ``X-Client-Ip`` header the API sets on every request it forwards
    (overwriting whatever a client sent; API Gateway reserves ``X-Forwarded-For``); a request without
    it did not come through the API and is counted as one client. An internet-facing load balancer
    counts per source IP (a client could forge any header there).
    """
    return WebACLRule(
        Name="RateLimitPerClient",
        Priority=priority,
        Action=RuleAction(Block=BlockAction()),
        Statement=WafStatement(
            RateBasedStatement=RateBasedStatement(
                Limit=tt.ref("WafRateLimit"),
                EvaluationWindowSec=RATE_WINDOW_SECONDS,
                AggregateKeyType=If(INTERNET_FACING, "IP", "FORWARDED_IP"),
                ForwardedIPConfig=If(
                    INTERNET_FACING,
                    NoValue,
                    ForwardedIPConfiguration(HeaderName=CLIENT_IP_HEADER, FallbackBehavior="MATCH"),
                ),
            )
        ),
        VisibilityConfig=_visibility("RateLimitPerClient"),
    )


def _waf(tt: TierTemplate, lb: LoadBalancer) -> WebACL:
    groups = list(MANAGED_RULE_GROUPS)
    # IP reputation first (cheapest, drops known-bad sources), then the rate limit, then inspection.
    rules = [_managed_rule(groups[0], 0), _rate_rule(tt, 1)]
    rules += [_managed_rule(name, priority) for priority, name in enumerate(groups[1:], start=2)]
    acl = tt.add(
        WebACL(
            "WebAcl",
            Description=Sub("${Application} ${Environment}: protects the application load balancer"),
            Scope="REGIONAL",
            DefaultAction=DefaultAction(Allow=AllowAction()),
            Rules=rules,
            # The web ACL's metric name is the WebACL dimension of its metrics: one per environment.
            VisibilityConfig=_visibility(physical_name("waf")),
        )
    )
    tt.add(WebACLAssociation("WebAclAssociation", ResourceArn=Ref(lb), WebACLArn=GetAtt(acl, "Arn")))
    # WAF only logs to log groups named aws-waf-logs-*; the stack id suffix keeps the name free for a
    # new stack while an old stack's retained group still exists.
    stack_uuid = Select(2, Split("/", Ref("AWS::StackId")))
    logs = log_group(
        tt, "WafLogGroup", name=Sub("aws-waf-logs-${Application}-${Environment}-${StackUuid}", StackUuid=stack_uuid)
    )
    tt.add(
        LoggingConfiguration(
            "WebAclLogging",
            ResourceArn=GetAtt(acl, "Arn"),
            # The log group ARN without the ":*" that GetAtt Arn ends with, as WAF expects it.
            LogDestinationConfigs=[
                Sub(f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:${{{logs.title}}}")
            ],
            RedactedFields=[
                LoggingConfigurationFieldToMatch(SingleHeader=SingleHeader(Name=header)) for header in REDACTED_HEADERS
            ],
        )
    )
    return acl


def build(config: PlatformConfig) -> AWSObject:
    """The ingress tier template."""
    del config
    tt = TierTemplate(TIER)
    tt.condition(INTERNET_FACING, Equals(tt.ref("LoadBalancerScheme"), "internet-facing"))
    cluster, exec_logs = _cluster(tt)
    bucket, policy = _log_bucket(tt)
    lb = _load_balancer(tt, bucket, policy)
    https = _listeners(tt, lb)
    _waf(tt, lb)
    tt.output("ClusterName", Ref(cluster))
    tt.output("ClusterArn", GetAtt(cluster, "Arn"))
    tt.output("HttpsListenerArn", Ref(https))
    tt.output("LoadBalancerFullName", GetAtt(lb, "LoadBalancerFullName"))
    tt.output("LoadBalancerDnsName", GetAtt(lb, "DNSName"))
    tt.output("ExecLogGroupName", Ref(exec_logs))
    tt.output("ExecLogGroupArn", GetAtt(exec_logs, "Arn"))
    return tt.finish()


TIER = Tier(
    name="ingress",
    description="ECS cluster, Application Load Balancer with HTTPS listener, access logs and WAF",
    inputs=(
        PUBLIC_SUBNET_IDS,
        APP_SUBNET_IDS,
        LOAD_BALANCER_GROUP,
        LOAD_BALANCER_SCHEME,
        DATA_KEY_ARN,
        LOGS_KEY_ARN,
        LOG_RETENTION_DAYS,
        CERTIFICATE_ARN,
        CONTAINER_INSIGHTS,
        FARGATE_BASE,
        FARGATE_WEIGHT,
        FARGATE_SPOT_WEIGHT,
        DELETION_PROTECTION,
        LOG_EXPIRY_DAYS,
        WAF_RATE_LIMIT,
    ),
    outputs=(
        Output("ClusterName", "ECS cluster name", expose=True),
        Output("ClusterArn", "ECS cluster ARN"),
        Output("HttpsListenerArn", "HTTPS listener of the load balancer (services add rules to it)"),
        Output("LoadBalancerFullName", "Load balancer name as CloudWatch dimensions use it"),
        Output("LoadBalancerDnsName", "Load balancer DNS name", expose=True),
        Output("ExecLogGroupName", "Log group of ECS Exec sessions"),
        Output("ExecLogGroupArn", "Log group of ECS Exec sessions (ARN)"),
    ),
    build=build,
    rules=(
        Rule(
            "ProductionProtectsTheLoadBalancer",
            "In prod, switch on load balancer deletion protection",
            RuleEquals("LoadBalancerDeletionProtection", "true"),
            when=RuleEquals("Environment", "prod"),
        ),
        Rule(
            "ProductionKeepsAnOnDemandBase",
            "In prod, keep at least one task of each service on on-demand Fargate (FargateBase above 0)",
            Not(RuleEquals("FargateBase", "0")),
            when=RuleEquals("Environment", "prod"),
        ),
        Rule(
            "CapacityStrategyPlacesTasks",
            "FargateWeight and FargateSpotWeight cannot both be 0",
            Not(And((RuleEquals("FargateWeight", "0"), RuleEquals("FargateSpotWeight", "0")))),
        ),
    ),
)
