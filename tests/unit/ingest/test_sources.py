"""Source credentials: keys are checked by hash, and rotation keeps exactly two valid."""

from services.ingest.domain.sources import Source, SourceKind, hash_source_key, mint_source_key, rotated


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
