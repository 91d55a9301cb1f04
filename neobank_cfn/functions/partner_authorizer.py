"""Partner webhook authorizer (API Gateway HTTP API, REQUEST, payload 2.0, simple responses).

A partner signs ``<unix seconds>.<hex sha256 of the body>`` with HMAC-SHA256 under the shared key
and sends X-Webhook-Timestamp, X-Webhook-Content-Sha256 and X-Webhook-Signature: v1=<hex>.
API Gateway gives authorizers no request body, so this checks the signature over the digest and
the ingest function checks that the digest matches the body it receives.
"""

import hashlib
import hmac
import logging
import os
import re
import time

import boto3

log = logging.getLogger()  # Lambda sets its level and JSON format from LoggingConfig
MAX_SKEW = int(os.environ.get("MAX_SKEW_SECONDS", "300"))
KEY_TTL = 300  # seconds a fetched key is reused, so a rotation is seen within five minutes
PARTNER = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
DIGEST = re.compile(r"[0-9a-f]{64}")
TIMESTAMP = re.compile(r"[0-9]{1,12}")
_cache: dict = {}


def signature(key: bytes, timestamp: str, digest: str) -> str:
    """Hex HMAC-SHA256 of ``<timestamp>.<digest>`` under ``key``."""
    return hmac.new(key, f"{timestamp}.{digest}".encode(), hashlib.sha256).hexdigest()


def _keys() -> list:
    """The current signing key, then the previous one (accepted during a rotation)."""
    if _cache.get("at", 0) + KEY_TTL < time.time():
        client = _cache.get("sm") or boto3.client("secretsmanager")
        keys = []
        for stage in ("AWSCURRENT", "AWSPREVIOUS"):
            try:
                value = client.get_secret_value(SecretId=os.environ["SECRET_ARN"], VersionStage=stage)
                keys.append(value["SecretString"].encode())
            except client.exceptions.ResourceNotFoundException:
                pass  # no previous version yet
        _cache.update(sm=client, keys=keys, at=time.time())
    return _cache["keys"]


def _deny(reason: str) -> dict:
    log.info("denied: %s", reason)
    return {"isAuthorized": False}


def handler(event: dict, context: object) -> dict:
    """Allow the request only when its signature is valid and fresh."""
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    partner = (event.get("pathParameters") or {}).get("partner", "")
    timestamp = headers.get("x-webhook-timestamp", "")
    digest = headers.get("x-webhook-content-sha256", "").lower()
    given = headers.get("x-webhook-signature", "")
    if not (PARTNER.fullmatch(partner) and TIMESTAMP.fullmatch(timestamp) and DIGEST.fullmatch(digest)):
        return _deny("missing or malformed header or partner")
    if not given.startswith("v1=") or abs(time.time() - int(timestamp)) > MAX_SKEW:
        return _deny("unknown scheme or stale timestamp")
    for key in _keys():
        if hmac.compare_digest(signature(key, timestamp, digest).encode(), given[3:].encode()):
            return {"isAuthorized": True, "context": {"partner": partner, "contentSha256": digest}}
    return _deny("bad signature")
