"""A consumer batch of profile events accepted together leaves what one event at a time leaves, with fewer commands."""

import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from services.notify.adapters.http import SafeOutbound
from services.notify.adapters.mongo import INDEXES, SUBSCRIPTIONS, MongoNotifyStore
from services.notify.adapters.secrets import SecretBox, new_key
from services.notify.context import NotifyContext, notify_rules
from services.notify.domain.subscriptions import EventFilter, SigningSecret, Subscription, TargetKind
from services.notify.entrypoints.consumer import handle_profile_event, handle_profile_events
from services.notify.handlers import NotifyDeps
from services.notify.metrics import NotifyMetrics
from services.notify.settings import NotifySettings
from shared.events import Envelope, EventData, build_envelope
from shared.events.profile import (
    ProfileChangedV1,
    ProfileErasedV1,
    SegmentEnteredV1,
    SegmentExitedV1,
    TriggerFiredV1,
)
from shared.kafka import ConsumedRecord, KafkaPublisher, PermanentMessageError
from shared.mongo import Document, ensure_indexes
from tests.conftest import Servers
from tests.integration.command_log import CommandLog

pytestmark = [pytest.mark.mongo]

ORGANISATION = "org-batch"
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
PERSONS = ("per_anne", "per_hugo", "per_lea")
KEY = SecretBox([new_key()])


class FixedClock:
    """Both runs must date their deliveries alike, however many times each reads the clock."""

    def now(self) -> datetime:
        return NOW


def subscription(subscription_id: str, events: EventFilter, *, enabled: bool = True) -> Subscription:
    return Subscription(
        subscription_id=subscription_id,
        organisation_id=ORGANISATION,
        kind=TargetKind.WEBHOOK,
        url=f"https://{subscription_id}.example.com/hooks",
        events=events,
        enabled=enabled,
        created_at=NOW,
        secrets=(SigningSecret("whsec_" + "a" * 32, NOW),),
    )


SUBSCRIPTIONS_TO_CHOOSE = (
    subscription("sub_contacts", EventFilter(profile_fields=frozenset({"emails", "consent.*"}))),
    subscription("sub_everything", EventFilter(frozenset("*"), frozenset("*"), frozenset("*"), frozenset("*"))),
    subscription("sub_vip", EventFilter(segments_entered=frozenset({"vip"}), triggers=frozenset({"welcome"}))),
    subscription("sub_off", EventFilter(profile_fields=frozenset({"*"})), enabled=False),
)


def envelope(data: EventData, event_id: str) -> Envelope:
    return build_envelope(
        data, organisation_id=ORGANISATION, source=f"/orgs/{ORGANISATION}/profile", id=event_id, time=NOW
    )


def changed(event_id: str, person_id: str, version: int, **fields: Any) -> Envelope:
    return envelope(ProfileChangedV1(person_id=person_id, changed=fields, profile_version=version), event_id)


def trigger(event_id: str, person_id: str, rule: str, *, marketing: bool) -> Envelope:
    data = TriggerFiredV1(
        trigger_id=f"trg_{event_id}",
        rule=rule,
        purpose="marketing_email" if marketing else None,
        dedupe_key=f"{rule}:{person_id}:{event_id}",
        person_id=person_id,
        language="fr",
        contact_points=[{"channel": "email", "value": f"{person_id}@example.com"}],
        fired_at=NOW,
    )
    return envelope(data, event_id)


def segment_move(event_id: str, person_id: str, segment: str, *, entered: bool) -> Envelope:
    move = SegmentEnteredV1 if entered else SegmentExitedV1
    return envelope(move(segment=segment, person_id=person_id, at=NOW), event_id)


def unparseable(event_id: str, person_id: str) -> Envelope:
    return changed(event_id, person_id, 1, city="Lyon").model_copy(update={"data": {"person_id": person_id}})


def records(envelopes: Sequence[Envelope], *, first_offset: int = 0) -> list[ConsumedRecord[Envelope]]:
    return [
        ConsumedRecord(
            message=message,
            raw=message.to_json_bytes(),
            key=str(message.data["person_id"]).encode(),
            headers={},
            topic="test.changes",
            partition=0,
            offset=first_offset + offset,
        )
        for offset, message in enumerate(envelopes)
    ]


