"""Upload and deploy against moto (in-process AWS): never the real AWS."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from neobank_cfn.aws import deploy, upload
from neobank_cfn.cli import main
from neobank_cfn.errors import UserError
from tests.cfn import PROJECT
from tests.conftest import MOTO_REGION

REGION = MOTO_REGION
BUCKET = "neobank-templates-test"


@pytest.fixture
def session(moto_session):
    moto_session.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return moto_session


def test_upload_puts_every_template_under_the_prefix_root_last(session):
    keys = upload(PROJECT / "templates", BUCKET, "neobank/v1/", session)
    assert keys[-1] == "neobank/v1/root.yaml"
    stored = {o["Key"] for o in session.client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]}
    expected = {f"neobank/v1/{p.name}" for p in (PROJECT / "templates").glob("*.yaml")}
    assert set(keys) == stored == expected


def test_upload_to_a_missing_bucket_is_one_line(session):
    with pytest.raises(UserError, match=r"^upload s3://no-such-bucket-here/\S+: NoSuchBucket"):
        upload(PROJECT / "templates", "no-such-bucket-here", "", session)


def test_upload_rejects_a_bad_prefix(session):
    with pytest.raises(UserError, match="TemplatesPrefix"):
        upload(PROJECT / "templates", BUCKET, "no-trailing-slash", session)


def test_deploy_creates_a_change_set_for_the_root(session):
    upload(PROJECT / "templates", BUCKET, "p/", session)
    result = deploy(
        "neobank-dev", PROJECT / "params/dev.json", BUCKET, "p/", session, execute=False, wait=lambda _: None
    )
    assert not result.executed and result.status == "CREATE_COMPLETE"
    tiers = {p.stem for p in (PROJECT / "templates").glob("*.yaml")} - {"root"}
    assert {c.split()[1] for c in result.changes} == {f"{t.title().replace('-', '')}Stack" for t in tiers}
    cfn = session.client("cloudformation")
    described = cfn.describe_change_set(StackName="neobank-dev", ChangeSetName=result.change_set)
    params = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert params["TemplatesBucket"] == BUCKET and params["TemplatesPrefix"] == "p/"
    assert params["Environment"] == "dev"


def test_deploy_executes_the_change_set(session, tmp_path):
    (tmp_path / "root.yaml").write_text("Resources:\n  Topic:\n    Type: AWS::SNS::Topic\n")
    upload(tmp_path, BUCKET, "", session)
    params = tmp_path / "p.json"
    params.write_text("[]")
    result = deploy("small", params, BUCKET, "", session, wait=lambda _: None)
    assert result.executed
    stack = session.client("cloudformation").describe_stacks(StackName="small")["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"


def test_deploy_rejects_bad_input(session, tmp_path):
    with pytest.raises(UserError, match="stack name"):
        deploy("1bad_name", PROJECT / "params/dev.json", BUCKET, "", session)
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        deploy("neobank-dev", bad, BUCKET, "", session)


def test_cli_upload_prints_the_console_url(session, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    result = CliRunner().invoke(
        main, ["upload", "--bucket", BUCKET, "--prefix", "x/", "--dir", str(PROJECT / "templates"), "--region", REGION]
    )
    assert result.exit_code == 0, result.output
    assert f"root template: https://{BUCKET}.s3.{REGION}.amazonaws.com/x/root.yaml" in result.output


def test_cli_deploy_error_is_one_line(session):
    result = CliRunner().invoke(
        main,
        ["deploy", "--stack-name", "neobank-dev", "--params", str(PROJECT / "params/dev.json"),
         "--bucket", "missing-bucket-xyz", "--region", REGION],
    )  # fmt: skip
    assert result.exit_code == 1
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
