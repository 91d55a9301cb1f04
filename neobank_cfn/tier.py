"""The tier contract and the builder every tier uses to make its template.

A :class:`Tier` declares what its template takes (inputs, as :class:`~neobank_cfn.parameters.Param`)
and what it gives (outputs, by name). The root wires tiers by matching output names to input names.
:class:`TierTemplate` is the only way a tier makes its template: it declares the parameters from the
contract, refuses outputs that are not in the contract, applies the standard tags and records
cfn-lint waivers with their reasons.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from troposphere import AWSObject, Ref, Template
from troposphere import Output as CfnOutput

from neobank_cfn.errors import ContractError
from neobank_cfn.parameters import STANDARD_INPUTS, Param
from neobank_cfn.rules import Rule
from neobank_cfn.tags import apply_standard_tags

if TYPE_CHECKING:
    from neobank_cfn.config import PlatformConfig

TEMPLATE_VERSION = "2010-09-09"


@dataclass(frozen=True)
class Output:
    """A value a tier gives; ``expose`` also shows it in the root stack's outputs."""

    name: str
    description: str
    expose: bool = False


@dataclass(frozen=True)
class Tier:
    """A tier's contract and the pure function that builds its template from the platform config."""

    name: str
    description: str
    inputs: tuple[Param, ...]
    outputs: tuple[Output, ...]
    build: Callable[[PlatformConfig], Template] = field(compare=False, repr=False)
    rules: tuple[Rule, ...] = ()

    @property
    def all_inputs(self) -> tuple[Param, ...]:
        """The standard inputs every tier takes, then the tier's own."""
        own = {p.name for p in self.inputs}
        return tuple(p for p in STANDARD_INPUTS if p.name not in own) + self.inputs

    @property
    def logical_id(self) -> str:
        """Logical id of this tier's nested stack in the root template."""
        return stack_logical_id(self.name)

    def filename(self, fmt: str) -> str:
        """File name of this tier's template for output format ``fmt`` (yaml or json)."""
        return f"{self.name}.{fmt}"


def stack_logical_id(tier_name: str) -> str:
    """Logical id of a tier's nested stack: ``service-core-banking`` -> ``ServiceCoreBankingStack``."""
    return "".join(part.capitalize() for part in tier_name.split("-")) + "Stack"


class TierTemplate:
    """Builds one tier's template within its contract."""

    def __init__(self, tier: Tier) -> None:
        self.tier = tier
        self.template = Template(Description=f"neobank_cfn {tier.name} tier: {tier.description}")
        self.template.set_version(TEMPLATE_VERSION)
        self._inputs = {p.name: p for p in tier.all_inputs}
        self._outputs = {o.name: o for o in tier.outputs}
        for param in tier.all_inputs:
            self.template.add_parameter(param.to_parameter())
        for rule in tier.rules:
            self.template.add_rule(rule.name, rule.to_cfn())
        self._waivers: dict[str, str] = {}

    def ref(self, name: str) -> Ref:
        """``Ref`` to one of the tier's inputs (fails on a name the contract does not declare)."""
        if name not in self._inputs:
            raise ContractError(f"tier {self.tier.name}: {name} is not a declared input")
        return Ref(name)

    def add(self, resource: AWSObject) -> AWSObject:
        """Add a resource and return it."""
        return self.template.add_resource(resource)

    def condition(self, name: str, expression: object) -> str:
        """Declare a condition and return its name."""
        self.template.add_condition(name, expression)
        return name

    def output(self, name: str, value: object) -> None:
        """Set a declared output (its description comes from the contract).

        Outputs are never conditional: the root reads every one with ``GetAtt``, so an optional
        value is an ``Fn::If`` that yields an empty string.
        """
        declared = self._outputs.get(name)
        if declared is None:
            raise ContractError(f"tier {self.tier.name}: output {name} is not in its contract")
        self.template.add_output(CfnOutput(name, Description=declared.description, Value=value))

    def waive(self, resource: AWSObject, rule_id: str, reason: str) -> None:
        """Waive one cfn-lint rule on one resource, with the written reason kept beside it."""
        resource.Metadata = waiver(rule_id, reason, getattr(resource, "Metadata", None) or {})

    def exempt(self, resource: AWSObject, topic: str, reason: str) -> None:
        """Record a departure from a project invariant that no cfn-lint rule flags, with its reason.

        The reason goes under ``Waivers`` (keyed by ``topic``) without ignoring any cfn-lint rule;
        the invariant tests read it, e.g. a bucket that AWS requires to use SSE-S3.
        """
        metadata = dict(getattr(resource, "Metadata", None) or {})
        metadata["Waivers"] = {**metadata.get("Waivers", {}), topic: reason}
        resource.Metadata = metadata

    def finish(self) -> Template:
        """Tag every taggable resource, add console metadata, and check the outputs match the contract."""
        missing = sorted(set(self._outputs) - set(self.template.outputs))
        if missing:
            raise ContractError(f"tier {self.tier.name}: outputs {', '.join(missing)} are declared but never set")
        apply_standard_tags(self.template)
        self.template.set_metadata({"AWS::CloudFormation::Interface": interface(self.tier.all_inputs)})
        return self.template


def waiver(rule_id: str, reason: str, metadata: dict | None = None) -> dict:
    """Resource Metadata that waives cfn-lint rule ``rule_id`` there, keeping the written reason.

    The reason goes under ``Waivers`` beside cfn-lint's ``ignore_checks``; a test fails on any
    ignored rule without one.
    """
    result = dict(metadata or {})
    config = dict(result.get("cfn-lint", {}).get("config", {}))
    config["ignore_checks"] = sorted({*config.get("ignore_checks", []), rule_id})
    result["cfn-lint"] = {"config": config}
    result["Waivers"] = {**result.get("Waivers", {}), rule_id: reason}
    return result


def interface(params: tuple[Param, ...] | list[Param]) -> dict:
    """``AWS::CloudFormation::Interface`` metadata: parameters grouped and labelled for the console."""
    groups: dict[str, list[str]] = {}
    for param in params:
        groups.setdefault(param.group, []).append(param.name)
    return {
        "ParameterGroups": [{"Label": {"default": label}, "Parameters": names} for label, names in groups.items()],
        "ParameterLabels": {p.name: {"default": p.label or p.name} for p in params},
    }
