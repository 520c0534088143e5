"""The identity store's caches are sized by the patrons an instance is set to keep, as the service sets it."""

from pymongo import AsyncMongoClient

from services.identity.adapters.mongo import CACHED_BLOCKS, CACHED_PATRONS, MongoIdentityStore
from services.identity.adapters.versions import CACHED_VERSIONS
from services.identity.settings import IdentitySettings
from shared.mongo import Document


def _cache_sizes(store: MongoIdentityStore) -> tuple[int, int, int]:
    # Wiring only: the sizes the caches were given (persons, identifier owners, blocks).
    return store._persons._cache_size, store._cached_owners, store._blocks._cache_size


def test_the_default_keeps_the_caches_as_they_were_and_a_setting_scales_them_all() -> None:
    # Never connects: the store only builds its caches here.
    client: AsyncMongoClient[Document] = AsyncMongoClient("mongodb://127.0.0.1:9", connect=False)
    database = client["parterre"]

    assert IdentitySettings().identity_cached_patrons == CACHED_PATRONS
    assert _cache_sizes(MongoIdentityStore(database)) == (CACHED_VERSIONS, CACHED_VERSIONS, CACHED_BLOCKS)
    assert _cache_sizes(MongoIdentityStore(database, cached_patrons=100_000)) == (250_000, 250_000, 750_000)
