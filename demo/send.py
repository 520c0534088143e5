"""Sending the season through ingest's real endpoints, as each upstream system would, a bounded number of requests at
a time, waiting out `503` + `Retry-After` (and dropped connections) before trying again."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from demo.credentials import Credentials
from demo.season import EVENTS_PER_BATCH, Season, ShopifyWebhook
from shared.progress import ProgressLine

# Patient enough to outlast what ingest asks a sender to wait for: a restart of Kafka or the store, or events a
# killed request claimed, which another takes over after PARTERRE_CLAIM_ABANDONED_AFTER_SECONDS (30 s).
MAX_ATTEMPTS = 16
LONGEST_PAUSE_SECONDS = 30.0
SHOPIFY_API_VERSION = "2026-07"


@dataclass
class Intake:
    """What ingest answered: events new to it, events it already had, and what it refused, by reason."""

    records_sent: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    retries: int = 0
    accepted_by_system: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)

    def details(self) -> str:
        return f"{self.accepted:,} events accepted · {self.duplicates:,} duplicates · {self.rejected:,} rejected"


class SendError(Exception):
    """Ingest kept refusing or failing a request; the message says which and why."""


@dataclass(frozen=True)
class _Request:
    system: str
    records: int
    path: str
    body: bytes
    headers: dict[str, str]


async def send_season(
    season: Season,
    credentials: Credentials,
    ingest_url: str,
    *,
    concurrency: int = 8,
    show_progress: bool = True,
    records_per_second: float | None = None,
) -> Intake:
    """Sends the box-office exports, then the shop's webhooks (its customers' privacy requests after their orders),
    the newsletter's, and the API events, in that order (an unsubscribe after its subscribe); within each phase up
    to `concurrency` requests are in flight. With `records_per_second`, a request leaves no earlier than its
    records' place in the season allows at that rate."""
    intake = Intake()
    started = time.monotonic()
    scheduled = [0]
    progress = ProgressLine(season.records, lambda: intake.records_sent, unit="records")
    phases = _phases(season, credentials)
    async with httpx.AsyncClient(base_url=ingest_url, timeout=120.0) as client:
        gate = asyncio.Semaphore(concurrency)

        async def one(request: _Request) -> None:
            async with gate:
                if records_per_second:
                    due = started + scheduled[0] / records_per_second
                    scheduled[0] += request.records
                    await asyncio.sleep(max(due - time.monotonic(), 0.0))
                answer = await _post(client, request, intake)
            _tally(intake, request, answer)
            if show_progress:
                progress.update(intake.records_sent, intake.details())

        for phase in phases:
            await asyncio.gather(*(one(request) for request in phase))
    if show_progress:
        progress.finish(intake.records_sent, intake.details())
    return intake


def _phases(season: Season, credentials: Credentials) -> list[list[_Request]]:
    bearer = {"Authorization": f"Bearer {credentials.token}"}
    sources = season.sources
    boxoffice = [
        _Request(
            "box office",
            export.count(b"\n") - 1,
            f"/v1/imports/boxoffice/{sources.boxoffice}",
            export,
            {**bearer, "Content-Type": "text/csv"},
        )
        for export in season.boxoffice_exports
    ]
    shop_domain = f"{sources.shop}.myshopify.com"

    def shopify(webhooks: Sequence[ShopifyWebhook]) -> list[_Request]:
        return [
            _Request(
                "shop",
                1,
                f"/v1/webhooks/shopify/{sources.shop}",
                webhook.body,
                {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": webhook.topic,
                    "X-Shopify-Hmac-Sha256": shopify_hmac(credentials.shopify_secret, webhook.body),
                    "X-Shopify-Webhook-Id": webhook.webhook_id,
                    "X-Shopify-Shop-Domain": shop_domain,
                    "X-Shopify-API-Version": SHOPIFY_API_VERSION,
                },
            )
            for webhook in webhooks
        ]

    def mailchimp(bodies: Sequence[bytes]) -> list[_Request]:
        return [
            _Request(
                "newsletter",
                1,
                f"/v1/webhooks/mailchimp/{sources.newsletter}",
                body,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Parterre-Source-Key": credentials.mailchimp_key,
                },
            )
            for body in bodies
        ]

    events = list(season.cloudevents)
    api = [
        _Request(
            "api",
            len(batch),
            "/v1/events",
            json.dumps(batch, ensure_ascii=False).encode(),
            {**bearer, "Content-Type": "application/cloudevents-batch+json"},
        )
        for batch in (events[start : start + EVENTS_PER_BATCH] for start in range(0, len(events), EVENTS_PER_BATCH))
    ]
    return [
        boxoffice,
        shopify(season.shopify),
        shopify(season.shopify_privacy),
        mailchimp(season.mailchimp_subscribes),
        mailchimp(season.mailchimp_unsubscribes),
        api,
    ]


