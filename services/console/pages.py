"""What each page asks of the platform's APIs, with the session's token; pure shaping is in `domain.pages`.

A page whose service fails still renders: a failed call's value is the failure, shown where its data would be.
"""

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from services.console.adapters import answers
from services.console.adapters.platform_api import (
    SERVICES,
    ApiError,
    MalformedAnswerError,
    PlatformApi,
    ServiceUnavailableError,
    read_answer,
)
from services.console.domain.i18n import Language
from services.console.domain.operations import (
    GroupLag,
    Sample,
    StageCounts,
    SubscriptionHealth,
    consumer_lags,
    pipeline_counts,
    read_metrics,
    subscription_health,
)
from services.console.domain.overview import OverviewCharts, overview_charts
from services.console.domain.pages import (
    ComparedField,
    ConsentRow,
    ContactAnswer,
    FiredTrigger,
    MergeRow,
    SeasonTickets,
    SourceRow,
    Titled,
    compare_for_review,
    consent_rows,
    email_today,
    event_summary,
    fired_triggers,
    merge_rows,
    origin_of,
    sources_of,
    tickets_by_season,
    titled,
    titles_by_name,
)
from services.console.handlers import ActiveSession
from shared.spreadsheets import CsvSeparator, csv_line, spreadsheet_cell
from shared.tokens import Scope

Failure = ApiError | ServiceUnavailableError
# What a staff member types to confirm an erasure, in either language.
ERASE_CONFIRMATIONS = frozenset({"EFFACER", "ERASE"})
# The latest facts a patron's page lists, by their moment, among the facts each timeline received last (as many as
# profile gives in one page): a source connected late delivers old history after recent facts.
TIMELINE_LENGTH = 30
TIMELINE_READ = 200


def _value(result: Any) -> Any:
    return None if isinstance(result, ApiError | ServiceUnavailableError) else result


def _failure_of(result: Any) -> Failure | None:
    return result if isinstance(result, ApiError | ServiceUnavailableError) else None


def _failures(results: Mapping[str, Any]) -> list[Failure]:
    return [value for value in results.values() if isinstance(value, ApiError | ServiceUnavailableError)]


def _said_once(failures: Iterable[Failure]) -> list[Failure]:
    """The failures as a page says them: a service asked several things that failed with one message says it once."""
    said: dict[tuple[Any, ...], Failure] = {}
    for failure in failures:
        # Keyed by what the page shows of a failure (`_failure.html`).
        if isinstance(failure, ApiError):
            key: tuple[Any, ...] = (failure.service, tuple(sorted(failure.message.items())))
        else:
            key = (failure.service,)
        said.setdefault(key, failure)
    return list(said.values())


class _Fields(dict[str, Any]):
    """A profile's fields as the page reads them: a field profile did not give (one added since, or a person
    identity knows and profile does not yet, their first fact on its way) is empty, shown as a dash."""

    def __missing__(self, _key: str) -> None:
        return None


_UNKNOWN_MOMENT = datetime.min.replace(tzinfo=UTC)


def _event_moment(item: Mapping[str, Any]) -> datetime:
    try:
        moment = datetime.fromisoformat(str(item["event"].get("time", "")))
    except ValueError:
        return _UNKNOWN_MOMENT
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _not_found(result: Any) -> bool:
    return isinstance(result, ApiError) and result.status_code == 404


def _unanswered(result: Any) -> Failure | None:
    """The failure that kept a service from saying what it holds; None when it answered, or said it knows nothing."""
    return None if _not_found(result) else _failure_of(result)


# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResult:
    items: list[Mapping[str, Any]]
    truncated: bool
    failure: Failure | None


async def search_patrons(api: PlatformApi, token: str, query: str) -> SearchResult:
    try:
        answer = await api.call(
            "profile", "GET", "/v1/profiles/search", token=token, params={"q": query}, shape=answers.SearchAnswer
        )
    except (ApiError, ServiceUnavailableError) as failure:
        return SearchResult([], False, failure)
    return SearchResult(list(answer["items"]), bool(answer["truncated"]), None)


