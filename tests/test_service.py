"""Service tiers: one stack per configured service, each with its repository, task, roles, routing and scaling.

Most checks run on the project's core-banking service and on a second service added through
configuration only (``parse_config``), so a service appended to platform.yaml is held to the same bar.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
import yaml

from neobank_cfn import contracts
from neobank_cfn.config import FARGATE_SIZES, PlatformConfig, parse_config
from neobank_cfn.lint import lint_paths
from neobank_cfn.naming import pascal
from neobank_cfn.render import platform, to_text
from neobank_cfn.tiers import service as svc
from tests.cfn import PROJECT, as_list, one, props, refs, resources

SECOND = {
    "name": "notifier",
    "description": "Sends customer notifications",
    "path": "/notifications/*",
    "host": "api.example.com",
    "port": 8081,
    "cpu": 256,
    "memory": 512,
    "desired_count": 1,
    "min_capacity": 1,
    "max_capacity": 3,
    "consumes": ["notifications"],
    "tables": ["idempotency-keys"],
}
NON_ROOT = re.compile(r"^[1-9][0-9]*(:[1-9][0-9]*)?$")


def _raw_project_config() -> dict:
    return yaml.safe_load((PROJECT / "platform.yaml").read_text())


def _two_services() -> PlatformConfig:
    """The project's configuration plus a second service; no code change."""
    raw = _raw_project_config()
    raw["services"].append(SECOND)
    return parse_config(raw, source="two-services")


@pytest.fixture(scope="module")
def two() -> PlatformConfig:
    return _two_services()


@pytest.fixture(scope="module", params=["core-banking", "notifier"])
def case(request, two) -> tuple:
    """(service config, its rendered template) for each service of the two-service platform."""
    return two.service(request.param), svc.build(request.param, two).to_dict()


def _container(template: dict, name: str) -> dict:
    _, task = one(template, "AWS::ECS::TaskDefinition")
    found = [c for c in props(task)["ContainerDefinitions"] if c["Name"] == name]
    assert len(found) == 1
    return found[0]


def _statements(template: dict, role: str, policy: str | None = None) -> dict[str, dict]:
    """Statements of a role's inline policies (both branches of a conditional one), by Sid."""
    found: dict[str, dict] = {}
    for entry in props(template["Resources"][role])["Policies"]:
        for doc in [entry["Fn::If"][1]] if "Fn::If" in entry else [entry]:
            if policy is None or doc["PolicyName"] == policy:
                found.update({s["Sid"]: s for s in doc["PolicyDocument"]["Statement"]})
    return found


def _resources_of(statement: dict) -> list:
    return as_list(statement["Resource"])


# -- one tier per service ---------------------------------------------------------------------


def test_each_service_is_its_own_tier_named_after_it(two):
    tiers = svc.tiers(two)
    assert [t.name for t in tiers] == ["service-core-banking", "service-notifier"]
    assert [t.logical_id for t in tiers] == ["ServiceCoreBankingStack", "ServiceNotifierStack"]
    assert [t.filename("yaml") for t in tiers] == ["service-core-banking.yaml", "service-notifier.yaml"]


def test_second_service_gets_its_own_nested_stack_in_the_root(two):
    plat = platform(two)
    root = {t.logical_id for t in plat.wiring.order}
    assert {"ServiceCoreBankingStack", "ServiceNotifierStack"} <= root
    assert plat.wiring.source(plat.tiers[-1], "HttpsListenerArn").name == "ingress"


def test_every_per_service_root_parameter_is_prefixed_and_defaults_come_from_the_config(two):
    names = {p.name for p in platform(two).wiring.root_params}
    for service in two.services:
        params = {p.name: p for p in svc.service_params(service)}
        prefix = pascal(service.name)
        assert set(params) == {
            f"{prefix}{s}"
            for s in ("ImageTag", "Cpu", "Memory", "DesiredCount", "MinCapacity", "MaxCapacity", "RequestsPerTarget")
        }
        assert set(params) <= names
        assert params[f"{prefix}Cpu"].default == str(service.cpu)
        assert params[f"{prefix}Memory"].default == str(service.memory)
        assert params[f"{prefix}DesiredCount"].default == str(service.desired_count)
        assert params[f"{prefix}MinCapacity"].default == str(service.min_capacity)
        assert params[f"{prefix}MaxCapacity"].default == str(service.max_capacity)
        assert params[f"{prefix}ImageTag"].default is None  # a deployment names the image it runs
    shared = {p.name for p in svc.SHARED_PARAMS}
    assert shared <= names and not any(n.startswith(("CoreBanking", "Notifier")) for n in shared)


