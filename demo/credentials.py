"""The demo's credentials, made through the code paths of `parterre tokens create`, `parterre sources create` and
`parterre console add-user`: an API token with the scopes the demo uses, the organisation's upstream systems with
their keys, and a staff account to log in to the console with.

Running the demo again rotates them: the previous demo token is revoked and a new one issued (a token is shown
only once, so it cannot be reused), each source already registered gets a new key or signing secret beside
the previous one, as `parterre sources rotate` does, and the console account gets a new password.
"""

import secrets
from dataclasses import dataclass

from pymongo.asynchronous.database import AsyncDatabase

from demo.season import SourceIds
from services.console.adapters.mongo import MongoSessionStore, MongoStaffDirectory
from services.console.context import SystemClock
from services.console.domain.roles import Role
from services.console.handlers import Accounts, add_staff_member, set_password
from services.ingest.adapters.mongo import SOURCES, MongoSourceRegistry
from services.ingest.domain.sources import Source, SourceKind, mint_source_key, validate_source_id
from shared.mongo import Document
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore, validate_organisation_id

CONSOLE_USERNAME = "demo"
TOKEN_NAME = "parterre demo"  # noqa: S105 - the token's label, not its secret
SCOPES = frozenset(
    {
        Scope.EVENTS_WRITE,
        Scope.PROFILES_READ,
        Scope.SEGMENTS_READ,
        Scope.IDENTITY_REVIEW,
        Scope.SUBSCRIPTIONS_ADMIN,
    }
)


@dataclass(frozen=True)
class Credentials:
    token: str
    token_id: str
    shopify_secret: str
    mailchimp_key: str
    console_password: str
    # What was done, for the person running the demo: `created` or `rotated` per credential.
    notes: tuple[str, ...]


class CredentialError(Exception):
    """A source id the demo needs is taken by another organisation or another kind of system."""


async def demo_credentials(database: AsyncDatabase[Document], organisation_id: str, sources: SourceIds) -> Credentials:
    validate_organisation_id(organisation_id)
    tokens = TokenStore(database[TOKENS_COLLECTION])
    notes = []
    revoked = 0
    for record in await tokens.list(organisation_id):
        if record.get("name") == TOKEN_NAME and not record.get("revoked_at"):
            revoked += await tokens.revoke(str(record["_id"]))
    issued = await tokens.issue(organisation_id, set(SCOPES), TOKEN_NAME)
    notes.append(f"API token {issued.token_id}: " + ("new, the previous demo token revoked" if revoked else "created"))
    registry = MongoSourceRegistry(database[SOURCES])
    # Shopify signs with the app's secret, which the shop owner copies from Shopify; here the demo plays Shopify.
    shopify_secret = f"shpss_{secrets.token_hex(16)}"
    notes.append(await _signing_source(registry, sources.shop, organisation_id, shopify_secret))
    mailchimp_key = mint_source_key()
    notes.append(
        await _keyed_source(registry, sources.newsletter, organisation_id, SourceKind.MAILCHIMP, mailchimp_key)
    )
    notes.append(
        await _keyed_source(registry, sources.boxoffice, organisation_id, SourceKind.BOXOFFICE, mint_source_key())
    )
    notes.append(await _keyed_source(registry, sources.donations, organisation_id, SourceKind.API, mint_source_key()))
    console_password, note = await _console_account(database, tokens, organisation_id)
    notes.append(note)
    return Credentials(issued.token, issued.token_id, shopify_secret, mailchimp_key, console_password, tuple(notes))


async def _console_account(
    database: AsyncDatabase[Document], tokens: TokenStore, organisation_id: str
) -> tuple[str, str]:
    """The console's `demo` account, an administrator of the organisation, with a new password each run."""
    accounts = Accounts(MongoStaffDirectory(database), MongoSessionStore(database), tokens, SystemClock())
    password = secrets.token_urlsafe(12)
    existing = await accounts.staff.member(CONSOLE_USERNAME)
    if existing is None:
        await add_staff_member(
            accounts,
            username=CONSOLE_USERNAME,
            organisation_id=organisation_id,
            display_name="Démo",
            roles=frozenset({Role.ADMIN}),
            password=password,
        )
        return password, f"console account {CONSOLE_USERNAME}: created"
    if existing.organisation_id != organisation_id:
        raise CredentialError(
            f"the console account {CONSOLE_USERNAME} belongs to {existing.organisation_id}; "
            "choose that organisation with --organisation"
        )
    await set_password(accounts, CONSOLE_USERNAME, password)
    return password, f"console account {CONSOLE_USERNAME}: new password, its sessions closed"


async def _existing(
    registry: MongoSourceRegistry, source_id: str, organisation_id: str, kind: SourceKind
) -> Source | None:
    source = await registry.find(validate_source_id(source_id))
    if source is not None and (source.organisation_id != organisation_id or source.kind is not kind):
        raise CredentialError(
            f"source {source_id} belongs to {source.organisation_id} as a {source.kind.value} source; "
            "choose another organisation with --organisation"
        )
    return source


async def _signing_source(registry: MongoSourceRegistry, source_id: str, organisation_id: str, secret: str) -> str:
    if await _existing(registry, source_id, organisation_id, SourceKind.SHOPIFY) is not None:
        await registry.add_signing_secret(source_id, secret)
        return f"source {source_id} (shopify): new signing secret, the previous one still valid"
    await registry.create(Source(source_id, organisation_id, SourceKind.SHOPIFY, signing_secrets=(secret,)))
    await registry.add_key(source_id, mint_source_key())
    return f"source {source_id} (shopify): created"


async def _keyed_source(
    registry: MongoSourceRegistry, source_id: str, organisation_id: str, kind: SourceKind, key: str
) -> str:
    if await _existing(registry, source_id, organisation_id, kind) is not None:
        await registry.add_key(source_id, key)
        return f"source {source_id} ({kind.value}): new key, the previous one still valid"
    await registry.create(Source(source_id, organisation_id, kind))
    await registry.add_key(source_id, key)
    return f"source {source_id} ({kind.value}): created"
