"""The demo from start to end: credentials, the receiver and its subscription, the season sent, the drain, and the
summary of what the platform made of it."""

import asyncio
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo.asynchronous.database import AsyncDatabase

from demo.credentials import CONSOLE_USERNAME, Credentials, demo_credentials
from demo.drain import Drained, dead_letter_counts, wait_for_drain
from demo.receiver import DemoReceiver
from demo.season import Season, generate_season, season_moment
from demo.send import Intake, send_season
from services.identity.adapters.mongo import FILTERED_FACTS as IDENTITY_FILTERED_FACTS
from services.identity.adapters.mongo import MERGES, REVIEWS
from services.notify.adapters.mongo import ATTEMPTS, DELIVERIES
from services.profile.adapters.mongo import FACT_LOG, FIRED_TRIGGERS, PROFILES
from services.profile.adapters.mongo import FILTERED_FACTS as PROFILE_FILTERED_FACTS
from shared.mongo import Document, mongo_client

RECEIVER_DESCRIPTION = "Parterre demo receiver"
# How long the summary waits for a service that does not answer: a crashed one is started again within this.
SERVICE_RESTART_SECONDS = 60.0
# The segments whose changes the receiver wants: the ones a marketing tool acts on. The language and newsletter
# segments would send one message per patron, which says nothing more.
RECEIVER_SEGMENTS = ("subscribers", "donors", "high-value", "at-risk", "lapsed-buyers")
PENDING_PAGE = 500


@dataclass(frozen=True)
class DemoConfig:
    organisation_id: str = "theatre-demo"
    patrons: int = 5000
    seed: int = 2026
    ingest_url: str = "http://127.0.0.1:8001"
    identity_url: str = "http://127.0.0.1:8002"
    profile_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    console_url: str = "http://127.0.0.1:8005"
    kafka_bootstrap: str = "127.0.0.1:9092"
    kafka_namespace: str = ""
    mongo_url: str = "mongodb://127.0.0.1:27017/"
    mongo_database: str = "parterre"
    receiver_port: int = 8099
    concurrency: int = 8
    # The rate the season is offered at; as fast as ingest takes it when None.
    records_per_second: float | None = None
    drain_timeout_seconds: float = 900.0
    show_progress: bool = True
    # The moment the season is laid out around; now by default.
    now: datetime | None = None


class DemoError(Exception):
    """The demo cannot go on; the message says why and what to do."""


@dataclass
class Stored:
    """What the stores hold for the organisation once the pipeline has drained."""

    people: int = 0
    merged_profiles: int = 0
    facts_profiled: int = 0
    # Upstream facts folded into no profile on purpose, by reason (identity's and profile's notes).
    facts_filtered: Counter[str] = field(default_factory=Counter)
    merges: int = 0
    reviews_pending: int = 0
    triggers_fired: Counter[str] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)
    # Deliveries an attempt made and the receiver answered with success, by notify's attempt records: one cancelled
    # (its person erased) while its attempt was under way stays cancelled, though its message went out.
    delivered: int = 0
    # Deliveries whose sender died before hearing the answer, and none of whose later attempts succeeded (consent
    # withdrawn meanwhile, say): the receiver may have had the message.
    maybe_delivered: int = 0


