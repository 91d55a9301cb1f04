"""API tier: API Gateway (HTTP API) as the platform's only public entry point.

Request path: client -> HTTP API (TLS 1.2+, throttling, JWT or partner authorizer) -> VPC link (in
the application subnets, VpcLink security group: 443 to the load balancer only) -> internal load
balancer over HTTPS, its certificate verified against ``LoadBalancerDomainName`` -> the service.

- One route per service, ``ANY <path>/{proxy+}`` from the platform configuration, each behind the
  JWT authorizer (Cognito or an external OIDC issuer, from the identity tier). No anonymous routes.
- ``$default`` stage: auto-deploy, route throttling and detailed metrics, JSON access logs to a log
  group encrypted with the logs key.
- Optional custom domain (TLS 1.2, optional mutual TLS for partners) that turns the execute-api
  endpoint off.
- Optional partner webhooks: an HMAC Lambda authorizer (``PartnerAuthorizer``) and, behind it,
  ``POST /webhooks/{partner}`` handled by an ingest Lambda that queues each webhook
  (``WebhookIngest``). Their code is in ``neobank_cfn/functions``.
"""

from __future__ import annotations

import json

from troposphere import And as CfnAnd
from troposphere import Condition as CfnCondition
from troposphere import Equals, GetAtt, If, Not, NoValue, Ref, Sub, Template
from troposphere.apigatewayv2 import (
    AccessLogSettings,
    Api,
    ApiMapping,
    Authorizer,
    DomainName,
    DomainNameConfiguration,
    Integration,
    JWTConfiguration,
    MutualTlsAuthentication,
    Route,
    RouteSettings,
    Stage,
    TlsConfig,
    VpcLink,
)
from troposphere.awslambda import Function, Permission
from troposphere.secretsmanager import GenerateSecretString, Secret

from neobank_cfn import contracts, rules
from neobank_cfn.config import PlatformConfig, ServiceConfig
from neobank_cfn.errors import UserError
from neobank_cfn.iam import actions, allow
from neobank_cfn.lambdas import FunctionSpec, via_service, vpc_function
from neobank_cfn.logs import log_group
from neobank_cfn.naming import pascal, physical_name
from neobank_cfn.parameters import LOG_RETENTION_DAYS, Param, boolean
from neobank_cfn.rules import Rule
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.keys import DATA_KEY_ARN, LOGS_KEY_ARN, SECRETS_KEY_ARN
from neobank_cfn.tiers.network import APP_SUBNET_IDS
from neobank_cfn.tiers.security import group_param

GROUP = "API"
WEBHOOK_QUEUE = "partner-webhooks"
WEBHOOK_ROUTE = "POST /webhooks/{partner}"
MAX_SKEW_SECONDS = 300  # how old (or how far in the future) a signed webhook may be
SIGNING_KEY_LENGTH = 64
# Headers the partner authorizer needs. They are its identity sources, so API Gateway answers 401
# without invoking the function when one is missing; caching stays off (see _partner_authorizer).
SIGNATURE_HEADERS = ("X-Webhook-Signature", "X-Webhook-Timestamp", "X-Webhook-Content-Sha256")

_HOST = r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
_ACM_ARN = r"arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]{36}"

