"""Messaging tier: SQS queues with dead-letter queues, SNS domain-event topics and the alarm topic.

Everything here is derived from the platform configuration (``queues`` and ``topics``), so adding a
queue or a topic to ``platform.yaml`` is all it takes to get it with its dead-letter queue, policies
and outputs.

- **Queues** hold money in flight: encrypted with the data key, long polling, retained on delete and
  replacement, TLS-only queue policies, and a dead-letter queue after ``MaxReceiveCount`` receives.
  A dead-letter queue accepts only its own source queue (redrive allow policy ``byQueue``).
- **Topics** fan domain events out to their subscriber queues with raw message delivery; a queue's
  policy lets SNS send to it only from the topics it is subscribed to (``aws:SourceArn``).
- **The alarm topic** takes CloudWatch alarms of this account and, optionally, mails them.

Source queues are named (``<Application>-<Environment>-<queue>``): the redrive allow policy of the
dead-letter queue must name the source queue's ARN, and the dead-letter queue has to exist before its
source queue (SQS checks the target), so the ARN is built from the name instead of a ``GetAtt`` that
would make a cycle. FIFO dead-letter queues are named too, for their ``.fifo`` suffix.
"""

from __future__ import annotations

from awacs.aws import ArnEquals, Principal, Statement, StringEquals
from troposphere import Equals, GetAtt, Not, Ref, Sub
from troposphere.sns import SubscriptionResource, Topic, TopicPolicy
from troposphere.sqs import Queue, QueuePolicy, RedrivePolicy

from neobank_cfn import contracts
from neobank_cfn.config import PlatformConfig, QueueConfig, TopicConfig
from neobank_cfn.errors import UserError
from neobank_cfn.iam import ACCOUNT_ROOT, actions, allow_principal, deny_insecure_transport, document, service_principal
from neobank_cfn.naming import pascal, physical_name
from neobank_cfn.parameters import Param
from neobank_cfn.tier import Output, Tier, TierTemplate
from neobank_cfn.tiers.keys import DATA_KEY_ARN

GROUP = "Messaging"
LONG_POLL_SECONDS = 20  # the most SQS allows: fewer empty receives, lower cost
QUEUE_RETENTION_SECONDS = 4 * 24 * 3600
# A standard queue's message keeps its original enqueue time in the dead-letter queue, so the
# dead-letter queue must keep messages longer than its source: 14 days, the SQS maximum.
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
KMS_DATA_KEY_REUSE_SECONDS = 300  # SQS default: a new data key every 5 minutes bounds KMS calls
RESERVED_TOPIC = "alarm"  # its outputs would clash with AlarmTopicArn
DLQ_SUFFIX = "-dlq"

MAX_RECEIVE_COUNT = Param(
    "MaxReceiveCount",
    "Receives of a message before SQS moves it to its queue's dead-letter queue.",
    type="Number",
    default="5",
    min_value=1,
    max_value=1000,
    constraint="a whole number from 1 to 1000",
    label="Receives before dead-lettering",
    group=GROUP,
)
ALARM_EMAIL = Param(
    "AlarmEmail",
    "E-mail address subscribed to the operational alarm topic (empty: no e-mail subscription). "
    "The address must confirm the subscription from the mail SNS sends.",
    default="",
    allowed_pattern=r"^([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})?$",
    max_length=254,
    constraint="empty, or one e-mail address",
    label="Alarm e-mail",
    group=GROUP,
)

# Every action an SNS topic policy may name (Amazon SNS API permissions reference).
TOPIC_ACTIONS = actions(
    "sns",
    "Publish",
    "Subscribe",
    "GetTopicAttributes",
    "SetTopicAttributes",
    "AddPermission",
    "RemovePermission",
    "DeleteTopic",
    "ListSubscriptionsByTopic",
)


def _queue_name(queue: QueueConfig, dead_letter: bool = False) -> str:
    """The name suffix of ``queue`` (or its dead-letter queue), ``.fifo`` for FIFO queues."""
    base = queue.name + (DLQ_SUFFIX if dead_letter else "")
    return base + ".fifo" if queue.fifo else base


def _queue_arn(queue: QueueConfig) -> Sub:
    """ARN of the named source queue ``queue``, built from its name (see the module docstring)."""
    return Sub(
        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${QueueName}",
        QueueName=physical_name(_queue_name(queue)),
    )


def _fifo_properties(queue: QueueConfig) -> dict:
    """FIFO settings: content-based deduplication and high throughput (per message group)."""
    if not queue.fifo:
        return {}
    return {
        "FifoQueue": True,
        "ContentBasedDeduplication": True,
        "DeduplicationScope": "messageGroup",
        "FifoThroughputLimit": "perMessageGroupId",
    }


