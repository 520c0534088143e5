"""Secrets at rest: sealed with the configured key, and a missing key refused wherever the service is reachable."""

import logging

import pytest

from services.notify.adapters.secrets import DEVELOPMENT_KEY, SecretBox, SecretsKeyError, new_key, secret_box
from services.notify.bootstrap import create_app
from services.notify.settings import NotifySettings

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_sealed_secret_does_not_contain_the_secret_and_opens_back_to_it() -> None:
    box = SecretBox([new_key()])
    sealed = box.seal(SECRET)
    assert SECRET not in sealed
    assert SECRET.removeprefix("whsec_") not in sealed
    assert box.open(sealed) == SECRET
    assert box.seal(SECRET) != sealed, "each sealing draws a fresh IV"


def test_a_value_stored_before_sealing_began_is_read_as_it_is() -> None:
    assert SecretBox([new_key()]).open(SECRET) == SECRET


def test_a_secret_sealed_with_another_key_fails_clearly() -> None:
    sealed = SecretBox([new_key()]).seal(SECRET)
    with pytest.raises(SecretsKeyError, match="PARTERRE_NOTIFY_SECRETS_KEY"):
        SecretBox([new_key()]).open(sealed)


def test_a_malformed_key_is_refused_with_the_variables_name() -> None:
    with pytest.raises(SecretsKeyError, match="PARTERRE_NOTIFY_SECRETS_KEY"):
        secret_box("not-a-key", http_host="127.0.0.1")


def test_without_a_key_a_service_on_loopback_uses_the_development_key_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        box = secret_box("", http_host="127.0.0.1")
    assert SecretBox([DEVELOPMENT_KEY]).open(box.seal(SECRET)) == SECRET
    assert "PARTERRE_NOTIFY_SECRETS_KEY is not set" in caplog.text


def test_without_a_key_a_service_listening_beyond_loopback_refuses_to_start() -> None:
    settings = NotifySettings(http_host="0.0.0.0")
    with pytest.raises(SecretsKeyError, match="PARTERRE_NOTIFY_SECRETS_KEY is not set"):
        create_app(settings)


def test_a_configured_key_list_seals_with_the_first_and_opens_with_any() -> None:
    old, new = new_key(), new_key()
    sealed_before = secret_box(old, http_host="0.0.0.0").seal(SECRET)
    both = secret_box(f"{new}, {old}", http_host="0.0.0.0")
    assert both.open(sealed_before) == SECRET
    assert SecretBox([new]).open(both.seal(SECRET)) == SECRET


def test_a_secret_sealed_with_a_key_behind_the_first_is_sealed_again_with_the_first() -> None:
    old, new = new_key(), new_key()
    sealed = SecretBox([old]).seal(SECRET)

    again = SecretBox([new, old]).resealed(sealed)

    assert again is not None
    assert SecretBox([new]).open(again) == SECRET
    assert SecretBox([new, old]).resealed(again) is None, "sealed with the first key already"


def test_a_value_stored_before_sealing_began_is_sealed_by_a_reseal() -> None:
    key = new_key()

    again = SecretBox([key]).resealed(SECRET)

    assert again is not None
    assert SECRET not in again
    assert SecretBox([key]).open(again) == SECRET


def test_a_reseal_of_a_secret_no_key_opens_fails_clearly() -> None:
    sealed = SecretBox([new_key()]).seal(SECRET)
    with pytest.raises(SecretsKeyError, match="PARTERRE_NOTIFY_SECRETS_KEY"):
        SecretBox([new_key()]).resealed(sealed)