@dataclass
class Notify:
    """The consumer side of one notify instance on a database of its own, and what its consumers did."""

    context: NotifyContext
    registry: CollectorRegistry
    database: AsyncDatabase[Document]
    dead_lettered: list[str]

    async def one_at_a_time(self, batch: Sequence[ConsumedRecord[Envelope]]) -> None:
        for consumed in batch:
            try:
                await handle_profile_event(consumed, self.context)
            except PermanentMessageError:
                self.dead_lettered.append(consumed.message.id)

    async def together(self, batch: Sequence[ConsumedRecord[Envelope]]) -> None:
        """As the consumer plumbing does: the batch handler first, then what it left, and what follows under its
        key, one at a time."""
        left = {consumed.offset for consumed in await handle_profile_events(list(batch), self.context)}
        blocked: set[bytes | None] = set()
        rest = []
        for consumed in batch:
            if consumed.key in blocked or consumed.offset in left:
                blocked.add(consumed.key)
                rest.append(consumed)
        await self.one_at_a_time(rest)

    async def stored(self) -> dict[str, list[Document]]:
        """Everything notify stored but the subscriptions (whose secrets are sealed afresh in each database)."""
        names = sorted(set(await self.database.list_collection_names()) - {SUBSCRIPTIONS})
        return {name: await self.database[name].find({}, sort=[("_id", 1)]).to_list() for name in names}

    def counted(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for metric in self.registry.collect()
            if metric.name in ("parterre_notify_events", "parterre_notify_suppressed")
            for sample in metric.samples
            if not sample.name.endswith("_created")
        }


class NotifyFactory:
    def __init__(self, servers: Servers) -> None:
        self.commands = CommandLog()
        self._client: AsyncMongoClient[Document] = AsyncMongoClient(
            servers.mongo_url, tz_aware=True, event_listeners=[self.commands], uuidRepresentation="standard"
        )
        self._databases: list[str] = []

    async def __call__(self, subscriptions: Sequence[Subscription]) -> Notify:
        name = f"test_{uuid.uuid4().hex[:12]}"
        self._databases.append(name)
        database = self._client[name]
        await ensure_indexes(database, INDEXES)
        store = MongoNotifyStore(database, KEY)
        for chosen in subscriptions:
            await store.save_subscription(chosen)
        settings = NotifySettings(notify_frequency_cap_messages=2)
        registry = CollectorRegistry()
        context = NotifyContext(
            settings=settings,
            deps=NotifyDeps(store=store, clock=FixedClock(), rules=notify_rules(settings)),
            outbound=cast(SafeOutbound, None),
            publisher=cast(KafkaPublisher, None),
            metrics=NotifyMetrics(registry),
        )
        return Notify(context, registry, database, [])

    async def drop_databases(self) -> None:
        for name in self._databases:
            await self._client.drop_database(name)
        self._databases.clear()

    async def close(self) -> None:
        await self.drop_databases()
        await self._client.close()


@pytest.fixture
async def notify_on(servers: Servers) -> AsyncIterator[NotifyFactory]:
    factory = NotifyFactory(servers)
    try:
        yield factory
    finally:
        await factory.close()


FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "emails": st.lists(st.sampled_from(["a@example.com", "b@example.com"]), max_size=2, unique=True),
        "first_name": st.sampled_from(["Anne", "Hugo", None]),
        "consent.marketing_email.status": st.sampled_from(["granted", "withdrawn"]),
        "consent.marketing_email.expires_at": st.just((NOW + timedelta(days=30)).isoformat()),
    },
).filter(bool)


