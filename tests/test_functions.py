"""The Lambda functions' own behaviour, offline: Secrets Manager and SQS are moto's."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import time
import zipfile

import boto3
import pytest

from neobank_cfn.functions import partner_authorizer, source, webhook_ingest
from neobank_cfn.tiers.api import MAX_SKEW_SECONDS
from tests.cfn import PROJECT

FUNCTIONS = ("partner_authorizer", "webhook_ingest")
# AWS's limit on inline code: the zip CloudFormation makes of it "cannot exceed 4MB" (CloudFormation
# reference, AWS::Lambda::Function Code.ZipFile; it was 4096 characters until 2022).
ZIPFILE_LIMIT_BYTES = 4 * 1024 * 1024
# Our own, far tighter budget: small enough to review inside the template.
SOURCE_BUDGET_BYTES = 4096
EVENT = {"eventId": "evt-123", "eventType": "payment.settled", "occurredAt": "2025-01-31T10:00:00Z", "data": {"x": 1}}


@pytest.fixture
def aws(moto_session):
    """moto's AWS (the shared fixture) and the functions' module caches emptied around each test."""
    partner_authorizer._cache.clear()
    webhook_ingest._cache.clear()
    yield moto_session
    partner_authorizer._cache.clear()
    webhook_ingest._cache.clear()


@pytest.fixture
def key(aws, monkeypatch) -> bytes:
    secret = aws.client("secretsmanager").create_secret(Name="signing", SecretString="k" * 64)
    monkeypatch.setenv("SECRET_ARN", secret["ARN"])
    return b"k" * 64


@pytest.fixture
def queue(aws, monkeypatch) -> str:
    url = aws.client("sqs").create_queue(QueueName="partner-webhooks")["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)
    return url


def _sign(key: bytes, body: bytes, at: float | None = None, scheme: str = "v1") -> dict:
    """Headers a partner sends (the signing recipe of docs/api.md)."""
    timestamp = str(int(time.time() if at is None else at))
    digest = hashlib.sha256(body).hexdigest()
    mac = hmac.new(key, f"{timestamp}.{digest}".encode(), hashlib.sha256).hexdigest()
    return {
        "x-webhook-timestamp": timestamp,
        "x-webhook-content-sha256": digest,
        "x-webhook-signature": f"{scheme}={mac}",
    }


def _authorize(headers: dict, partner: str = "acme") -> dict:
    return partner_authorizer.handler({"headers": headers, "pathParameters": {"partner": partner}}, None)


def _messages(url: str) -> list[dict]:
    reply = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return reply.get("Messages", [])


# The authorizer.


def test_valid_signature_is_allowed_with_the_partner_and_digest_as_context(key):
    headers = _sign(key, b'{"a":1}')
    assert _authorize(headers) == {
        "isAuthorized": True,
        "context": {"partner": "acme", "contentSha256": headers["x-webhook-content-sha256"]},
    }


def test_header_names_are_case_insensitive(key):
    headers = {name.title(): value for name, value in _sign(key, b"{}").items()}
    assert _authorize(headers)["isAuthorized"] is True


def test_signature_under_another_key_is_denied(key):
    assert _authorize(_sign(b"not-the-key", b"{}")) == {"isAuthorized": False}


def test_signature_over_another_body_is_denied(key):
    headers = _sign(key, b'{"amount":1}')
    headers["x-webhook-content-sha256"] = hashlib.sha256(b'{"amount":1000}').hexdigest()
    assert _authorize(headers)["isAuthorized"] is False


@pytest.mark.parametrize("missing", ["x-webhook-timestamp", "x-webhook-content-sha256", "x-webhook-signature"])
def test_missing_header_is_denied(key, missing):
    headers = _sign(key, b"{}")
    del headers[missing]
    assert _authorize(headers)["isAuthorized"] is False


def test_no_headers_at_all_is_denied(key):
    assert partner_authorizer.handler({"pathParameters": {"partner": "acme"}}, None)["isAuthorized"] is False


@pytest.mark.parametrize("offset", [-(MAX_SKEW_SECONDS + 5), MAX_SKEW_SECONDS + 5])
def test_stale_or_future_timestamp_is_denied(key, offset):
    assert _authorize(_sign(key, b"{}", at=time.time() + offset))["isAuthorized"] is False


def test_timestamp_within_the_skew_is_allowed(key):
    assert _authorize(_sign(key, b"{}", at=time.time() - MAX_SKEW_SECONDS + 30))["isAuthorized"] is True


@pytest.mark.parametrize(
    "tamper",
    [
        {"x-webhook-timestamp": "9" * 5000},  # must not raise (int() refuses very long strings)
        {"x-webhook-timestamp": "12.5"},
        {"x-webhook-content-sha256": "xyz"},
        {"x-webhook-signature": "sha256=abc"},
        {"x-webhook-signature": "v1=é"},  # non-ASCII must be compared, not crash
    ],
)
def test_malformed_headers_are_denied_without_error(key, tamper):
    assert _authorize(_sign(key, b"{}") | tamper)["isAuthorized"] is False


def test_unknown_scheme_is_denied(key):
    assert _authorize(_sign(key, b"{}", scheme="v2"))["isAuthorized"] is False


@pytest.mark.parametrize("partner", ["", "ACME", "acme/../x", "a" * 40])
def test_malformed_partner_is_denied(key, partner):
    assert _authorize(_sign(key, b"{}"), partner=partner)["isAuthorized"] is False


def test_previous_key_is_accepted_during_a_rotation(key):
    boto3.client("secretsmanager").put_secret_value(SecretId="signing", SecretString="n" * 64)
    assert _authorize(_sign(b"n" * 64, b"{}"))["isAuthorized"] is True
    assert _authorize(_sign(key, b"{}"))["isAuthorized"] is True
    assert _authorize(_sign(b"o" * 64, b"{}"))["isAuthorized"] is False


def test_key_is_fetched_once_and_reused(key, monkeypatch):
    assert _authorize(_sign(key, b"{}"))["isAuthorized"] is True
    monkeypatch.setenv("SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:111122223333:secret:gone")
    assert _authorize(_sign(key, b"{}"))["isAuthorized"] is True  # served from the cache


# The ingest function.


def _ingest(body: bytes, *, digest: str | None = None, encode: bool = False) -> dict:
    event = {
        "body": base64.b64encode(body).decode() if encode else body.decode("utf-8", "replace"),
        "isBase64Encoded": encode,
        "requestContext": {
            "authorizer": {"lambda": {"partner": "acme", "contentSha256": digest or hashlib.sha256(body).hexdigest()}}
        },
    }
    return webhook_ingest.handler(event, None)


@pytest.mark.parametrize("encode", [False, True])
def test_valid_payload_is_queued_and_answered_202(queue, encode):
    body = json.dumps(EVENT).encode()
    reply = _ingest(body, encode=encode)
    assert reply["statusCode"] == 202 and json.loads(reply["body"]) == {"accepted": "evt-123"}
    (message,) = _messages(queue)
    assert message["Body"] == body.decode()
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes == {"partner": "acme", "eventType": "payment.settled", "eventId": "evt-123"}


@pytest.mark.parametrize(
    "payload",
    [
        [EVENT],
        {k: v for k, v in EVENT.items() if k != "eventId"},
        EVENT | {"eventType": ""},
        EVENT | {"data": "not an object"},
        EVENT | {"eventId": "has spaces"},
        EVENT | {"eventId": "x" * 129},
        EVENT | {"occurredAt": 12},
    ],
)
def test_invalid_payload_is_rejected_with_400_and_not_queued(queue, payload):
    reply = _ingest(json.dumps(payload).encode())
    assert reply["statusCode"] == 400 and json.loads(reply["body"])["message"]
    assert _messages(queue) == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe{}"])
def test_unparseable_body_is_rejected_with_400(queue, body):
    assert _ingest(body, encode=True)["statusCode"] == 400
    assert _messages(queue) == []


def test_body_not_matching_the_signed_digest_is_rejected_with_401(queue):
    reply = _ingest(json.dumps(EVENT).encode(), digest=hashlib.sha256(b"something else").hexdigest())
    assert reply["statusCode"] == 401
    assert _messages(queue) == []


def test_oversized_body_is_rejected_with_413(queue):
    body = json.dumps(EVENT | {"data": {"pad": "x" * webhook_ingest.MAX_BODY}}).encode()
    assert _ingest(body)["statusCode"] == 413
    assert _messages(queue) == []


def test_partner_signs_authorizer_allows_ingest_queues(key, queue):
    body = json.dumps(EVENT).encode()
    decision = _authorize(_sign(key, body))
    assert decision["isAuthorized"] is True
    event = {
        "body": body.decode(),
        "isBase64Encoded": False,
        "requestContext": {"authorizer": {"lambda": decision["context"]}},
    }
    assert webhook_ingest.handler(event, None)["statusCode"] == 202
    assert len(_messages(queue)) == 1


# Packaging: what CloudFormation inlines.


@pytest.mark.parametrize("name", FUNCTIONS)
def test_inline_code_fits_aws_limit_and_our_budget(name):
    code = source(name)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("index.py", code)
    assert len(archive.getvalue()) < ZIPFILE_LIMIT_BYTES
    assert len(code.encode()) <= SOURCE_BUDGET_BYTES, f"{name}.py is {len(code.encode())} bytes"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_source_is_the_file_in_the_package_and_is_self_contained(name):
    path = PROJECT / "neobank_cfn" / "functions" / f"{name}.py"
    assert source(name) == path.read_text()
    imports = {
        line.split()[1].split(".")[0] for line in source(name).splitlines() if line.startswith(("import ", "from "))
    }
    assert imports <= {"base64", "hashlib", "hmac", "json", "logging", "os", "re", "time", "boto3"}, imports
    compile(source(name), f"{name}.py", "exec")
