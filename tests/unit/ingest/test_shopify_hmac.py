"""Shopify webhook signatures: the documented HMAC is accepted, anything tampered with is not, secrets rotate."""

import base64
import hashlib
import hmac

import pytest

from services.ingest.domain.shopify import verify_shopify_hmac
from tests.unit.ingest.vendor_fixtures import shopify_body

# The vector of Shopify's own library tests (Shopify/shopify-app-js, lib/webhooks/__tests__/validate.test.ts):
# the body `{"foo": "bar"}` signed with the secret `test_secret_key`.
SDK_SECRET = "test_secret_key"
SDK_BODY = b'{"foo": "bar"}'
SDK_SIGNATURE = "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="


def signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_the_signature_from_shopifys_own_library_tests_is_accepted() -> None:
    assert verify_shopify_hmac(SDK_BODY, SDK_SIGNATURE, [SDK_SECRET])


def test_a_real_order_body_signed_with_the_app_secret_is_accepted() -> None:
    body = shopify_body("orders-create")

    assert verify_shopify_hmac(body, signature(body, "shpss_app_secret"), ["shpss_app_secret"])


def test_a_body_changed_by_one_byte_is_rejected() -> None:
    tampered = SDK_BODY.replace(b"bar", b"baz")

    assert not verify_shopify_hmac(tampered, SDK_SIGNATURE, [SDK_SECRET])


def test_a_re_serialised_body_is_rejected_because_the_signature_covers_the_exact_bytes() -> None:
    assert not verify_shopify_hmac(b'{"foo":"bar"}', SDK_SIGNATURE, [SDK_SECRET])


def test_a_signature_changed_by_one_character_is_rejected() -> None:
    tampered = ("C" if SDK_SIGNATURE[0] != "C" else "D") + SDK_SIGNATURE[1:]

    assert not verify_shopify_hmac(SDK_BODY, tampered, [SDK_SECRET])


def test_a_signature_made_with_another_secret_is_rejected() -> None:
    assert not verify_shopify_hmac(SDK_BODY, signature(SDK_BODY, "someone-else"), [SDK_SECRET])


def test_during_a_rotation_both_the_new_and_the_previous_secret_are_accepted() -> None:
    secrets = ["new_secret_key", SDK_SECRET]

    assert verify_shopify_hmac(SDK_BODY, SDK_SIGNATURE, secrets)
    assert verify_shopify_hmac(SDK_BODY, signature(SDK_BODY, "new_secret_key"), secrets)


def test_after_a_rotation_the_retired_secret_is_rejected() -> None:
    assert not verify_shopify_hmac(SDK_BODY, SDK_SIGNATURE, ["new_secret_key", "newer_secret_key"])


@pytest.mark.parametrize(
    "header",
    [None, "", "   ", "fake", "not base64 at all!", base64.b64encode(b"too short").decode(), SDK_SIGNATURE + "AA=="],
)
def test_a_missing_empty_or_garbled_header_is_rejected_without_error(header: str | None) -> None:
    assert not verify_shopify_hmac(SDK_BODY, header, [SDK_SECRET])


def test_an_empty_secret_never_validates_a_body_signed_with_an_empty_key() -> None:
    assert not verify_shopify_hmac(SDK_BODY, signature(SDK_BODY, ""), [""])


def test_with_no_secret_configured_nothing_is_accepted() -> None:
    assert not verify_shopify_hmac(SDK_BODY, SDK_SIGNATURE, [])


def test_surrounding_whitespace_in_the_header_is_tolerated() -> None:
    assert verify_shopify_hmac(SDK_BODY, f" {SDK_SIGNATURE} ", [SDK_SECRET])