@st.composite
def profile_events(draw: st.DrawFn) -> list[Envelope]:
    made = []
    for index in range(draw(st.integers(1, 14))):
        event_id, person_id = f"evt_{index}", draw(st.sampled_from(PERSONS))
        kind = draw(st.sampled_from(["change", "change", "change", "segment", "trigger", "erasure", "unparseable"]))
        if kind == "change":
            # Versions may repeat or go back: a stale change is ignored, not folded in.
            made.append(changed(event_id, person_id, draw(st.integers(1, 6)), **draw(FIELDS)))
        elif kind == "segment":
            segment, entered = draw(st.sampled_from(["vip", "lapsed"])), draw(st.booleans())
            made.append(segment_move(event_id, person_id, segment, entered=entered))
        elif kind == "trigger":
            rule, marketing = draw(st.sampled_from(["welcome", "winback"])), draw(st.booleans())
            made.append(trigger(event_id, person_id, rule, marketing=marketing))
        elif kind == "erasure":
            made.append(envelope(ProfileErasedV1(person_id=person_id, at=NOW), event_id))
        else:
            made.append(unparseable(event_id, person_id))
    return made


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    events=profile_events(),
    chosen=st.lists(st.sampled_from(SUBSCRIPTIONS_TO_CHOOSE), unique_by=lambda chosen: chosen.subscription_id),
    first_batch=st.integers(0, 14),
)
async def test_batches_accepted_together_store_queue_and_count_what_one_event_at_a_time_does(
    notify_on: NotifyFactory, events: list[Envelope], chosen: list[Subscription], first_batch: int
) -> None:
    one_by_one, together = await notify_on(chosen), await notify_on(chosen)
    consumed = records(events)
    await one_by_one.one_at_a_time(consumed)
    # Two batches: what the first erases or saves, the second finds stored.
    await together.together(consumed[:first_batch])
    await together.together(consumed[first_batch:])
    assert await together.stored() == await one_by_one.stored()
    assert together.counted() == one_by_one.counted()
    assert together.dead_lettered == one_by_one.dead_lettered
    await notify_on.drop_databases()


def _batch_of_changes(persons: int, changes_each: int) -> list[Envelope]:
    return [
        changed(f"evt_{person}_{version}", f"per_{person}", version, emails=[f"p{person}.v{version}@example.com"])
        for version in range(1, changes_each + 1)
        for person in range(persons)
    ]


async def test_a_batch_reads_its_subscriptions_once_and_saves_its_persons_contacts_together(
    notify_on: NotifyFactory,
) -> None:
    notify = await notify_on([SUBSCRIPTIONS_TO_CHOOSE[0]])
    batch = records(_batch_of_changes(persons=8, changes_each=5))
    notify_on.commands.commands.clear()
    left = await handle_profile_events(batch, notify.context)
    assert left == []
    assert notify_on.commands.count("find", SUBSCRIPTIONS) == 1
    # One command for the eight contacts, each changed five times: an insert, since none was stored.
    assert notify_on.commands.count("insert", "notify_contacts") == 1
    assert notify_on.commands.count("update", "notify_contacts") == 0
    # The eight contacts read together in one query, and their tombstones together in another.
    assert notify_on.commands.count("find", "notify_contacts") == 1 + 1
    assert notify_on.commands.count("insert", "notify_deliveries") == 40
    contact = await notify.context.deps.store.contact(ORGANISATION, "per_3")
    assert contact is not None
    assert (contact.profile_version, contact.emails) == (5, ("p3.v5@example.com",))

    notify_on.commands.commands.clear()
    later = [changed(f"evt_{person}_6", f"per_{person}", 6, city="Québec") for person in range(8)]
    assert await handle_profile_events(records(later), notify.context) == []
    # Found not erased before, and nobody erased since: only their contacts are read, together.
    assert notify_on.commands.count("find", "notify_contacts") == 1
    # Stored now: updated together.
    assert notify_on.commands.count("update", "notify_contacts") == 1
    assert notify_on.commands.count("insert", "notify_contacts") == 0
    contact = await notify.context.deps.store.contact(ORGANISATION, "per_3")
    assert contact is not None
    assert (contact.profile_version, contact.emails, contact.city) == (6, ("p3.v5@example.com",), "Québec")


