"""Audience overview speed: one computation over an organisation's stored profiles, as `GET /v1/overview` does when
its cache has expired, and the fold alone over the same profiles in memory."""

import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bench.support import Result, Servers
from services.profile.adapters.mongo import MongoProfileStore
from services.profile.context import SystemClock, load_rules
from services.profile.domain.overview import audience_overview
from services.profile.domain.profile import ProfileState
from services.profile.domain.records import Acquisition, PerformanceRecord, SubscriptionRecord, TicketRecord
from services.profile.domain.strategies import Stamp, Stamped
from services.profile.handlers import ProfileDeps
from services.profile.ports import StoredProfile
from services.profile.reports import compute_overview
from services.profile.settings import ProfileSettings
from shared.events.audience import SubscriptionKind
from shared.mongo import mongo_client

SAVED_AT_ONCE = 500


def patron(number: int, chance: random.Random) -> ProfileState:
    """A patron of four seasons: one to six orders of one to three tickets, one in ten a subscriber, with the
    identity details and email engagement a profile usually holds beside."""
    tickets: dict[str, TicketRecord] = {}
    performances: dict[str, PerformanceRecord] = {}
    bought: list[datetime] = []
    for order in range(chance.randint(1, 6)):
        year = chance.choice((2023, 2024, 2025, 2026))
        production_id = f"production-{year}-{chance.randrange(12)}"
        starts_at = datetime(year, 9, 15, 0, tzinfo=UTC) + timedelta(days=chance.randrange(240), hours=23)
        performance_id = f"{production_id}-{starts_at:%m%d}"
        stamp = Stamp(starts_at - timedelta(days=chance.randint(1, 90)), f"sale-{number}-{order}")
        bought.append(stamp.time)
        performances[performance_id] = PerformanceRecord(stamp, production_id, starts_at, "théâtre", "Salle principale")
        for seat in range(chance.randint(1, 3)):
            acquired = Acquisition(stamp, performance_id, Decimal("54.50"), f"order-{number}-{order}")
            tickets[f"ticket-{number}-{order}-{seat}"] = TicketRecord(acquired=acquired)
    subscriptions: dict[str, SubscriptionRecord] = {}
    if chance.random() < 0.1:
        year = chance.choice((2024, 2025, 2026))
        stamp = Stamp(datetime(year, 6, 1, tzinfo=UTC), f"pass-{number}")
        bought.append(stamp.time)
        subscriptions[f"pass-{number}"] = SubscriptionRecord(
            stamp, SubscriptionKind.SEASON_PASS, date(year, 9, 1), ends_on=date(year + 1, 6, 30)
        )
    first_seen = Stamp(min(bought), f"sale-{number}-0")
    return ProfileState(
        first_name=Stamped("Élise", first_seen),
        last_name=Stamped(f"Gagnon-{number}", first_seen),
        emails={f"patron.{number}@example.com": first_seen},
        city=Stamped("Montréal", first_seen),
        sources=frozenset({"billetterie-principale"}),
        external_ids=frozenset({f"billetterie-principale:C-{number:06d}"}),
        latest_event_at=max(bought),
        tickets=tickets,
        performances=performances,
        ticket_paid=Decimal("54.50") * len(tickets),
        first_purchase_at=min(bought),
        last_purchase_at=max(bought),
        subscriptions=subscriptions,
        opens=tuple(sorted(max(bought) - timedelta(days=day) for day in range(chance.randint(0, 8)))),
    )


async def measure(servers: Servers, *, quick: bool) -> list[Result]:
    count = 2_000 if quick else 20_000
    organisation_id = f"bench-{uuid.uuid4().hex[:8]}"
    chance = random.Random(20261115)
    states = [patron(number, chance) for number in range(count)]
    settings = ProfileSettings(mongo_url=servers.mongo_url, mongo_database=f"bench_{uuid.uuid4().hex[:8]}")
    rules = load_rules(settings)

    started = time.perf_counter()
    audience_overview(states, as_of=datetime.now(UTC), seasons=rules.seasons)
    fold_seconds = time.perf_counter() - started

    async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
        try:
            store = MongoProfileStore(
                client[settings.mongo_database], compressed_states=settings.profile_compressed_states
            )
            for start in range(0, count, SAVED_AT_ONCE):
                await store.save_all(
                    [
                        StoredProfile(organisation_id, f"per_{number:07d}", state, version=1, applied=1)
                        for number, state in enumerate(states[start : start + SAVED_AT_ONCE], start)
                    ]
                )
                print(f"  overview: {start + SAVED_AT_ONCE:,}/{count:,} profiles stored", file=sys.stderr, flush=True)
            deps = ProfileDeps(store=store, rules=rules, clock=SystemClock())
            started = time.perf_counter()
            overview = await compute_overview(deps, organisation_id)
            seconds = time.perf_counter() - started
        finally:
            await client.drop_database(settings.mongo_database)
    assert overview.patrons == count, f"the overview counted {overview.patrons:,} of {count:,} profiles"
    # The goal: an organisation of 100,000 profiles computed within the default cache time of 5 minutes.
    goal_seconds = 300 * count / 100_000
    return [
        Result(
            f"profile: audience overview of {count:,} stored profiles",
            seconds,
            "s",
            goal=f"< {goal_seconds:,.0f}",
            note=f"{count / seconds:,.0f} profiles/s read and folded (100,000 in {100_000 * seconds / count:,.0f} s); "
            f"the fold alone {count / fold_seconds:,.0f}/s",
        )
    ]
