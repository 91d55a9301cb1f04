"""Helpers to query rendered templates (in the spirit of CDK's assertions module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from neobank_cfn.config import DEFAULT_CONFIG, PlatformConfig, load_config
from neobank_cfn.render import Platform, platform

PROJECT = Path(__file__).resolve().parent.parent


def project_config() -> PlatformConfig:
    """The platform file `make templates` uses (platform.yaml when present, else the default)."""
    path = PROJECT / "platform.yaml"
    return load_config(path) if path.is_file() else DEFAULT_CONFIG


def project_platform() -> Platform:
    """The project's platform, wired."""
    return platform(project_config())


def resources(template: dict, type_: str | None = None) -> dict[str, dict]:
    """Resources of ``template`` (only those of ``type_`` when given), by logical id."""
    return {name: res for name, res in template.get("Resources", {}).items() if type_ is None or res["Type"] == type_}


def props(resource: dict) -> dict:
    """A resource's Properties (empty dict when it has none)."""
    return resource.get("Properties", {})


def one(template: dict, type_: str) -> tuple[str, dict]:
    """The only resource of ``type_``; fails when there is not exactly one."""
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def walk(node: object) -> Iterator[object]:
    """Every dict, list and scalar inside ``node``, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def refs(node: object) -> set[str]:
    """Names referenced by ``Ref`` anywhere inside ``node``."""
    return {n["Ref"] for n in walk(node) if isinstance(n, dict) and "Ref" in n}


def as_list(value: object) -> list:
    """``value`` as a list (IAM allows a single string where a list is meant)."""
    return value if isinstance(value, list) else [value]


def condition_holds(template: dict, name: str, params: dict[str, str]) -> bool:
    """Evaluate the template's condition ``name`` for parameter values ``params`` (strings, as in a params file)."""
    return bool(_evaluate(template, template["Conditions"][name], params))


def _evaluate(template: dict, node: object, params: dict[str, str]) -> object:
    if not isinstance(node, dict):
        return node
    (function, args), *_ = node.items()
    if function == "Ref":
        return params[args]
    if function == "Condition":
        return condition_holds(template, args, params)
    values = [_evaluate(template, arg, params) for arg in args]
    if function == "Fn::Equals":
        return str(values[0]) == str(values[1])
    if function == "Fn::Not":
        return not values[0]
    if function == "Fn::And":
        return all(values)
    if function == "Fn::Or":
        return any(values)
    raise AssertionError(f"cannot evaluate {function}")


def params_file(env: str) -> dict[str, str]:
    """``params/<env>.json`` as a name -> value dictionary."""
    entries = json.loads((PROJECT / "params" / f"{env}.json").read_text())
    return {e["ParameterKey"]: e["ParameterValue"] for e in entries}
