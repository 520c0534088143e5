"""A blocking key is stored as a hash keyed by the salt: the same under one salt, another under any other."""

from pymongo import AsyncMongoClient

from services.identity.adapters.mongo import MongoIdentityStore
from shared.mongo import Document


def _stored_key(salt: str, key: str) -> str:
    # No server is reached: the client connects on its first command.
    client: AsyncMongoClient[Document] = AsyncMongoClient("mongodb://127.0.0.1:1", connect=False)
    return MongoIdentityStore(client["parterre_unit"], salt=salt)._stored_block_key(key)


def test_a_key_is_stored_alike_under_one_salt_and_differently_under_another() -> None:
    first = _stored_key("salt-of-the-theatre", "el:marietremblay")

    assert _stored_key("salt-of-the-theatre", "el:marietremblay") == first
    assert _stored_key("salt-of-the-festival", "el:marietremblay") != first
    assert _stored_key("salt-of-the-theatre", "el:mariegagnon") != first
    assert "marietremblay" not in first
