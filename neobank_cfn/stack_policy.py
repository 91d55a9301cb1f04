"""Stack policies derived from rendered templates: stateful resources cannot be replaced or removed.

A stack policy applies only to the stack it is set on, never to its nested stacks, so each tier
whose template holds stateful resources gets its own policy (``stack-policy-<tier>.json``), to be
set on that tier's nested stack. Each policy denies ``Update:Replace`` and ``Update:Delete`` on
exactly the stateful resources of its template and allows every other update.

:data:`STATEFUL` is the one list of stateful resource types: the invariant tests use it to demand
Retain/Snapshot policies, and this module uses it to decide what a stack policy protects.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

# Resource types that hold data (or keys to data) that a replacement or removal would lose.
STATEFUL = frozenset(
    {
        "AWS::KMS::Key",
        "AWS::RDS::DBCluster",
        "AWS::RDS::DBInstance",
        "AWS::DynamoDB::Table",
        "AWS::ElastiCache::ReplicationGroup",
        "AWS::SecretsManager::Secret",
        "AWS::S3::Bucket",
        "AWS::ECR::Repository",
        "AWS::Logs::LogGroup",
        "AWS::SQS::Queue",
        "AWS::Cognito::UserPool",
    }
)

PROTECTED_ACTIONS = ("Update:Replace", "Update:Delete")
PREFIX = "stack-policy"
_RESOURCE = "LogicalResourceId/"


def protected_ids(template: Mapping) -> list[str]:
    """Logical ids of the stateful resources in a rendered template (``to_dict()``), sorted."""
    return sorted(name for name, res in template.get("Resources", {}).items() if res.get("Type") in STATEFUL)


def stack_policy(template: Mapping) -> dict | None:
    """The stack policy for a rendered template, or None when it has no stateful resource."""
    ids = protected_ids(template)
    if not ids:
        return None
    return {
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(PROTECTED_ACTIONS),
                "Resource": [f"{_RESOURCE}{name}" for name in ids],
            },
            {"Effect": "Allow", "Principal": "*", "Action": "Update:*", "Resource": "*"},
        ]
    }


def policy_filename(tier: str) -> str:
    """File name of a tier's stack policy, e.g. ``stack-policy-data.json``."""
    return f"{PREFIX}-{tier}.json"


def to_text(policy: Mapping) -> str:
    """A stack policy as the JSON text ``set-stack-policy --stack-policy-body file://`` takes."""
    return json.dumps(policy, indent=2, sort_keys=True) + "\n"


def denied(policy: Mapping) -> set[str]:
    """Logical ids a policy protects from both replacement and removal."""
    found: set[str] = set()
    for statement in policy.get("Statement", []):
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if statement.get("Effect") != "Deny" or not set(PROTECTED_ACTIONS) <= set(actions):
            continue
        resources = statement.get("Resource", [])
        for resource in [resources] if isinstance(resources, str) else resources:
            if resource.startswith(_RESOURCE):
                found.add(resource.removeprefix(_RESOURCE))
    return found


def unprotected(template: Mapping, policy: Mapping | None) -> list[str]:
    """Stateful resources of ``template`` that ``policy`` does not protect (sorted; empty is good)."""
    covered = denied(policy) if policy else set()
    return [name for name in protected_ids(template) if name not in covered]