def test_image_tag_parameter_rejects_latest_and_junk():
    tag = svc.service_params(_two_services().service("notifier"))[0]
    assert tag.name == "NotifierImageTag"
    for good in ("1.4.2", "2f4c1a9", "v1.5.0-rc.1", "build_42"):
        assert tag.problem(good) is None, good
    for bad in ("latest", "", "-x", "a b", "x" * 129):
        assert tag.problem(bad), bad


def test_lint_clean_standalone(case, tmp_path):
    service, _ = case
    path = tmp_path / f"service-{service.name}.yaml"
    path.write_text(to_text(svc.build(service.name, _two_services()), "yaml"))
    assert [str(f) for f in lint_paths([path])] == []


# -- ECR repository ---------------------------------------------------------------------------


def test_repository_scans_is_immutable_kms_encrypted_and_retained(case):
    service, template = case
    _, repo = one(template, "AWS::ECR::Repository")
    p = props(repo)
    assert p["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert p["ImageTagMutability"] == "IMMUTABLE"
    assert p["EncryptionConfiguration"] == {"EncryptionType": "KMS", "KmsKey": {"Ref": "DataKeyArn"}}
    assert (repo["DeletionPolicy"], repo["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert p["RepositoryName"] == {"Fn::Sub": f"${{Application}}/${{Environment}}/{service.name}"}


def test_lifecycle_policy_expires_untagged_and_keeps_the_newest_tagged(case):
    _, template = case
    _, repo = one(template, "AWS::ECR::Repository")
    text = props(repo)["LifecyclePolicy"]["LifecyclePolicyText"]["Fn::Sub"]
    policy = json.loads(text.replace("${UntaggedImageExpiryDays}", "7").replace("${TaggedImagesKept}", "50"))
    untagged, tagged = sorted(policy["rules"], key=lambda r: r["rulePriority"])
    assert untagged["selection"] == {
        "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7
    }  # fmt: skip
    assert tagged["selection"] == {
        "tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": 50
    }  # fmt: skip
    assert all(r["action"] == {"type": "expire"} for r in policy["rules"])


# -- task definition --------------------------------------------------------------------------


def test_task_is_fargate_awsvpc_sized_by_parameters_on_the_chosen_architecture(case):
    service, template = case
    _, task = one(template, "AWS::ECS::TaskDefinition")
    p, prefix = props(task), pascal(service.name)
    assert p["RequiresCompatibilities"] == ["FARGATE"] and p["NetworkMode"] == "awsvpc"
    assert (p["Cpu"], p["Memory"]) == ({"Ref": f"{prefix}Cpu"}, {"Ref": f"{prefix}Memory"})
    assert p["RuntimePlatform"] == {"CpuArchitecture": {"Ref": "CpuArchitecture"}, "OperatingSystemFamily": "LINUX"}
    assert template["Parameters"]["CpuArchitecture"]["AllowedValues"] == ["ARM64", "X86_64"]
    assert p["ExecutionRoleArn"] == {"Fn::GetAtt": ["ExecutionRole", "Arn"]}
    assert p["TaskRoleArn"] == {"Fn::GetAtt": ["TaskRole", "Arn"]}


def test_cpu_and_memory_parameters_allow_only_fargate_sizes(case):
    service, template = case
    prefix = pascal(service.name)
    cpu, memory = template["Parameters"][f"{prefix}Cpu"], template["Parameters"][f"{prefix}Memory"]
    assert cpu["AllowedValues"] == [str(c) for c in FARGATE_SIZES]
    assert set(memory["AllowedValues"]) == {str(m) for sizes in FARGATE_SIZES.values() for m in sizes}


def test_rules_accept_exactly_the_valid_fargate_pairs(case):
    service, template = case
    prefix = pascal(service.name)
    rules = svc.size_rules(service)
    assert {r.name for r in rules} <= set(template["Rules"])
    memories = sorted({m for sizes in FARGATE_SIZES.values() for m in sizes})
    for cpu, memory in itertools.product(FARGATE_SIZES, memories):
        values = {f"{prefix}Cpu": str(cpu), f"{prefix}Memory": str(memory)}
        broken = [r.name for r in rules if r.violated(values)]
        assert (broken == []) == (memory in FARGATE_SIZES[cpu]), (cpu, memory, broken)


def test_app_container_runs_this_repository_at_the_image_tag_on_the_service_port(case):
    service, template = case
    app = _container(template, service.name)
    assert app["Image"] == {
        "Fn::Join": [":", [{"Fn::GetAtt": ["Repository", "RepositoryUri"]}, {"Ref": f"{pascal(service.name)}ImageTag"}]]
    }
    assert app["Essential"] is True
    assert [(m["ContainerPort"], m["Protocol"]) for m in app["PortMappings"]] == [(service.port, "tcp")]


def test_secrets_come_from_secrets_manager_never_the_environment(case):
    service, template = case
    app = _container(template, service.name)
    secrets = {s["Name"]: s["ValueFrom"] for s in app["Secrets"]}
    expected = {
        "SPRING_DATASOURCE_USERNAME": {"Fn::Sub": "${DatabaseSecretArn}:username::"},
        "SPRING_DATASOURCE_PASSWORD": {"Fn::Sub": "${DatabaseSecretArn}:password::"},
        "SPRING_DATA_REDIS_PASSWORD": {"Fn::Sub": "${CacheAuthSecretArn}:token::"},
    }
    if service.partner_api_key:
        expected["PARTNER_API_KEY"] = {"Fn::Sub": "${PartnerApiKeySecretArn}:apiKey::"}
    assert secrets == expected
    environment = app["Environment"]
    assert not [e["Name"] for e in environment if re.search(r"PASSWORD|SECRET|TOKEN|API_KEY|USERNAME", e["Name"])]
    assert not [r for r in refs(environment) if r.endswith("SecretArn")]
    assert "SecretArn" not in json.dumps(environment)


def test_environment_carries_the_wired_outputs_and_the_spring_profile(case):
    service, template = case
    env = {e["Name"]: e["Value"] for e in _container(template, service.name)["Environment"]}
    assert env["SPRING_PROFILES_ACTIVE"] == {"Ref": "Environment"}
    assert env["SERVER_PORT"] == str(service.port)
    assert env["SPRING_DATA_REDIS_HOST"] == {"Ref": "CacheEndpoint"}
    assert env["SPRING_DATA_REDIS_PORT"] == {"Ref": "CachePort"}
    assert {"DatabaseEndpoint", "DatabasePort", "DatabaseName"} <= refs(env["SPRING_DATASOURCE_URL"]) | set(
        re.findall(r"\$\{(\w+)\}", env["SPRING_DATASOURCE_URL"]["Fn::Sub"])
    )
    assert "-XX:MaxRAMPercentage=75" in env["JAVA_TOOL_OPTIONS"]
    for queue in service.consumes + service.sends:
        assert env[f"{queue.upper().replace('-', '_')}_QUEUE_URL"] == {"Ref": contracts.queue_url(queue).name}
    for table in service.tables:
        assert env[f"{table.upper().replace('-', '_')}_TABLE_NAME"] == {"Ref": contracts.table_name(table).name}
    for topic in service.publishes:
        assert env[f"{topic.upper().replace('-', '_')}_TOPIC_ARN"] == {"Ref": contracts.topic_arn(topic).name}
    names = [e["Name"] for e in _container(template, service.name)["Environment"]]
    assert names == sorted(names)


def test_app_container_is_hardened(case):
    service, template = case
    app = _container(template, service.name)
    assert NON_ROOT.match(app["User"]), app["User"]
    # Read-only unless ECS Exec is on (its agent needs a writable root); prod forbids Exec by Rule.
    assert app["ReadonlyRootFilesystem"] == {"Fn::If": ["ExecOn", False, True]}
    assert template["Conditions"]["ExecOn"] == {"Fn::Equals": [{"Ref": "ExecEnabled"}, "true"]}
    assert app["MountPoints"] == [{"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}]
    _, task = one(template, "AWS::ECS::TaskDefinition")
    assert props(task)["Volumes"] == [{"Name": "tmp"}]
    assert 30 <= app["StopTimeout"] <= 120
    assert app["LinuxParameters"] == {"InitProcessEnabled": True}


def test_container_health_check_probes_the_health_path_on_localhost(case):
    service, template = case
    check = _container(template, service.name)["HealthCheck"]
    kind, command = check["Command"]
    assert kind == "CMD-SHELL"
    assert f"localhost:{service.port}{service.health_path}" in command and command.startswith("curl -f")
    assert check["StartPeriod"] >= 60


def test_logs_go_to_encrypted_retained_log_groups_one_per_container(case):
    service, template = case
    groups = resources(template, "AWS::Logs::LogGroup")
    assert set(groups) == {"AppLogGroup", "CollectorLogGroup"}
    for group in groups.values():
        assert props(group)["KmsKeyId"] == {"Ref": "LogsKeyArn"}
        assert props(group)["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    for container, group in ((service.name, "AppLogGroup"), (svc.COLLECTOR_CONTAINER, "CollectorLogGroup")):
        logging = _container(template, container)["LogConfiguration"]
        assert logging["LogDriver"] == "awslogs"
        assert logging["Options"]["awslogs-group"] == {"Ref": group}


def test_collector_sidecar_is_non_essential_non_root_read_only_and_started_first(case):
    service, template = case
    collector = _container(template, svc.COLLECTOR_CONTAINER)
    assert collector["Essential"] is False
    assert NON_ROOT.match(collector["User"]) and collector["ReadonlyRootFilesystem"] is True
    assert collector["Image"] == {"Ref": "CollectorImage"}
    default = template["Parameters"]["CollectorImage"]["Default"]
    assert default.startswith("public.ecr.aws/aws-observability/aws-otel-collector:v")
    assert collector["HealthCheck"]["Command"] == ["/healthcheck"]
    assert _container(template, service.name)["DependsOn"] == [
        {"Condition": "START", "ContainerName": svc.COLLECTOR_CONTAINER}
    ]
    env = {e["Name"]: e["Value"] for e in _container(template, service.name)["Environment"]}
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == f"127.0.0.1:{svc.XRAY_PORT}"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://127.0.0.1:{svc.OTLP_HTTP_PORT}"
    assert env["OTEL_SERVICE_NAME"] == service.name


def test_collector_sends_only_traces_to_xray_from_loopback(case):
    _, template = case
    env = {e["Name"]: e["Value"] for e in _container(template, svc.COLLECTOR_CONTAINER)["Environment"]}
    config = json.loads(env["AOT_CONFIG_CONTENT"])
    assert set(config["service"]["pipelines"]) == {"traces"}
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["awsxray"]
    assert set(config["exporters"]) == {"awsxray"}  # no EMF/CloudWatch Logs exporter creating log groups
    endpoints = [r["endpoint"] for r in config["receivers"]["otlp"]["protocols"].values()]
    endpoints.append(config["receivers"]["awsxray"]["endpoint"])
    assert all(e.startswith("127.0.0.1:") for e in endpoints)


def test_collector_image_parameter_refuses_latest():
    param = svc.COLLECTOR_IMAGE
    assert param.problem("public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3") is None
    assert param.problem("public.ecr.aws/aws-observability/aws-otel-collector:latest")
    assert param.problem("public.ecr.aws/aws-observability/aws-otel-collector")


# -- IAM --------------------------------------------------------------------------------------


def test_roles_are_assumed_only_by_ecs_tasks_of_this_account(case):
    _, template = case
    for role in ("ExecutionRole", "TaskRole"):
        statement = props(template["Resources"][role])["AssumeRolePolicyDocument"]["Statement"][0]
        assert statement["Principal"] == {"Service": ["ecs-tasks.amazonaws.com"]}
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Fn::Sub": "${AWS::AccountId}"}}}


def test_execution_role_pulls_this_repository_writes_these_logs_and_reads_exactly_these_secrets(case):
    service, template = case
    statements = _statements(template, "ExecutionRole")
    assert set(statements) == {
        "AuthenticateToEcr", "PullServiceImage", "WriteContainerLogs", "ReadServiceSecrets", "DecryptSecrets"
    }  # fmt: skip
    assert _resources_of(statements["AuthenticateToEcr"]) == ["*"]
    assert as_list(statements["AuthenticateToEcr"]["Action"]) == ["ecr:GetAuthorizationToken"]
    assert _resources_of(statements["PullServiceImage"]) == [{"Fn::GetAtt": ["Repository", "Arn"]}]
    assert _resources_of(statements["WriteContainerLogs"]) == [
        {"Fn::GetAtt": ["AppLogGroup", "Arn"]},
        {"Fn::GetAtt": ["CollectorLogGroup", "Arn"]},
    ]
    secrets = [{"Ref": "DatabaseSecretArn"}, {"Ref": "CacheAuthSecretArn"}]
    secrets += [{"Ref": "PartnerApiKeySecretArn"}] if service.partner_api_key else []
    assert _resources_of(statements["ReadServiceSecrets"]) == secrets
    assert as_list(statements["ReadServiceSecrets"]["Action"]) == ["secretsmanager:GetSecretValue"]
    decrypt = statements["DecryptSecrets"]
    assert (as_list(decrypt["Action"]), _resources_of(decrypt)) == (["kms:Decrypt"], [{"Ref": "SecretsKeyArn"}])
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }


def test_task_role_touches_exactly_the_configured_tables_queues_and_topics(case):
    service, template = case
    statements = _statements(template, "TaskRole", "application")
    tables = [{"Ref": contracts.table_arn(t).name} for t in service.tables]
    indexes = [{"Fn::Sub": f"${{{contracts.table_arn(t).name}}}/index/*"} for t in service.tables]
    assert _resources_of(statements["UseTables"]) == tables + indexes
    assert "dynamodb:Scan" not in as_list(statements["UseTables"]["Action"])
    consume = statements["ConsumeQueues"]
    assert _resources_of(consume) == [{"Ref": contracts.queue_arn(q).name} for q in service.consumes]
    assert as_list(consume["Action"]) == [
        "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"
    ]  # fmt: skip
    if service.sends:
        send = statements["SendToQueues"]
        assert _resources_of(send) == [{"Ref": contracts.queue_arn(q).name} for q in service.sends]
        assert as_list(send["Action"]) == ["sqs:SendMessage"]
    else:
        assert "SendToQueues" not in statements
    if service.publishes:
        publish = statements["PublishToTopics"]
        assert _resources_of(publish) == [{"Ref": contracts.topic_arn(t).name} for t in service.publishes]
        assert as_list(publish["Action"]) == ["sns:Publish"]
    else:
        assert "PublishToTopics" not in statements
    key = statements["UseDataKeyThroughServices"]
    assert (as_list(key["Action"]), _resources_of(key)) == (
        ["kms:Decrypt", "kms:GenerateDataKey"],
        [{"Ref": "DataKeyArn"}],
    )
    assert len(key["Condition"]["StringEquals"]["kms:ViaService"]) == 3
    ssm = statements["ReadConfiguration"]
    assert _resources_of(ssm) == [
        {"Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${ConfigParameterPath}*"}
    ]
    assert _resources_of(statements["SendTraces"]) == ["*"]
    assert all(a.startswith("xray:") for a in as_list(statements["SendTraces"]["Action"]))
    unscoped = {sid for sid, s in statements.items() if "*" in _resources_of(s)}
    assert unscoped == {"SendTraces"}


def test_ecs_exec_permissions_exist_only_when_exec_is_enabled(case):
    _, template = case
    policies = props(template["Resources"]["TaskRole"])["Policies"]
    conditional = [p for p in policies if "Fn::If" in p]
    assert len(conditional) == 1
    condition, policy, otherwise = conditional[0]["Fn::If"]
    assert (condition, otherwise, policy["PolicyName"]) == ("ExecOn", {"Ref": "AWS::NoValue"}, "ecs-exec")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert _resources_of(statements["OpenExecSessions"]) == ["*"]
    assert all(a.startswith("ssmmessages:") for a in as_list(statements["OpenExecSessions"]["Action"]))
    assert _resources_of(statements["DecryptExecSessions"]) == [{"Ref": "DataKeyArn"}]
    assert _resources_of(statements["WriteExecSessionLogs"]) == [{"Ref": "ExecLogGroupArn"}]
    assert "*" not in _resources_of(statements["FindExecLogGroup"])
    assert not [p for p in policies if "Fn::If" not in p and p["PolicyName"] == "ecs-exec"]


def test_first_service_cannot_touch_the_second_services_queue(two):
    core = svc.build("core-banking", two).to_dict()
    notifier = svc.build("notifier", two).to_dict()
    notifications = {"Ref": contracts.queue_arn("notifications").name}
    core_resources = [r for s in _statements(core, "TaskRole").values() for r in _resources_of(s)]
    assert notifications not in core_resources
    assert {"Ref": "PaymentsQueueArn"} in core_resources  # the check above can fail
    assert contracts.queue_arn("notifications").name not in core["Parameters"]
    assert "NotificationsQueueArn" not in json.dumps(props(core["Resources"]["TaskRole"]))
    assert _resources_of(_statements(notifier, "TaskRole")["ConsumeQueues"]) == [notifications]
    # ... and the second service reaches nothing of the first's but the table both list.
    notifier_role = json.dumps(props(notifier["Resources"]["TaskRole"]))
    for name in ("PaymentsQueueArn", "LedgerPostingsQueueArn", "DomainEventsTopicArn", "TransactionEventsTableArn"):
        assert name not in notifier_role
    assert "PartnerApiKeySecretArn" not in json.dumps(props(notifier["Resources"]["ExecutionRole"]))


def test_inputs_are_exactly_what_the_access_list_needs(case):
    service, template = case
    wired = {p.name for p in svc.make_tier(service).inputs if p.wired}
    per_resource = {
        *(contracts.queue_arn(q).name for q in service.consumes + service.sends),
        *(contracts.queue_url(q).name for q in service.consumes + service.sends),
        *(contracts.table_arn(t).name for t in service.tables),
        *(contracts.table_name(t).name for t in service.tables),
        *(contracts.topic_arn(t).name for t in service.publishes),
    }
    common = {p.name for p in svc.COMMON_INPUTS if p.wired}
    partner = {"PartnerApiKeySecretArn"} if service.partner_api_key else set()
    assert wired == common | per_resource | partner
    assert wired <= set(template["Parameters"])


# -- load balancing ---------------------------------------------------------------------------


def test_target_group_is_ip_with_an_http_health_check_and_short_deregistration(case):
    service, template = case
    _, group = one(template, "AWS::ElasticLoadBalancingV2::TargetGroup")
    p = props(group)
    assert (p["TargetType"], p["Protocol"], p["Port"]) == ("ip", "HTTP", service.port)
    assert (p["HealthCheckProtocol"], p["HealthCheckPath"], p["Matcher"]) == (
        "HTTP", service.health_path, {"HttpCode": "200"}
    )  # fmt: skip
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "30"} in p["TargetGroupAttributes"]
    assert p["VpcId"] == {"Ref": "VpcId"}


def test_listener_rule_routes_the_path_and_host_to_the_target_group(case):
    service, template = case
    _, rule = one(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    p = props(rule)
    assert p["ListenerArn"] == {"Ref": "HttpsListenerArn"}
    assert p["Actions"] == [{"TargetGroupArn": {"Ref": "TargetGroup"}, "Type": "forward"}]
    conditions = {c["Field"]: c for c in p["Conditions"]}
    assert conditions["path-pattern"]["PathPatternConfig"]["Values"] == [service.path]
    if service.host:
        assert conditions["host-header"]["HostHeaderConfig"]["Values"] == [service.host]
    else:
        assert set(conditions) == {"path-pattern"}


def _priority(template: dict) -> int:
    return props(one(template, "AWS::ElasticLoadBalancingV2::ListenerRule")[1])["Priority"]


def test_listener_priorities_follow_the_service_list_and_survive_appending(two, plat):
    assert _priority(svc.build("core-banking", plat.config).to_dict()) == 10
    assert _priority(svc.build("core-banking", two).to_dict()) == 10  # unchanged by the appended service
    assert _priority(svc.build("notifier", two).to_dict()) == 20
    assert [svc.listener_priority(two, s.name) for s in two.services] == [10, 20]


# -- the ECS service --------------------------------------------------------------------------


def test_service_runs_privately_without_public_ips(case):
    _, template = case
    _, service = one(template, "AWS::ECS::Service")
    network = props(service)["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network == {
        "AssignPublicIp": "DISABLED",
        "SecurityGroups": [{"Ref": "AppSecurityGroupId"}],
        "Subnets": {"Ref": "AppSubnetIds"},
    }


def test_service_deploys_rolling_with_circuit_breaker_and_alarm_rollback(case):
    _, template = case
    _, service = one(template, "AWS::ECS::Service")
    p = props(service)
    deployment = p["DeploymentConfiguration"]
    assert p["DeploymentController"] == {"Type": "ECS"}
    assert (deployment["Strategy"], deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (
        "ROLLING", 100, 200
    )  # fmt: skip
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    alarms = deployment["Alarms"]
    assert (alarms["Enable"], alarms["Rollback"]) == (True, True)
    assert alarms["AlarmNames"] == [{"Ref": a} for a in resources(template, "AWS::CloudWatch::Alarm")]
    assert len(alarms["AlarmNames"]) == 2


def test_service_settings(case):
    service, template = case
    _, ecs_service = one(template, "AWS::ECS::Service")
    p = props(ecs_service)
    assert p["Cluster"] == {"Ref": "ClusterName"}
    assert p["TaskDefinition"] == {"Ref": "TaskDefinition"}
    assert p["DesiredCount"] == {"Ref": f"{pascal(service.name)}DesiredCount"}
    assert p["HealthCheckGracePeriodSeconds"] == {"Ref": "HealthCheckGracePeriod"}
    grace = template["Parameters"]["HealthCheckGracePeriod"]
    assert int(grace["Default"]) >= 60 and grace["MinValue"] >= 60
    assert (p["PropagateTags"], p["EnableECSManagedTags"]) == ("SERVICE", True)
    assert p["EnableExecuteCommand"] == {"Fn::If": ["ExecOn", True, False]}
    assert "LaunchType" not in p and "CapacityProviderStrategy" not in p  # the cluster's default strategy
    assert p["LoadBalancers"] == [
        {"ContainerName": service.name, "ContainerPort": service.port, "TargetGroupArn": {"Ref": "TargetGroup"}}
    ]
    assert ecs_service["DependsOn"] == ["ListenerRule"]


def test_exec_is_refused_in_prod_by_a_rule():
    rule = next(r for r in svc.SHARED_RULES if r.name == "ExecDisabledInProduction")
    assert rule.violated({"Environment": "prod", "ExecEnabled": "true"})
    assert not rule.violated({"Environment": "prod", "ExecEnabled": "false"})
    assert not rule.violated({"Environment": "dev", "ExecEnabled": "true"})


def test_deployment_alarms_watch_this_target_group(case):
    _, template = case
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert {props(a)["MetricName"] for a in alarms.values()} == {"HTTPCode_Target_5XX_Count", "UnHealthyHostCount"}
    for alarm in alarms.values():
        p = props(alarm)
        assert p["Namespace"] == "AWS/ApplicationELB"
        assert p["Dimensions"] == [
            {"Name": "LoadBalancer", "Value": {"Ref": "LoadBalancerFullName"}},
            {"Name": "TargetGroup", "Value": {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]}},
        ]
        assert p["AlarmActions"] == [{"Ref": "AlarmTopicArn"}]


# -- auto scaling -----------------------------------------------------------------------------


def test_scalable_target_uses_the_service_linked_role_and_the_capacity_parameters(case):
    service, template = case
    _, target = one(template, "AWS::ApplicationAutoScaling::ScalableTarget")
    p, prefix = props(target), pascal(service.name)
    assert "RoleARN" not in p
    assert (p["MinCapacity"], p["MaxCapacity"]) == ({"Ref": f"{prefix}MinCapacity"}, {"Ref": f"{prefix}MaxCapacity"})
    assert (p["ServiceNamespace"], p["ScalableDimension"]) == ("ecs", "ecs:service:DesiredCount")
    assert p["ResourceId"] == {
        "Fn::Join": ["/", ["service", {"Ref": "ClusterName"}, {"Fn::GetAtt": ["Service", "Name"]}]]
    }


def test_target_tracking_on_cpu_memory_and_requests_per_target(case):
    service, template = case
    found = [props(p) for p in resources(template, "AWS::ApplicationAutoScaling::ScalingPolicy").values()]
    metric = "PredefinedMetricSpecification"
    policies = {p["TargetTrackingScalingPolicyConfiguration"][metric]["PredefinedMetricType"]: p for p in found}
    assert set(policies) == {
        "ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization", "ALBRequestCountPerTarget"
    }  # fmt: skip
    for policy in policies.values():
        config = policy["TargetTrackingScalingPolicyConfiguration"]
        assert policy["PolicyType"] == "TargetTrackingScaling"
        assert policy["ScalingTargetId"] == {"Ref": "ScalableTarget"}
        assert config["ScaleOutCooldown"] < config["ScaleInCooldown"]
    requests = policies["ALBRequestCountPerTarget"]["TargetTrackingScalingPolicyConfiguration"]
    assert requests["PredefinedMetricSpecification"]["ResourceLabel"] == {
        "Fn::Join": ["/", [{"Ref": "LoadBalancerFullName"}, {"Fn::GetAtt": ["TargetGroup", "TargetGroupFullName"]}]]
    }
    assert requests["TargetValue"] == {"Ref": f"{pascal(service.name)}RequestsPerTarget"}


# -- outputs and the committed platform -------------------------------------------------------


def test_outputs_name_the_repository_and_the_service(case):
    service, template = case
    prefix = pascal(service.name)
    assert template["Outputs"][f"{prefix}RepositoryUri"]["Value"] == {"Fn::GetAtt": ["Repository", "RepositoryUri"]}
    assert template["Outputs"][f"{prefix}ServiceName"]["Value"] == {"Fn::GetAtt": ["Service", "Name"]}


def test_project_platform_has_one_service_stack_per_configured_service(rendered, plat):
    root = rendered["root.yaml"]
    for service in plat.config.services:
        assert f"service-{service.name}.yaml" in rendered
        stack = root["Resources"][f"Service{pascal(service.name)}Stack"]
        assert props(stack)["Parameters"]["HttpsListenerArn"] == {
            "Fn::GetAtt": ["IngressStack", "Outputs.HttpsListenerArn"]
        }


def test_env_files_run_dev_cheap_and_prod_highly_available():
    values = {
        env: {e["ParameterKey"]: e["ParameterValue"] for e in json.loads((PROJECT / f"params/{env}.json").read_text())}
        for env in ("dev", "staging", "prod")
    }
    assert values["dev"]["CoreBankingDesiredCount"] == "1" and values["dev"]["ExecEnabled"] == "true"
    assert int(values["prod"]["CoreBankingDesiredCount"]) >= 3 and int(values["prod"]["CoreBankingMinCapacity"]) >= 3
    assert values["prod"]["ExecEnabled"] == "false"
    assert int(values["dev"]["FargateSpotWeight"]) > 0  # dev tasks mostly on Fargate Spot (cluster default)
