"""Identity scenarios run on the in-memory store and on the real store alike, so the two cannot drift apart."""

import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.adapters.mongo import INDEXES, MongoIdentityStore
from services.identity.domain.normalise import normalise_record
from services.identity.domain.records import NormalisedRecord, PersonRecord
from services.identity.handlers import IdentityDeps, resolve_fact
from services.identity.ports import IdentityStore
from services.identity.rules import load_rules
from services.identity.settings import IdentitySettings
from shared.events import Envelope, PersonRef, build_envelope, parse_data
from shared.events.audience import PersonDetailsUpdatedV1, PersonErasureRequestedV1
from shared.events.identity import PersonResolvedV1
from shared.mongo import Document, ensure_indexes, mongo_client
from tests.conftest import Servers

ORGANISATION = "theatre-du-nord"
START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
RESOLVED = "parterre.person.resolved.v1"


class SteppingClock:
    """Each reading is one second after the last, so persons created in order are dated in order."""

    def __init__(self) -> None:
        self._ticks = itertools.count()

    def now(self) -> datetime:
        return START + timedelta(seconds=next(self._ticks))


@pytest.fixture(params=["memory", "mongo"])
async def identity_store(request: pytest.FixtureRequest) -> AsyncIterator[IdentityStore]:
    if request.param == "memory":
        yield InMemoryIdentityStore()
        return
    # Only the real store needs the servers, so the in-memory half of the suite runs anywhere.
    servers: Servers = request.getfixturevalue("servers")
    name = f"test_{uuid.uuid4().hex[:12]}"
    async with mongo_client(servers.mongo_url, app_name="parterre-tests") as client:
        database: AsyncDatabase[Document] = client[name]
        await ensure_indexes(database, INDEXES)
        yield MongoIdentityStore(database)
        await client.drop_database(name)


@pytest.fixture
def deps(identity_store: IdentityStore) -> IdentityDeps:
    return IdentityDeps(store=identity_store, rules=load_rules(IdentitySettings()), clock=SteppingClock())


async def everything_stored(store: IdentityStore) -> dict[str, str]:
    """Every collection of the store (every mapping, in memory), as text: what proving an erasure searches."""
    if isinstance(store, MongoIdentityStore):
        database = store.database
        return {
            name.removeprefix("identity_"): "\n".join([repr(document) async for document in database[name].find({})])
            for name in sorted(await database.list_collection_names())
        }
    return {name.lstrip("_"): repr(value) for name, value in vars(store).items()}


def details_fact(event_id: str, *, source: str = "billetterie-principale", **person: Any) -> Envelope:
    """An upstream fact naming a person, as ingest publishes it."""
    return build_envelope(
        PersonDetailsUpdatedV1(person=PersonRef(source=source, **person)),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/{source}",
        id=event_id,
        time=START,
    )


def erasure_fact(event_id: str, *, do_not_readd: bool, source: str = "shopify-boutique", **person: Any) -> Envelope:
    return build_envelope(
        PersonErasureRequestedV1(
            person=PersonRef(source=source, **person), requested_by="person", do_not_readd=do_not_readd
        ),
        organisation_id=ORGANISATION,
        source=f"/orgs/{ORGANISATION}/sources/{source}",
        id=event_id,
        time=START,
    )


def last_resolution(outputs: Sequence[Envelope]) -> Envelope:
    """The last `person resolved` event among what identity published for a fact (the household events, when the
    fact made a household, follow it)."""
    return next(output for output in reversed(outputs) if output.type == RESOLVED)


async def resolve(deps: IdentityDeps, event_id: str, **person: Any) -> PersonResolvedV1:
    """What identity resolved a details fact naming `person` to."""
    data = parse_data(last_resolution((await resolve_fact(details_fact(event_id, **person), deps)).outputs))
    assert isinstance(data, PersonResolvedV1)
    return data


def normalised(**fields: str) -> NormalisedRecord:
    """A record as identity normalised it on the eve of 2026-12 (birth dates are read against that day)."""
    return normalise_record(PersonRecord(**fields), today=date(2026, 11, 30))
