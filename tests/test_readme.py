"""The README is the user's manual: it must keep up with the parameters, tiers and commands."""

from __future__ import annotations

import re

from neobank_cfn.cli import main
from neobank_cfn.root import root_params
from tests.cfn import PROJECT

README = (PROJECT / "README.md").read_text()


def test_every_root_parameter_is_documented(plat):
    missing = [p.name for p in root_params(plat.wiring, False) if f"`{p.name}`" not in README]
    assert missing == [], f"README lacks {missing}"


def test_every_tier_is_documented(plat):
    for tier in plat.wiring.order:
        name = tier.name.split("-")[0] if tier.name.startswith("service-") else tier.name
        assert re.search(rf"`{re.escape(name)}", README), f"README does not describe tier {tier.name}"


def test_every_command_is_documented():
    for name in main.commands:
        assert f"neobank-cfn {name}" in README, f"README does not mention `neobank-cfn {name}`"


def test_the_two_commands_come_first():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert "make templates" in first_block and "make test" in first_block


def test_parameter_table_is_current(plat, tmp_path):
    from neobank_cfn.docs import refresh_readme

    copy = tmp_path / "README.md"
    copy.write_text(README)
    assert not refresh_readme(copy, plat, PROJECT / "params"), "README parameter table is stale: run `make docs`"