@dataclass
class PatronPage:
    person_id: str
    profile: Mapping[str, Any] | None
    person: Mapping[str, Any] | None
    fields: Mapping[str, Any]
    contact: ContactAnswer | None
    consents: list[ConsentRow]
    merges: list[MergeRow]
    sources: list[SourceRow]
    seasons: list[SeasonTickets]
    segments: list[Titled]
    triggers: list[FiredTrigger]
    deliveries: list[Mapping[str, Any]] | None
    timeline: list[Mapping[str, Any]]
    # Facts received earlier than those read were left unread: older by arrival, not always by their moment.
    timeline_partial: bool
    household: list[str]
    failures: list[Failure] = field(default_factory=list)
    # Each failure again in the place of the data it kept from the page: profile's (the contact details, consents,
    # tickets...), identity's (household, sources' identifiers, merges) and the timelines' (all of it or a part).
    profile_failure: Failure | None = None
    # How many facts were read, of which `timeline` shows the latest TIMELINE_LENGTH; with `timeline_partial`, a
    # lower bound (more were left unread).
    timeline_read: int = 0
    identity_failure: Failure | None = None
    timeline_failures: list[Failure] = field(default_factory=list)
    redirect_to: str | None = None
    # Whether `redirect_to` is identity's word: profile's alone may be a merge undone since, not yet through Kafka.
    redirect_known_to_identity: bool = False
    # Both profile and identity answered that they know no one by this id (not that they could not answer).
    unknown: bool = False

    @property
    def erased(self) -> bool:
        """Identity keeps an erased person's emptied record, saying so; profile has deleted theirs."""
        return (self.person or {}).get("status") == "erased"

    @property
    def unreachable(self) -> bool:
        """Neither profile nor identity could say who this is: a service is down or failing."""
        return self.profile is None and self.person is None and not self.unknown

    @property
    def merge_unconfirmed(self) -> bool:
        """Profile says this person was merged into another, and identity could not say whether that still stands:
        a privacy form opens neither this person's (their data may be the survivor's) nor another's. Profile says so
        with `merged` too, when the survivor was erased since and it names none."""
        if self.redirect_known_to_identity:
            return False
        merged_on_profile = self.person is None and bool((self.profile or {}).get("merged"))
        return self.redirect_to is not None or merged_on_profile

    @property
    def name(self) -> str:
        names = [self.fields.get("first_name"), self.fields.get("last_name")]
        return " ".join(name for name in names if name) or self.person_id


async def patron_page(api: PlatformApi, active: ActiveSession, person_id: str, language: Language) -> PatronPage:
    token, quoted = active.token, quote(person_id, safe="")
    calls: dict[str, Any] = {
        "profile": api.call("profile", "GET", f"/v1/profiles/{quoted}", token=token, shape=answers.ProfileAnswer),
        "person": api.call("identity", "GET", f"/v1/persons/{quoted}", token=token, shape=answers.PersonAnswer),
        "timeline": _timeline(api, token, person_id),
        # What the profile's segments and fired triggers are called, in both languages.
        "definitions": api.call("profile", "GET", "/v1/definitions", token=token, shape=answers.DefinitionsAnswer),
    }
    if active.allows(Scope.SUBSCRIPTIONS_ADMIN):
        calls["deliveries"] = api.call(
            "notify",
            "GET",
            "/v1/deliveries",
            token=token,
            params={"person": person_id, "limit": 50},
            shape=answers.DeliveriesAnswer,
        )
    results = await api.gather(**calls)
    profile, person = _value(results["profile"]), _value(results["person"])
    # A merged person's page is the survivor's: that is where the patron's history now is. Identity decides merges
    # and undoes them; profile learns of both later, through Kafka, so its word stands only when identity gave none.
    if person is not None:
        survivor = person.get("merged_into") if person.get("status") in (None, "merged") else None
    else:
        survivor = (profile or {}).get("merged_into")
    fields: Mapping[str, Any] = _Fields((profile or {}).get("fields") or {})
    deliveries = _value(results.get("deliveries"))
    definitions = _value(results["definitions"]) or {}
    segment_titles = titles_by_name(definitions.get("segments") or [], language)
    trigger_titles = titles_by_name(definitions.get("triggers") or [], language)
    merges = merge_rows(person, person_id) if person else []
    # The facts of the persons merged into this one stay on their own timelines: read with the survivor's.
    folded, unfolded = await _held_persons(api, token, person_id, merges)
    timelines = await api.gather(**{merged: _timeline(api, token, merged) for merged in folded})
    read = [timeline for timeline in (results["timeline"], *timelines.values()) if not isinstance(timeline, Failure)]
    items = [item for timeline in read for item in timeline.get("items") or []]
    # By the moment, not its text: events keep the offset their source gave (`-04:00`, `+00:00`).
    items.sort(key=_event_moment, reverse=True)
    failures = _said_once(
        failure
        for failure in (*results.values(), *timelines.values())
        if isinstance(failure, Failure) and not _not_found(failure)
    )
    return PatronPage(
        person_id=person_id,
        profile=profile,
        person=person,
        fields=fields,
        contact=email_today(fields) if profile else None,
        consents=consent_rows(fields) if profile else [],
        merges=merges,
        sources=sources_of(person, fields),
        seasons=tickets_by_season((profile or {}).get("tickets") or [], language),
        segments=titled((profile or {}).get("segments") or [], segment_titles),
        triggers=fired_triggers((profile or {}).get("triggers_fired") or [], person_id, trigger_titles),
        deliveries=None if deliveries is None else list(deliveries.get("items") or []),
        timeline=[
            {
                "event": item["event"],
                "summary": event_summary(item["event"], language),
                "origin": origin_of(item["event"]),
            }
            for item in items[:TIMELINE_LENGTH]
        ],
        timeline_partial=any(timeline.get("next_cursor") for timeline in read),
        timeline_read=len(items),
        household=[
            member for member in ((person or {}).get("household") or {}).get("members") or [] if member != person_id
        ],
        failures=failures,
        profile_failure=_unanswered(results["profile"]),
        identity_failure=_unanswered(results["person"]),
        timeline_failures=_said_once(
            [
                *(timeline for timeline in (results["timeline"], *timelines.values()) if isinstance(timeline, Failure)),
                # Who was merged into this person, whose facts the timeline holds too, is identity's to say.
                *([results["person"]] if _unanswered(results["person"]) else []),
                *unfolded,
            ]
        ),
        redirect_to=survivor if survivor and survivor != person_id else None,
        redirect_known_to_identity=person is not None,
        unknown=_not_found(results["profile"]) and _not_found(results["person"]),
    )