def shopify_hmac(secret: str, body: bytes) -> str:
    """`X-Shopify-Hmac-Sha256`: the base64 HMAC-SHA256 of the raw body under the app's secret (shopify.dev,
    "Verify webhooks")."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def _post(client: httpx.AsyncClient, request: _Request, intake: Intake) -> httpx.Response:
    pause = 0.5
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            answer = await client.post(request.path, content=request.body, headers=request.headers)
        except httpx.TransportError as error:
            if attempt == MAX_ATTEMPTS:
                raise SendError(f"{request.system}: {request.path} unreachable: {error!r}") from error
            await _wait(pause, intake)
            pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
            continue
        if answer.status_code not in (429, 503):
            return answer
        if attempt == MAX_ATTEMPTS:
            raise SendError(f"{request.system}: {request.path} still answers {answer.status_code}: {answer.text[:300]}")
        await _wait(_retry_after(answer.headers.get("Retry-After"), pause), intake)
        pause = min(pause * 2, LONGEST_PAUSE_SECONDS)
    raise AssertionError("unreachable")


async def _wait(seconds: float, intake: Intake) -> None:
    intake.retries += 1
    await asyncio.sleep(seconds)


def _retry_after(header: str | None, fallback: float) -> float:
    """`Retry-After` in seconds or as an HTTP date, at most `LONGEST_PAUSE_SECONDS`."""
    if header is None:
        return fallback
    if header.strip().isdigit():
        return min(float(header), LONGEST_PAUSE_SECONDS)
    try:
        return min(max((parsedate_to_datetime(header) - datetime.now(UTC)).total_seconds(), 0.0), LONGEST_PAUSE_SECONDS)
    except (TypeError, ValueError):
        return fallback


def _tally(intake: Intake, request: _Request, answer: httpx.Response) -> None:
    intake.records_sent += request.records
    try:
        body: dict[str, Any] = answer.json()
    except ValueError:
        body = {}
    if answer.status_code >= 400 and not (request.path == "/v1/events" and answer.status_code == 422):
        # The whole request was refused (a webhook's payload, a file's header): every record in it is rejected.
        intake.rejected += request.records
        found = body.get("detail")
        detail: dict[str, Any] = found if isinstance(found, dict) else {}
        intake.rejections[f"{request.system}: {answer.status_code} {detail.get('code', '')}".strip()] += request.records
        return
    if request.system == "box office":
        accepted, duplicates, rejected = body["published"], body["duplicates"], body["rejected"]
        for reason, count in body.get("rejections_by_reason", {}).items():
            intake.rejections[f"box office: {reason}"] += count
    elif request.system == "api":
        accepted, duplicates, rejected = body["accepted"], body["duplicates"], body["rejected"]
        for result in body.get("results", []):
            for error in result.get("errors", []):
                intake.rejections[f"api: {error.get('code')}"] += 1
    else:
        accepted, duplicates, rejected = body["published"], body["duplicates"], 0
    intake.accepted += accepted
    intake.duplicates += duplicates
    intake.rejected += rejected
    intake.accepted_by_system[request.system] += accepted