async def test_a_batch_of_two_organisations_reads_each_ones_contacts_together_and_keeps_them_apart(
    notify_on: NotifyFactory,
) -> None:
    notify = await notify_on([SUBSCRIPTIONS_TO_CHOOSE[0]])
    other = "org-other"

    def changed_in(organisation_id: str, event_id: str, person_id: str, email: str) -> Envelope:
        change = ProfileChangedV1(person_id=person_id, changed={"emails": [email]}, profile_version=1)
        source = f"/orgs/{organisation_id}/profile"
        return build_envelope(change, organisation_id=organisation_id, source=source, id=event_id, time=NOW)

    # The same person ids in both: each organisation's are its own.
    batch = [
        changed_in(organisation_id, f"evt_{letter}{n}", f"per_{n}", f"{letter}{n}@example.com")
        for organisation_id, letter in ((ORGANISATION, "a"), (other, "b"))
        for n in range(3)
    ]
    notify_on.commands.commands.clear()
    assert await handle_profile_events(records(batch), notify.context) == []

    # For each organisation, its three contacts in one query and their tombstones in another.
    assert notify_on.commands.count("find", "notify_contacts") == 2 * 2
    store = notify.context.deps.store
    for organisation_id, letter in ((ORGANISATION, "a"), (other, "b")):
        contacts = await store.contacts(organisation_id, [f"per_{n}" for n in range(3)])
        emails = {person_id: contact.emails for person_id, contact in contacts.items()}
        assert emails == {f"per_{n}": (f"{letter}{n}@example.com",) for n in range(3)}


async def test_a_person_another_instance_erased_is_erased_for_the_next_batch_here(notify_on: NotifyFactory) -> None:
    notify = await notify_on([SUBSCRIPTIONS_TO_CHOOSE[1]])
    elsewhere = MongoNotifyStore(notify.database, KEY)
    await notify.together(records(_batch_of_changes(persons=3, changes_each=1)))
    queued_before = await _deliveries_per_person(notify)

    await elsewhere.erase(ORGANISATION, "per_1", NOW)
    batch = records([changed(f"evt_{person}_2", f"per_{person}", 2, city="Québec") for person in range(3)])
    assert await handle_profile_events(batch, notify.context) == []

    store = notify.context.deps.store
    assert await store.contact(ORGANISATION, "per_1") is None
    contacts = [await store.contact(ORGANISATION, person) for person in ("per_0", "per_2")]
    assert [contact.city if contact else None for contact in contacts] == ["Québec", "Québec"]
    assert await _deliveries_per_person(notify) == queued_before + Counter({"per_0": 1, "per_2": 1})


async def _deliveries_per_person(notify: Notify) -> Counter[str]:
    return Counter(str(delivery["person_id"]) for delivery in (await notify.stored()).get("notify_deliveries", []))


async def test_the_segments_a_batch_enters_are_recorded_in_one_command_and_those_it_leaves_one_by_one(
    notify_on: NotifyFactory,
) -> None:
    notify = await notify_on([])
    await notify.together(records([segment_move("evt_0", "per_0", "lapsed", entered=True)]))
    moves = [
        segment_move(f"evt_{person}_{segment}", f"per_{person}", segment, entered=True)
        for person in range(6)
        for segment in ("vip", "abonnes")
    ]
    notify_on.commands.commands.clear()

    left = await handle_profile_events(
        records([*moves, segment_move("evt_0_out", "per_0", "lapsed", entered=False)]), notify.context
    )

    assert left == []
    assert notify_on.commands.count("insert", "notify_segment_members") == 1
    assert notify_on.commands.count("update", "notify_segment_members") == 0
    assert notify_on.commands.count("delete", "notify_segment_members") == 1
    store = notify.context.deps.store
    assert await store.segment_members(ORGANISATION, "vip") == [f"per_{person}" for person in range(6)]
    assert await store.segment_members(ORGANISATION, "lapsed") == []
    # Entered again (a redelivery): nothing changes, nothing fails.
    assert await handle_profile_events(records(moves), notify.context) == []
    assert await store.segment_members(ORGANISATION, "abonnes") == [f"per_{person}" for person in range(6)]


async def test_the_segments_a_batch_enters_are_recorded_before_anything_is_queued(notify_on: NotifyFactory) -> None:
    notify = await notify_on(SUBSCRIPTIONS_TO_CHOOSE)
    notify_on.commands.commands.clear()

    left = await handle_profile_events(
        records(
            [
                changed("evt_hugo", "per_hugo", 1, emails=["h@example.com"]),
                segment_move("evt_vip", "per_anne", "vip", entered=True),
            ]
        ),
        notify.context,
    )

    assert left == []
    inserts = [command["insert"] for name, command in notify_on.commands.commands if name == "insert"]
    assert "notify_deliveries" in inserts
    assert inserts.index("notify_segment_members") < inserts.index("notify_deliveries")


