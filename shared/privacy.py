"""What names a person in the records that outlive them (Québec's Law 25 asks that exports and erasures be
accounted for, and an erased person leaves no id behind)."""

import hashlib


def person_digest(organisation_id: str, person_id: str) -> str:
    """Names a person in what outlives them (an erasure tombstone, a privacy log) without keeping their id."""
    return hashlib.sha256(f"{organisation_id}|{person_id}".encode()).hexdigest()