@dataclass
class Summary:
    config: DemoConfig
    season: Season
    credentials_notes: tuple[str, ...]
    intake: Intake
    drained: Drained
    stored: Stored
    segments: dict[str, int]
    receiver_verified: int
    receiver_refused: int
    receiver_repeated: int
    receiver_by_type: Counter[str]
    receiver_by_name: Counter[str]
    token: str
    console_password: str
    showcase_person_id: str | None
    showcase_email: str | None
    seconds_sending: float = 0.0
    # What the stores held for the organisation before this season was sent (a previous run's).
    profiled_before: int = 0
    filtered_before: int = 0

    @property
    def facts_dead_lettered(self) -> int:
        """Dead letters of the consumers that carry facts to the profiles (identity's and profile's)."""
        return self.drained.facts_dead_lettered(self.config.kafka_namespace)

    @property
    def newly_profiled(self) -> int:
        return self.stored.facts_profiled - self.profiled_before

    @property
    def newly_filtered(self) -> int:
        return sum(self.stored.facts_filtered.values()) - self.filtered_before

    @property
    def unaccounted(self) -> int:
        """The reconciliation: every event ingest accepted for this season is now profiled, dead-lettered or
        filtered, so this is 0. Above 0, events went missing; below, some were counted twice (or came from
        elsewhere than ingest)."""
        return self.intake.accepted - (self.newly_profiled + self.facts_dead_lettered + self.newly_filtered)

    def render(self) -> str:
        season, intake, stored, config = self.season, self.intake, self.stored, self.config
        filtered = sum(stored.facts_filtered.values())
        before = " (this season's)" if self.profiled_before or self.filtered_before else ""
        lines = [
            "",
            f"Parterre demo: {config.organisation_id}, seed {config.seed}",
            "",
            "Season sent",
            f"  {season.patrons:,} patrons, {len(season.performances)} performances of 8 productions",
            f"  {season.boxoffice_rows:,} box-office rows in {len(season.boxoffice_exports)} CSV exports "
            f"({season.facts['walk-up orders']:,} walk-up sales without email)",
            f"  {len(season.shopify):,} Shopify webhooks for {season.facts['shop orders']:,} orders, and "
            f"{len(season.shopify_privacy):,} privacy requests ({season.facts['access requests']:,} for a copy of "
            f"the customer's data, {season.facts['erasure requests']:,} to erase them)",
            f"  {season.facts['newsletter subscribes']:,} Mailchimp subscribes, "
            f"{season.facts['newsletter unsubscribes']:,} unsubscribes, "
            f"{season.facts['parterre.email.opened.v1']:,} campaign opens",
            f"  {season.facts['parterre.donation.made.v1']:,} donations, "
            f"{season.facts['parterre.ticket.scanned.v1']:,} door scans, "
            f"{season.facts['shared family emails']:,} family emails shared by several patrons",
            "",
            f"Events in ({intake.records_sent:,} records, {self.seconds_sending:,.1f} s, {intake.retries} retries)",
            f"  accepted   {intake.accepted:,}  ("
            + ", ".join(f"{system} {count:,}" for system, count in intake.accepted_by_system.most_common())
            + ")",
            f"  duplicates {intake.duplicates:,}  (recognised and not published again)",
            f"  rejected   {intake.rejected:,}"
            + "".join(f"\n    {reason:<40} {count:,}" for reason, count in intake.rejections.most_common()),
            "",
            f"Pipeline drained in {self.drained.seconds:,.1f} s",
            f"  facts applied to profiles  {stored.facts_profiled:,}",
            f"  facts filtered             {filtered:,}"
            + (
                "  (" + ", ".join(f"{reason} {n:,}" for reason, n in sorted(stored.facts_filtered.items())) + ")"
                if filtered
                else ""
            ),
            "  new dead letters           "
            + (", ".join(f"{name} {n:,}" for name, n in self.drained.new_dead_letters.items() if n) or "none"),
            f"  accepted {intake.accepted:,} = profiled {self.newly_profiled:,} + dead-lettered "
            f"{self.facts_dead_lettered:,} + filtered {self.newly_filtered:,}{before}"
            + ("" if self.unaccounted == 0 else f"  MISMATCH: {self.unaccounted:+,} unaccounted for"),
            "",
            "People",
            f"  {stored.people:,} people after resolution ({season.patrons:,} real patrons in the data)",
            f"  {stored.merges:,} merges, {stored.merged_profiles:,} profiles merged into another",
            f"  {stored.reviews_pending:,} suggested duplicates waiting for review",
            "",
            "Segments",
            *(f"  {name:<24} {size:,}" for name, size in self.segments.items()),
            "",
            f"Triggers fired {sum(stored.triggers_fired.values()):,}",
            *(f"  {rule:<34} {count:,}" for rule, count in sorted(stored.triggers_fired.items())),
            "Deliveries to the demo receiver: "
            + ", ".join(f"{status} {count:,}" for status, count in stored.deliveries.most_common()),
            f"  sent and answered with success {stored.delivered:,}, sent with no answer heard "
            f"{stored.maybe_delivered:,}, received and verified {self.receiver_verified:,} "
            f"(refused signatures {self.receiver_refused}, repeated ids {self.receiver_repeated})",
            *(f"  {kind:<34} {count:,}" for kind, count in sorted(self.receiver_by_type.items())),
            "",
            "Where to look",
        ]
        if self.showcase_person_id:
            url = f"{config.profile_url}/v1/profiles/{self.showcase_person_id}"
            lines += [
                f"  one patron ({self.showcase_email}): {url}",
                f"    curl -s -H {shlex.quote('Authorization: Bearer ' + self.token)} {url}",
                f"    their identifiers and merges: {config.identity_url}/v1/persons/{self.showcase_person_id}",
            ]
        page = f"/patrons/{self.showcase_person_id}" if self.showcase_person_id else "/patrons"
        lines += [
            f"  the console: {config.console_url}{page}",
            f"    log in as {CONSOLE_USERNAME}, password {self.console_password} (a new one each run)",
            "  API docs: " + "  ".join(f"{url}/docs" for url in self._urls()),
            "  metrics:  " + "  ".join(f"{url}/metrics" for url in self._urls()),
            "  the demo token (scopes events:write, profiles:read, segments:read, identity:review, "
            "subscriptions:admin) is revoked by the next run",
        ]
        return "\n".join(lines)

    def _urls(self) -> tuple[str, ...]:
        config = self.config
        return (config.ingest_url, config.identity_url, config.profile_url, config.notify_url)


