"""CloudFormation parameters as data: one definition drives the template and the offline check.

A :class:`Param` renders to a template ``Parameter`` (with its Description, constraints and console
label) and validates a value offline exactly as CloudFormation would, so ``params check`` and the
console agree. Parameters used by more than one tier are defined once here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from troposphere import Parameter

# Offline patterns for AWS-specific parameter types: CloudFormation checks these against the account;
# offline we can only check the shape.
_AWS_TYPE_PATTERNS = {
    "AWS::EC2::VPC::Id": r"^vpc-[0-9a-f]{8,17}$",
    "AWS::EC2::Subnet::Id": r"^subnet-[0-9a-f]{8,17}$",
    "AWS::EC2::SecurityGroup::Id": r"^sg-[0-9a-f]{8,17}$",
}

ARN_PARTITION = r"arn:aws[a-z-]*"


@dataclass(frozen=True)
class Param:
    """One CloudFormation parameter: type, Description, constraints and console label."""

    name: str
    description: str
    type: str = "String"
    default: str | None = None
    allowed_values: tuple[str, ...] = ()
    allowed_pattern: str | None = None
    min_value: int | None = None
    max_value: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    constraint: str | None = None
    label: str | None = None
    group: str = "Platform"
    wired: bool = False  # True: another tier must output this; never a root parameter

    @property
    def is_aws_typed(self) -> bool:
        """True for AWS-specific types (the type itself is the constraint)."""
        return self.type.startswith(("AWS::", "List<AWS::"))

    @property
    def is_constrained(self) -> bool:
        """True when CloudFormation rejects at least some wrong values for this parameter."""
        return bool(
            self.is_aws_typed
            or self.allowed_values
            or self.allowed_pattern
            or self.min_value is not None
            or self.max_value is not None
            or self.max_length is not None
        )

    def to_parameter(self) -> Parameter:
        """Render as a troposphere ``Parameter``."""
        kwargs: dict = {"Type": self.type, "Description": self.description}
        if self.default is not None:
            kwargs["Default"] = self.default
        if self.allowed_values:
            kwargs["AllowedValues"] = list(self.allowed_values)
        if self.allowed_pattern:
            kwargs["AllowedPattern"] = self.allowed_pattern
        if self.min_value is not None:
            kwargs["MinValue"] = self.min_value
        if self.max_value is not None:
            kwargs["MaxValue"] = self.max_value
        if self.min_length is not None:
            kwargs["MinLength"] = self.min_length
        if self.max_length is not None:
            kwargs["MaxLength"] = self.max_length
        if self.constraint:
            kwargs["ConstraintDescription"] = self.constraint
        return Parameter(self.name, **kwargs)

    def problem(self, value: object) -> str | None:
        """Return why ``value`` would be rejected by CloudFormation, or None when it is valid."""
        if not isinstance(value, str):
            return f"must be a string in the parameter file, got {type(value).__name__}"
        hint = f" ({self.constraint})" if self.constraint else ""
        if self.type == "Number":
            try:
                number = float(value)
            except ValueError:
                return f"{value!r} is not a number{hint}"
            if self.min_value is not None and number < self.min_value:
                return f"{value} is below the minimum {self.min_value}{hint}"
            if self.max_value is not None and number > self.max_value:
                return f"{value} is above the maximum {self.max_value}{hint}"
        if self.allowed_values and value not in self.allowed_values:
            return f"{value!r} is not one of {', '.join(self.allowed_values)}"
        if self.allowed_pattern and not re.fullmatch(self.allowed_pattern, value):
            return f"{value!r} does not match {self.allowed_pattern}{hint}"
        if self.min_length is not None and len(value) < self.min_length:
            return f"{value!r} is shorter than {self.min_length} characters{hint}"
        if self.max_length is not None and len(value) > self.max_length:
            return f"{value!r} is longer than {self.max_length} characters{hint}"
        return self._aws_type_problem(value)

    def _aws_type_problem(self, value: str) -> str | None:
        inner = self.type[5:-1] if self.type.startswith("List<") else self.type
        pattern = _AWS_TYPE_PATTERNS.get(inner)
        if pattern is None:
            return None
        items = value.split(",") if self.type.startswith("List<") else [value]
        for item in items:
            if not re.fullmatch(pattern, item.strip()):
                return f"{item!r} is not a valid {inner}"
        return None


def boolean(name: str, description: str, default: str, *, label: str, group: str) -> Param:
    """A "true"/"false" switch parameter (CloudFormation has no boolean type)."""
    return Param(
        name,
        description,
        default=default,
        allowed_values=("true", "false"),
        label=label,
        group=group,
    )


def arn(name: str, service: str, description: str, *, group: str, resource: str = ".+") -> Param:
    """A parameter holding the ARN of a resource of ``service`` (used for wired tier inputs)."""
    return Param(
        name,
        description,
        allowed_pattern=rf"^{ARN_PARTITION}:{service}:[a-z0-9-]*:[0-9]{{0,12}}:{resource}$",
        constraint=f"must be an ARN of {service}",
        group=group,
        wired=True,
    )


def identifier(name: str, description: str, *, group: str, pattern: str = r"^[A-Za-z0-9._:/,-]+$") -> Param:
    """A parameter holding a name, endpoint or id produced by another tier."""
    return Param(
        name, description, allowed_pattern=pattern, constraint="must be a resource identifier", group=group, wired=True
    )


def wired(name: str, type_: str, description: str, *, group: str) -> Param:
    """A parameter of an AWS-specific type (VPC, subnets, security group) produced by another tier."""
    return Param(name, description, type=type_, group=group, wired=True)


# Parameters every tier takes: the standard tags and the environment name.
APPLICATION = Param(
    "Application",
    "Short application name, used in resource names and the Application tag.",
    default="neobank",
    allowed_pattern=r"^[a-z][a-z0-9-]{1,14}[a-z0-9]$",
    constraint="3-16 characters: lowercase letters, digits and hyphens, starting with a letter",
    label="Application name",
)
ENVIRONMENT = Param(
    "Environment",
    "Deployment environment; also the Environment tag and part of resource names.",
    default="dev",
    allowed_values=("dev", "staging", "prod"),
    label="Environment",
)
COST_CENTER = Param(
    "CostCenter",
    "Cost centre charged for these resources (CostCenter tag).",
    allowed_pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,31}$",
    constraint="2-32 characters: letters, digits, '_', '.', '-'",
    label="Cost centre",
)
OWNER = Param(
    "Owner",
    "Team or e-mail address accountable for these resources (Owner tag).",
    allowed_pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{1,63}$",
    constraint="2-64 characters: a team name or an e-mail address",
    label="Owner",
)
STANDARD_INPUTS: tuple[Param, ...] = (APPLICATION, ENVIRONMENT, COST_CENTER, OWNER)

# The retention periods CloudWatch Logs accepts.
RETENTION_DAYS = tuple(
    str(d)
    for d in (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)
)
LOG_RETENTION_DAYS = Param(
    "LogRetentionDays",
    "Days CloudWatch Logs keeps platform logs (PCI DSS 10.5.1 asks for at least 365).",
    type="Number",
    default="365",
    allowed_values=RETENTION_DAYS,
    label="Log retention (days)",
)

# Deletion protection of stateful resources (databases, tables); shared so every tier with such
# resources reads the same switch.
DELETION_PROTECTION = boolean(
    "DeletionProtection",
    "Refuse to delete stateful resources (Aurora cluster, DynamoDB tables) until this is switched off; "
    "true in production.",
    "true",
    label="Deletion protection",
    group="Platform",
)
