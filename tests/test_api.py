"""API and identity tiers: one entry point, every route authorized, TLS end to end, customers protected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neobank_cfn.config import PlatformConfig, ServiceConfig
from neobank_cfn.contracts import CLIENT_IP_HEADER
from neobank_cfn.errors import UserError
from neobank_cfn.functions import source
from neobank_cfn.iam import ACTIONS_WITHOUT_RESOURCE_PERMISSIONS
from neobank_cfn.lint import lint_paths
from neobank_cfn.params_check import check_values
from neobank_cfn.render import to_text
from neobank_cfn.tiers import api, identity
from tests.cfn import PROJECT, as_list, one, project_config, props, resources

# Headers HTTP APIs refuse to map (API Gateway developer guide, "Transforming API requests").
RESERVED_HEADERS = {
    "authorization", "connection", "content-encoding", "content-length", "content-location", "forwarded",
    "keep-alive", "origin", "proxy-authenticate", "proxy-authorization", "te", "trailers", "transfer-encoding",
    "upgrade", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "via",
}  # fmt: skip
ACCESS_LOG_FIELDS = {
    "requestId", "sourceIp", "routeKey", "status", "responseLatency", "integrationLatency",
    "integrationErrorMessage", "authorizerError", "userAgent", "requestTime",
}  # fmt: skip


@pytest.fixture(scope="module")
def api_t(tier) -> dict:
    return tier("api")


@pytest.fixture(scope="module")
def identity_t(tier) -> dict:
    return tier("identity")


def _env(name: str) -> dict[str, str]:
    entries = json.loads((PROJECT / "params" / f"{name}.json").read_text())
    return {e["ParameterKey"]: e["ParameterValue"] for e in entries}


def _values(template: dict, **overrides: str) -> dict[str, str]:
    """Parameter values of ``template``: its defaults, then the dev file, then ``overrides``."""
    defaults = {k: p.get("Default") for k, p in template["Parameters"].items()}
    return {k: v for k, v in (defaults | _env("dev") | overrides).items() if k in template["Parameters"]}


def _holds(template: dict, name: str, values: dict[str, str]) -> bool:
    return bool(_evaluate(template["Conditions"][name], template, values))


def _evaluate(node: object, template: dict, values: dict[str, str]) -> object:
    """Resolve Ref (parameters only), Fn::If and the condition functions for given parameter values."""
    if isinstance(node, list):
        return [_evaluate(n, template, values) for n in node]
    if not isinstance(node, dict) or len(node) != 1:
        return node
    (fn, arg), = node.items()  # fmt: skip
    if fn == "Ref":
        return values.get(arg, node)
    if fn == "Condition":
        return _holds(template, arg, values)
    if fn == "Fn::If":
        name, yes, no = arg
        return _evaluate(yes if _holds(template, name, values) else no, template, values)
    args = [_evaluate(a, template, values) for a in arg]
    return {
        "Fn::Equals": lambda: args[0] == args[1],
        "Fn::Not": lambda: not args[0],
        "Fn::And": lambda: all(args),
        "Fn::Or": lambda: any(args),
    }.get(fn, lambda: node)()


def _tier_problems(tier, template: dict, **overrides: str) -> list[str]:
    """Offline check of the tier's own root parameters (wired inputs come from other tiers)."""
    params = tuple(p for p in tier.all_inputs if not p.wired)
    values = {k: v for k, v in (_env("dev") | overrides).items() if k in {p.name for p in params}}
    return check_values("test", values, params, tier.rules)


# Customer identity.


@pytest.mark.parametrize(("env", "expected"), [("prod", "ON"), ("staging", "ON"), ("dev", "OPTIONAL")])
def test_mfa_is_required_with_prod_params(identity_t, env, expected):
    pool = props(identity_t["Resources"]["CustomerUserPool"])
    values = _values(identity_t, **_env(env))
    assert _evaluate(pool["MfaConfiguration"], identity_t, values) == expected
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]  # MFA that needs no SMS set-up