async def _check_namespace(api: httpx.AsyncClient, config: DemoConfig) -> None:
    """The services must read and write the Kafka namespace the demo waits on, or it would wait forever."""
    for name, url in (
        ("ingest", config.ingest_url),
        ("identity", config.identity_url),
        ("profile", config.profile_url),
        ("notify", config.notify_url),
    ):
        answer = await api.get(f"{url}/healthz")
        answer.raise_for_status()
        running = answer.json().get("kafka_namespace", "")
        if running != config.kafka_namespace:
            raise DemoError(
                f"{name} runs in the Kafka namespace {running!r}, the demo in {config.kafka_namespace!r}. "
                "Stop the services (`make down`) and run `make demo`, which starts them in the demo's."
            )


async def run_demo(config: DemoConfig, say: Callable[[str], None] = print) -> Summary:
    now = config.now or season_moment(datetime.now(UTC))
    receiver = DemoReceiver(port=config.receiver_port)
    receiver.start()
    try:
        async with mongo_client(config.mongo_url, app_name="parterre-demo") as client:
            database = client[config.mongo_database]
            season = generate_season(config.patrons, seed=config.seed, now=now, organisation_id=config.organisation_id)
            say(f"season generated: {season.records:,} upstream records for {season.patrons:,} patrons")
            credentials = await demo_credentials(database, config.organisation_id, season.sources)
            for note in credentials.notes:
                say(note)
            async with httpx.AsyncClient(timeout=30.0) as api:
                await _check_namespace(api, config)
                subscription_id, secret = await _subscribe(api, config, credentials, receiver.url)
                receiver.secret = secret
                say(f"demo receiver at {receiver.url}, subscribed as {subscription_id}")
                dead_before = await dead_letter_counts(config.kafka_bootstrap, config.kafka_namespace)
                profiled_before, filtered_before = await facts_accounted_for(database, config.organisation_id)
                started = datetime.now(UTC)
                intake = await send_season(
                    season,
                    credentials,
                    config.ingest_url,
                    concurrency=config.concurrency,
                    show_progress=config.show_progress,
                    records_per_second=config.records_per_second,
                )
                seconds_sending = (datetime.now(UTC) - started).total_seconds()

                async def pending() -> int:
                    try:
                        return await _pending_deliveries(api, config, credentials, subscription_id)
                    except httpx.TransportError:
                        # Notify restarting: not drained yet, ask again at the next look.
                        return 1

                say("waiting for the pipeline to drain")
                drained = await wait_for_drain(
                    config.kafka_bootstrap,
                    pending,
                    namespace=config.kafka_namespace,
                    dead_letters_before=dead_before,
                    timeout_seconds=config.drain_timeout_seconds,
                    show_progress=config.show_progress,
                )
                segments = await _segments(api, config, credentials)
                showcase = await _showcase_person(api, config, credentials, season.showcase_email)
            stored = await stored_counts(database, config.organisation_id, subscription_id)
        received = receiver.received
        with received.lock:
            return Summary(
                config=config,
                season=season,
                credentials_notes=credentials.notes,
                intake=intake,
                drained=drained,
                stored=stored,
                segments=segments,
                receiver_verified=received.verified,
                receiver_refused=received.refused,
                receiver_repeated=received.repeated,
                receiver_by_type=Counter(received.by_type),
                receiver_by_name=Counter(received.by_name),
                token=credentials.token,
                console_password=credentials.console_password,
                showcase_person_id=showcase,
                showcase_email=season.showcase_email,
                seconds_sending=seconds_sending,
                profiled_before=profiled_before,
                filtered_before=sum(filtered_before.values()),
            )
    finally:
        receiver.stop()


