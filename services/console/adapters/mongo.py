"""Staff accounts and sessions in the console's own collections, each found by its exact `_id` (the only look-up
FerretDB indexes)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from services.console.domain.accounts import Session, StaffMember
from services.console.domain.roles import Role
from shared.mongo import Document, IndexSpec
from shared.tokens import Scope

STAFF = "console_staff"
SESSIONS = "console_sessions"
_SCOPE_NAMES = frozenset(scope.value for scope in Scope)
INDEXES = (IndexSpec(SESSIONS, [("username", 1)]), IndexSpec(STAFF, [("organisation_id", 1)]))


class MongoStaffDirectory:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection = database[STAFF]

    async def add(self, member: StaffMember) -> bool:
        try:
            await self._collection.insert_one(_member_document(member))
        except DuplicateKeyError:
            return False
        return True

    async def member(self, username: str) -> StaffMember | None:
        document = await self._collection.find_one({"_id": username})
        return None if document is None else _member(document)

    async def set_password_hash(self, username: str, password_hash: str) -> None:
        await self._collection.update_one({"_id": username}, {"$set": {"password_hash": password_hash}})

    async def disable(self, username: str, at: datetime) -> None:
        await self._collection.update_one({"_id": username, "disabled_at": None}, {"$set": {"disabled_at": at}})

    async def members(self, organisation_id: str | None = None) -> Sequence[StaffMember]:
        query: dict[str, Any] = {} if organisation_id is None else {"organisation_id": organisation_id}
        return [_member(document) async for document in self._collection.find(query).sort("_id", 1)]


class MongoSessionStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._collection = database[SESSIONS]

    async def add(self, session: Session) -> None:
        await self._collection.insert_one(
            {
                "_id": session.digest,
                "username": session.username,
                "organisation_id": session.organisation_id,
                "display_name": session.display_name,
                "scopes": sorted(session.scopes),
                "csrf_token": session.csrf_token,
                "sealed_token": session.sealed_token,
                "token_id": session.token_id,
                "created_at": session.created_at,
                "expires_at": session.expires_at,
                "last_seen_at": session.last_seen_at,
                "password_stamp": session.password_stamp,
            }
        )

    async def session(self, session_digest: str) -> Session | None:
        document = await self._collection.find_one({"_id": session_digest})
        return None if document is None else _session(document)

    async def touch(self, session_digest: str, at: datetime) -> None:
        # A lost concurrent update only records an earlier moment of use, a few minutes at most.
        await self._collection.update_one({"_id": session_digest}, {"$set": {"last_seen_at": at}})

    async def remove(self, session_digest: str) -> None:
        await self._collection.delete_one({"_id": session_digest})

    async def sessions_of(self, username: str) -> Sequence[Session]:
        return [_session(document) async for document in self._collection.find({"username": username})]


def _member_document(member: StaffMember) -> Document:
    return {
        "_id": member.username,
        "organisation_id": member.organisation_id,
        "display_name": member.display_name,
        "roles": sorted(member.roles),
        "password_hash": member.password_hash,
        "created_at": member.created_at,
        "disabled_at": member.disabled_at,
    }


def _member(document: Document) -> StaffMember:
    return StaffMember(
        username=document["_id"],
        organisation_id=document["organisation_id"],
        display_name=document["display_name"],
        roles=frozenset(Role(role) for role in document["roles"]),
        password_hash=document["password_hash"],
        created_at=document["created_at"],
        disabled_at=document.get("disabled_at"),
    )


def _session(document: Document) -> Session:
    return Session(
        digest=document["_id"],
        username=document["username"],
        organisation_id=document["organisation_id"],
        display_name=document["display_name"],
        scopes=frozenset(Scope(scope) for scope in document["scopes"] if scope in _SCOPE_NAMES),
        csrf_token=document["csrf_token"],
        sealed_token=document["sealed_token"],
        token_id=document["token_id"],
        created_at=document["created_at"],
        expires_at=document["expires_at"],
        last_seen_at=document["last_seen_at"],
        password_stamp=document.get("password_stamp"),
    )