def _common_queue_properties(tt: TierTemplate, queue: QueueConfig) -> dict:
    return {
        "KmsMasterKeyId": tt.ref(DATA_KEY_ARN.name),
        "KmsDataKeyReusePeriodSeconds": KMS_DATA_KEY_REUSE_SECONDS,
        "ReceiveMessageWaitTimeSeconds": LONG_POLL_SECONDS,
        "VisibilityTimeout": queue.visibility_timeout,
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        **_fifo_properties(queue),
    }


def _dead_letter_queue(tt: TierTemplate, queue: QueueConfig) -> Queue:
    """The dead-letter queue of ``queue``: kept 14 days, accepting only ``queue`` as its source."""
    kwargs = _common_queue_properties(tt, queue)
    if queue.fifo:
        kwargs["QueueName"] = physical_name(_queue_name(queue, dead_letter=True))
    return tt.add(
        Queue(
            f"{pascal(queue.name)}Dlq",
            MessageRetentionPeriod=DLQ_RETENTION_SECONDS,
            RedriveAllowPolicy={"redrivePermission": "byQueue", "sourceQueueArns": [_queue_arn(queue)]},
            **kwargs,
        )
    )


def _queue(tt: TierTemplate, queue: QueueConfig, dead_letter: Queue) -> Queue:
    """The queue ``queue``, dead-lettering after ``MaxReceiveCount`` receives."""
    return tt.add(
        Queue(
            f"{pascal(queue.name)}Queue",
            QueueName=physical_name(_queue_name(queue)),
            MessageRetentionPeriod=QUEUE_RETENTION_SECONDS,
            RedrivePolicy=RedrivePolicy(
                deadLetterTargetArn=GetAtt(dead_letter, "Arn"),
                maxReceiveCount=tt.ref(MAX_RECEIVE_COUNT.name),
            ),
            **_common_queue_properties(tt, queue),
        )
    )


def _sns_sends_from(topic: Topic, queue: Queue) -> Statement:
    """SNS may send to ``queue`` only on behalf of ``topic``."""
    return allow_principal(
        f"{topic.title}Sends",
        service_principal("sns.amazonaws.com"),
        actions("sqs", "SendMessage"),
        [GetAtt(queue, "Arn")],
        ArnEquals({"aws:SourceArn": Ref(topic)}),
    )


def _queue_policy(tt: TierTemplate, queue: Queue, senders: list[Topic]) -> QueuePolicy:
    """TLS-only policy of ``queue``; SNS may send to it from ``senders`` only."""
    arn = GetAtt(queue, "Arn")
    statements = [deny_insecure_transport("DenyInsecureTransport", actions("sqs", "*"), [arn])]
    statements += [_sns_sends_from(topic, queue) for topic in senders]
    return tt.add(QueuePolicy(f"{queue.title}Policy", Queues=[Ref(queue)], PolicyDocument=document(*statements)))


def _topic(tt: TierTemplate, topic: TopicConfig) -> Topic:
    """The domain-event topic ``topic``, encrypted with the data key."""
    kwargs: dict = {}
    if topic.fifo:
        kwargs = {
            "TopicName": physical_name(f"{topic.name}.fifo"),
            "FifoTopic": True,
            "ContentBasedDeduplication": True,
            "FifoThroughputScope": "MessageGroup",
        }
    return tt.add(
        Topic(
            f"{pascal(topic.name)}Topic",
            KmsMasterKeyId=tt.ref(DATA_KEY_ARN.name),
            SignatureVersion="2",
            **kwargs,
        )
    )


def _topic_policy(tt: TierTemplate, topic: Topic, *extra: Statement) -> TopicPolicy:
    """TLS-only policy of ``topic``; only this account (and ``extra`` grants) may publish.

    SNS takes one topic per policy and the topic's ARN as every statement's only resource.
    """
    arn = Ref(topic)
    return tt.add(
        TopicPolicy(
            f"{topic.title}Policy",
            Topics=[arn],
            PolicyDocument=document(
                deny_insecure_transport("DenyInsecureTransport", TOPIC_ACTIONS, [arn]),
                allow_principal("AccountPublishes", Principal("AWS", [ACCOUNT_ROOT]), actions("sns", "Publish"), [arn]),
                *extra,
            ),
        )
    )


def _subscribe(tt: TierTemplate, topic: Topic, name: str, queue: Queue, dead_letter: Queue) -> None:
    """Feed ``queue`` from ``topic`` with raw messages; what SNS cannot deliver goes to ``dead_letter``."""
    tt.add(
        SubscriptionResource(
            f"{topic.title}To{pascal(name)}Subscription",
            TopicArn=Ref(topic),
            Protocol="sqs",
            Endpoint=GetAtt(queue, "Arn"),
            RawMessageDelivery=True,
            RedrivePolicy={"deadLetterTargetArn": GetAtt(dead_letter, "Arn")},
        )
    )