# How deep merges nest (a person merged into one later merged into another): as deep as profile follows them.
MAX_MERGE_DEPTH = 50


async def _held_persons(
    api: PlatformApi, token: str, person_id: str, merges: list[MergeRow]
) -> tuple[list[str], list[Failure]]:
    """The persons whose history this one holds: merged into it, or into one merged into it, and so on down, as
    profile folds them; identity lists a person's merges, not those of the persons merged into them. With them, the
    failures that kept identity from saying who was merged into one of them (their history is then left out)."""
    held: list[str] = []
    unread: list[Failure] = []
    seen = {person_id}
    below = [merged for row in merges if row.undone_at is None for merged in row.merged_person_ids]
    for _depth in range(MAX_MERGE_DEPTH):
        below = [merged for merged in dict.fromkeys(below) if merged not in seen]
        if not below:
            break
        seen.update(below)
        held.extend(below)
        persons = await api.gather(
            **{
                merged: api.call(
                    "identity", "GET", f"/v1/persons/{quote(merged, safe='')}", token=token, shape=answers.PersonAnswer
                )
                for merged in below
            }
        )
        unread += [failure for answer in persons.values() if (failure := _unanswered(answer)) is not None]
        below = [
            deeper
            for merged, answer in persons.items()
            if (found := _value(answer)) is not None
            for row in merge_rows(found, merged)
            # Only the merges this person survived, still standing: theirs to hold.
            if row.can_undo
            for deeper in row.merged_person_ids
        ]
    return held, unread


def _timeline(api: PlatformApi, token: str, person_id: str) -> Any:
    return api.call(
        "profile",
        "GET",
        f"/v1/profiles/{quote(person_id, safe='')}/timeline",
        token=token,
        params={"limit": TIMELINE_READ},
        shape=answers.TimelineAnswer,
    )


async def undo_merge(api: PlatformApi, token: str, person_id: str, merge_id: str) -> None:
    await api.call(
        "identity", "POST", f"/v1/persons/{quote(person_id, safe='')}/unmerge", token=token, json={"merge_id": merge_id}
    )


