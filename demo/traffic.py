"""A steady stream of upstream events through `POST /v1/events`, for the benchmark and the failure tests: ticket
purchases, door scans, newsletter opens and donations of a few thousand patrons, sent in CloudEvents batches at
an offered rate (or as fast as ingest takes them)."""

import asyncio
import copy
import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.identity import quebec
from shared.events import all_event_types

# The share of each kind in the stream: a theatre sells and scans far more than it receives gifts.
MIX = {
    "parterre.ticket.purchased.v1": 0.4,
    "parterre.ticket.scanned.v1": 0.3,
    "parterre.email.opened.v1": 0.2,
    "parterre.donation.made.v1": 0.1,
}
BATCH = 100
MAX_ATTEMPTS = 30
LONGEST_PAUSE_SECONDS = 5.0


def upstream_events(
    count: int, *, organisation_id: str, patrons: int = 3000, seed: int = 7, prefix: str = "stream"
) -> list[dict[str, Any]]:
    """`count` CloudEvents in the proportions of `MIX`, each patron a person of their own (a Québec name and
    postal code) known to each system by the same email; ids start with `prefix`, so two streams of one
    organisation never collide."""
    examples = {event.name: event.example for event in all_event_types() if event.name in MIX}
    kinds, weights = list(MIX), list(MIX.values())
    rng = random.Random(seed)
    people = [_patron(number, seed) for number in range(patrons)]
    start = datetime(2026, 9, 1, 12, tzinfo=UTC)
    events = []
    for number in range(count):
        kind = rng.choices(kinds, weights)[0]
        patron = rng.randrange(patrons)
        data = copy.deepcopy(examples[kind])
        person = data["person"]
        # Only the fields the example carries: a gift in the example names no address, so neither does this one.
        person.update({key: value for key, value in people[patron].items() if key in person})
        if "external_id" in person:
            person["external_id"] = f"P-{patron:06d}"
        reference = f"{prefix}-{number}"
        if kind == "parterre.ticket.purchased.v1":
            data["order_id"] = f"O-{reference}"
            for position, ticket in enumerate(data["tickets"], start=1):
                ticket["ticket_id"] = f"T-{reference}-{position}"
        elif kind == "parterre.ticket.scanned.v1":
            data["ticket_id"] = f"T-{reference}-1"
        elif kind == "parterre.email.opened.v1":
            data["campaign_id"] = f"{number % 40:010d}"
        else:
            data["donation_id"] = f"ZF-{reference}"
        events.append(
            {
                "specversion": "1.0",
                "id": f"{person['source']}:{reference}",
                "source": f"/orgs/{organisation_id}/sources/{person['source']}",
                "type": kind,
                "time": (start + timedelta(seconds=number)).isoformat(),
                "datacontenttype": "application/json",
                "organisationid": organisation_id,
                "data": data,
            }
        )
    return events


def _patron(number: int, seed: int) -> dict[str, str]:
    """One patron's name, email and home, the same for the same number and seed: a stream whose patrons all had the
    examples' one name and postal code would be one crowd of look-alikes, which no audience is."""
    rng = random.Random(f"{seed}:{number}")
    first_name = rng.choice((*quebec.FRANCO_FEMALE, *quebec.FRANCO_MALE)).name
    last_name = rng.choice(quebec.FRANCO_SURNAMES)
    city = rng.choices(quebec.CITIES, [city.weight for city in quebec.CITIES])[0]
    letters = quebec.POSTAL_LETTERS
    postal_code = f"{rng.choice(city.fsas)} {rng.randrange(10)}{rng.choice(letters)}{rng.randrange(10)}"
    return {
        "email": f"patron.{number}@example.com",
        "first_name": first_name,
        "last_name": last_name,
        "city": city.name,
        "postal_code": postal_code,
    }


@dataclass
class Sent:
    """What ingest answered, and when the stream started and ended (monotonic seconds)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    started: float = 0.0
    finished: float = 0.0
    rejections: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.finished - self.started


async def send_steadily(
    events: Sequence[dict[str, Any]],
    ingest_url: str,
    token: str,
    *,
    per_second: float | None = None,
    concurrency: int = 4,
    batch: int = BATCH,
) -> Sent:
    """Sends `events` in batches; with `per_second`, batch `n` leaves no earlier than `n * batch / per_second`
    after the first, so the offered rate stays steady whatever ingest's answers cost. A `503`, a `429` or a
    dropped connection (ingest restarting) is waited out and the batch sent again: ingest recognises what it
    already took by the event ids."""
    bodies = [
        json.dumps(list(events[start : start + batch]), ensure_ascii=False).encode()
        for start in range(0, len(events), batch)
    ]
    sent = Sent(started=time.monotonic())
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for number, body in enumerate(bodies):
        queue.put_nowait((number, body))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/cloudevents-batch+json"}

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            number, body = queue.get_nowait()
            if per_second:
                await asyncio.sleep(max(sent.started + number * batch / per_second - time.monotonic(), 0.0))
            answer = await _post(client, body, headers, sent)
            counts = answer.json()
            sent.accepted += counts["accepted"]
            sent.duplicates += counts["duplicates"]
            sent.rejected += counts["rejected"]
            if counts["rejected"] and len(sent.rejections) < 10:
                sent.rejections.append(answer.text[:500])

    async with httpx.AsyncClient(base_url=ingest_url, timeout=60.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    sent.finished = time.monotonic()
    return sent


async def _post(client: httpx.AsyncClient, body: bytes, headers: dict[str, str], sent: Sent) -> httpx.Response:
    pause = 0.25
    for _attempt in range(MAX_ATTEMPTS):
        try:
            answer = await client.post("/v1/events", content=body, headers=headers)
        except httpx.TransportError:
            answer = None
        if answer is not None and answer.status_code in (202, 422):
            return answer
        if answer is not None and answer.status_code not in (429, 503):
            raise RuntimeError(f"ingest refused a batch: {answer.status_code} {answer.text[:500]}")
        sent.retries += 1
        await asyncio.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
    raise RuntimeError(f"ingest did not take a batch after {MAX_ATTEMPTS} attempts")
