"""Shared fixtures: the project's platform, rendered once, as plain dictionaries."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

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


MOTO_REGION = "eu-west-1"


@pytest.fixture
def moto_session(monkeypatch):
    """A boto3 session inside moto's in-process AWS, with fake credentials: tests never reach AWS."""
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
    with mock_aws():
        yield boto3.session.Session(region_name=MOTO_REGION)
