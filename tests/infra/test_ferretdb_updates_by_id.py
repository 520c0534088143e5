"""An update command that changes documents by `_id` (`shared.mongo.update_all`, `replace_all`) leaves what MongoDB
leaves, with the same counts. The local FerretDB build writes such a command's documents in one transaction: those it
replaces without reading them first, those it updates with operators read by one query
(`infra/local/ferretdb/_handler`)."""

from typing import Any

import pytest
from bson import ObjectId
from pymongo.asynchronous.collection import AsyncCollection

from tests.conftest import Servers
from tests.infra.local_databases import fresh_collection

pytestmark = [pytest.mark.mongo]

Document = dict[str, Any]


async def _update(collection: AsyncCollection[Document], updates: list[Document]) -> Document:
    return await collection.database.command({"update": collection.name, "updates": updates, "ordered": False})


def _replacing(key: Any, replacement: Document, *, upsert: bool = True) -> Document:
    return {"q": {"_id": key}, "u": replacement, "upsert": upsert}


async def _stored(collection: AsyncCollection[Document]) -> list[Document]:
    return sorted([document async for document in collection.find({})], key=lambda document: str(document["_id"]))


async def test_replacements_by_id_leave_each_replacement_with_its_id_first(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        object_id = ObjectId()
        await documents.insert_many([{"_id": "org|1", "old": True}, {"_id": "org|2", "old": True}, {"_id": object_id}])
        reply = await _update(
            documents,
            [
                _replacing("org|1", {"b": 1, "a": {"nested": [1, 2]}}),
                # An `_id` given in the replacement, where it is, the same as the filter's.
                _replacing("org|2", {"b": 2, "_id": "org|2"}),
                _replacing(object_id, {"n": 3}),
            ],
        )
        assert (reply["n"], "upserted" in reply, "writeErrors" in reply) == (3, False, False)
        stored = await _stored(documents)
        assert stored == [
            {"_id": object_id, "n": 3},
            {"_id": "org|1", "b": 1, "a": {"nested": [1, 2]}},
            {"_id": "org|2", "b": 2},
        ]
        assert [list(document) for document in stored] == [["_id", "n"], ["_id", "b", "a"], ["_id", "b"]]


async def test_a_missing_document_is_inserted_by_an_upsert_and_the_others_replaced(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_many([{"_id": "org|1", "v": 0}, {"_id": "org|3", "v": 0}])
        reply = await _update(
            documents,
            [_replacing("org|1", {"v": 1}), _replacing("org|2", {"v": 2}), _replacing("org|3", {"v": 3})],
        )
        assert reply["n"] == 3
        # Not the index: FerretDB 1.24 numbers upserts among themselves, where MongoDB gives the update's index.
        assert [entry["_id"] for entry in reply["upserted"]] == ["org|2"]
        assert await _stored(documents) == [{"_id": f"org|{number}", "v": number} for number in (1, 2, 3)]


async def test_without_upsert_a_missing_document_stays_missing(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_many([{"_id": "org|1", "v": 0}, {"_id": "org|3", "v": 0}])
        reply = await _update(
            documents,
            [_replacing(f"org|{number}", {"v": number}, upsert=False) for number in (1, 2, 3)],
        )
        assert (reply["n"], reply["nModified"], "upserted" in reply) == (2, 2, False)
        assert await _stored(documents) == [{"_id": "org|1", "v": 1}, {"_id": "org|3", "v": 3}]


async def test_the_same_id_twice_leaves_the_later_replacement(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_one({"_id": "org|1", "v": 0})
        reply = await _update(documents, [_replacing("org|1", {"v": 1}), _replacing("org|1", {"v": 2})])
        assert reply["n"] == 2
        assert await _stored(documents) == [{"_id": "org|1", "v": 2}]


async def test_a_replacement_changing_the_id_is_refused_as_ever(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_many([{"_id": "org|1", "v": 0}, {"_id": "org|2", "v": 0}])
        reply = await _update(documents, [_replacing("org|1", {"v": 1}), _replacing("org|2", {"_id": "org|9"})])
        assert [error["code"] for error in reply["writeErrors"]] == [66]  # ImmutableField
        assert {"_id": "org|2", "v": 0} in await _stored(documents)
        assert await documents.find_one({"_id": "org|9"}) is None


@pytest.mark.parametrize(
    "updates",
    [
        # An operator beside the replacements.
        [_replacing("org|1", {"v": 1}), {"q": {"_id": "org|2"}, "u": {"$set": {"v": 2}}}],
        # A filter on more than `_id`, and an `_id` of another type.
        [_replacing("org|1", {"v": 1}), {"q": {"_id": "org|2", "v": 0}, "u": {"v": 2}}],
        [_replacing("org|1", {"v": 1}), _replacing(7, {"v": 7})],
    ],
)
async def test_commands_of_other_updates_are_applied_whole(servers: Servers, updates: list[Document]) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_many([{"_id": "org|1", "v": 0}, {"_id": "org|2", "v": 0}, {"_id": 7, "v": 0}])
        reply = await _update(documents, updates)
        assert (reply["n"], reply["nModified"]) == (2, 2)
        changed = [document for document in await _stored(documents) if document["v"]]
        assert [document["_id"] for document in changed] == [
            update["q"]["_id"] for update in sorted(updates, key=lambda update: str(update["q"]["_id"]))
        ]


async def test_the_local_build_writes_replacements_without_reading_them(servers: Servers) -> None:
    """The one difference seen from outside: a replacement identical to the stored document, `_id` included, is
    written again and counted modified. MongoDB, and FerretDB for a command of one update (which `replace_one`
    sends), count it unmodified."""
    if servers.origin != "local stack":
        pytest.skip("only the local stack's FerretDB build is changed")
    async with fresh_collection(servers) as documents:
        stored = [{"_id": f"org|{number}", "v": number} for number in (1, 2)]
        await documents.insert_many(stored)
        reply = await _update(documents, [_replacing(document["_id"], document) for document in stored])
        assert (reply["n"], reply["nModified"]) == (2, 2)
        single = await documents.replace_one({"_id": "org|1"}, {"_id": "org|1", "v": 1})
        assert (single.matched_count, single.modified_count) == (1, 0)
        assert await _stored(documents) == stored


async def test_operator_updates_by_id_are_applied_and_counted_as_mongodb_does(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        object_id = ObjectId()
        await documents.insert_many(
            [
                {"_id": "org|1", "v": 1, "tags": ["a"]},
                {"_id": "org|2", "v": 2, "gone": True},
                {"_id": object_id, "v": 3},
            ]
        )
        reply = await _update(
            documents,
            [
                {"q": {"_id": "org|1"}, "u": {"$inc": {"v": 10}, "$push": {"tags": "b"}}, "upsert": True},
                {"q": {"_id": "org|2"}, "u": {"$unset": {"gone": ""}, "$set": {"new.field": 1}}},
                # Changes nothing: matched, not modified.
                {"q": {"_id": object_id}, "u": {"$set": {"v": 3}}},
            ],
        )
        assert (reply["n"], reply["nModified"], "upserted" in reply, "writeErrors" in reply) == (3, 2, False, False)
        assert await _stored(documents) == [
            {"_id": object_id, "v": 3},
            {"_id": "org|1", "v": 11, "tags": ["a", "b"]},
            {"_id": "org|2", "v": 2, "new": {"field": 1}},
        ]


async def test_operator_updates_with_a_missing_document_upsert_it(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_one({"_id": "org|1", "v": 1})
        reply = await _update(
            documents,
            [
                {"q": {"_id": "org|1"}, "u": {"$inc": {"v": 1}}, "upsert": True},
                {"q": {"_id": "org|2"}, "u": {"$inc": {"v": 1}}, "upsert": True},
                {"q": {"_id": "org|3"}, "u": {"$inc": {"v": 1}}, "upsert": False},
            ],
        )
        assert (reply["n"], reply["nModified"]) == (2, 1)
        assert [entry["_id"] for entry in reply["upserted"]] == ["org|2"]
        assert await _stored(documents) == [{"_id": "org|1", "v": 2}, {"_id": "org|2", "v": 1}]


async def test_operator_updates_of_one_id_twice_both_apply(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_many([{"_id": "org|1", "v": 0}, {"_id": "org|2", "v": 0}])
        increment = {"$inc": {"v": 1}}
        reply = await _update(
            documents,
            [{"q": {"_id": key}, "u": increment} for key in ("org|1", "org|2", "org|1")],
        )
        assert (reply["n"], reply["nModified"]) == (3, 3)
        assert await _stored(documents) == [{"_id": "org|1", "v": 2}, {"_id": "org|2", "v": 1}]


async def test_an_operator_update_that_fails_leaves_its_document_and_says_why(servers: Servers) -> None:
    async with fresh_collection(servers) as documents:
        await documents.insert_many([{"_id": "org|1", "v": "text"}, {"_id": "org|2", "v": 0}])
        reply = await _update(
            documents,
            [{"q": {"_id": "org|2"}, "u": {"$inc": {"v": 1}}}, {"q": {"_id": "org|1"}, "u": {"$inc": {"v": 1}}}],
        )
        assert [error["code"] for error in reply["writeErrors"]] == [14]  # TypeMismatch
        stored = await _stored(documents)
        assert stored[0] == {"_id": "org|1", "v": "text"}
        # What precedes the failure is applied, by MongoDB and FerretDB alike.
        assert stored[1] == {"_id": "org|2", "v": 1}