async def export_person(
    api: PlatformApi, token: str, person_id: str, format: str, separator: CsvSeparator = CsvSeparator.COMMA
) -> tuple[bytes, str]:
    """Everything the platform holds about the person, in one file: profile's export (their profile, triggers and
    every fact), identity's view of them (their identifiers by source, household, merges and who they are kept apart
    from), then what notify holds about them and about each person merged into them (the contact it keeps, every
    message sent about them and where). Each service logs its part as an access; a service that cannot answer fails
    the export rather than leave its part out. Profile is asked first: a person it does not know (or no longer) fails
    the export before the other services log theirs. A CSV has its cells separated by `separator` on every line:
    profile and notify are asked for theirs so, and read so."""
    if format == "csv":
        as_csv, delimiter = f"?format=csv&separator={separator.value}", separator.delimiter
        text = await api.text("profile", _export_path(person_id) + as_csv, token=token)
        identity = await _held_by(api, token, "identity", _export_path(person_id))
        rows = _csv_rows(text, delimiter)
        merged = [name for part, name, *_ in rows[1:] if part == "merged_person"]
        lines = [text, *(csv_line(row, delimiter) for row in _identity_rows(identity))]
        for held in [person_id, *merged]:
            answer = await _held_by(api, token, "notify", _export_path(held) + as_csv)
            if answer is not None:
                # Its parts named as notify's: `notify_person` first, then what notify holds about that person.
                lines += [
                    csv_line((f"notify_{part}", *rest), delimiter) for part, *rest in _csv_rows(answer, delimiter)[1:]
                ]
        return "".join(lines).encode("utf-8"), "text/csv; charset=utf-8"
    document = await api.call("profile", "GET", _export_path(person_id), token=token)
    # Checked, not rewritten: the export gives profile's part as profile wrote it.
    merged_persons = read_answer("profile", answers.ProfileExportAnswer, document)["merged_persons"] or []
    identity = await _held_by(api, token, "identity", _export_path(person_id))
    document["identity"] = None if identity is None else _json_object("identity", identity)
    held_by_notify = []
    for held in [person_id, *merged_persons]:
        answer = await _held_by(api, token, "notify", f"{_export_path(held)}?format=json")
        if answer is not None:
            held_by_notify.append(_json_object("notify", answer))
    document["notify"] = held_by_notify
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8"), "application/json"


def _identity_rows(answer: str | None) -> list[tuple[str, str, str]]:
    """Identity's view as lines of the export: `identity` for each plain value, `identity_<name>` for each item of a
    list (an identifier, a merge)."""
    if answer is None:
        return []
    rows: list[tuple[str, str, str]] = []
    for name, value in _json_object("identity", answer).items():
        if isinstance(value, list):
            rows += [(f"identity_{name}", str(index), spreadsheet_cell(item)) for index, item in enumerate(value)]
        else:
            rows.append(("identity", name, spreadsheet_cell(value)))
    return rows


def _json_object(service: str, text: str) -> dict[str, Any]:
    """A service's part of an export, which is a JSON object; MalformedAnswerError naming the service otherwise."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise MalformedAnswerError(service)
    return value


def _export_path(person_id: str) -> str:
    return f"/v1/persons/{quote(person_id, safe='')}/export"


async def _held_by(api: PlatformApi, token: str, service: str, path: str) -> str | None:
    """What `service` answers at `path` about a person; None when it says it holds nothing about them."""
    try:
        return await api.text(service, path, token=token)
    except ApiError as exc:
        # Only the service's own word that it knows no such person: any other 404 (a service without this route yet,
        # a proxy that knows no such path) is a part that could not be had, not an empty one.
        if exc.status_code == 404 and exc.code == "person_not_found":
            return None
        raise


def _csv_rows(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=delimiter))


async def erase_person(api: PlatformApi, token: str, person_id: str, *, reason: str, do_not_readd: bool) -> None:
    await api.call(
        "profile",
        "POST",
        f"/v1/persons/{quote(person_id, safe='')}/erase",
        token=token,
        json={"reason": reason or None, "do_not_readd": do_not_readd},
    )


# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewCard:
    item: Mapping[str, Any]
    # How likely identity finds the two records to be one person, 0 to 1; None when it gave none.
    probability: float | None
    left: Mapping[str, Any]
    right: Mapping[str, Any]
    compared: list[ComparedField]
    # The profiles that could not be read: the fields shown empty are unknown, not absent.
    failures: list[Failure] = field(default_factory=list)

    @property
    def names_swapped(self) -> bool:
        """Identity found the two records' names agreeing only crossed, and the names are shown so."""
        return any(row.crossed for row in self.compared)