def test_prod_rule_refuses_weakened_customer_protection(identity_t):
    assert _tier_problems(identity.TIER, identity_t, **_env("prod")) == []
    for weaker in (
        {"CustomerMfa": "OPTIONAL"},
        {"UserPoolDeletionProtection": "INACTIVE"},
        {"CustomerThreatProtection": "AUDIT"},
        {"CliSignIn": "true"},
    ):
        problems = _tier_problems(identity.TIER, identity_t, **(_env("prod") | weaker))
        assert len(problems) == 1 and "ProductionProtectsCustomers" in problems[0], weaker


@pytest.mark.parametrize(("mode", "plan"), [("ENFORCED", "PLUS"), ("AUDIT", "PLUS"), ("OFF", "ESSENTIALS")])
def test_threat_protection_selects_the_feature_plan_it_needs(identity_t, mode, plan):
    pool = props(identity_t["Resources"]["CustomerUserPool"])
    values = _values(identity_t, CustomerThreatProtection=mode)
    assert _evaluate(pool["UserPoolTier"], identity_t, values) == plan
    assert _evaluate(pool["UserPoolAddOns"]["AdvancedSecurityMode"], identity_t, values) == mode


def test_password_policy_is_long_and_uses_every_class(identity_t):
    policy = props(identity_t["Resources"]["CustomerUserPool"])["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(policy[f"Require{kind}"] is True for kind in ("Lowercase", "Uppercase", "Numbers", "Symbols"))
    assert policy["PasswordHistorySize"] > 0 and policy["TemporaryPasswordValidityDays"] <= 7


def test_user_pool_is_kept_protected_and_recoverable(identity_t):
    pool = identity_t["Resources"]["CustomerUserPool"]
    assert pool["DeletionPolicy"] == pool["UpdateReplacePolicy"] == "Retain"
    assert _evaluate(props(pool)["DeletionProtection"], identity_t, _values(identity_t, **_env("prod"))) == "ACTIVE"
    assert props(pool)["UsernameConfiguration"] == {"CaseSensitive": False}
    mechanisms = props(pool)["AccountRecoverySetting"]["RecoveryMechanisms"]
    assert [m["Name"] for m in sorted(mechanisms, key=lambda m: m["Priority"])] == [
        "verified_email",
        "verified_phone_number",
    ]
    assert props(pool)["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}


def test_app_client_is_public_code_flow_only_with_short_tokens(identity_t):
    client = props(identity_t["Resources"]["MobileAppClient"])
    assert client["GenerateSecret"] is False
    assert client["AllowedOAuthFlows"] == ["code"] and client["AllowedOAuthFlowsUserPoolClient"] is True
    assert client["PreventUserExistenceErrors"] == "ENABLED" and client["EnableTokenRevocation"] is True
    assert client["CallbackURLs"] == [{"Ref": "AppCallbackUrl"}]
    assert client["TokenValidityUnits"] == {"AccessToken": "minutes", "IdToken": "minutes", "RefreshToken": "days"}
    lifetime = identity_t["Parameters"][client["AccessTokenValidity"]["Ref"]]
    assert client["IdTokenValidity"] == client["AccessTokenValidity"] and lifetime["MaxValue"] <= 60
    assert identity_t["Parameters"][client["RefreshTokenValidity"]["Ref"]]["MaxValue"] <= 365
    for env, password_flow in (("dev", True), ("prod", False)):
        flows = _evaluate(client["ExplicitAuthFlows"], identity_t, _values(identity_t, **_env(env)))
        assert set(flows) - {"ALLOW_USER_PASSWORD_AUTH"} == {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
        assert ("ALLOW_USER_PASSWORD_AUTH" in flows) is password_flow, env


def test_cognito_issues_the_tokens_by_default(identity_t):
    outputs = {k: o["Value"] for k, o in identity_t["Outputs"].items()}
    values = _values(identity_t)
    assert _holds(identity_t, "UseCognito", values)
    issuer = _evaluate(outputs["JwtIssuer"], identity_t, values)["Fn::Sub"]
    assert issuer == "https://cognito-idp.${AWS::Region}.${AWS::URLSuffix}/${CustomerUserPool}"
    assert _evaluate(outputs["JwtAudience"], identity_t, values) == {"Ref": "MobileAppClient"}


def test_an_external_issuer_replaces_cognito(identity_t):
    values = _values(identity_t, ExternalIssuerUrl="https://login.example.com", ExternalAudience="neobank-api")
    outputs = {k: _evaluate(o["Value"], identity_t, values) for k, o in identity_t["Outputs"].items()}
    assert outputs == {
        "JwtIssuer": "https://login.example.com",
        "JwtAudience": "neobank-api",
        "UserPoolId": "",
        "UserPoolClientId": "",
    }
    cognito = [r for r in identity_t["Resources"].values() if r["Type"].startswith("AWS::Cognito::")]
    assert cognito and not any(_holds(identity_t, r["Condition"], values) for r in cognito)
    problems = _tier_problems(identity.TIER, identity_t, ExternalIssuerUrl="https://login.example.com")
    assert len(problems) == 1 and "ExternalIssuerNeedsAudience" in problems[0]


# Routes, authorizers and the stage.


def test_every_route_has_an_authorizer_of_its_kind(api_t):
    routes = resources(api_t, "AWS::ApiGatewayV2::Route")
    authorizers = resources(api_t, "AWS::ApiGatewayV2::Authorizer")
    assert routes
    for name, route in routes.items():
        p = props(route)
        assert p["AuthorizationType"] in ("JWT", "CUSTOM"), name
        kind = props(authorizers[p["AuthorizerId"]["Ref"]])["AuthorizerType"]
        assert (p["AuthorizationType"], kind) in (("JWT", "JWT"), ("CUSTOM", "REQUEST")), name
        assert not p["RouteKey"].startswith("$"), f"{name}: catch-all route {p['RouteKey']}"


def test_one_jwt_route_per_service_path(api_t):
    keys = {props(r)["RouteKey"] for r in resources(api_t, "AWS::ApiGatewayV2::Route").values()}
    assert keys == {api.route_key(s) for s in project_config().services} | {api.WEBHOOK_ROUTE}
    assert "ANY /core-banking/{proxy+}" in keys


@pytest.mark.parametrize(
    ("path", "key"),
    [("/core-banking/*", "ANY /core-banking/{proxy+}"), ("/*", "ANY /{proxy+}"), ("/ping", "ANY /ping")],
)
def test_route_key_from_a_load_balancer_path(path, key):
    assert api.route_key(ServiceConfig("svc", path=path)) == key


def test_paths_api_gateway_cannot_route_are_refused():
    with pytest.raises(UserError, match="can only end in '/\\*'"):
        api.route_key(ServiceConfig("svc", path="/a/*/b"))
    twins = (ServiceConfig("one", path="/x/*", host="a.example.com"), ServiceConfig("two", path="/x/*"))
    with pytest.raises(UserError, match="both need route"):
        api.TIER.build(PlatformConfig(queues=(), topics=(), tables=(), services=twins))


def test_jwt_authorizer_trusts_the_identity_tier(api_t):
    authorizers = resources(api_t, "AWS::ApiGatewayV2::Authorizer").values()
    (jwt,) = [a for a in authorizers if props(a)["AuthorizerType"] == "JWT"]
    assert props(jwt)["IdentitySource"] == ["$request.header.Authorization"]
    assert props(jwt)["JwtConfiguration"] == {"Issuer": {"Ref": "JwtIssuer"}, "Audience": [{"Ref": "JwtAudience"}]}
    assert {"JwtIssuer", "JwtAudience"} <= {o.name for o in identity.TIER.outputs}


def test_stage_throttles_every_route_and_publishes_metrics(api_t):
    _, stage = one(api_t, "AWS::ApiGatewayV2::Stage")
    assert props(stage)["StageName"] == "$default" and props(stage)["AutoDeploy"] is True
    settings = props(stage)["DefaultRouteSettings"]
    assert settings["DetailedMetricsEnabled"] is True
    for key, param in (
        ("ThrottlingBurstLimit", "ApiThrottlingBurstLimit"),
        ("ThrottlingRateLimit", "ApiThrottlingRateLimit"),
    ):
        assert settings[key] == {"Ref": param}
        assert 1 <= api_t["Parameters"][param]["MinValue"] <= api_t["Parameters"][param]["MaxValue"] <= 10000


def test_access_logs_are_json_to_an_encrypted_retained_group(api_t):
    _, stage = one(api_t, "AWS::ApiGatewayV2::Stage")
    logs = props(stage)["AccessLogSettings"]
    fields = json.loads(logs["Format"])
    assert set(fields) >= ACCESS_LOG_FIELDS
    assert all(value.startswith("$context.") for value in fields.values())
    group_name = logs["DestinationArn"]["Fn::GetAtt"][0]
    group = api_t["Resources"][group_name]
    assert props(group)["KmsKeyId"] == {"Ref": "LogsKeyArn"}
    assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# The way in: VPC link and private integration.


def test_vpc_link_sits_in_the_app_subnets_with_the_vpc_link_group(api_t):
    _, link = one(api_t, "AWS::ApiGatewayV2::VpcLink")
    assert props(link)["SubnetIds"] == {"Ref": "AppSubnetIds"}
    assert props(link)["SecurityGroupIds"] == [{"Ref": "VpcLinkSecurityGroupId"}]


def test_the_vpc_link_group_reaches_only_the_load_balancer_on_443(tier):
    sec = tier("security")
    assert sec["Outputs"]["VpcLinkSecurityGroupId"]["Value"] == {"Ref": "VpcLinkSecurityGroup"}
    rules = [props(r) for r in resources(sec).values() if props(r).get("GroupId") == {"Ref": "VpcLinkSecurityGroup"}]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("DestinationSecurityGroupId")) for r in rules] == [
        ("tcp", 443, 443, {"Ref": "LoadBalancerSecurityGroup"})
    ]
    inline = props(sec["Resources"]["VpcLinkSecurityGroup"])
    assert "SecurityGroupIngress" not in inline and inline["SecurityGroupEgress"][0]["CidrIp"] == "127.0.0.1/32"


def test_private_integration_verifies_the_load_balancer_certificate(api_t):
    link, _ = one(api_t, "AWS::ApiGatewayV2::VpcLink")
    integration = props(api_t["Resources"]["LoadBalancerIntegration"])
    assert integration["IntegrationType"] == "HTTP_PROXY" and integration["ConnectionType"] == "VPC_LINK"
    assert integration["ConnectionId"] == {"Ref": link}
    assert integration["IntegrationUri"] == {"Ref": "HttpsListenerArn"}
    assert integration["TlsConfig"] == {"ServerNameToVerify": {"Ref": "LoadBalancerDomainName"}}
    param = next(p for p in api.TIER.inputs if p.name == "LoadBalancerDomainName")
    assert param.default is None and param.problem("alb.internal.example.com") is None
    for bad in ("", "*.example.com", "ALB.example.com", "https://alb.example.com"):
        assert param.problem(bad), bad


def test_integration_overwrites_the_identity_headers_services_trust(api_t):
    mapped = props(api_t["Resources"]["LoadBalancerIntegration"])["RequestParameters"]
    assert mapped[f"overwrite:header.{CLIENT_IP_HEADER}"] == "$context.identity.sourceIp"
    assert mapped["overwrite:header.X-Customer-Id"] == "$context.authorizer.claims.sub"
    headers = {key.split("header.", 1)[1].lower() for key in mapped if ":header." in key}
    assert not headers & RESERVED_HEADERS and all(key.startswith("overwrite:") for key in mapped)


# Custom domain and rules.


def test_custom_domain_is_tls_1_2_and_turns_off_the_default_endpoint(api_t):
    domain = api_t["Resources"]["ApiCustomDomain"]
    assert domain["Condition"] == "HasCustomDomain"
    (config,) = props(domain)["DomainNameConfigurations"]
    assert config == {
        "CertificateArn": {"Ref": "ApiCertificateArn"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    assert props(domain)["MutualTlsAuthentication"]["Fn::If"][0] == "HasTruststore"
    assert api_t["Resources"]["ApiCustomDomainMapping"]["Condition"] == "HasCustomDomain"
    disable = props(api_t["Resources"]["HttpApi"])["DisableExecuteApiEndpoint"]
    assert _evaluate(disable, api_t, _values(api_t, **_env("prod"))) is True
    assert _evaluate(disable, api_t, _values(api_t, **_env("dev"))) is False


@pytest.mark.parametrize(
    ("overrides", "rule"),
    [
        ({"ApiDomainName": "api.example.com", "ApiCertificateArn": ""}, "ApiDomainNeedsCertificate"),
        ({"ApiTruststoreUri": "s3://bucket/truststore.pem", "ApiDomainName": ""}, "TruststoreNeedsDomain"),
        ({"WebhookIngest": "true", "PartnerAuthorizer": "false"}, "WebhookIngestNeedsAuthorizer"),
    ],
)
def test_rules_refuse_incomplete_combinations(api_t, overrides, rule):
    problems = _tier_problems(api.TIER, api_t, **overrides)
    assert len(problems) == 1 and f"rule {rule} fails" in problems[0], problems


def test_env_files_pass_the_tier_rules(api_t, identity_t):
    for env in ("dev", "staging", "prod"):
        assert _tier_problems(api.TIER, api_t, **_env(env)) == [], env
        assert _tier_problems(identity.TIER, identity_t, **_env(env)) == [], env


def test_prod_has_the_custom_domain_and_dev_skips_the_functions():
    prod, dev = _env("prod"), _env("dev")
    assert prod["ApiDomainName"] == "api.example.com" and ":111122223333:certificate/" in prod["ApiCertificateArn"]
    assert (prod["PartnerAuthorizer"], prod["WebhookIngest"]) == ("true", "true")
    assert (dev["PartnerAuthorizer"], dev["WebhookIngest"], dev["ApiDomainName"]) == ("false", "false", "")


# Partner webhooks: authorizer and ingest function.


@pytest.mark.parametrize(
    ("authorizer", "ingest", "route"),
    [
        ("false", "false", False),
        ("true", "false", False),
        ("true", "true", True),
        ("false", "true", False),
    ],
)
def test_webhook_route_exists_only_with_ingest_and_authorizer(api_t, authorizer, ingest, route):
    resource = api_t["Resources"]["WebhookRoute"]
    values = _values(api_t, PartnerAuthorizer=authorizer, WebhookIngest=ingest)
    assert _holds(api_t, resource["Condition"], values) is route
    assert props(resource)["AuthorizationType"] == "CUSTOM"
    assert props(resource)["AuthorizerId"] == {"Ref": "PartnerWebhookAuthorizer"}


def test_partner_authorizer_is_a_simple_uncached_request_authorizer(api_t):
    authorizer = props(api_t["Resources"]["PartnerWebhookAuthorizer"])
    assert authorizer["AuthorizerType"] == "REQUEST" and authorizer["AuthorizerPayloadFormatVersion"] == "2.0"
    assert authorizer["EnableSimpleResponses"] is True
    assert authorizer["AuthorizerResultTtlInSeconds"] == 0
    assert authorizer["IdentitySource"] == [f"$request.header.{h}" for h in api.SIGNATURE_HEADERS]
    code = source("partner_authorizer")
    assert all(f'"{h.lower()}"' in code for h in api.SIGNATURE_HEADERS)


FUNCTIONS = {"PartnerAuthorizer": "partner_authorizer", "WebhookIngest": "webhook_ingest"}


@pytest.mark.parametrize(("logical", "module"), FUNCTIONS.items())
def test_functions_are_traced_encrypted_private_and_capped(api_t, logical, module):
    fn = props(api_t["Resources"][f"{logical}Function"])
    assert fn["Runtime"] in ("python3.12", "python3.13") and fn["Architectures"] == ["arm64"]
    assert fn["Handler"] == "index.handler" and fn["Code"] == {"ZipFile": source(module)}
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["KmsKeyArn"] == {"Ref": "SecretsKeyArn"}
    assert fn["VpcConfig"] == {
        "SubnetIds": {"Ref": "AppSubnetIds"},
        "SecurityGroupIds": [{"Ref": "LambdaSecurityGroupId"}],
    }
    assert fn["ReservedConcurrentExecutions"] == {"Ref": "WebhookConcurrency"}
    group = api_t["Resources"][fn["LoggingConfig"]["LogGroup"]["Ref"]]
    assert props(group)["LogGroupName"]["Fn::Sub"][0] == "/aws/lambda/${Name}"
    assert props(group)["LogGroupName"]["Fn::Sub"][1]["Name"] == fn["FunctionName"]
    assert props(group)["KmsKeyId"] == {"Ref": "LogsKeyArn"} and "Condition" not in group


def _statements(template: dict, role: str) -> dict[str, dict]:
    (policy,) = props(template["Resources"][role])["Policies"]
    return {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}


def _grants(statements: dict[str, dict]) -> dict[str, tuple[set[str], list]]:
    return {sid: (set(as_list(s["Action"])), s["Resource"]) for sid, s in statements.items()}


COMMON_GRANTS = {
    "SendTraces": ({"xray:PutTraceSegments", "xray:PutTelemetryRecords"}, ["*"]),
    "DecryptEnvironment": ({"kms:Decrypt"}, [{"Ref": "SecretsKeyArn"}]),
}


def test_authorizer_role_reads_one_secret_with_one_key(api_t):
    statements = _statements(api_t, "PartnerAuthorizerRole")
    grants = _grants(statements)
    assert grants["WriteOwnLogGroup"] == (
        {"logs:CreateLogStream", "logs:PutLogEvents"},
        [{"Fn::GetAtt": ["PartnerAuthorizerLogGroup", "Arn"]}],
    )
    assert grants["ReadSigningKey"] == ({"secretsmanager:GetSecretValue"}, [{"Ref": "PartnerSigningSecret"}])
    assert grants["DecryptSigningKey"] == ({"kms:Decrypt"}, [{"Ref": "SecretsKeyArn"}])
    via = statements["DecryptSigningKey"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == [{"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}]
    assert {k: grants[k] for k in COMMON_GRANTS} == COMMON_GRANTS
    assert set(grants) == {
        *COMMON_GRANTS,
        "WriteOwnLogGroup",
        "ReadSigningKey",
        "DecryptSigningKey",
        "ManageVpcNetworkInterfaces",
    }


def test_ingest_role_sends_to_one_queue_with_one_key(api_t):
    statements = _statements(api_t, "WebhookIngestRole")
    grants = _grants(statements)
    assert grants["SendToWebhookQueue"] == ({"sqs:SendMessage"}, [{"Ref": "PartnerWebhooksQueueArn"}])
    assert grants["EncryptQueueMessages"] == ({"kms:GenerateDataKey", "kms:Decrypt"}, [{"Ref": "DataKeyArn"}])
    via = statements["EncryptQueueMessages"]["Condition"]["StringEquals"]["kms:ViaService"]
    assert via == [{"Fn::Sub": "sqs.${AWS::Region}.amazonaws.com"}]
    assert not any(a.startswith("secretsmanager:") for actions, _ in grants.values() for a in actions)


@pytest.mark.parametrize("role", ["PartnerAuthorizerRole", "WebhookIngestRole"])
def test_lambda_roles_use_star_only_where_aws_allows_nothing_else(api_t, role):
    for sid, (actions, resources_) in _grants(_statements(api_t, role)).items():
        if "*" in resources_:
            assert actions <= ACTIONS_WITHOUT_RESOURCE_PERMISSIONS, sid
        else:
            assert all(isinstance(r, dict) for r in resources_), sid  # a Ref/GetAtt of one resource
    trust = props(api_t["Resources"][role])["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Principal"] == {"Service": ["lambda.amazonaws.com"]}


def test_api_gateway_may_invoke_the_functions_only_for_this_api(api_t):
    arns = {
        props(p)["FunctionName"]["Fn::GetAtt"][0]: props(p)["SourceArn"]["Fn::Sub"]
        for p in resources(api_t, "AWS::Lambda::Permission").values()
    }
    prefix = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/"
    assert arns == {
        "PartnerAuthorizerFunction": prefix + "authorizers/${PartnerWebhookAuthorizer}",
        "WebhookIngestFunction": prefix + "*/POST/webhooks/*",
    }


def test_signing_key_is_generated_encrypted_and_kept(api_t):
    secret = api_t["Resources"]["PartnerSigningSecret"]
    assert "SecretString" not in props(secret) and props(secret)["GenerateSecretString"]["PasswordLength"] >= 32
    assert props(secret)["KmsKeyId"] == {"Ref": "SecretsKeyArn"}
    assert secret["DeletionPolicy"] == "Retain" and "Condition" not in secret
    env = props(api_t["Resources"]["PartnerAuthorizerFunction"])["Environment"]["Variables"]
    assert env["SECRET_ARN"] == {"Ref": "PartnerSigningSecret"}


# Outputs, lint and the platform.


def test_outputs_give_the_endpoint_and_the_dns_target(api_t, identity_t):
    outputs = {k: o["Value"] for k, o in api_t["Outputs"].items()}
    prod, dev = _values(api_t, **_env("prod")), _values(api_t, **_env("dev"))
    assert _evaluate(outputs["ApiEndpoint"], api_t, prod) == {"Fn::Sub": "https://${ApiDomainName}"}
    assert _evaluate(outputs["ApiEndpoint"], api_t, dev) == {"Fn::GetAtt": ["HttpApi", "ApiEndpoint"]}
    assert _evaluate(outputs["ApiDomainTarget"], api_t, prod) == {
        "Fn::GetAtt": ["ApiCustomDomain", "RegionalDomainName"]
    }
    assert _evaluate(outputs["ApiDomainTarget"], api_t, dev) == ""
    exposed = {o.name for tier in (api.TIER, identity.TIER) for o in tier.outputs if o.expose}
    assert {"ApiEndpoint", "ApiDomainTarget", "UserPoolId", "UserPoolClientId"} <= exposed


@pytest.mark.parametrize("tier", [api.TIER, identity.TIER], ids=lambda t: t.name)
def test_tier_template_is_lint_clean_on_its_own(tier, tmp_path):
    path = Path(tmp_path) / tier.filename("yaml")
    path.write_text(to_text(tier.build(project_config()), "yaml"))
    assert [str(f) for f in lint_paths([path])] == []


def test_root_gives_the_vpc_link_the_security_tiers_group(rendered):
    stack = props(rendered["root.yaml"]["Resources"]["ApiStack"])["Parameters"]
    assert stack["VpcLinkSecurityGroupId"] == {"Fn::GetAtt": ["SecurityStack", "Outputs.VpcLinkSecurityGroupId"]}
    assert stack["AppSubnetIds"] == {"Fn::GetAtt": ["NetworkStack", "Outputs.AppSubnetIds"]}
    assert stack["JwtIssuer"] == {"Fn::GetAtt": ["IdentityStack", "Outputs.JwtIssuer"]}
    assert stack["HttpsListenerArn"]["Fn::GetAtt"][1] == "Outputs.HttpsListenerArn"