def _bearer(credentials: Credentials) -> dict[str, str]:
    return {"Authorization": f"Bearer {credentials.token}"}


async def _subscribe(api: httpx.AsyncClient, config: DemoConfig, credentials: Credentials, url: str) -> tuple[str, str]:
    """A fresh subscription for this run's receiver (its secret is shown only when it is made); the previous
    runs' demo subscriptions are deleted."""
    headers = _bearer(credentials)
    listing = await api.get(f"{config.notify_url}/v1/subscriptions", headers=headers)
    listing.raise_for_status()
    for item in listing.json()["items"]:
        if item.get("description") == RECEIVER_DESCRIPTION:
            gone = await api.delete(f"{config.notify_url}/v1/subscriptions/{item['subscription_id']}", headers=headers)
            gone.raise_for_status()
    body = {
        "kind": "webhook",
        "url": url,
        "description": RECEIVER_DESCRIPTION,
        "max_in_flight": 16,
        "events": {
            "triggers": ["*"],
            "segments_entered": list(RECEIVER_SEGMENTS),
            "segments_exited": list(RECEIVER_SEGMENTS),
        },
    }
    answer = await api.post(f"{config.notify_url}/v1/subscriptions", json=body, headers=headers)
    if answer.status_code == 422 and "target_refused" in answer.text:
        raise DemoError(
            "notify refuses the demo receiver's loopback http:// URL: it runs without "
            "PARTERRE_NOTIFY_ALLOW_LOOPBACK=true and PARTERRE_NOTIFY_ALLOW_PLAIN_HTTP=true. "
            "Stop the services (`make down`) and run `make demo`, which starts them with both."
        )
    answer.raise_for_status()
    created: dict[str, Any] = answer.json()
    return str(created["subscription_id"]), str(created["secret"])


async def _pending_deliveries(
    api: httpx.AsyncClient, config: DemoConfig, credentials: Credentials, subscription_id: str
) -> int:
    answer = await api.get(
        f"{config.notify_url}/v1/deliveries",
        params={"subscription": subscription_id, "status": "pending", "limit": PENDING_PAGE},
        headers=_bearer(credentials),
    )
    answer.raise_for_status()
    return len(answer.json()["items"])


