"""Messaging tier: queues, dead-letter queues, topics and their policies, derived from the configuration.

Every property check runs twice: on the project's configuration and on one with an extra FIFO queue
fed by an extra FIFO topic, so a queue or topic added to platform.yaml is held to the same checks.
"""

from __future__ import annotations

import warnings

import boto3
import pytest
import yaml
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sqs.models import sqs_backends

from neobank_cfn import contracts
from neobank_cfn.config import PlatformConfig, parse_config
from neobank_cfn.errors import UserError
from neobank_cfn.lint import lint_paths
from neobank_cfn.naming import pascal
from neobank_cfn.render import platform, to_text
from neobank_cfn.tiers import messaging
from tests.cfn import PROJECT, props, resources

DATA_KEY = {"Ref": "DataKeyArn"}
TLS_DENY_CONDITION = {"Bool": {"aws:SecureTransport": "false"}}
SNS = {"Service": ["sns.amazonaws.com"]}
ACCOUNT_ROOT = {"AWS": [{"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}]}
EXTRA_QUEUE = {"name": "card-authorisations", "fifo": True, "visibility_timeout": 45}
EXTRA_TOPIC = {"name": "card-events", "fifo": True, "subscribers": ["card-authorisations"]}


def _raw_project_config() -> dict:
    return yaml.safe_load((PROJECT / "platform.yaml").read_text())


def _extended_config() -> PlatformConfig:
    """The project's configuration plus a FIFO queue fed by a FIFO topic; no code change."""
    raw = _raw_project_config()
    raw["queues"].append(EXTRA_QUEUE)
    raw["topics"].append(EXTRA_TOPIC)
    return parse_config(raw, source="extended")


@pytest.fixture(scope="module", params=["project", "extended"])
def case(request, plat) -> tuple[PlatformConfig, dict]:
    """(configuration, rendered messaging template) for each configuration under test."""
    config = plat.config if request.param == "project" else _extended_config()
    return config, messaging.build(config).to_dict()


def _queue(template: dict, name: str) -> dict:
    return template["Resources"][f"{pascal(name)}Queue"]


def _dlq(template: dict, name: str) -> dict:
    return template["Resources"][f"{pascal(name)}Dlq"]


def _arn(logical: str) -> dict:
    return {"Fn::GetAtt": [logical, "Arn"]}


def _policy_of(template: dict, type_: str, key: str, logical: str) -> list[dict]:
    """Statements of the only policy of type ``type_`` that covers ``logical``."""
    found = [p for p in resources(template, type_).values() if {"Ref": logical} in props(p)[key]]
    assert len(found) == 1, f"{logical} is covered by {len(found)} policies"
    assert props(found[0])[key] == [{"Ref": logical}], "one policy per queue or topic"
    return props(found[0])["PolicyDocument"]["Statement"]


def _subscribers_of(config: PlatformConfig, queue: str) -> list[str]:
    return [t.name for t in config.topics if queue in t.subscribers]


def test_one_queue_and_one_dead_letter_queue_per_configured_queue(case):
    config, template = case
    expected = {f"{pascal(q.name)}{kind}" for q in config.queues for kind in ("Queue", "Dlq")}
    assert set(resources(template, "AWS::SQS::Queue")) == expected


def test_every_queue_is_encrypted_with_the_data_key(case):
    _, template = case
    for logical, queue in resources(template, "AWS::SQS::Queue").items():
        assert props(queue)["KmsMasterKeyId"] == DATA_KEY, logical
        assert 60 <= props(queue)["KmsDataKeyReusePeriodSeconds"] <= 86400, logical
        assert "SqsManagedSseEnabled" not in props(queue), logical


def test_queues_long_poll_and_keep_the_configured_visibility_timeout(case):
    config, template = case
    for queue in config.queues:
        for resource in (_queue(template, queue.name), _dlq(template, queue.name)):
            assert props(resource)["ReceiveMessageWaitTimeSeconds"] == 20
            assert props(resource)["VisibilityTimeout"] == queue.visibility_timeout


def test_dead_letter_queues_keep_messages_14_days_longer_than_their_source(case):
    config, template = case
    for queue in config.queues:
        assert props(_dlq(template, queue.name))["MessageRetentionPeriod"] == 14 * 24 * 3600
        assert props(_queue(template, queue.name))["MessageRetentionPeriod"] < 14 * 24 * 3600


def test_queue_dead_letters_after_the_max_receive_count_parameter(case):
    config, template = case
    for queue in config.queues:
        assert props(_queue(template, queue.name))["RedrivePolicy"] == {
            "deadLetterTargetArn": _arn(f"{pascal(queue.name)}Dlq"),
            "maxReceiveCount": {"Ref": "MaxReceiveCount"},
        }
        assert "RedrivePolicy" not in props(_dlq(template, queue.name))


def test_dead_letter_queue_accepts_only_its_own_source_queue(case):
    config, template = case
    for queue in config.queues:
        allow = props(_dlq(template, queue.name))["RedriveAllowPolicy"]
        assert allow["redrivePermission"] == "byQueue"
        (source,) = allow["sourceQueueArns"]
        pattern, variables = source["Fn::Sub"]
        assert pattern == "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}"
        # The ARN is built from exactly the name the source queue is given.
        assert variables == {"QueueName": props(_queue(template, queue.name))["QueueName"]}


def test_queues_and_dead_letter_queues_are_retained(case):
    _, template = case
    for logical, queue in resources(template, "AWS::SQS::Queue").items():
        assert queue["DeletionPolicy"] == queue["UpdateReplacePolicy"] == "Retain", logical


def test_fifo_where_configured_with_fifo_names_and_content_based_dedup(case):
    config, template = case
    assert any(q.fifo for q in config.queues), "the configuration under test has a FIFO queue"
    for queue in config.queues:
        for resource, suffix in ((_queue(template, queue.name), ""), (_dlq(template, queue.name), "-dlq")):
            p = props(resource)
            if queue.fifo:
                assert p["QueueName"] == {"Fn::Sub": f"${{Application}}-${{Environment}}-{queue.name}{suffix}.fifo"}
                assert p["FifoQueue"] is True and p["ContentBasedDeduplication"] is True
                assert (p["DeduplicationScope"], p["FifoThroughputLimit"]) == ("messageGroup", "perMessageGroupId")
            else:
                assert not {"FifoQueue", "ContentBasedDeduplication", "DeduplicationScope"} & set(p)
                assert ".fifo" not in str(p.get("QueueName", ""))


def test_only_source_queues_and_fifo_dead_letter_queues_are_named(case):
    config, template = case
    for queue in config.queues:
        assert props(_queue(template, queue.name))["QueueName"] == {
            "Fn::Sub": f"${{Application}}-${{Environment}}-{queue.name}{'.fifo' if queue.fifo else ''}"
        }
        assert ("QueueName" in props(_dlq(template, queue.name))) is queue.fifo


def test_every_queue_has_one_tls_only_policy(case):
    _, template = case
    for logical in resources(template, "AWS::SQS::Queue"):
        statements = _policy_of(template, "AWS::SQS::QueuePolicy", "Queues", logical)
        assert statements[0] == {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["sqs:*"],
            "Resource": [_arn(logical)],
            "Condition": TLS_DENY_CONDITION,
        }


def _sns_sends(topic: str, queue_logical: str) -> dict:
    return {
        "Sid": f"{pascal(topic)}TopicSends",
        "Effect": "Allow",
        "Principal": SNS,
        "Action": ["sqs:SendMessage"],
        "Resource": [_arn(queue_logical)],
        "Condition": {"ArnEquals": {"aws:SourceArn": {"Ref": f"{pascal(topic)}Topic"}}},
    }


def test_sns_may_send_to_a_queue_only_from_the_topics_it_subscribes_to(case):
    config, template = case
    for queue in config.queues:
        for logical in (f"{pascal(queue.name)}Queue", f"{pascal(queue.name)}Dlq"):
            allows = [
                s for s in _policy_of(template, "AWS::SQS::QueuePolicy", "Queues", logical) if s["Effect"] == "Allow"
            ]
            # The dead-letter queue takes what SNS cannot deliver to its queue (subscription redrive).
            assert allows == [_sns_sends(topic, logical) for topic in _subscribers_of(config, queue.name)]


def test_one_raw_delivery_subscription_per_subscriber(case):
    config, template = case
    subscriptions = {
        logical: props(s)
        for logical, s in resources(template, "AWS::SNS::Subscription").items()
        if props(s)["Protocol"] == "sqs"
    }
    expected = {}
    for topic in config.topics:
        for queue in topic.subscribers:
            expected[f"{pascal(topic.name)}TopicTo{pascal(queue)}Subscription"] = {
                "TopicArn": {"Ref": f"{pascal(topic.name)}Topic"},
                "Protocol": "sqs",
                "Endpoint": _arn(f"{pascal(queue)}Queue"),
                "RawMessageDelivery": True,
                "RedrivePolicy": {"deadLetterTargetArn": _arn(f"{pascal(queue)}Dlq")},
            }
    assert subscriptions == expected
    assert expected, "the configuration under test feeds at least one queue from a topic"


def test_topics_per_configured_topic_plus_the_alarm_topic_all_encrypted(case):
    config, template = case
    topics = resources(template, "AWS::SNS::Topic")
    assert set(topics) == {f"{pascal(t.name)}Topic" for t in config.topics} | {"AlarmTopic"}
    for logical, topic in topics.items():
        assert props(topic)["KmsMasterKeyId"] == DATA_KEY, logical


def test_fifo_topics_where_configured(case):
    config, template = case
    for topic in config.topics:
        p = props(template["Resources"][f"{pascal(topic.name)}Topic"])
        if topic.fifo:
            assert p["FifoTopic"] is True and p["ContentBasedDeduplication"] is True
            assert p["TopicName"] == {"Fn::Sub": f"${{Application}}-${{Environment}}-{topic.name}.fifo"}
        else:
            assert not {"FifoTopic", "TopicName", "ContentBasedDeduplication"} & set(p)


def _topic_tls_deny(logical: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": [a.JSONrepr() for a in messaging.TOPIC_ACTIONS],
        "Resource": [{"Ref": logical}],
        "Condition": TLS_DENY_CONDITION,
    }


def _account_publishes(logical: str) -> dict:
    return {
        "Sid": "AccountPublishes",
        "Effect": "Allow",
        "Principal": ACCOUNT_ROOT,
        "Action": ["sns:Publish"],
        "Resource": [{"Ref": logical}],
    }


def test_domain_topics_are_tls_only_and_only_this_account_publishes(case):
    config, template = case
    for topic in config.topics:
        logical = f"{pascal(topic.name)}Topic"
        statements = _policy_of(template, "AWS::SNS::TopicPolicy", "Topics", logical)
        assert statements == [_topic_tls_deny(logical), _account_publishes(logical)]


def test_alarm_topic_takes_this_accounts_cloudwatch_alarms(case):
    _, template = case
    statements = _policy_of(template, "AWS::SNS::TopicPolicy", "Topics", "AlarmTopic")
    assert statements == [
        _topic_tls_deny("AlarmTopic"),
        _account_publishes("AlarmTopic"),
        {
            "Sid": "CloudWatchAlarmsPublish",
            "Effect": "Allow",
            "Principal": {"Service": ["cloudwatch.amazonaws.com"]},
            "Action": ["sns:Publish"],
            "Resource": [{"Ref": "AlarmTopic"}],
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        },
    ]


def test_the_topic_tls_deny_covers_publish_and_subscribe():
    names = {a.JSONrepr() for a in messaging.TOPIC_ACTIONS}
    assert {"sns:Publish", "sns:Subscribe", "sns:SetTopicAttributes"} <= names


def test_alarm_email_subscription_only_when_an_address_is_given(case):
    _, template = case
    subscription = template["Resources"]["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert props(subscription) == {
        "TopicArn": {"Ref": "AlarmTopic"},
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert template["Conditions"]["HasAlarmEmail"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]}


def test_outputs_are_the_contract_names_for_every_queue_and_topic(case):
    config, template = case
    expected = {contracts.ALARM_TOPIC_ARN.name: {"Ref": "AlarmTopic"}}
    for queue in config.queues:
        main, dlq = f"{pascal(queue.name)}Queue", f"{pascal(queue.name)}Dlq"
        expected[contracts.queue_url(queue.name).name] = {"Ref": main}
        expected[contracts.queue_arn(queue.name).name] = _arn(main)
        expected[contracts.dead_letter_queue_arn(queue.name).name] = _arn(dlq)
        expected[contracts.dead_letter_queue_name(queue.name).name] = {"Fn::GetAtt": [dlq, "QueueName"]}
    for topic in config.topics:
        expected[contracts.topic_arn(topic.name).name] = {"Ref": f"{pascal(topic.name)}Topic"}
    assert {name: output["Value"] for name, output in template["Outputs"].items()} == expected


def test_a_queue_added_to_the_configuration_gets_its_dlq_policy_subscription_and_outputs():
    template = messaging.build(_extended_config()).to_dict()
    res = template["Resources"]
    assert props(res["CardAuthorisationsQueue"])["RedrivePolicy"]["deadLetterTargetArn"] == _arn(
        "CardAuthorisationsDlq"
    )
    assert props(res["CardAuthorisationsQueue"])["VisibilityTimeout"] == 45
    assert props(res["CardAuthorisationsDlq"])["FifoQueue"] is True
    assert props(res["CardAuthorisationsQueuePolicy"])["Queues"] == [{"Ref": "CardAuthorisationsQueue"}]
    assert props(res["CardAuthorisationsDlqPolicy"])["Queues"] == [{"Ref": "CardAuthorisationsDlq"}]
    assert props(res["CardEventsTopicToCardAuthorisationsSubscription"])["RawMessageDelivery"] is True
    assert props(res["CardEventsTopic"])["FifoTopic"] is True
    assert {
        "CardAuthorisationsQueueUrl",
        "CardAuthorisationsQueueArn",
        "CardAuthorisationsDlqArn",
        "CardAuthorisationsDlqName",
        "CardEventsTopicArn",
    } <= set(template["Outputs"])


def test_a_queue_added_to_the_configuration_reaches_the_root_outputs():
    plat = platform(_extended_config())
    stack = next(t for t in plat.wiring.order if t.name == "messaging")
    exposed = {o.name for o in stack.outputs if o.expose}
    assert {"CardAuthorisationsQueueUrl", "CardEventsTopicArn", "AlarmTopicArn"} <= exposed


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"topics": [{"name": "alarm"}]}, "topic name 'alarm' is reserved"),
        ({"queues": [{"name": "payments-dlq"}]}, "must not end in '-dlq'"),
    ],
)
def test_names_that_would_clash_are_refused(extra, message):
    raw = _raw_project_config()
    for key, items in extra.items():
        raw[key] = raw[key] + items
    config = parse_config(raw)
    with pytest.raises(UserError, match=message):
        messaging.tier(config)


