"""The MongoDB client lifecycle, index bootstrap, and collections scoped to one organisation.

Parterre runs on MongoDB 7 and on FerretDB 1.x, so it relies only on what both do: single-document atomic
updates, unique and compound indexes, `find_one_and_update` with upsert, and simple aggregations with two
limits FerretDB 1.24 imposes silently: ONE accumulator per `$group` stage (it computes only the first and
answers 0 for the rest), and `$project` for inclusion or exclusion only (it stores `{"a": "$b.c"}` as a string).
`tests/integration/test_store_contract.py` pins each of these against the real store.
"""

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]

ORGANISATION_FIELD = "organisation_id"


@dataclass(frozen=True)
class IndexSpec:
    collection: str
    keys: Sequence[tuple[str, int]]
    unique: bool = False
    name: str | None = None
    partial_filter: Mapping[str, Any] | None = field(default=None)


@asynccontextmanager
async def mongo_client(url: str, *, app_name: str) -> AsyncIterator[AsyncMongoClient[Document]]:
    """A client bound to the running event loop (AsyncMongoClient must be created inside it), closed on exit."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        url, tz_aware=True, appname=app_name, serverSelectionTimeoutMS=5000, uuidRepresentation="standard"
    )
    try:
        yield client
    finally:
        await client.close()


async def ensure_indexes(database: AsyncDatabase[Document], specs: Sequence[IndexSpec]) -> None:
    for spec in specs:
        options: dict[str, Any] = {"unique": spec.unique}
        if spec.name:
            options["name"] = spec.name
        if spec.partial_filter is not None:
            options["partialFilterExpression"] = dict(spec.partial_filter)
        await database[spec.collection].create_index(list(spec.keys), **options)


async def ping_store(client: AsyncMongoClient[Document]) -> bool:
    reply = await client.admin.command("ping")
    return bool(reply.get("ok"))


class OrganisationCollection:
    """A collection seen through one organisation: every filter and every document carries its id.

    Handlers get one of these rather than a raw collection, so a query can never read or change
    another organisation's documents by forgetting a condition. An upsert copies the filter's equality
    conditions into the new document, so upserted documents carry the organisation id too.
    """

    def __init__(self, collection: AsyncCollection[Document], organisation_id: str) -> None:
        if not organisation_id:
            raise ValueError("an organisation id is required")
        self._collection = collection
        self.organisation_id = organisation_id

    def _scoped(self, query: Mapping[str, Any] | None) -> Document:
        scoped = dict(query or {})
        if scoped.get(ORGANISATION_FIELD, self.organisation_id) != self.organisation_id:
            raise ValueError("a query may not name another organisation")
        scoped[ORGANISATION_FIELD] = self.organisation_id
        return scoped

    async def insert_one(self, document: Mapping[str, Any]) -> None:
        await self._collection.insert_one(self._scoped(document))

    async def find_one(self, query: Mapping[str, Any], projection: Mapping[str, Any] | None = None) -> Document | None:
        return await self._collection.find_one(self._scoped(query), projection)

    async def find(
        self,
        query: Mapping[str, Any],
        *,
        sort: Sequence[tuple[str, int]] | None = None,
        limit: int = 0,
        projection: Mapping[str, Any] | None = None,
    ) -> list[Document]:
        cursor = self._collection.find(self._scoped(query), projection, sort=list(sort) if sort else None)
        return await cursor.to_list(length=limit or None)

    async def count(self, query: Mapping[str, Any]) -> int:
        return await self._collection.count_documents(self._scoped(query))

    async def update_one(self, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False) -> int:
        result = await self._collection.update_one(self._scoped(query), dict(update), upsert=upsert)
        return result.modified_count + (1 if result.upserted_id is not None else 0)

    async def find_one_and_update(
        self, query: Mapping[str, Any], update: Mapping[str, Any], *, upsert: bool = False
    ) -> Document | None:
        return await self._collection.find_one_and_update(
            self._scoped(query),
            dict(update),
            upsert=upsert,
            return_document=ReturnDocument.AFTER,
        )

    async def delete_many(self, query: Mapping[str, Any]) -> int:
        result = await self._collection.delete_many(self._scoped(query))
        return result.deleted_count
