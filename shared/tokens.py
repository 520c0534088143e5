"""Bearer tokens with scopes, stored hashed, shared by every HTTP API and by `parterre tokens`.

A token reads `prt_<token id>_<secret>`. Only the SHA-256 of the whole token is stored: the secret is 256
random bits, so a slow password hash would add latency and no safety. The token id lets a lookup find the
record without scanning, and names the token in logs and in the CLI without revealing it.
"""

import hashlib
import hmac
import re
import secrets
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from shared.bilingual import in_language, quoted
from shared.events import Language

if TYPE_CHECKING:
    # Types only: a command that never opens the store (`parterre identity resolve`) starts without the driver.
    from pymongo.asynchronous.collection import AsyncCollection

    from shared.mongo import Document

TOKENS_COLLECTION = "access_tokens"
_TOKEN_PATTERN = re.compile(r"^prt_(?P<token_id>[0-9a-f]{12})_(?P<secret>[A-Za-z0-9_-]{43})$")
_ORGANISATION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")


class Scope(StrEnum):
    EVENTS_WRITE = "events:write"
    PROFILES_READ = "profiles:read"
    SEGMENTS_READ = "segments:read"
    PRIVACY_EXPORT = "privacy:export"
    PRIVACY_ERASE = "privacy:erase"
    IDENTITY_REVIEW = "identity:review"
    SUBSCRIPTIONS_ADMIN = "subscriptions:admin"
    OPERATIONS_ADMIN = "operations:admin"


@dataclass(frozen=True)
class Principal:
    """Who is calling: one token, acting for one organisation with a set of scopes."""

    token_id: str
    organisation_id: str
    scopes: frozenset[Scope]
    name: str


@dataclass(frozen=True)
class IssuedToken:
    token: str
    token_id: str
    organisation_id: str
    scopes: frozenset[Scope]
    name: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_token() -> tuple[str, str]:
    token_id = secrets.token_hex(6)
    return token_id, f"prt_{token_id}_{secrets.token_urlsafe(32)}"


def token_id_of(token: str) -> str | None:
    match = _TOKEN_PATTERN.match(token)
    return match["token_id"] if match else None


class OrganisationIdError(ValueError):
    """A text that cannot be an organisation id; the message is English, `fr` French."""

    def __init__(self, organisation_id: str) -> None:
        super().__init__(f"organisation id {organisation_id!r} must be 2-63 lower-case letters, digits or dashes")
        self.fr = (
            f"l'identifiant d'organisation {quoted(organisation_id, 'fr')} doit compter de 2 à 63 lettres minuscules, "
            "chiffres ou tirets"
        )


def validate_organisation_id(organisation_id: str) -> str:
    if not _ORGANISATION_PATTERN.match(organisation_id):
        raise OrganisationIdError(organisation_id)
    return organisation_id


def organisation_option_accepted(organisation_id: str | None, language: Language = "en") -> bool:
    """Whether a command's `--organisation`, when given, can be an organisation id; said on stderr in `language` when
    not."""
    if organisation_id is None:
        return True
    try:
        validate_organisation_id(organisation_id)
    except OrganisationIdError as exc:
        print(
            in_language(language, en=f"error: --organisation: {exc}", fr=f"erreur : --organisation : {exc.fr}"),
            file=sys.stderr,
        )
        return False
    return True


class TokenStore:
    """Token records in one collection. Deliberately not organisation-scoped: the token names its organisation."""

    def __init__(self, collection: "AsyncCollection[Document]") -> None:
        self._collection = collection

    async def issue(
        self, organisation_id: str, scopes: set[Scope], name: str, *, expires_at: datetime | None = None
    ) -> IssuedToken:
        """A new token; one with `expires_at` stops working then, revoked or not (the console's session tokens)."""
        validate_organisation_id(organisation_id)
        if not scopes:
            raise ValueError("a token needs at least one scope")
        token_id, token = mint_token()
        await self._collection.insert_one(
            {
                "_id": token_id,
                "organisation_id": organisation_id,
                "name": name,
                "scopes": sorted(scopes),
                "token_sha256": hash_token(token),
                "created_at": datetime.now(UTC),
                "revoked_at": None,
                "expires_at": expires_at,
            }
        )
        return IssuedToken(token, token_id, organisation_id, frozenset(scopes), name)

    async def revoke(self, token_id: str) -> bool:
        result = await self._collection.update_one(
            {"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": datetime.now(UTC)}}
        )
        return result.modified_count == 1

    async def forget_ended(self, organisation_id: str, *, name_prefix: str, now: datetime) -> int:
        """Deletes the organisation's tokens named `name_prefix…` that were revoked or have expired by `now`; returns
        how many. For the console's session tokens: one is issued at each sign-in, and would otherwise stay for good."""
        result = await self._collection.delete_many(
            {
                "organisation_id": organisation_id,
                "name": {"$regex": f"^{re.escape(name_prefix)}"},
                "$or": [{"revoked_at": {"$ne": None}}, {"expires_at": {"$lte": now}}],
            }
        )
        return result.deleted_count

    async def list(self, organisation_id: str | None = None) -> "list[Document]":
        query: dict[str, Any] = {} if organisation_id is None else {"organisation_id": organisation_id}
        cursor = self._collection.find(query, {"token_sha256": 0}, sort=[("created_at", 1)])
        return await cursor.to_list()

    async def authenticate(self, token: str) -> Principal | None:
        token_id = token_id_of(token)
        if token_id is None:
            return None
        record = await self._collection.find_one({"_id": token_id})
        if record is None or record.get("revoked_at") is not None:
            return None
        expires_at = record.get("expires_at")
        if expires_at is not None and expires_at <= datetime.now(UTC):
            return None
        if not hmac.compare_digest(record["token_sha256"], hash_token(token)):
            return None
        return Principal(
            token_id=token_id,
            organisation_id=record["organisation_id"],
            scopes=frozenset(Scope(scope) for scope in record["scopes"]),
            name=record["name"],
        )
