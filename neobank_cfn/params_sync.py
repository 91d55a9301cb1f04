"""Bring ``params/<env>.json`` files up to date with the root template's parameters.

Adding a service (or a tier) adds root parameters; ``params sync`` adds each missing one with its
default, keeps every value already in the file, and writes the entries in root-parameter order (keys
that are not root parameters are kept at the end, for ``params check`` to report). A parameter with
no default is reported, never invented. All files are read and planned first; each changed file is
then replaced atomically (written beside itself and renamed over it).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from neobank_cfn.errors import UserError
from neobank_cfn.parameters import Param
from neobank_cfn.params_check import read_params_file


@dataclass(frozen=True)
class SyncResult:
    """What syncing one file did (or would do)."""

    path: Path
    text: str  # the file's new content
    added: tuple[tuple[str, str], ...]  # (name, default) added
    required: tuple[str, ...]  # missing, no default: the user must add them
    unknown: tuple[str, ...]  # not root parameters: kept, for `params check` to report
    changed: bool


def sync_values(
    values: dict[str, object], params: tuple[Param, ...]
) -> tuple[list[tuple[str, object]], list[tuple[str, str]], list[str], list[str]]:
    """Entries in root-parameter order with defaults filled in; also (added, required, unknown)."""
    entries: list[tuple[str, object]] = []
    added: list[tuple[str, str]] = []
    required: list[str] = []
    for param in params:
        if param.name in values:
            entries.append((param.name, values[param.name]))
        elif param.default is not None:
            entries.append((param.name, param.default))
            added.append((param.name, param.default))
        else:
            required.append(param.name)
    known = {p.name for p in params}
    unknown = [key for key in values if key not in known]
    entries += [(key, values[key]) for key in unknown]
    return entries, added, required, unknown


def render_entries(entries: list[tuple[str, object]]) -> str:
    """A CloudFormation parameter file for ``entries``, as the project formats them."""
    body = [{"ParameterKey": key, "ParameterValue": value} for key, value in entries]
    return json.dumps(body, indent=2, ensure_ascii=False) + "\n"


def plan_sync(path: Path, params: tuple[Param, ...]) -> SyncResult:
    """Work out the synced content of one file (raises :class:`UserError` if it cannot be read)."""
    values, problems = read_params_file(path)
    if problems:
        raise UserError(f"{problems[0]}; nothing was written")
    entries, added, required, unknown = sync_values(values, params)
    text = render_entries(entries)
    changed = text != path.read_text(encoding="utf-8")
    return SyncResult(path, text, tuple(added), tuple(required), tuple(unknown), changed)


def _replace(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, keeping the file's permissions."""
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write ({exc.strerror})") from None


def sync_files(paths: list[Path], params: tuple[Param, ...]) -> list[SyncResult]:
    """Sync every file in ``paths``: plan all first (nothing is written if one is unreadable), then write."""
    results = [plan_sync(path, params) for path in paths]
    for result in results:
        if result.changed:
            _replace(result.path, result.text)
    return results


def report(result: SyncResult) -> list[str]:
    """What syncing one file changed, one line each (the missing required parameters excepted)."""
    lines = [f"{result.path}: added {name} = {default!r} (the default)" for name, default in result.added]
    lines += [
        f"{result.path}: {name}: not a root parameter; kept (remove it or check the spelling)"
        for name in result.unknown
    ]
    if not lines and not result.required:
        lines.append(f"{result.path}: reordered" if result.changed else f"{result.path}: up to date")
    return lines


def missing(result: SyncResult) -> list[str]:
    """One line per root parameter the file lacks that has no default (the user must add it)."""
    return [f"{result.path}: {name}: required (no default); add its value by hand" for name in result.required]
