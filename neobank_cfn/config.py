"""The platform configuration: which queues, topics, tables and services exist.

Structure that varies by product (adding a microservice, a queue or a table) lives here, in one typed
and validated file (``platform.yaml``); values that vary by environment live in ``params/<env>.json``.
Every mistake is reported as one :class:`~neobank_cfn.errors.UserError` line naming the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, fields
from pathlib import Path

import yaml

from neobank_cfn.errors import UserError

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
MAX_NAME_LENGTH = 24
DEFAULT_CONFIG_FILE = "platform.yaml"
# Bounds of a service's request-count scaling target (ALB requests per task per minute).
MIN_REQUESTS_PER_TARGET = 10
MAX_REQUESTS_PER_TARGET = 100000

# Valid Fargate task sizes: CPU units -> memory (MiB) allowed with it.
FARGATE_SIZES: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4097, 1024)),
    1024: tuple(range(2048, 8193, 1024)),
    2048: tuple(range(4096, 16385, 1024)),
    4096: tuple(range(8192, 30721, 1024)),
    8192: tuple(range(16384, 61441, 4096)),
    16384: tuple(range(32768, 122881, 8192)),
}


@dataclass(frozen=True)
class QueueConfig:
    """An SQS queue (with its dead-letter queue)."""

    name: str
    fifo: bool = False
    visibility_timeout: int = 300
    description: str = ""


@dataclass(frozen=True)
class TopicConfig:
    """An SNS topic for domain events; ``subscribers`` are queues fed with raw message delivery."""

    name: str
    subscribers: tuple[str, ...] = ()
    fifo: bool = False
    description: str = ""


@dataclass(frozen=True)
class TableConfig:
    """A DynamoDB table (on-demand, PITR, encrypted with the data key)."""

    name: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    stream: str | None = None
    description: str = ""


@dataclass(frozen=True)
class ServiceConfig:
    """A Spring Boot microservice: its route, size, scaling and what it may touch."""

    name: str
    path: str
    port: int = 8080
    cpu: int = 512
    memory: int = 1024
    desired_count: int = 2
    min_capacity: int = 2
    max_capacity: int = 6
    health_path: str = "/actuator/health"
    host: str | None = None
    requests_per_target: int = 1000
    partner_api_key: bool = False
    consumes: tuple[str, ...] = ()
    sends: tuple[str, ...] = ()
    publishes: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True)
class PlatformConfig:
    """Everything structural about the platform; the default is one core-banking service."""

    queues: tuple[QueueConfig, ...]
    topics: tuple[TopicConfig, ...]
    tables: tuple[TableConfig, ...]
    services: tuple[ServiceConfig, ...]

    def queue(self, name: str) -> QueueConfig:
        """The queue called ``name``."""
        return next(q for q in self.queues if q.name == name)

    def topic(self, name: str) -> TopicConfig:
        """The topic called ``name``."""
        return next(t for t in self.topics if t.name == name)

    def table(self, name: str) -> TableConfig:
        """The table called ``name``."""
        return next(t for t in self.tables if t.name == name)

    def service(self, name: str) -> ServiceConfig:
        """The service called ``name``."""
        return next(s for s in self.services if s.name == name)


DEFAULT_CONFIG = PlatformConfig(
    queues=(
        QueueConfig("payments", visibility_timeout=300, description="Payment instructions to process"),
        QueueConfig("notifications", visibility_timeout=60, description="Customer notifications to send"),
        QueueConfig(
            "ledger-postings", fifo=True, visibility_timeout=120, description="Ledger postings, strictly ordered"
        ),
        QueueConfig("partner-webhooks", visibility_timeout=60, description="Partner webhooks accepted by the API"),
    ),
    topics=(TopicConfig("domain-events", subscribers=("notifications",), description="Domain events fan-out"),),
    tables=(
        TableConfig(
            "idempotency-keys",
            partition_key="idempotencyKey",
            ttl_attribute="expiresAt",
            description="Idempotency keys for safe retries of payment requests",
        ),
        TableConfig(
            "transaction-events",
            partition_key="accountId",
            sort_key="eventId",
            stream="NEW_AND_OLD_IMAGES",
            description="Transaction event log per account",
        ),
    ),
    services=(
        ServiceConfig(
            "core-banking",
            path="/core-banking/*",
            consumes=("payments", "partner-webhooks"),
            sends=("ledger-postings",),
            publishes=("domain-events",),
            tables=("idempotency-keys", "transaction-events"),
            partner_api_key=True,
            description="Accounts, balances and payments (Spring Boot)",
        ),
    ),
)


def load_config(path: str | Path | None) -> PlatformConfig:
    """Read and validate a platform file; ``None`` or a missing default file gives the default."""
    if path is None:
        return DEFAULT_CONFIG
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such file; pass --config with an existing platform file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"{path}: not valid YAML{where}; fix the syntax") from None
    return parse_config(raw, source=str(path))


def parse_config(raw: object, source: str = "platform config") -> PlatformConfig:
    """Turn parsed YAML into a validated :class:`PlatformConfig` (one clear error per mistake)."""
    if not isinstance(raw, Mapping):
        raise UserError(f"{source}: must be a mapping with queues, topics, tables and services")
    unknown = sorted(set(raw) - {"queues", "topics", "tables", "services"})
    if unknown:
        raise UserError(f"{source}: unknown key {unknown[0]!r}; expected queues, topics, tables, services")
    config = PlatformConfig(
        queues=_entries(raw, "queues", QueueConfig, source),
        topics=_entries(raw, "topics", TopicConfig, source),
        tables=_entries(raw, "tables", TableConfig, source),
        services=_entries(raw, "services", ServiceConfig, source),
    )
    validate_config(config, source)
    return config


def _entries(raw: Mapping, key: str, cls: type, source: str) -> tuple:
    items = raw.get(key) or []
    if not isinstance(items, list):
        raise UserError(f"{source}: {key} must be a list")
    allowed = {f.name: f for f in fields(cls)}
    result = []
    for index, item in enumerate(items):
        where = f"{source}: {key}[{index}]"
        if not isinstance(item, Mapping):
            raise UserError(f"{where}: must be a mapping")
        extra = sorted(set(item) - set(allowed))
        if extra:
            raise UserError(f"{where}: unknown key {extra[0]!r}; allowed: {', '.join(allowed)}")
        values = {}
        for name, value in item.items():
            values[name] = _coerce(value, allowed[name].type, f"{where}.{name}")
        try:
            result.append(cls(**values))
        except TypeError:
            required = [f.name for f in fields(cls) if f.default is MISSING]
            raise UserError(f"{where}: missing required key; needs {', '.join(required)}") from None
    return tuple(result)


def _coerce(value: object, annotation: str, where: str) -> object:
    if annotation.startswith("tuple"):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UserError(f"{where}: must be a list of names")
        return tuple(value)
    if annotation == "bool":
        if not isinstance(value, bool):
            raise UserError(f"{where}: must be true or false")
        return value
    if annotation == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise UserError(f"{where}: must be a whole number")
        return value
    if value is not None and not isinstance(value, str):
        raise UserError(f"{where}: must be a string")
    return value


def validate_config(config: PlatformConfig, source: str = "platform config") -> None:
    """Check names, references and sizes; raise one :class:`UserError` for the first problem."""
    for kind in ("queues", "topics", "tables", "services"):
        seen: set[str] = set()
        for item in getattr(config, kind):
            if not NAME_PATTERN.match(item.name) or len(item.name) > MAX_NAME_LENGTH:
                raise UserError(
                    f"{source}: {kind} name {item.name!r} must be lowercase words joined by hyphens, "
                    f"at most {MAX_NAME_LENGTH} characters"
                )
            if item.name in seen:
                raise UserError(f"{source}: {kind} name {item.name!r} is used twice; names must be unique")
            seen.add(item.name)
    if not config.services:
        raise UserError(f"{source}: services must list at least one service")
    queues = {q.name for q in config.queues}
    for topic in config.topics:
        _known(topic.subscribers, queues, f"{source}: topic {topic.name!r} subscriber", "queues")
        for name in topic.subscribers:
            if config.queue(name).fifo != topic.fifo:
                raise UserError(
                    f"{source}: topic {topic.name!r} cannot feed queue {name!r}: FIFO topics feed FIFO queues only"
                )
    for table in config.tables:
        if table.stream not in (None, "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"):
            raise UserError(
                f"{source}: table {table.name!r} stream must be NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES or KEYS_ONLY"
            )
    paths: dict[tuple[str | None, str], str] = {}
    for service in config.services:
        _validate_service(service, config, source)
        key = (service.host, service.path)
        if key in paths:
            raise UserError(
                f"{source}: services {paths[key]!r} and {service.name!r} both route {service.path!r}; paths must differ"
            )
        paths[key] = service.name


def _validate_service(service: ServiceConfig, config: PlatformConfig, source: str) -> None:
    where = f"{source}: service {service.name!r}"
    if not re.fullmatch(r"/[A-Za-z0-9._~/*-]*", service.path) or len(service.path) > 128:
        raise UserError(f"{where}: path {service.path!r} must start with '/' (e.g. /accounts/*)")
    if not re.fullmatch(r"/[A-Za-z0-9._~/-]*", service.health_path):
        raise UserError(f"{where}: health_path {service.health_path!r} must be a path such as /actuator/health")
    if not 1024 <= service.port <= 65535:
        raise UserError(f"{where}: port {service.port} must be 1024-65535 (containers run as non-root)")
    if service.cpu not in FARGATE_SIZES:
        raise UserError(f"{where}: cpu {service.cpu} is not a Fargate size; use one of {sorted(FARGATE_SIZES)}")
    if service.memory not in FARGATE_SIZES[service.cpu]:
        allowed = FARGATE_SIZES[service.cpu]
        raise UserError(
            f"{where}: memory {service.memory} is not valid with cpu {service.cpu}; "
            f"use {allowed[0]}-{allowed[-1]} MiB in steps of {allowed[1] - allowed[0]}"
        )
    if not 1 <= service.min_capacity <= service.desired_count <= service.max_capacity <= 100:
        raise UserError(f"{where}: needs 1 <= min_capacity <= desired_count <= max_capacity <= 100")
    if not MIN_REQUESTS_PER_TARGET <= service.requests_per_target <= MAX_REQUESTS_PER_TARGET:
        raise UserError(
            f"{where}: requests_per_target {service.requests_per_target} must be "
            f"{MIN_REQUESTS_PER_TARGET}-{MAX_REQUESTS_PER_TARGET} (requests per task per minute)"
        )
    _known(service.consumes, {q.name for q in config.queues}, f"{where}: consumes", "queues")
    _known(service.sends, {q.name for q in config.queues}, f"{where}: sends", "queues")
    _known(service.publishes, {t.name for t in config.topics}, f"{where}: publishes", "topics")
    _known(service.tables, {t.name for t in config.tables}, f"{where}: tables", "tables")


def _known(names: tuple[str, ...], known: set[str], where: str, kind: str) -> None:
    for name in names:
        if name not in known:
            choices = ", ".join(sorted(known)) or "none defined"
            raise UserError(f"{where} {name!r} is not one of the {kind} ({choices})")
