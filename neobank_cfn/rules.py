"""Cross-parameter rules, defined once: rendered into a template's ``Rules`` section (so the console
rejects a bad combination before anything is created) and evaluated offline by ``params check``.

Only the condition functions CloudFormation allows in Rules are modelled: ``Fn::Equals``,
``Fn::Contains``, ``Fn::Not``, ``Fn::And`` and ``Fn::Or`` over parameter references.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class Cond:
    """A rule condition: renders to CloudFormation and evaluates against parameter values."""

    def to_cfn(self) -> dict:
        raise NotImplementedError

    def holds(self, values: Mapping[str, str]) -> bool:
        raise NotImplementedError

    def params(self) -> frozenset[str]:
        raise NotImplementedError


@dataclass(frozen=True)
class Equals(Cond):
    """The parameter ``param`` equals ``value``."""

    param: str
    value: str

    def to_cfn(self) -> dict:
        return {"Fn::Equals": [{"Ref": self.param}, self.value]}

    def holds(self, values: Mapping[str, str]) -> bool:
        return values.get(self.param) == self.value

    def params(self) -> frozenset[str]:
        return frozenset({self.param})


@dataclass(frozen=True)
class OneOf(Cond):
    """The parameter ``param`` is one of ``choices``."""

    param: str
    choices: tuple[str, ...]

    def to_cfn(self) -> dict:
        return {"Fn::Contains": [list(self.choices), {"Ref": self.param}]}

    def holds(self, values: Mapping[str, str]) -> bool:
        return values.get(self.param) in self.choices

    def params(self) -> frozenset[str]:
        return frozenset({self.param})


@dataclass(frozen=True)
class Not(Cond):
    """The condition does not hold."""

    cond: Cond

    def to_cfn(self) -> dict:
        return {"Fn::Not": [self.cond.to_cfn()]}

    def holds(self, values: Mapping[str, str]) -> bool:
        return not self.cond.holds(values)

    def params(self) -> frozenset[str]:
        return self.cond.params()


@dataclass(frozen=True)
class And(Cond):
    """All conditions hold."""

    conds: tuple[Cond, ...]

    def to_cfn(self) -> dict:
        return {"Fn::And": [c.to_cfn() for c in self.conds]}

    def holds(self, values: Mapping[str, str]) -> bool:
        return all(c.holds(values) for c in self.conds)

    def params(self) -> frozenset[str]:
        return frozenset().union(*(c.params() for c in self.conds))


@dataclass(frozen=True)
class Or(Cond):
    """At least one condition holds."""

    conds: tuple[Cond, ...]

    def to_cfn(self) -> dict:
        return {"Fn::Or": [c.to_cfn() for c in self.conds]}

    def holds(self, values: Mapping[str, str]) -> bool:
        return any(c.holds(values) for c in self.conds)

    def params(self) -> frozenset[str]:
        return frozenset().union(*(c.params() for c in self.conds))


def is_set(param: str) -> Cond:
    """The parameter ``param`` is not empty (an optional value was given)."""
    return Not(Equals(param, ""))


@dataclass(frozen=True)
class Rule:
    """When ``when`` holds (always, if None), ``assertion`` must hold; ``description`` says why."""

    name: str
    description: str
    assertion: Cond
    when: Cond | None = None

    def params(self) -> frozenset[str]:
        """Names of the parameters the rule reads."""
        found = self.assertion.params()
        return found | self.when.params() if self.when else found

    def to_cfn(self) -> dict:
        """Render as the value of one entry of a template's ``Rules`` section."""
        body: dict = {"Assertions": [{"Assert": self.assertion.to_cfn(), "AssertDescription": self.description}]}
        if self.when is not None:
            body = {"RuleCondition": self.when.to_cfn(), **body}
        return body

    def violated(self, values: Mapping[str, str]) -> bool:
        """True when these parameter values break the rule."""
        if self.when is not None and not self.when.holds(values):
            return False
        return not self.assertion.holds(values)