@dataclass(frozen=True)
class ReviewQueue:
    cards: list[ReviewCard]
    failure: Failure | None


async def review_queue(api: PlatformApi, token: str, limit: int = 20) -> ReviewQueue:
    try:
        answer = await api.call(
            "identity", "GET", "/v1/review", token=token, params={"limit": limit}, shape=answers.ReviewAnswer
        )
    except (ApiError, ServiceUnavailableError) as failure:
        return ReviewQueue([], failure)
    items = list(answer["items"])
    persons = {person for item in items for person in (item["person_id"], item["candidate_person_id"])}
    # Every profile the queue shows, read at once rather than a pair after another.
    profiles = await api.gather(
        **{
            person: api.call(
                "profile", "GET", f"/v1/profiles/{quote(person, safe='')}", token=token, shape=answers.ProfileAnswer
            )
            for person in persons
        }
    )
    cards = []
    for item in items:
        pair = (profiles[item["person_id"]], profiles[item["candidate_person_id"]])
        left, right = ((_value(profile) or {}).get("fields") or {} for profile in pair)
        # A person just created may have no profile yet (404): nothing to show, nothing failed.
        failures = [profile for profile in pair if _value(profile) is None and not _not_found(profile)]
        compared = compare_for_review(left, right, item.get("agreements") or {})
        cards.append(ReviewCard(item, _probability(item), left, right, compared, failures))
    return ReviewQueue(cards, None)


def _probability(item: Mapping[str, Any]) -> float | None:
    probability = item.get("probability")
    return float(probability) if isinstance(probability, int | float) and not isinstance(probability, bool) else None


async def decide_review(api: PlatformApi, token: str, review_id: str, decision: str, note: str) -> None:
    await api.call(
        "identity",
        "POST",
        f"/v1/review/{quote(review_id, safe='')}",
        token=token,
        json={"decision": decision, "note": note or None},
    )


# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentList:
    items: list[Mapping[str, Any]]
    failure: Failure | None


async def segment_list(api: PlatformApi, token: str) -> SegmentList:
    try:
        answer = await api.call("profile", "GET", "/v1/segments", token=token, shape=answers.SegmentsAnswer)
    except (ApiError, ServiceUnavailableError) as failure:
        return SegmentList([], failure)
    return SegmentList(list(answer["items"]), None)


@dataclass(frozen=True)
class SegmentPage:
    name: str
    segment: Mapping[str, Any] | None
    members: list[Mapping[str, Any]]
    next_cursor: str | None
    failure: Failure | None
    # The profile service knows no segment by this name (a mistyped or retired link).
    unknown: bool = False
    # Why the members could not be read: the page has nothing of what it is for then (a title alone may be missing).
    members_failure: Failure | None = None
    # Why the segment's title, description and size could not be read.
    listing_failure: Failure | None = None


async def segment_page(api: PlatformApi, token: str, name: str, cursor: str | None) -> SegmentPage:
    results = await api.gather(
        listing=api.call("profile", "GET", "/v1/segments", token=token, shape=answers.SegmentsAnswer),
        members=api.call(
            "profile",
            "GET",
            f"/v1/segments/{quote(name, safe='')}/members",
            token=token,
            params={"cursor": cursor, "limit": 50},
            shape=answers.MembersAnswer,
        ),
    )
    listing, members = _value(results["listing"]), _value(results["members"])
    segment = next((item for item in (listing or {}).get("items", []) if item["name"] == name), None)
    failures = _failures(results)
    return SegmentPage(
        name=name,
        segment=segment,
        members=list((members or {}).get("items", [])),
        next_cursor=(members or {}).get("next_cursor"),
        failure=failures[0] if failures else None,
        unknown=_not_found(results["members"]),
        members_failure=None if _not_found(results["members"]) else _failure_of(results["members"]),
        listing_failure=_failure_of(results["listing"]),
    )


@dataclass(frozen=True)
class OverviewPage:
    overview: Mapping[str, Any] | None
    charts: OverviewCharts | None
    failure: Failure | None


async def overview_page(
    api: PlatformApi, token: str, language: Language, stage_labels: Mapping[str, str], *, refresh: bool
) -> OverviewPage:
    try:
        answer = await api.call(
            "profile",
            "GET",
            "/v1/overview",
            token=token,
            params={"refresh": "true" if refresh else None},
            shape=answers.OverviewAnswer,
        )
    except (ApiError, ServiceUnavailableError) as failure:
        return OverviewPage(None, None, failure)
    return OverviewPage(answer, overview_charts(answer, language, stage_labels), None)