async def _get_answered(api: httpx.AsyncClient, url: str, **options: Any) -> httpx.Response:
    """GET `url`, asking again while the service does not answer (restarting after a crash, or not ready yet)
    for up to `SERVICE_RESTART_SECONDS`."""
    deadline = time.monotonic() + SERVICE_RESTART_SECONDS
    while True:
        try:
            answer = await api.get(url, **options)
        except httpx.TransportError:
            if time.monotonic() >= deadline:
                raise
        else:
            if answer.status_code != httpx.codes.SERVICE_UNAVAILABLE or time.monotonic() >= deadline:
                return answer
        await asyncio.sleep(0.5)


async def _segments(api: httpx.AsyncClient, config: DemoConfig, credentials: Credentials) -> dict[str, int]:
    answer = await _get_answered(api, f"{config.profile_url}/v1/segments", headers=_bearer(credentials))
    answer.raise_for_status()
    return {str(item["name"]): int(item["members"]) for item in answer.json()["items"]}


async def _showcase_person(
    api: httpx.AsyncClient, config: DemoConfig, credentials: Credentials, email: str | None
) -> str | None:
    if email is None:
        return None
    answer = await _get_answered(
        api, f"{config.profile_url}/v1/profiles", params={"email": email}, headers=_bearer(credentials)
    )
    if answer.status_code != 200 or not answer.json()["items"]:
        return None
    return str(answer.json()["items"][0]["person_id"])


async def facts_accounted_for(database: AsyncDatabase[Document], organisation_id: str) -> tuple[int, Counter[str]]:
    """The upstream facts the profiles hold (profile's fact log), and those noted as going no further on purpose,
    by reason (identity's and profile's notes)."""
    mine = {"organisation_id": organisation_id}
    profiled = await database[FACT_LOG].count_documents({**mine, "number": {"$exists": True}})
    filtered: Counter[str] = Counter()
    for collection in (IDENTITY_FILTERED_FACTS, PROFILE_FILTERED_FACTS):
        async for document in database[collection].find(mine, {"reason": 1}):
            filtered[str(document["reason"])] += 1
    return profiled, filtered


async def stored_counts(database: AsyncDatabase[Document], organisation_id: str, subscription_id: str) -> Stored:
    """Counts read straight from the services' collections: what no single API sums up (people, merges, triggers)."""
    mine = {"organisation_id": organisation_id}
    profiled, filtered = await facts_accounted_for(database, organisation_id)
    stored = Stored(
        people=await database[PROFILES].count_documents({**mine, "merged_into": None}),
        merged_profiles=await database[PROFILES].count_documents({**mine, "merged_into": {"$ne": None}}),
        facts_profiled=profiled,
        facts_filtered=filtered,
        merges=await database[MERGES].count_documents(mine),
        reviews_pending=await database[REVIEWS].count_documents({**mine, "status": "pending"}),
    )
    # A fired trigger's key is `organisation|rule:person:period`.
    async for document in database[FIRED_TRIGGERS].find(mine, {"_id": 1}):
        stored.triggers_fired[str(document["_id"]).split("|", 1)[1].split(":", 1)[0]] += 1
    for status in ("succeeded", "pending", "dead", "suppressed", "cancelled"):
        count = await database[DELIVERIES].count_documents(
            {**mine, "subscription_id": subscription_id, "status": status}
        )
        if count:
            stored.deliveries[status] = count
    delivery_ids = [
        document["_id"]
        async for document in database[DELIVERIES].find({**mine, "subscription_id": subscription_id}, {"_id": 1})
    ]
    outcomes: dict[str, set[str]] = {}
    async for document in database[ATTEMPTS].find(
        {"delivery_id": {"$in": delivery_ids}, "outcome": {"$in": ["succeeded", "interrupted"]}},
        {"delivery_id": 1, "outcome": 1},
    ):
        outcomes.setdefault(str(document["delivery_id"]), set()).add(str(document["outcome"]))
    stored.delivered = sum("succeeded" in seen for seen in outcomes.values())
    stored.maybe_delivered = sum("succeeded" not in seen for seen in outcomes.values())
    return stored


def print_progress_note(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
