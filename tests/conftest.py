"""Shared fixtures: the project's platform, rendered once, as plain dictionaries."""

from __future__ import annotations

import pytest

from neobank_cfn.render import templates
from tests.cfn import project_platform


@pytest.fixture(scope="session")
def plat():
    return project_platform()


@pytest.fixture(scope="session")
def rendered(plat) -> dict[str, dict]:
    """Every template of the project's platform, by file name, as ``to_dict()`` output."""
    return {name: template.to_dict() for name, template in templates(plat).items()}


@pytest.fixture(scope="session")
def tier(rendered):
    """Look up one tier's rendered template by tier name."""
    return lambda name: rendered[f"{name}.yaml"]