# ---------------------------------------------------------------------------------------------------------------

# The services whose consumers set messages aside in dead-letter topics.
CONSUMING_SERVICES = ("identity", "profile", "notify")


@dataclass(frozen=True)
class OperationsPage:
    ready: Mapping[str, bool]
    stages: list[StageCounts]
    lags: list[GroupLag]
    dead_letters: Mapping[str, list[Mapping[str, Any]]]
    subscriptions: list[SubscriptionHealth] | None
    dead_deliveries: list[Mapping[str, Any]] | None
    failures: list[Failure]
    # What could not be read, said in the place of its data: each consuming service's dead-letter listing, notify's
    # deliveries given up, and the services whose metrics were unreadable (their counts, lags and health unknown).
    dead_letter_failures: Mapping[str, Failure] = field(default_factory=dict)
    dead_deliveries_failure: Failure | None = None
    unread_metrics: tuple[str, ...] = ()


async def operations_page(api: PlatformApi, active: ActiveSession) -> OperationsPage:
    token = active.token
    calls: dict[str, Any] = {}
    for service in SERVICES:
        calls[f"ready:{service}"] = api.text(service, "/readyz")
        calls[f"metrics:{service}"] = api.text(service, "/metrics")
    if active.allows(Scope.OPERATIONS_ADMIN):
        for service in CONSUMING_SERVICES:
            calls[f"dead:{service}"] = api.call(
                service, "GET", "/v1/dead-letters", token=token, params={"limit": 50}, shape=answers.DeadLettersAnswer
            )
    if active.allows(Scope.SUBSCRIPTIONS_ADMIN):
        calls["subscriptions"] = api.call(
            "notify", "GET", "/v1/subscriptions", token=token, shape=answers.SubscriptionsAnswer
        )
        calls["dead_deliveries"] = api.call(
            "notify",
            "GET",
            "/v1/deliveries",
            token=token,
            params={"status": "dead", "limit": 50},
            shape=answers.DeliveriesAnswer,
        )
    results = await api.gather(**calls)
    samples: dict[str, list[Sample]] = {}
    for service in SERVICES:
        text = _value(results[f"metrics:{service}"])
        if text is None:
            continue
        try:
            samples[service] = read_metrics(text) if text else []
        except ValueError:
            continue
    subscriptions = _value(results.get("subscriptions"))
    dead_deliveries = _value(results.get("dead_deliveries"))
    return OperationsPage(
        ready={service: _value(results[f"ready:{service}"]) is not None for service in SERVICES},
        stages=pipeline_counts(samples, active.session.organisation_id),
        lags=consumer_lags(samples),
        dead_letters={
            service: list(listing.get("items", []))
            for service in CONSUMING_SERVICES
            if (listing := _value(results.get(f"dead:{service}"))) is not None
        },
        subscriptions=None
        if subscriptions is None
        else subscription_health(subscriptions.get("items", []), samples.get("notify")),
        dead_deliveries=None if dead_deliveries is None else list(dead_deliveries.get("items", [])),
        dead_letter_failures={
            service: failure
            for service in CONSUMING_SERVICES
            if (failure := _failure_of(results.get(f"dead:{service}"))) is not None
        },
        dead_deliveries_failure=_failure_of(results.get("dead_deliveries")),
        unread_metrics=tuple(service for service in SERVICES if service not in samples),
        # A service that is down shows as not ready; its other calls failing says nothing more.
        failures=[
            failure
            for name, failure in results.items()
            if isinstance(failure, Failure) and not name.startswith(("ready:", "metrics:"))
        ],
    )


async def replay_dead_letter(api: PlatformApi, token: str, service: str, dead_letter_id: str) -> None:
    if service not in CONSUMING_SERVICES:
        raise ApiError("console", 404, "service_not_found", {"en": "No such service.", "fr": "Service inconnu."})
    await api.call(service, "POST", f"/v1/dead-letters/{quote(dead_letter_id, safe='')}/replay", token=token)


async def replay_delivery(api: PlatformApi, token: str, delivery_id: str) -> None:
    await api.call("notify", "POST", f"/v1/deliveries/{quote(delivery_id, safe='')}/replay", token=token)
