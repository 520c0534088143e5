"""Source credentials: keys are checked by hash, and rotation keeps exactly two valid."""

import pytest

from services.ingest.domain.sources import (
    Source,
    SourceKind,
    hash_source_key,
    mint_source_key,
    rotated,
    validate_source_id,
)


def test_a_source_accepts_its_keys_and_nothing_else() -> None:
    old, new = mint_source_key(), mint_source_key()
    source = Source(
        "nord-mailchimp",
        "theatre-du-nord",
        SourceKind.MAILCHIMP,
        key_hashes=rotated((hash_source_key(old),), hash_source_key(new)),
    )

    assert source.accepts_key(new)
    assert source.accepts_key(old)
    assert not source.accepts_key(mint_source_key())
    assert not source.accepts_key("")
    assert not source.accepts_key(None)


def test_rotating_twice_retires_the_oldest_value() -> None:
    assert rotated(("b", "a"), "c") == ("c", "b")
    assert rotated((), "a") == ("a",)


def test_no_source_may_take_the_name_reserved_for_parterre_s_own_requests() -> None:
    with pytest.raises(ValueError, match="reserved"):
        validate_source_id("parterre-identity")
    assert validate_source_id("billetterie-principale") == "billetterie-principale"


def test_adding_the_secret_already_in_force_again_keeps_the_previous_one_valid() -> None:
    # An operator who runs the rotation twice (the first run seemed to hang) must not retire the secret Shopify
    # still signs with for up to an hour after a rotation.
    once = rotated(("old-secret",), "new-secret")

    assert rotated(once, "new-secret") == ("new-secret", "old-secret")
