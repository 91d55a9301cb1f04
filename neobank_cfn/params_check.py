"""Offline check of ``params/<env>.json`` files against the root template's parameters and rules.

Applies exactly what CloudFormation would: every key is a root parameter, every parameter without a
default is given, each value meets its constraints, and the template's Rules hold. One problem per
line, each naming the file and the key.
"""

from __future__ import annotations

import json
from pathlib import Path

from neobank_cfn.parameters import Param
from neobank_cfn.rules import Rule


def read_params_file(path: Path) -> tuple[dict[str, object], list[str]]:
    """Parse a CloudFormation parameter file; return its values and any format problems."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, [f"{path}: no such file"]
    except OSError as exc:
        return {}, [f"{path}: cannot read ({exc.strerror})"]
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        return {}, [f'{path}: not valid JSON{where}; expected [{{"ParameterKey": ..., "ParameterValue": ...}}]']
    if not isinstance(raw, list):
        return {}, [f'{path}: must be a JSON list of {{"ParameterKey", "ParameterValue"}} objects']
    values: dict[str, object] = {}
    problems: list[str] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, dict) or set(entry) != {"ParameterKey", "ParameterValue"}:
            problems.append(f"{path}: entry {index} must have exactly ParameterKey and ParameterValue")
            continue
        key = entry["ParameterKey"]
        if not isinstance(key, str):
            problems.append(f"{path}: entry {index}: ParameterKey must be a string")
            continue
        if key in values:
            problems.append(f"{path}: {key}: given twice")
        values[key] = entry["ParameterValue"]
    return values, problems


def check_values(
    source: str, values: dict[str, object], params: tuple[Param, ...], rules: tuple[Rule, ...]
) -> list[str]:
    """Problems with ``values`` for a template with ``params`` and ``rules`` (empty when valid)."""
    known = {p.name: p for p in params}
    problems = [
        f"{source}: {key}: not a parameter of the root template; remove it or check the spelling"
        for key in values
        if key not in known
    ]
    effective: dict[str, str] = {}
    for param in params:
        if param.name not in values:
            if param.default is None:
                problems.append(f"{source}: {param.name}: required (no default); add it to the file")
            else:
                effective[param.name] = param.default
            continue
        problem = param.problem(values[param.name])
        if problem:
            problems.append(f"{source}: {param.name}: {problem}")
        else:
            effective[param.name] = str(values[param.name])
    if not problems:
        for rule in rules:
            if rule.violated(effective):
                keys = ", ".join(sorted(rule.params()))
                problems.append(f"{source}: {keys}: rule {rule.name} fails: {rule.description}")
    return problems


def check_file(path: Path, params: tuple[Param, ...], rules: tuple[Rule, ...]) -> list[str]:
    """All problems with one parameter file."""
    values, problems = read_params_file(path)
    if problems:
        return problems
    return check_values(str(path), values, params, rules)
