"""Wiring: which tier feeds which, derived from the contracts alone.

Each tier input is satisfied by another tier's output of the same name, or else (unless it is
marked as wired) becomes a root parameter. The wiring fails loudly when two tiers output the same
name, when a root parameter is defined two different ways, when a tier consumes its own output,
when an input meant to come from another tier is given by none, and on a cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

from neobank_cfn.errors import WiringError
from neobank_cfn.parameters import Param
from neobank_cfn.rules import Rule
from neobank_cfn.tier import Tier


@dataclass(frozen=True)
class Wiring:
    """The tiers in dependency order, the root parameters, and where each tier input comes from."""

    order: tuple[Tier, ...]
    root_params: tuple[Param, ...]
    sources: dict[tuple[str, str], str | None]  # (tier, input) -> producing tier, or None for the root

    def source(self, tier: Tier, name: str) -> Tier | None:
        """The tier whose output feeds ``tier``'s input ``name`` (None: a root parameter)."""
        producer = self.sources[(tier.name, name)]
        return next(t for t in self.order if t.name == producer) if producer else None

    def root_rules(self) -> tuple[Rule, ...]:
        """Rules of every tier that read only root parameters, once each."""
        names = {p.name for p in self.root_params}
        rules: dict[str, Rule] = {}
        for tier in self.order:
            for rule in tier.rules:
                if rule.params() <= names:
                    if rule.name in rules and rules[rule.name] != rule:
                        raise WiringError(f"rule {rule.name} is defined differently by two tiers; rename one")
                    rules[rule.name] = rule
        return tuple(rules.values())


def wire(tiers: tuple[Tier, ...] | list[Tier], provided: tuple[str, ...] = ()) -> Wiring:
    """Wire ``tiers`` by name; ``provided`` names root parameters that no tier may output."""
    names = [t.name for t in tiers]
    for name in names:
        if names.count(name) > 1:
            raise WiringError(f"two tiers are called {name!r}; tier names must be unique")
    producers: dict[str, str] = {}
    for tier in tiers:
        for output in tier.outputs:
            if output.name in producers:
                raise WiringError(
                    f"output {output.name} is given by both {producers[output.name]} and {tier.name}; rename one"
                )
            if output.name in provided:
                raise WiringError(f"output {output.name} of {tier.name} clashes with the root parameter of that name")
            producers[output.name] = tier.name

    sources: dict[tuple[str, str], str | None] = {}
    root_params: dict[str, Param] = {}
    depends: dict[str, set[str]] = {t.name: set() for t in tiers}
    for tier in tiers:
        for param in tier.all_inputs:
            producer = producers.get(param.name)
            if producer == tier.name:
                raise WiringError(f"tier {tier.name} takes its own output {param.name} as an input")
            sources[(tier.name, param.name)] = producer
            if producer:
                depends[tier.name].add(producer)
                continue
            if param.wired:
                raise WiringError(
                    f"input {param.name} of tier {tier.name} is given by no tier; add the tier that outputs it"
                )
            known = root_params.get(param.name)
            if known is not None and known != param:
                raise WiringError(
                    f"root parameter {param.name} is defined differently by two tiers; define it once in "
                    "neobank_cfn.parameters and import it"
                )
            root_params[param.name] = param
    order = _topological(tiers, depends)
    return Wiring(order=order, root_params=tuple(root_params.values()), sources=sources)


def _topological(tiers: tuple[Tier, ...] | list[Tier], depends: dict[str, set[str]]) -> tuple[Tier, ...]:
    """Dependency order, stable in declaration order; raises on a cycle, naming it."""
    by_name = {t.name: t for t in tiers}
    done: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = path[path.index(name) :] + [name]
            raise WiringError(f"tiers depend on each other in a cycle: {' -> '.join(cycle)}")
        state[name] = "visiting"
        for dep in sorted(depends[name], key=list(by_name).index):
            visit(dep, path + [name])
        state[name] = "done"
        done.append(name)

    for tier in tiers:
        visit(tier.name, [])
    return tuple(by_name[name] for name in done)