def test_max_receive_count_is_1_to_1000():
    assert messaging.MAX_RECEIVE_COUNT.problem("1") is None
    assert messaging.MAX_RECEIVE_COUNT.problem("1000") is None
    assert messaging.MAX_RECEIVE_COUNT.problem("0")
    assert messaging.MAX_RECEIVE_COUNT.problem("1001")


@pytest.mark.parametrize("good", ["", "oncall@acme.example", "team+alerts@ops.acme-bank.co.uk"])
def test_alarm_email_accepts_empty_or_one_address(good):
    assert messaging.ALARM_EMAIL.problem(good) is None


@pytest.mark.parametrize("bad", ["oncall", "a@b", "a@b.c", "one@acme.example,two@acme.example", "x @acme.example"])
def test_alarm_email_rejects_anything_else(bad):
    assert messaging.ALARM_EMAIL.problem(bad)


def test_deployed_to_moto_the_names_and_redrive_settings_hold(plat):
    """Deploy the tier into moto's CloudFormation: the ARN built for the redrive allow policy is the
    ARN the source queue really gets, and the parameter reaches maxReceiveCount."""
    body = to_text(messaging.build(plat.config), "json")
    parameters = {
        "DataKeyArn": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "CostCenter": "platform-eng",
        "Owner": "platform-team",
        "MaxReceiveCount": "7",
        "AlarmEmail": "",
    }
    with mock_aws(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moto warns about policy types it does not model
        cfn = boto3.client("cloudformation", region_name="eu-west-1")
        cfn.create_stack(
            StackName="messaging",
            TemplateBody=body,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        )
        outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks()["Stacks"][0]["Outputs"]}
        sqs = boto3.client("sqs", region_name="eu-west-1")
        for queue in plat.config.queues:
            url = outputs[contracts.queue_url(queue.name).name]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            assert attributes["QueueArn"] == outputs[contracts.queue_arn(queue.name).name]
            assert url.endswith(f"/neobank-dev-{queue.name}{'.fifo' if queue.fifo else ''}")
            redrive = yaml.safe_load(attributes["RedrivePolicy"])
            assert redrive == {
                "deadLetterTargetArn": outputs[contracts.dead_letter_queue_arn(queue.name).name],
                "maxReceiveCount": 7,
            }
            # moto keeps the redrive allow policy but does not return it from GetQueueAttributes.
            dlq = sqs_backends[DEFAULT_ACCOUNT_ID]["eu-west-1"].get_queue(
                outputs[contracts.dead_letter_queue_name(queue.name).name]
            )
            assert dlq.redrive_allow_policy == {
                "redrivePermission": "byQueue",
                "sourceQueueArns": [attributes["QueueArn"]],
            }
            assert dlq.fifo_queue is queue.fifo


def test_the_extended_template_is_lint_clean(tmp_path):
    path = tmp_path / "messaging.yaml"
    path.write_text(to_text(messaging.build(_extended_config()), "yaml"))
    assert [str(f) for f in lint_paths([path])] == []
