"""The audience overview and segment trends on the running service, from ticket facts over two seasons."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.profile.entrypoints.sweeper import sweep_once
from shared.events import Envelope
from shared.tokens import Scope
from tests.integration.profile.support import ProfileHarness, context_of, running_profile
from tests.integration.waiting import eventually
from tests.unit.profile_handlers.scenarios import MovableClock

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

NOW = datetime(2026, 11, 15, 19, 0, tzinfo=UTC)  # in the 2026-2027 season
TODAY = date(2026, 11, 15)


def show(production_id: str, starts_at: str) -> dict[str, Any]:
    return {
        "production_id": production_id,
        "title": {"fr": production_id.capitalize()},
        "performance_id": f"{production_id}-{starts_at[:10]}",
        "starts_at": starts_at,
        "venue": "Salle Jean-Duceppe",
    }


HAMLET = show("hamlet", "2025-10-17T20:00:00-04:00")
HAMLET_LATER = show("hamlet", "2025-11-14T20:00:00-05:00")
LEAR = show("lear", "2025-12-05T20:00:00-05:00")
GISELLE = show("giselle", "2026-11-20T19:30:00-05:00")


def two_seasons_of_tickets(harness: ProfileHarness) -> list[Envelope]:
    """Anne and Dora came in 2025-2026 and again in 2026-2027, Bea only in 2025-2026, Carl only in 2026-2027."""

    def bought(event_id: str, person_id: str, when: str, performance: dict[str, Any]) -> Envelope:
        at = datetime.fromisoformat(when)
        return harness.resolved_purchase(event_id, person_id, bought_at=at, performance=performance)

    return [
        bought("sale-1", "per_anne", "2025-09-10T12:00:00+00:00", HAMLET),
        bought("sale-2", "per_anne", "2026-09-15T12:00:00+00:00", GISELLE),
        bought("sale-3", "per_bea", "2025-10-10T12:00:00+00:00", HAMLET_LATER),
        bought("sale-4", "per_carl", "2026-10-01T12:00:00+00:00", GISELLE),
        bought("sale-5", "per_dora", "2025-11-10T12:00:00+00:00", LEAR),
        bought("sale-6", "per_dora", "2026-10-20T12:00:00+00:00", GISELLE),
    ]


async def _client(app: FastAPI, organisation_id: str, *scopes: Scope) -> httpx.AsyncClient:
    token = await app.state.runtime.tokens.issue(organisation_id, set(scopes), "tests")
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://profile",
        headers={"Authorization": f"Bearer {token.token}"},
    )


async def _applied(app: FastAPI, organisation_id: str, expected: dict[str, int]) -> bool:
    store = context_of(app).deps.store
    for person_id, facts in expected.items():
        stored = await store.profile(organisation_id, person_id)
        if stored is None or stored.applied < facts:
            return False
    return True


async def test_the_overview_counts_new_and_returning_patrons_stages_productions_and_conversion_exactly(
    harness: ProfileHarness,
) -> None:
    clock = MovableClock(NOW)
    async with running_profile(harness, clock=clock) as app:
        await harness.publish(two_seasons_of_tickets(harness))
        assert await eventually(
            lambda: _applied(app, harness.organisation_id, {"per_anne": 2, "per_bea": 1, "per_carl": 1, "per_dora": 2})
        )
        async with await _client(app, harness.organisation_id, Scope.SEGMENTS_READ) as client:
            first = await client.get("/v1/overview")
            await harness.publish(
                [harness.resolved_purchase("sale-7", "per_eve", bought_at=NOW - timedelta(days=3), performance=GISELLE)]
            )
            assert await eventually(lambda: _applied(app, harness.organisation_id, {"per_eve": 1}))
            clock.at = NOW + timedelta(minutes=1)
            cached = await client.get("/v1/overview")
            refreshed = await client.get("/v1/overview", params={"refresh": "true"})
        async with await _client(app, harness.organisation_id, Scope.PROFILES_READ) as client:
            forbidden = await client.get("/v1/overview")

    assert first.status_code == 200, first.text
    assert first.json() == {
        "computed_at": "2026-11-15T19:00:00Z",
        "current_season": "2026-2027",
        "totals": {"patrons": 4, "patrons_with_seasons": 4},
        "seasons": [
            {"season": "2025-2026", "new_patrons": 3, "returning_patrons": 0},
            {"season": "2026-2027", "new_patrons": 1, "returning_patrons": 2},
        ],
        "lifecycle_stages": [
            {"stage": "subscriber", "patrons": 0},
            {"stage": "donor", "patrons": 0},
            {"stage": "new", "patrons": 1},
            {"stage": "active", "patrons": 2},
            {"stage": "at_risk", "patrons": 0},
            {"stage": "lapsed", "patrons": 1},
            {"stage": "none", "patrons": 0},
        ],
        "top_returning_productions": [
            {"production_id": "giselle", "title": {"fr": "Giselle", "en": None}, "returning_patrons": 2, "patrons": 3}
        ],
        "subscription_conversion": [
            {"season": "2026-2027", "single_ticket_buyers": 3, "converted": 0, "rate": 0.0},
            {"season": "2027-2028", "single_ticket_buyers": 3, "converted": 0, "rate": 0.0},
        ],
    }
    assert cached.json() == first.json()
    assert refreshed.json()["computed_at"] == "2026-11-15T19:01:00Z"
    assert refreshed.json()["totals"] == {"patrons": 5, "patrons_with_seasons": 5}
    assert refreshed.json()["seasons"][-1] == {"season": "2026-2027", "new_patrons": 2, "returning_patrons": 2}
    assert forbidden.status_code == 403


async def test_the_segments_list_carries_the_sizes_the_sweep_recorded_and_the_change_over_a_week(
    harness: ProfileHarness,
) -> None:
    clock = MovableClock(NOW)
    async with running_profile(harness, clock=clock) as app:
        context = context_of(app)
        await harness.publish(two_seasons_of_tickets(harness))
        assert await eventually(
            lambda: _applied(app, harness.organisation_id, {"per_anne": 2, "per_bea": 1, "per_carl": 1, "per_dora": 2})
        )
        # A week ago, one francophone patron was recorded; today's sizes are recorded by the day's first sweep.
        week_ago = dict.fromkeys(context.deps.rules.segments.names, 0) | {"francophones": 1}
        await context.deps.store.record_segment_sizes(
            harness.organisation_id, TODAY - timedelta(days=7), week_ago, recorded_at=NOW - timedelta(days=7)
        )
        await sweep_once(context)
        async with await _client(app, harness.organisation_id, Scope.SEGMENTS_READ) as client:
            listing = await client.get("/v1/segments")

    assert listing.status_code == 200, listing.text
    items = {item["name"]: item for item in listing.json()["items"]}
    assert items["francophones"]["members"] == 4
    assert items["francophones"]["trend"] == [
        {"date": "2026-11-08", "members": 1},
        {"date": "2026-11-15", "members": 4},
    ]
    assert items["francophones"]["change_7d"] == 3
    assert items["donors"]["trend"] == [{"date": "2026-11-08", "members": 0}, {"date": "2026-11-15", "members": 0}]
    assert items["donors"]["change_7d"] == 0
    assert all(len(item["trend"]) == 2 for item in items.values())
