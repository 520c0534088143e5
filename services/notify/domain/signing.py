"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed by a `whsec_` secret."""

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable, Mapping

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret
SECRET_BYTES = 32
# The specification asks for secrets of 24 to 64 bytes.
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
# Receivers reject a timestamp further than this from their clock, which bounds how long a captured request replays.
TIMESTAMP_TOLERANCE_SECONDS = 5 * 60


class SignatureError(ValueError):
    """A signature does not verify, or its headers or secret are malformed."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key a `whsec_<base64>` secret stands for; raises `SignatureError` if it is malformed."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    # Some libraries print secrets without base64 padding; the reference verifiers accept them, so do we.
    padded = encoded + "=" * (-len(encoded) % 4)
    try:
        key = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError("a signing secret is `whsec_` followed by base64") from exc
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise SignatureError(f"a signing secret holds {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, not {len(key)}")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_headers(secrets_in_force: Iterable[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers of a delivery; while a secret is being rotated, one signature per secret, space-separated."""
    signatures = [sign(secret, message_id, timestamp, body) for secret in secrets_in_force]
    if not signatures:
        raise SignatureError("a delivery needs at least one signing secret")
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, now: int) -> None:
    """Checks a delivery as a receiver would; raises `SignatureError` unless one `v1` signature matches in time."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        message_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split(" ")
    except (KeyError, ValueError) as exc:
        raise SignatureError("missing or malformed webhook headers") from exc
    if abs(now - timestamp) > TIMESTAMP_TOLERANCE_SECONDS:
        raise SignatureError("the timestamp is too far from now")
    expected = sign(secret, message_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered if candidate.startswith("v1,")):
        raise SignatureError("no signature matches")
