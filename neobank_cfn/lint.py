"""cfn-lint over emitted templates, through its Python API.

Errors, warnings and informational findings all count: the bar is zero of each. A finding that cannot
be fixed is waived on its resource with a written reason (see :func:`neobank_cfn.tier.waiver`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

TEMPLATE_SUFFIXES = (".yaml", ".yml", ".json", ".template")


@dataclass(frozen=True)
class Finding:
    """One cfn-lint finding."""

    path: str
    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule} {self.message}"


def lint_paths(paths: list[Path], regions: tuple[str, ...] = ("us-east-1",)) -> list[Finding]:
    """Lint every template file in ``paths`` (informational rules included)."""
    findings: list[Finding] = []
    for path in paths:
        # cfn-lint resolves a nested stack's relative TemplateURL against the working directory.
        with _working_directory(path.resolve().parent):
            matches = lint_file(Path(path.name), config=ManualArgs(include_checks=["I"], regions=list(regions)))
        for match in matches:
            findings.append(Finding(str(path), match.linenumber, match.rule.id, match.message))
    return sorted(findings, key=lambda f: (f.path, f.line, f.rule))


@contextmanager
def _working_directory(directory: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


def template_files(directory: Path) -> list[Path]:
    """The template files in ``directory`` (not the stack policy or other JSON documents)."""
    return sorted(
        p for p in directory.iterdir() if p.suffix in TEMPLATE_SUFFIXES and not p.name.startswith((".", "stack-policy"))
    )