LOAD_BALANCER_DOMAIN = Param(
    "LoadBalancerDomainName",
    "Host name on the load balancer's certificate. API Gateway sends it as SNI and verifies the "
    "certificate against it, so traffic through the VPC link is encrypted and authenticated end to end.",
    allowed_pattern=rf"^{_HOST}$",
    constraint="a lowercase DNS name covered by the load balancer certificate, e.g. alb.internal.example.com",
    label="Load balancer host name (TLS verification)",
    group=GROUP,
)
THROTTLING_BURST = Param(
    "ApiThrottlingBurstLimit",
    "Requests each route accepts in a burst above its steady rate before answering 429.",
    type="Number",
    default="200",
    min_value=1,
    max_value=5000,
    constraint="a whole number from 1 to 5000 (the default account burst quota)",
    label="Throttling burst per route",
    group=GROUP,
)
THROTTLING_RATE = Param(
    "ApiThrottlingRateLimit",
    "Steady requests per second each route accepts before answering 429.",
    type="Number",
    default="100",
    min_value=1,
    max_value=10000,
    constraint="a whole number from 1 to 10000 (the default account rate quota)",
    label="Throttling rate per route (requests/second)",
    group=GROUP,
)
API_DOMAIN_NAME = Param(
    "ApiDomainName",
    "Custom domain of the API, e.g. api.example.com; the execute-api endpoint is turned off when set. "
    "Empty to use the execute-api endpoint.",
    default="",
    allowed_pattern=rf"^$|^{_HOST}$",
    constraint="empty, or a lowercase DNS name such as api.example.com",
    label="API custom domain",
    group=GROUP,
)
API_CERTIFICATE_ARN = Param(
    "ApiCertificateArn",
    "ACM certificate (in this Region) for ApiDomainName; required when a domain is set, else empty.",
    allowed_pattern=rf"^$|^{_ACM_ARN}$",
    constraint="empty, or an ACM certificate ARN: arn:aws:acm:<region>:<account>:certificate/<uuid>",
    label="API certificate ARN",
    group=GROUP,
)
API_TRUSTSTORE_URI = Param(
    "ApiTruststoreUri",
    "S3 URI of a PEM bundle of the CAs whose client certificates the custom domain accepts: turns on "
    "mutual TLS for EVERY caller of the domain (use a partner-only domain). Empty for none.",
    default="",
    allowed_pattern=r"^$|^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/[A-Za-z0-9!_.*'()/-]+$",
    constraint="empty, or s3://<bucket>/<key> of a PEM trust store",
    label="Mutual TLS trust store (S3 URI)",
    group=GROUP,
)
PARTNER_AUTHORIZER = boolean(
    "PartnerAuthorizer",
    "Create the Lambda authorizer that checks partners' HMAC-SHA256 webhook signatures.",
    "false",
    label="Partner webhook authorizer",
    group=GROUP,
)
WEBHOOK_INGEST = boolean(
    "WebhookIngest",
    "Create POST /webhooks/{partner}: a Lambda behind the partner authorizer that validates each webhook "
    "and queues it on partner-webhooks (needs PartnerAuthorizer).",
    "false",
    label="Partner webhook ingest",
    group=GROUP,
)
WEBHOOK_CONCURRENCY = Param(
    "WebhookConcurrency",
    "Concurrent executions reserved for (and capping) each webhook function.",
    type="Number",
    default="5",
    min_value=1,
    max_value=1000,
    constraint="a whole number from 1 to 1000 (keep the account's unreserved concurrency above 100)",
    label="Webhook function concurrency",
    group=GROUP,
)

# Access log fields (HTTP API context variables); one JSON object per request.
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "sourceIp": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "domainName": "$context.domainName",
    "httpMethod": "$context.httpMethod",
    "path": "$context.path",
    "routeKey": "$context.routeKey",
    "protocol": "$context.protocol",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationStatus": "$context.integrationStatus",
    "integrationErrorMessage": "$context.integrationErrorMessage",
    "errorMessage": "$context.error.message",
    "authorizerError": "$context.authorizer.error",
    "customerId": "$context.authorizer.claims.sub",
    "partner": "$context.authorizer.partner",
}
# Headers API Gateway sets on every request to the load balancer, overwriting whatever a client sent.
FORWARDED_HEADERS = {
    contracts.CLIENT_IP_HEADER: "$context.identity.sourceIp",
    "X-Customer-Id": "$context.authorizer.claims.sub",
    "X-Api-Request-Id": "$context.requestId",
}


def route_key(service: ServiceConfig) -> str:
    """The HTTP API route key for a service's load-balancer path (``/core-banking/*`` -> greedy route)."""
    if service.path.endswith("/*"):
        return f"ANY {service.path[:-2]}/{{proxy+}}"
    if "*" in service.path:
        raise UserError(
            f"service {service.name!r}: path {service.path!r} can only end in '/*' to be routed by API Gateway"
        )
    return f"ANY {service.path}"


def _conditions(tt: TierTemplate) -> None:
    tt.condition("HasCustomDomain", Not(Equals(tt.ref("ApiDomainName"), "")))
    tt.condition("HasTruststore", CfnAnd(CfnCondition("HasCustomDomain"), Not(Equals(tt.ref("ApiTruststoreUri"), ""))))
    tt.condition("HasPartnerAuthorizer", Equals(tt.ref("PartnerAuthorizer"), "true"))
    # The Rule already requires the authorizer; the condition repeats it so the route never dangles.
    tt.condition(
        "HasWebhookIngest", CfnAnd(CfnCondition("HasPartnerAuthorizer"), Equals(tt.ref("WebhookIngest"), "true"))
    )


