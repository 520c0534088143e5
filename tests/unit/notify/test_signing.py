"""Standard Webhooks signatures, checked against the specification's own test vectors."""

import base64
import hashlib
import hmac

import pytest

from services.notify.domain.signing import (
    SignatureError,
    new_secret,
    secret_key,
    sign,
    signature_headers,
    verify,
)

# From standard-webhooks/standard-webhooks @ b2fa7b8719fb75d326b591077f5d1b385cfcdfae:
# libraries/python/tests/test_webhooks.py::test_sign_function and libraries/rust/src/lib.rs::tests::test_sign.
SPEC_VECTORS = [
    (
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        b'{"test": 2432232314}',
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
    ),
    (
        "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
        "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
        1649367553,
        b'{"email":"test@example.com","username":"test_user"}',
        "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
    ),
]


@pytest.mark.parametrize(("secret", "message_id", "timestamp", "body", "expected"), SPEC_VECTORS)
def test_signatures_match_the_specification_vectors(
    secret: str, message_id: str, timestamp: int, body: bytes, expected: str
) -> None:
    assert sign(secret, message_id, timestamp, body) == expected
    verify(secret, signature_headers([secret], message_id, timestamp, body), body, now=timestamp + 10)


def test_a_signature_with_one_character_changed_is_rejected() -> None:
    secret, message_id, timestamp, body, _ = SPEC_VECTORS[0]
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=",
    }
    with pytest.raises(SignatureError):
        verify(secret, headers, body, now=timestamp)


def test_another_secrets_signature_is_rejected() -> None:
    secret, message_id, timestamp, body, _ = SPEC_VECTORS[1]
    headers = signature_headers([new_secret()], message_id, timestamp, body)
    with pytest.raises(SignatureError):
        verify(secret, headers, body, now=timestamp)


def test_one_matching_v1_signature_among_decoys_is_enough() -> None:
    secret, message_id, timestamp, body, expected = SPEC_VECTORS[0]
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= v2,{expected[3:]} {expected}",
    }
    verify(secret, headers, body, now=timestamp)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_rejected(offset: int) -> None:
    secret, message_id, timestamp, body, _ = SPEC_VECTORS[0]
    with pytest.raises(SignatureError):
        verify(secret, signature_headers([secret], message_id, timestamp, body), body, now=timestamp + offset)


@pytest.mark.parametrize("partial", ["v1,", "v1,g0hM9SsE"])
def test_a_partial_signature_is_rejected(partial: str) -> None:
    secret, message_id, timestamp, body, _ = SPEC_VECTORS[0]
    headers = {"webhook-id": message_id, "webhook-timestamp": str(timestamp), "webhook-signature": partial}
    with pytest.raises(SignatureError):
        verify(secret, headers, body, now=timestamp)


def test_an_unpadded_secret_signs_like_its_padded_form() -> None:
    padded = "whsec_" + base64.b64encode(bytes(range(25))).decode()
    assert padded.endswith("==")
    unpadded = padded.rstrip("=")
    assert sign(unpadded, "msg_1", 1, b"{}") == sign(padded, "msg_1", 1, b"{}")


@pytest.mark.parametrize("secret", ["", "whsec_", "whsec_c2hvcnQ=", "whsec_!!!notbase64!!!"])
def test_empty_short_or_malformed_secrets_are_refused(secret: str) -> None:
    with pytest.raises(SignatureError):
        sign(secret, "msg_1", 1, b"{}")


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(secret_key(first)) == 32
    assert first != second


def test_during_a_rotation_both_secrets_sign_and_either_verifies() -> None:
    old, new = new_secret(), new_secret()
    body = b'{"type":"x"}'
    headers = signature_headers([new, old], "msg_1", 1_700_000_000, body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    verify(old, headers, body, now=1_700_000_000)
    verify(new, headers, body, now=1_700_000_000)


def test_the_signature_is_the_specifications_hmac_computed_independently() -> None:
    secret = new_secret()
    body = '{"data":{"name":"Élise"}}'.encode()
    key = base64.b64decode(secret.removeprefix("whsec_"))
    reference = base64.b64encode(hmac.new(key, b"msg_x.42." + body, hashlib.sha256).digest()).decode()
    assert sign(secret, "msg_x", 42, body) == f"v1,{reference}"