async def test_a_redelivered_batch_changes_nothing_and_queues_nothing_again(notify_on: NotifyFactory) -> None:
    notify = await notify_on(SUBSCRIPTIONS_TO_CHOOSE)
    batch = records(
        [
            *_batch_of_changes(persons=3, changes_each=2),
            segment_move("evt_vip", "per_1", "vip", entered=True),
            trigger("evt_welcome", "per_2", "welcome", marketing=True),
        ]
    )
    await notify.together(batch)
    stored, counted = await notify.stored(), notify.counted()
    queued = len(stored["notify_deliveries"])

    left = await handle_profile_events(batch, notify.context)

    assert left == []
    assert await notify.stored() == stored
    assert queued == 3 * 2 * 2 + 2 + 2
    again = notify.counted()
    assert {labels: more for labels, value in again.items() if (more := value - counted.get(labels, 0))} == {
        ("parterre_notify_events_total", (("organisation", ORGANISATION), ("outcome", "none"), ("type", kind))): n
        for kind, n in (
            ("parterre.profile.changed.v1", 6.0),
            ("parterre.segment.entered.v1", 1.0),
            ("parterre.trigger.fired.v1", 1.0),
        )
    }


async def test_a_batch_half_accepted_before_a_crash_is_accepted_again_as_if_once(notify_on: NotifyFactory) -> None:
    events = [
        *_batch_of_changes(persons=3, changes_each=3),
        trigger("evt_welcome", "per_0", "welcome", marketing=True),
    ]
    crashed, once = await notify_on(SUBSCRIPTIONS_TO_CHOOSE), await notify_on(SUBSCRIPTIONS_TO_CHOOSE)
    batch = records(events)
    await crashed.one_at_a_time(batch[:5])
    await crashed.together(batch)
    await once.together(batch)
    assert await crashed.stored() == await once.stored()


@pytest.mark.parametrize(
    ("failing_command", "left_to_one_at_a_time", "queued_for"),
    [
        # Nothing is queued for a person whose segments entered are not recorded: a Mailchimp attempt tags a member
        # as the membership is when it is made.
        ("enter_segments", ["evt_vip", "evt_anne"], {"per_hugo", "per_lea"}),
        # Nothing is queued for a person whose contact is not saved; Léa changed no contact.
        ("save_contacts", ["evt_vip", "evt_hugo", "evt_anne"], {"per_lea"}),
        # Nor for a person whose contact could not be read; Léa's is not read.
        ("contacts", ["evt_vip", "evt_hugo", "evt_anne"], {"per_lea"}),
    ],
)
async def test_when_a_batch_cannot_store_its_persons_together_they_go_one_at_a_time_and_end_as_once(
    notify_on: NotifyFactory, failing_command: str, left_to_one_at_a_time: list[str], queued_for: set[str]
) -> None:
    failing, once = await notify_on(SUBSCRIPTIONS_TO_CHOOSE), await notify_on(SUBSCRIPTIONS_TO_CHOOSE)
    batch = records(
        [
            segment_move("evt_vip", "per_anne", "vip", entered=True),
            changed("evt_hugo", "per_hugo", 1, emails=["h@example.com"]),
            changed("evt_anne", "per_anne", 1, emails=["a@example.com"]),
            trigger("evt_welcome", "per_lea", "welcome", marketing=True),
        ]
    )
    left = await _handled_while_failing(failing, failing_command, batch)

    assert [consumed.message.id for consumed in left] == left_to_one_at_a_time
    assert set(await _deliveries_per_person(failing)) == queued_for
    await failing.one_at_a_time(left)
    await once.together(batch)
    assert await failing.stored() == await once.stored()


async def _handled_while_failing(
    notify: Notify, method: str, batch: list[ConsumedRecord[Envelope]]
) -> list[ConsumedRecord[Envelope]]:
    """What the batch handler leaves to one event at a time while the store's `method` fails."""
    store = notify.context.deps.store

    async def refused(*_arguments: object) -> None:
        raise OSError("the store went away")

    setattr(store, method, refused)
    try:
        return await handle_profile_events(batch, notify.context)
    finally:
        delattr(store, method)