def _api(tt: TierTemplate) -> tuple[Api, Stage]:
    api = tt.add(
        Api(
            "HttpApi",
            Name=physical_name("api"),
            Description="Public entry point of the neobank platform",
            ProtocolType="HTTP",
            DisableExecuteApiEndpoint=If("HasCustomDomain", True, False),
        )
    )
    logs = log_group(tt, "AccessLogGroup")
    stage = tt.add(
        Stage(
            "DefaultStage",
            ApiId=Ref(api),
            StageName="$default",
            AutoDeploy=True,
            DefaultRouteSettings=RouteSettings(
                ThrottlingBurstLimit=tt.ref("ApiThrottlingBurstLimit"),
                ThrottlingRateLimit=tt.ref("ApiThrottlingRateLimit"),
                DetailedMetricsEnabled=True,
            ),
            AccessLogSettings=AccessLogSettings(
                DestinationArn=GetAtt(logs, "Arn"), Format=json.dumps(ACCESS_LOG_FORMAT, separators=(",", ":"))
            ),
        )
    )
    return api, stage


def _service_routes(tt: TierTemplate, api: Api, config: PlatformConfig) -> None:
    link = tt.add(
        VpcLink(
            "LoadBalancerVpcLink",
            Name=physical_name("alb"),
            SubnetIds=tt.ref("AppSubnetIds"),
            SecurityGroupIds=[tt.ref("VpcLinkSecurityGroupId")],
        )
    )
    integration = tt.add(
        Integration(
            "LoadBalancerIntegration",
            ApiId=Ref(api),
            Description="Private integration: HTTPS to the internal load balancer through the VPC link",
            IntegrationType="HTTP_PROXY",
            IntegrationMethod="ANY",
            ConnectionType="VPC_LINK",
            ConnectionId=Ref(link),
            IntegrationUri=tt.ref("HttpsListenerArn"),
            PayloadFormatVersion="1.0",
            TlsConfig=TlsConfig(ServerNameToVerify=tt.ref("LoadBalancerDomainName")),
            RequestParameters={
                "overwrite:path": "$request.path",
                **{f"overwrite:header.{name}": value for name, value in FORWARDED_HEADERS.items()},
            },
        )
    )
    jwt = tt.add(
        Authorizer(
            "CustomerJwtAuthorizer",
            ApiId=Ref(api),
            Name="customer-jwt",
            AuthorizerType="JWT",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration=JWTConfiguration(Issuer=tt.ref("JwtIssuer"), Audience=[tt.ref("JwtAudience")]),
        )
    )
    seen: dict[str, str] = {}
    for service in config.services:
        key = route_key(service)
        if key in seen:
            raise UserError(f"services {seen[key]!r} and {service.name!r} both need route {key!r}")
        seen[key] = service.name
        tt.add(
            Route(
                f"{pascal(service.name)}Route",
                ApiId=Ref(api),
                RouteKey=key,
                AuthorizationType="JWT",
                AuthorizerId=Ref(jwt),
                Target=Sub(f"integrations/${{{integration.title}}}"),
            )
        )


def _custom_domain(tt: TierTemplate, api: Api, stage: Stage) -> DomainName:
    domain = tt.add(
        DomainName(
            "ApiCustomDomain",
            Condition="HasCustomDomain",
            DomainName=tt.ref("ApiDomainName"),
            DomainNameConfigurations=[
                DomainNameConfiguration(
                    CertificateArn=tt.ref("ApiCertificateArn"), EndpointType="REGIONAL", SecurityPolicy="TLS_1_2"
                )
            ],
            MutualTlsAuthentication=If(
                "HasTruststore", MutualTlsAuthentication(TruststoreUri=tt.ref("ApiTruststoreUri")), NoValue
            ),
        )
    )
    tt.add(
        ApiMapping(
            "ApiCustomDomainMapping",
            Condition="HasCustomDomain",
            ApiId=Ref(api),
            DomainName=Ref(domain),
            Stage=Ref(stage),
        )
    )
    return domain