def _alarm_topic(tt: TierTemplate) -> Topic:
    """The operational alarm topic: CloudWatch alarms of this account publish here."""
    topic = tt.add(
        Topic(
            "AlarmTopic",
            DisplayName=Sub("${Application} ${Environment} alarms"),
            KmsMasterKeyId=tt.ref(DATA_KEY_ARN.name),
            SignatureVersion="2",
        )
    )
    _topic_policy(
        tt,
        topic,
        allow_principal(
            "CloudWatchAlarmsPublish",
            service_principal("cloudwatch.amazonaws.com"),
            actions("sns", "Publish"),
            [Ref(topic)],
            StringEquals({"aws:SourceAccount": Ref("AWS::AccountId")}),
        ),
    )
    has_email = tt.condition("HasAlarmEmail", Not(Equals(tt.ref(ALARM_EMAIL.name), "")))
    tt.add(
        SubscriptionResource(
            "AlarmEmailSubscription",
            Condition=has_email,
            TopicArn=Ref(topic),
            Protocol="email",
            Endpoint=tt.ref(ALARM_EMAIL.name),
        )
    )
    return topic


def build(config: PlatformConfig) -> object:
    """The messaging tier template for ``config``."""
    tt = TierTemplate(tier(config))
    queues: dict[str, tuple[Queue, Queue]] = {}
    for queue in config.queues:
        dead_letter = _dead_letter_queue(tt, queue)
        queues[queue.name] = (_queue(tt, queue, dead_letter), dead_letter)

    senders: dict[str, list[Topic]] = {queue.name: [] for queue in config.queues}
    for topic_config in config.topics:
        topic = _topic(tt, topic_config)
        _topic_policy(tt, topic)
        for name in topic_config.subscribers:
            _subscribe(tt, topic, name, *queues[name])
            senders[name].append(topic)
        tt.output(contracts.topic_arn(topic_config.name).name, Ref(topic))

    for queue in config.queues:
        main, dead_letter = queues[queue.name]
        # SNS sends to the dead-letter queue what it cannot deliver to the subscribed queue.
        _queue_policy(tt, main, senders[queue.name])
        _queue_policy(tt, dead_letter, senders[queue.name])
        tt.output(contracts.queue_url(queue.name).name, Ref(main))
        tt.output(contracts.queue_arn(queue.name).name, GetAtt(main, "Arn"))
        tt.output(contracts.dead_letter_queue_arn(queue.name).name, GetAtt(dead_letter, "Arn"))
        tt.output(contracts.dead_letter_queue_name(queue.name).name, GetAtt(dead_letter, "QueueName"))

    tt.output(contracts.ALARM_TOPIC_ARN.name, Ref(_alarm_topic(tt)))
    return tt.finish()


def _check_names(config: PlatformConfig) -> None:
    """Refuse configuration names whose resources or outputs would clash with others."""
    for topic in config.topics:
        if topic.name == RESERVED_TOPIC:
            raise UserError(f"topic name {topic.name!r} is reserved for the operational alarm topic; rename it")
    for queue in config.queues:
        if queue.name.endswith(DLQ_SUFFIX):
            raise UserError(
                f"queue name {queue.name!r} must not end in {DLQ_SUFFIX!r}: every queue gets its own dead-letter queue"
            )


def _outputs(config: PlatformConfig) -> tuple[Output, ...]:
    outputs: list[Output] = []
    for queue in config.queues:
        outputs += [
            Output(contracts.queue_url(queue.name).name, f"URL of SQS queue {queue.name}", expose=True),
            Output(contracts.queue_arn(queue.name).name, f"ARN of SQS queue {queue.name}"),
            Output(contracts.dead_letter_queue_arn(queue.name).name, f"ARN of the dead-letter queue of {queue.name}"),
            Output(contracts.dead_letter_queue_name(queue.name).name, f"Name of the dead-letter queue of {queue.name}"),
        ]
    for topic in config.topics:
        outputs.append(Output(contracts.topic_arn(topic.name).name, f"ARN of SNS topic {topic.name}", expose=True))
    outputs.append(Output(contracts.ALARM_TOPIC_ARN.name, "ARN of the operational alarm topic", expose=True))
    return tuple(outputs)


def tier(config: PlatformConfig) -> Tier:
    """The messaging tier's contract for ``config`` (its outputs follow the configured queues and topics)."""
    _check_names(config)
    return Tier(
        name="messaging",
        description="SQS queues with dead-letter queues, SNS domain-event topics and the alarm topic",
        inputs=(DATA_KEY_ARN, MAX_RECEIVE_COUNT, ALARM_EMAIL),
        outputs=_outputs(config),
        build=build,
    )
