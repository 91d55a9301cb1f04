"""The ``neobank-cfn`` command line: one thin command per verb over plain functions."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from neobank_cfn import __version__
from neobank_cfn.config import DEFAULT_CONFIG_FILE, PlatformConfig, load_config
from neobank_cfn.errors import UserError
from neobank_cfn.lint import lint_paths, template_files
from neobank_cfn.params_check import check_file
from neobank_cfn.params_sync import missing, report, sync_files
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


@params.command("sync")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@CONFIG_OPTION
@_user_errors
def params_sync(files: tuple[str, ...], config_path: str | None) -> None:
    """Add every missing root parameter, with its default, to parameter files.

    Values already in a file are kept; entries are written in root-parameter order, each file
    replaced atomically. A parameter without a default is reported (exit 1), never invented: add
    its value by hand. Run `params check` afterwards to validate the values.

    \b
    Example (after adding a service to platform.yaml):
      neobank-cfn params sync params/*.json && neobank-cfn params check params/*.json
    """
    plat = _platform(config_path)
    results = sync_files([Path(name) for name in files], root_params(plat.wiring, False))
    problems = [line for result in results for line in missing(result)]
    for line in [line for result in results for line in report(result)]:
        click.echo(line)
    for line in problems:
        click.echo(line, err=True)
    if problems:
        sys.exit(1)