def _invoke_permission(tt: TierTemplate, logical: str, function: Function, condition: str, source_arn: Sub) -> None:
    tt.add(
        Permission(
            logical,
            Condition=condition,
            Action="lambda:InvokeFunction",
            FunctionName=GetAtt(function, "Arn"),
            Principal="apigateway.amazonaws.com",
            SourceAccount=Ref("AWS::AccountId"),
            SourceArn=source_arn,
        )
    )


def _execute_api_arn(path: str) -> Sub:
    return Sub(f"arn:${{AWS::Partition}}:execute-api:${{AWS::Region}}:${{AWS::AccountId}}:${{HttpApi}}/{path}")


def _partner_authorizer(tt: TierTemplate, api: Api, secret: Secret) -> Authorizer:
    """The HMAC authorizer.

    Result caching is off (TTL 0): the signature covers the body, which API Gateway does not pass to
    authorizers and so cannot be part of the cache key. A cached "allow" keyed on the signature
    headers would let a replay of those headers within the TTL carry any body past this check (the
    ingest function's digest check would still catch it, but the authorizer must not depend on it).
    """
    function = vpc_function(
        tt,
        FunctionSpec(
            logical="PartnerAuthorizer",
            name="partner-authorizer",
            module="partner_authorizer",
            description="Checks partner webhook HMAC-SHA256 signatures (API Gateway REQUEST authorizer)",
            environment={"SECRET_ARN": Ref(secret), "MAX_SKEW_SECONDS": str(MAX_SKEW_SECONDS)},
            statements=(
                allow("ReadSigningKey", actions("secretsmanager", "GetSecretValue"), [Ref(secret)]),
                allow(
                    "DecryptSigningKey",
                    actions("kms", "Decrypt"),
                    [tt.ref("SecretsKeyArn")],
                    via_service("secretsmanager"),
                ),
            ),
            condition="HasPartnerAuthorizer",
            timeout=5,  # API Gateway waits at most 10 seconds for an authorizer
        ),
        tt.ref("WebhookConcurrency"),
    )
    authorizer = tt.add(
        Authorizer(
            "PartnerWebhookAuthorizer",
            Condition="HasPartnerAuthorizer",
            ApiId=Ref(api),
            Name="partner-hmac",
            AuthorizerType="REQUEST",
            AuthorizerUri=Sub(
                "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                "${PartnerAuthorizerFunction.Arn}/invocations"
            ),
            AuthorizerPayloadFormatVersion="2.0",
            EnableSimpleResponses=True,
            AuthorizerResultTtlInSeconds=0,
            IdentitySource=[f"$request.header.{name}" for name in SIGNATURE_HEADERS],
        )
    )
    _invoke_permission(
        tt,
        "PartnerAuthorizerInvokePermission",
        function,
        "HasPartnerAuthorizer",
        _execute_api_arn("authorizers/${PartnerWebhookAuthorizer}"),
    )
    return authorizer


def _webhook_ingest(tt: TierTemplate, api: Api, authorizer: Authorizer) -> None:
    queue_url = contracts.queue_url(WEBHOOK_QUEUE).name
    queue_arn = contracts.queue_arn(WEBHOOK_QUEUE).name
    function = vpc_function(
        tt,
        FunctionSpec(
            logical="WebhookIngest",
            name="webhook-ingest",
            module="webhook_ingest",
            description="Validates partner webhooks and queues them on partner-webhooks",
            environment={"QUEUE_URL": tt.ref(queue_url)},
            statements=(
                allow("SendToWebhookQueue", actions("sqs", "SendMessage"), [tt.ref(queue_arn)]),
                allow(
                    "EncryptQueueMessages",
                    actions("kms", "GenerateDataKey", "Decrypt"),
                    [tt.ref("DataKeyArn")],
                    via_service("sqs"),
                ),
            ),
            condition="HasWebhookIngest",
        ),
        tt.ref("WebhookConcurrency"),
    )
    integration = tt.add(
        Integration(
            "WebhookIngestIntegration",
            Condition="HasWebhookIngest",
            ApiId=Ref(api),
            Description="Lambda proxy to the webhook ingest function",
            IntegrationType="AWS_PROXY",
            IntegrationUri=GetAtt(function, "Arn"),
            PayloadFormatVersion="2.0",
            TimeoutInMillis=12000,  # the function's 10 s timeout plus a cold start's margin
        )
    )
    tt.add(
        Route(
            "WebhookRoute",
            Condition="HasWebhookIngest",
            ApiId=Ref(api),
            RouteKey=WEBHOOK_ROUTE,
            AuthorizationType="CUSTOM",
            AuthorizerId=Ref(authorizer),
            Target=Sub(f"integrations/${{{integration.title}}}"),
        )
    )
    _invoke_permission(
        tt, "WebhookIngestInvokePermission", function, "HasWebhookIngest", _execute_api_arn("*/POST/webhooks/*")
    )


