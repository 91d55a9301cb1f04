"""The ``neobank-cfn`` command line: one thin command per verb over plain functions."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import boto3
import click

from neobank_cfn import __version__
from neobank_cfn.aws import deploy as deploy_stack
from neobank_cfn.aws import protect as protect_stacks
from neobank_cfn.aws import template_url
from neobank_cfn.aws import upload as upload_templates
from neobank_cfn.config import DEFAULT_CONFIG_FILE, PlatformConfig, load_config
from neobank_cfn.docs import refresh_readme
from neobank_cfn.errors import UserError
from neobank_cfn.lint import lint_paths, template_files
from neobank_cfn.params_check import check_file
from neobank_cfn.render import FORMATS, Platform, platform, render, write_files
from neobank_cfn.root import root_params


def _user_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a :class:`UserError` into one line on stderr and exit code 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None

    return wrapper


def _platform(config_path: str | None) -> Platform:
    if config_path is None and Path(DEFAULT_CONFIG_FILE).is_file():
        config_path = DEFAULT_CONFIG_FILE
    config: PlatformConfig = load_config(config_path)
    return platform(config)


CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help=f"Platform file (services, queues, tables, topics). Default: ./{DEFAULT_CONFIG_FILE} if present, "
    "else the built-in single-service platform.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="neobank-cfn")
def main() -> None:
    """Generate, lint and check the neobank platform's CloudFormation templates.

    \b
    Example:
      neobank-cfn build && neobank-cfn lint && neobank-cfn params check params/*.json
    """


@main.command()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="yaml", show_default=True, help="Template format.")
@click.option("--out", "out_dir", default="templates", show_default=True, help="Directory to write the templates to.")
@click.option("--tier", "tiers", multiple=True, metavar="NAME", help="Only this template (repeatable): root or a tier.")
@click.option(
    "--local-urls", is_flag=True, help="Root points at tier files by relative path (for `aws cloudformation package`)."
)
@CONFIG_OPTION
@_user_errors
def build(fmt: str, out_dir: str, tiers: tuple[str, ...], local_urls: bool, config_path: str | None) -> None:
    """Write the root template and every tier template.

    Files are written atomically: all render first, and nothing is written if any fails.

    \b
    Examples:
      neobank-cfn build
      neobank-cfn build --format json --out build/json
      neobank-cfn build --tier network --tier security
      neobank-cfn build --local-urls --out build/package
    """
    plat = _platform(config_path)
    files = render(plat, fmt=fmt, local_urls=local_urls, only=tiers)
    for path in write_files(out_dir, files):
        click.echo(f"wrote {path}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@_user_errors
def lint(paths: tuple[str, ...]) -> None:
    """Run cfn-lint on templates; exit 1 on any error, warning or informational finding.

    PATHS are template files or directories (default: templates/).

    \b
    Example:
      neobank-cfn lint templates/
    """
    files: list[Path] = []
    for raw in paths or ("templates",):
        path = Path(raw)
        if path.is_dir():
            files.extend(template_files(path))
        elif path.exists():
            files.append(path)
        else:
            raise UserError(f"{path}: no such file or directory; run `neobank-cfn build` first")
    if not files:
        raise UserError("no templates found; run `neobank-cfn build` first")
    findings = lint_paths(files)
    for finding in findings:
        click.echo(str(finding))
    click.echo(f"{len(files)} templates, {len(findings)} findings")
    if findings:
        sys.exit(1)


@main.group()
def params() -> None:
    """Work with parameter files (params/<env>.json)."""


@params.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@CONFIG_OPTION
@_user_errors
def params_check(files: tuple[str, ...], config_path: str | None) -> None:
    """Check parameter files against the root template's parameters and rules.

    Every key must be a root parameter, every required parameter present, each value within its
    constraints, and every cross-parameter rule met. Exit 1 on any problem.

    \b
    Example:
      neobank-cfn params check params/dev.json params/prod.json
    """
    plat = _platform(config_path)
    rules = plat.wiring.root_rules()
    problems = [line for name in files for line in check_file(Path(name), root_params(plat.wiring, False), rules)]
    for line in problems:
        click.echo(line, err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{len(files)} parameter files OK")


def _session(region: str | None) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


@main.command()
@click.option("--bucket", required=True, help="S3 bucket for the templates (the TemplatesBucket parameter).")
@click.option("--prefix", default="", help="Key prefix ending in '/' (the TemplatesPrefix parameter).")
@click.option("--dir", "directory", default="templates", show_default=True, type=click.Path(file_okay=False))
@click.option("--region", default=None, help="AWS region (default: from the AWS configuration).")
@_user_errors
def upload(bucket: str, prefix: str, directory: str, region: str | None) -> None:
    """Upload the templates to S3 so the root template can find its tiers.

    Prints the S3 URL of root.yaml to paste into the console ("Amazon S3 URL").

    \b
    Example:
      neobank-cfn upload --bucket acme-neobank-cfn-templates-dev --prefix neobank/
    """
    session = _session(region)
    for key in upload_templates(Path(directory), bucket, prefix, session):
        click.echo(f"uploaded s3://{bucket}/{key}")
    click.echo(f"root template: {template_url(bucket, prefix, session.region_name)}")


@main.command()
@click.option("--stack-name", required=True, help="Name of the root stack, e.g. neobank-dev.")
@click.option("--params", "params_file", required=True, type=click.Path(dir_okay=False), help="params/<env>.json")
@click.option("--bucket", required=True, help="S3 bucket the templates were uploaded to.")
@click.option("--prefix", default="", help="Key prefix the templates were uploaded under.")
@click.option("--region", default=None, help="AWS region (default: from the AWS configuration).")
@click.option("--no-execute", is_flag=True, help="Create the change set and show it, but do not execute it.")
@_user_errors
def deploy(stack_name: str, params_file: str, bucket: str, prefix: str, region: str | None, no_execute: bool) -> None:
    """Create or update the root stack through a change set (nested changes included).

    Upload the templates first (`neobank-cfn upload`); then follow the stack in the console or with
    `aws cloudformation wait stack-create-complete` / `stack-update-complete`.

    \b
    Example:
      neobank-cfn deploy --stack-name neobank-dev --params params/dev.json \\
        --bucket acme-neobank-cfn-templates-dev --prefix neobank/ --no-execute
    """
    result = deploy_stack(stack_name, Path(params_file), bucket, prefix, _session(region), execute=not no_execute)
    for change in result.changes:
        click.echo(change)
    if result.status == "NO_CHANGES":
        click.echo(f"{stack_name}: no changes")
    elif result.executed:
        click.echo(f"{stack_name}: executing change set {result.change_set}")
    else:
        click.echo(f"{stack_name}: change set {result.change_set} ready; review it, then execute it")


@main.command()
@click.option("--readme", default="README.md", show_default=True, type=click.Path(dir_okay=False, exists=True))
@click.option("--params-dir", default="params", show_default=True, type=click.Path(file_okay=False))
@CONFIG_OPTION
@_user_errors
def docs(readme: str, params_dir: str, config_path: str | None) -> None:
    """Regenerate the README's parameter table from the templates and params/<env>.json.

    \b
    Example:
      neobank-cfn docs
    """
    changed = refresh_readme(Path(readme), _platform(config_path), Path(params_dir))
    click.echo(f"{readme}: {'parameter table updated' if changed else 'up to date'}")


@main.command()
@click.option("--stack-name", required=True, help="Name of the deployed root stack, e.g. neobank-prod.")
@click.option("--dir", "directory", default="templates", show_default=True, type=click.Path(file_okay=False))
@click.option("--region", default=None, help="AWS region (default: from the AWS configuration).")
@_user_errors
def protect(stack_name: str, directory: str, region: str | None) -> None:
    """Set each tier's stack policy (stack-policy-<tier>.json) on its nested stack.

    Stack policies do not reach nested stacks, so each goes on its own tier's stack. Run after the
    first deployment and after any deployment that changed a policy file.

    \b
    Example:
      neobank-cfn protect --stack-name neobank-prod
    """
    for name, stack_id in protect_stacks(stack_name, Path(directory), _session(region)):
        click.echo(f"{name} -> {stack_id}")
