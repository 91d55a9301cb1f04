"""Partner webhook ingest (API Gateway HTTP API, Lambda proxy, payload 2.0), behind the authorizer.

Checks that the body is the one the partner signed (its SHA-256 equals the digest the authorizer
verified), that it is a JSON event of the expected shape, and puts it on the partner-webhooks queue.
Answers 202 once queued; the services process it from there.
"""

import base64
import hashlib
import hmac
import json
import logging
import os
import re

import boto3

log = logging.getLogger()  # Lambda sets its level and JSON format from LoggingConfig
MAX_BODY = 64 * 1024  # bytes; well under the SQS message limit
FIELDS = {"eventId": str, "eventType": str, "occurredAt": str, "data": dict}
NAME = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_cache: dict = {}


def _reply(status: int, body: dict) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def problem(payload: object) -> str:
    """Why ``payload`` is not a valid webhook event ("" when it is)."""
    if not isinstance(payload, dict):
        return "the body must be a JSON object"
    for name, kind in FIELDS.items():
        if not isinstance(payload.get(name), kind) or not payload[name]:
            return f"{name} must be a non-empty {kind.__name__}"
    if not (NAME.fullmatch(payload["eventId"]) and NAME.fullmatch(payload["eventType"])):
        return "eventId and eventType must be 1-128 letters, digits or ._:-"
    return ""


def handler(event: dict, context: object) -> dict:
    """Validate one webhook and queue it."""
    body = event.get("body") or ""
    raw = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    claims = event["requestContext"]["authorizer"]["lambda"]
    if not hmac.compare_digest(hashlib.sha256(raw).hexdigest().encode(), claims["contentSha256"].encode()):
        return _reply(401, {"message": "the body does not match the signed digest"})
    if len(raw) > MAX_BODY:
        return _reply(413, {"message": f"the body must be at most {MAX_BODY} bytes"})
    try:
        text = raw.decode("utf-8")
        payload = json.loads(text)
    except ValueError:  # UnicodeDecodeError is a ValueError too
        return _reply(400, {"message": "the body is not UTF-8 JSON"})
    reason = problem(payload)
    if reason:
        return _reply(400, {"message": reason})
    if "sqs" not in _cache:
        _cache["sqs"] = boto3.client("sqs")
    attributes = {"partner": claims["partner"], "eventType": payload["eventType"], "eventId": payload["eventId"]}
    _cache["sqs"].send_message(
        QueueUrl=os.environ["QUEUE_URL"],
        MessageBody=text,
        MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
    )
    log.info("queued %s from %s", payload["eventId"], claims["partner"])
    return _reply(202, {"accepted": payload["eventId"]})
