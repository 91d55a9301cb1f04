"""Render the platform to files and write them atomically.

Beside each tier template that holds stateful resources goes its stack policy
(``stack-policy-<tier>.json``, see :mod:`neobank_cfn.stack_policy`). Everything is rendered in
memory first; only when every template rendered are the files written, each to a temporary file
beside its target and then renamed over it, so a failed build leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from troposphere import Template

from neobank_cfn.config import PlatformConfig
from neobank_cfn.errors import UserError
from neobank_cfn.registry import platform_tiers
from neobank_cfn.root import build_root
from neobank_cfn.stack_policy import policy_filename, stack_policy
from neobank_cfn.stack_policy import to_text as policy_text
from neobank_cfn.tier import Tier
from neobank_cfn.wiring import Wiring, wire

FORMATS = ("yaml", "json")
ROOT = "root"


@dataclass(frozen=True)
class Platform:
    """The tiers for a configuration and how they are wired."""

    config: PlatformConfig
    tiers: tuple[Tier, ...]
    wiring: Wiring

    @property
    def names(self) -> tuple[str, ...]:
        """Names accepted by ``build --tier``: the root, then every tier in deployment order."""
        return (ROOT,) + tuple(t.name for t in self.wiring.order)


def platform(config: PlatformConfig) -> Platform:
    """Collect and wire the tiers for ``config``."""
    tiers = platform_tiers(config)
    return Platform(config=config, tiers=tiers, wiring=wire(tiers))


def to_text(template: Template, fmt: str) -> str:
    """A template as YAML or JSON text, ending in a newline."""
    if fmt == "json":
        return json.dumps(template.to_dict(), indent=2, sort_keys=False) + "\n"
    return template.to_yaml(clean_up=False, long_form=False)


def templates(plat: Platform, local_urls: bool = False, fmt: str = "yaml") -> dict[str, Template]:
    """Every template of the platform by file name (the root first)."""
    result = {f"{ROOT}.{fmt}": build_root(plat.wiring, fmt, local_urls)}
    for tier in plat.wiring.order:
        result[tier.filename(fmt)] = tier.build(plat.config)
    return result


def render(plat: Platform, fmt: str = "yaml", local_urls: bool = False, only: tuple[str, ...] = ()) -> dict[str, str]:
    """File name -> text for the selected templates (all when ``only`` is empty)."""
    if fmt not in FORMATS:
        raise UserError(f"format {fmt!r} is not supported; use one of {', '.join(FORMATS)}")
    unknown = [name for name in only if name not in plat.names]
    if unknown:
        raise UserError(f"unknown tier {unknown[0]!r}; choose from {', '.join(plat.names)}")
    wanted = {f"{name}.{fmt}" for name in only}
    built = templates(plat, local_urls, fmt)
    files = {name: to_text(template, fmt) for name, template in built.items() if not wanted or name in wanted}
    return files | stack_policies(plat, built, fmt, only)


def stack_policies(
    plat: Platform, built: dict[str, Template], fmt: str = "yaml", only: tuple[str, ...] = ()
) -> dict[str, str]:
    """File name -> text of the stack policy of each selected tier that has stateful resources."""
    files = {}
    for tier in plat.wiring.order:
        if only and tier.name not in only:
            continue
        policy = stack_policy(built[tier.filename(fmt)].to_dict())
        if policy is not None:
            files[policy_filename(tier.name)] = policy_text(policy)
    return files


def write_files(out_dir: str | Path, files: dict[str, str]) -> list[Path]:
    """Write ``files`` into ``out_dir`` atomically; return the paths written."""
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output directory {out}: {exc.strerror}; choose another --out") from None
    if not out.is_dir() or not os.access(out, os.W_OK):
        raise UserError(f"output directory {out} is not writable; choose another --out")
    staged: list[tuple[str, Path]] = []
    try:
        for name, text in files.items():
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
            staged.append((tmp, out / name))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
            os.chmod(tmp, 0o644)
    except OSError as exc:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise UserError(f"cannot write to {out}: {exc.strerror}; nothing was written") from None
    for tmp, target in staged:
        os.replace(tmp, target)
    return [target for _, target in staged]