def build(config: PlatformConfig) -> Template:
    """The API tier template."""
    tt = TierTemplate(TIER)
    _conditions(tt)
    api, stage = _api(tt)
    _service_routes(tt, api, config)
    domain = _custom_domain(tt, api, stage)
    # The signing key exists whatever the switches say, so turning the authorizer off and on again
    # keeps the key partners hold (a secret costs cents a month).
    secret = tt.add(
        Secret(
            "PartnerSigningSecret",
            Description=Sub("${Application} ${Environment}: HMAC-SHA256 key partners sign webhooks with"),
            KmsKeyId=tt.ref("SecretsKeyArn"),
            GenerateSecretString=GenerateSecretString(PasswordLength=SIGNING_KEY_LENGTH, ExcludePunctuation=True),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    authorizer = _partner_authorizer(tt, api, secret)
    _webhook_ingest(tt, api, authorizer)
    tt.output("ApiEndpoint", If("HasCustomDomain", Sub("https://${ApiDomainName}"), GetAtt(api, "ApiEndpoint")))
    tt.output("ApiDomainTarget", If("HasCustomDomain", GetAtt(domain, "RegionalDomainName"), ""))
    tt.output("ApiDomainHostedZoneId", If("HasCustomDomain", GetAtt(domain, "RegionalHostedZoneId"), ""))
    tt.output("PartnerSigningSecretArn", Ref(secret))
    return tt.finish()


TIER = Tier(
    name="api",
    description="HTTP API with VPC link to the load balancer, JWT and partner authorizers, custom domain",
    inputs=(
        APP_SUBNET_IDS,
        group_param("VpcLink"),
        group_param("Lambda"),
        contracts.HTTPS_LISTENER_ARN,
        contracts.JWT_ISSUER,
        contracts.JWT_AUDIENCE,
        contracts.queue_url(WEBHOOK_QUEUE),
        contracts.queue_arn(WEBHOOK_QUEUE),
        DATA_KEY_ARN,
        LOGS_KEY_ARN,
        SECRETS_KEY_ARN,
        LOG_RETENTION_DAYS,
        LOAD_BALANCER_DOMAIN,
        THROTTLING_BURST,
        THROTTLING_RATE,
        API_DOMAIN_NAME,
        API_CERTIFICATE_ARN,
        API_TRUSTSTORE_URI,
        PARTNER_AUTHORIZER,
        WEBHOOK_INGEST,
        WEBHOOK_CONCURRENCY,
    ),
    outputs=(
        Output("ApiEndpoint", "URL clients call (the custom domain when set)", expose=True),
        Output("ApiDomainTarget", "DNS target (CNAME/alias) for the custom domain; empty without one", expose=True),
        Output("ApiDomainHostedZoneId", "Hosted zone id for an alias record to ApiDomainTarget", expose=True),
        Output("PartnerSigningSecretArn", "Secret holding the partner webhook signing key", expose=True),
    ),
    build=build,
    rules=(
        Rule(
            "ApiDomainNeedsCertificate",
            "A custom API domain (ApiDomainName) needs its ACM certificate (ApiCertificateArn)",
            rules.is_set("ApiCertificateArn"),
            when=rules.is_set("ApiDomainName"),
        ),
        Rule(
            "TruststoreNeedsDomain",
            "Mutual TLS (ApiTruststoreUri) works only on a custom domain (ApiDomainName)",
            rules.is_set("ApiDomainName"),
            when=rules.is_set("ApiTruststoreUri"),
        ),
        Rule(
            "WebhookIngestNeedsAuthorizer",
            "The webhook ingest function (WebhookIngest) only runs behind the partner authorizer (PartnerAuthorizer)",
            rules.Equals("PartnerAuthorizer", "true"),
            when=rules.Equals("WebhookIngest", "true"),
        ),
    ),
)
