"""Talking to AWS (boto3): upload the templates to S3 and deploy the root stack through a change set.

Every AWS failure a user can fix (no credentials, no such bucket, access denied, a failed change set)
becomes one :class:`~neobank_cfn.errors.UserError` line.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from neobank_cfn.errors import UserError
from neobank_cfn.lint import template_files
from neobank_cfn.params_check import read_params_file
from neobank_cfn.root import TEMPLATES_BUCKET, TEMPLATES_PREFIX
from neobank_cfn.stack_policy import PREFIX as POLICY_PREFIX
from neobank_cfn.tier import stack_logical_id

CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]
STACK_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")


@contextmanager
def aws_errors(action: str) -> Iterator[None]:
    """Turn boto3 failures into one line saying what failed and why."""
    try:
        yield
    except NoCredentialsError:
        raise UserError(f"{action}: no AWS credentials; set AWS_PROFILE or run `aws configure`") from None
    except NoRegionError:
        raise UserError(f"{action}: no AWS region; set AWS_REGION or pass --region") from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise UserError(f"{action}: {error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")) from None
    except BotoCoreError as exc:
        raise UserError(f"{action}: {exc}") from None


def _check_location(bucket: str, prefix: str) -> None:
    for param, value in ((TEMPLATES_BUCKET, bucket), (TEMPLATES_PREFIX, prefix)):
        problem = param.problem(value)
        if problem:
            raise UserError(f"{param.name}: {problem}")


def template_url(bucket: str, prefix: str, region: str, name: str = "root.yaml") -> str:
    """The S3 URL of an uploaded template, as the console's "Amazon S3 URL" field takes it."""
    return f"https://{bucket}.s3.{region}.amazonaws.com/{prefix}{name}"


def upload(directory: Path, bucket: str, prefix: str, session: boto3.session.Session) -> list[str]:
    """Upload every template in ``directory`` to ``s3://bucket/prefix``; return the keys written."""
    _check_location(bucket, prefix)
    # Tier templates first, the root last: the root never points at a tier that is not there yet.
    files = sorted(template_files(directory), key=lambda p: (p.stem == "root", p.name))
    if not files:
        raise UserError(f"no templates in {directory}; run `neobank-cfn build` first")
    s3 = session.client("s3")
    keys = []
    for path in files:
        key = f"{prefix}{path.name}"
        with aws_errors(f"upload s3://{bucket}/{key}"):
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="text/plain")
        keys.append(key)
    return keys


@dataclass(frozen=True)
class DeployResult:
    """What a deploy did: the change set, its changes, and whether it was executed."""

    stack_name: str
    change_set: str
    changes: tuple[str, ...]
    executed: bool
    status: str


def deploy(
    stack_name: str,
    params_file: Path,
    bucket: str,
    prefix: str,
    session: boto3.session.Session,
    execute: bool = True,
    wait: Callable[[float], None] = time.sleep,
    poll_seconds: float = 5.0,
) -> DeployResult:
    """Create (or update) the root stack from the uploaded templates through a change set."""
    if not STACK_NAME.match(stack_name):
        raise UserError(f"stack name {stack_name!r}: letters, digits and hyphens, starting with a letter")
    _check_location(bucket, prefix)
    values, problems = read_params_file(params_file)
    if problems:
        raise UserError(problems[0])
    values = {**values, "TemplatesBucket": bucket, "TemplatesPrefix": prefix}
    cfn = session.client("cloudformation")
    exists = _stack_exists(cfn, stack_name)
    name = f"neobank-cfn-{int(time.time())}"
    with aws_errors(f"create change set for {stack_name}"):
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=name,
            ChangeSetType="UPDATE" if exists else "CREATE",
            TemplateURL=template_url(bucket, prefix, session.region_name),
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in values.items()],
            Capabilities=CAPABILITIES,
            IncludeNestedStacks=True,
        )
    described = _wait_for(cfn, stack_name, name, wait, poll_seconds)
    changes = tuple(
        f"{c['ResourceChange']['Action']} {c['ResourceChange']['LogicalResourceId']} "
        f"({c['ResourceChange']['ResourceType']})"
        for c in described.get("Changes", [])
    )
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if "didn't contain changes" in reason or "No updates" in reason:
            return DeployResult(stack_name, name, (), False, "NO_CHANGES")
        raise UserError(f"change set for {stack_name} failed: {reason}")
    if execute:
        with aws_errors(f"execute change set for {stack_name}"):
            cfn.execute_change_set(StackName=stack_name, ChangeSetName=name)
    return DeployResult(stack_name, name, changes, execute, described["Status"])


def _stack_exists(cfn: object, stack_name: str) -> bool:
    try:
        stacks = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in exc.response.get("Error", {}).get("Message", ""):
            return False
        with aws_errors(f"describe stack {stack_name}"):
            raise
    return bool(stacks) and stacks[0]["StackStatus"] != "REVIEW_IN_PROGRESS"


def _wait_for(cfn: object, stack_name: str, name: str, wait: Callable[[float], None], poll_seconds: float) -> dict:
    while True:
        with aws_errors(f"describe change set for {stack_name}"):
            described = cfn.describe_change_set(StackName=stack_name, ChangeSetName=name)
        if described["Status"] in ("CREATE_COMPLETE", "FAILED"):
            return described
        wait(poll_seconds)


def protect(root_stack: str, directory: Path, session: boto3.session.Session) -> list[tuple[str, str]]:
    """Set each ``stack-policy-<tier>.json`` of ``directory`` on that tier's nested stack of ``root_stack``.

    A stack policy never reaches nested stacks, so each tier's policy goes on its own nested stack,
    found in the root's resources by the tier's logical id. Returns (policy file, nested stack id) pairs.
    """
    policies = sorted(directory.glob(f"{POLICY_PREFIX}-*.json"))
    if not policies:
        raise UserError(f"no stack policies in {directory}; run `neobank-cfn build` first")
    cfn = session.client("cloudformation")
    nested: dict[str, str] = {}
    with aws_errors(f"list the resources of {root_stack}"):
        for page in cfn.get_paginator("list_stack_resources").paginate(StackName=root_stack):
            for resource in page["StackResourceSummaries"]:
                if resource["ResourceType"] == "AWS::CloudFormation::Stack":
                    nested[resource["LogicalResourceId"]] = resource.get("PhysicalResourceId", "")
    applied = []
    for path in policies:
        logical = stack_logical_id(path.stem.removeprefix(f"{POLICY_PREFIX}-"))
        stack_id = nested.get(logical)
        if not stack_id:
            raise UserError(f"{root_stack} has no nested stack {logical} for {path.name}; deploy the stack first")
        with aws_errors(f"set the stack policy of {logical}"):
            cfn.set_stack_policy(StackName=stack_id, StackPolicyBody=path.read_text(encoding="utf-8"))
        applied.append((path.name, stack_id))
    return applied
