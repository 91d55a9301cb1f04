"""The platform file: typed, validated, one clear line per mistake."""

from __future__ import annotations

import pytest

from neobank_cfn.config import DEFAULT_CONFIG, FARGATE_SIZES, load_config, parse_config
from neobank_cfn.errors import UserError

SERVICE = {"name": "core-banking", "path": "/core/*"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ([], "must be a mapping"),
        ({"servics": []}, "unknown key 'servics'"),
        ({"services": []}, "at least one service"),
        ({"services": [SERVICE, SERVICE]}, "name 'core-banking' is used twice"),
        ({"services": [SERVICE, {**SERVICE, "name": "other"}]}, "both route '/core/*'"),
        ({"services": [{**SERVICE, "name": "Core_Banking"}]}, "must be lowercase words"),
        ({"services": [{**SERVICE, "cpu": 256, "memory": 4096}]}, "memory 4096 is not valid with cpu 256"),
        ({"services": [{**SERVICE, "consumes": ["nope"]}]}, "consumes 'nope' is not one of the queues"),
        ({"services": [{**SERVICE, "tables": ["nope"]}]}, "tables 'nope' is not one of the tables"),
        ({"services": [{**SERVICE, "port": 80}]}, "port 80 must be 1024-65535"),
        ({"services": [{**SERVICE, "min_capacity": 5, "desired_count": 2}]}, "min_capacity <= desired_count"),
        ({"services": [{**SERVICE, "colour": "red"}]}, "unknown key 'colour'"),
        ({"services": [{"path": "/x/*"}]}, "missing required key"),
        ({"services": [{**SERVICE, "cpu": "512"}]}, "cpu: must be a whole number"),
        ({"services": [{**SERVICE, "requests_per_target": 5}]}, "requests_per_target 5 must be 10-100000"),
        ({"services": [{**SERVICE, "partner_api_key": "yes"}]}, "partner_api_key: must be true or false"),
        (
            {
                "queues": [{"name": "q", "fifo": True}],
                "topics": [{"name": "t", "subscribers": ["q"]}],
                "services": [SERVICE],
            },
            "FIFO topics feed FIFO queues only",
        ),
    ],
)
def test_mistakes_are_named(raw, expected):
    with pytest.raises(UserError, match=None) as info:
        parse_config(raw)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_fargate_256_cpu_allows_only_half_to_two_gib():
    assert FARGATE_SIZES[256] == (512, 1024, 2048)


def test_default_has_one_core_banking_service():
    assert [s.name for s in DEFAULT_CONFIG.services] == ["core-banking"]


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        load_config(tmp_path / "none.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("services: [\n")
    with pytest.raises(UserError, match="not valid YAML"):
        load_config(bad)
