"""What the console's pages show, worked out from the APIs' answers: pure functions, no I/O, so that every rule a
member relies on (may we email this person today? can this merge be undone?) is tested without a server."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from services.console.domain.i18n import Language, format_money, format_number, is_date

CONSENT_PURPOSES = ("marketing_email", "sms", "postal", "survey")
# Comparison levels a reviewer reads as "these agree"; `missing` says nothing either way.
AGREEING_LEVELS = frozenset(
    {
        "exact",
        "nickname_or_initial",
        "compound_part",
        "in_mailbox",
        "close",
        "same_address",
        "same_postal_code",
        "same_street",
        "typo",
        "near",
    }
)
# `same_local_part`: namesakes hold one user name at two providers as often as one person does.
NEUTRAL_LEVELS = frozenset({"missing", "same_area", "same_city", "same_year", "similar", "same_local_part"})


@dataclass(frozen=True)
class ContactAnswer:
    """The answer to "may we contact this person by email today?", with the message key that says why."""

    allowed: bool
    reason: str
    basis: str | None
    since: str | None
    until: str | None


def email_today(fields: Mapping[str, Any]) -> ContactAnswer:
    """Yes only with marketing-email consent valid today and an address to write to: one the profile does not
    list as undeliverable (it bounced hard or was cleaned since it was last given).

    The profile's `consent.marketing_email.allowed` is computed at the moment the page asks (express consent until
    withdrawn; implied consent until its CASL expiry)."""
    basis = fields.get("consent.marketing_email.basis")
    since = fields.get("consent.marketing_email.captured_at")
    until = fields.get("consent.marketing_email.expires_at")
    status = fields.get("consent.marketing_email.status") or "none"
    emails = fields.get("emails")
    if not emails:
        return ContactAnswer(False, "contact.no_email", basis, since, until)
    undeliverable = fields.get("undeliverable_emails") or ()
    if all(email in undeliverable for email in emails):
        return ContactAnswer(False, "contact.no_deliverable_email", basis, since, until)
    if fields.get("consent.marketing_email.allowed"):
        if basis == "express":
            return ContactAnswer(True, _dated("contact.express", since), basis, since, until)
        return ContactAnswer(True, _dated("contact.implied", until), basis, since, until)
    if status == "withdrawn":
        return ContactAnswer(False, _dated("contact.withdrawn", since), basis, since, until)
    if until is not None and status == "granted":
        return ContactAnswer(False, _dated("contact.expired", until), basis, since, until)
    return ContactAnswer(False, "contact.no_consent", basis, since, until)


def _dated(reason: str, moment: Any) -> str:
    """The message naming the date the answer rests on, or, with no date on file (or none that reads as one), the
    one that says so instead of printing a dash where the date would be."""
    return reason if is_date(moment) else f"{reason}_undated"


@dataclass(frozen=True)
class ConsentRow:
    purpose: str
    status: str
    basis: str | None
    captured_at: str | None
    expires_at: str | None
    allowed: bool
    source: str | None


def consent_rows(fields: Mapping[str, Any]) -> list[ConsentRow]:
    return [
        ConsentRow(
            purpose=purpose,
            status=fields.get(f"consent.{purpose}.status") or "none",
            basis=fields.get(f"consent.{purpose}.basis"),
            captured_at=fields.get(f"consent.{purpose}.captured_at"),
            expires_at=fields.get(f"consent.{purpose}.expires_at"),
            allowed=bool(fields.get(f"consent.{purpose}.allowed")),
            source=fields.get(f"consent.{purpose}.source"),
        )
        for purpose in CONSENT_PURPOSES
    ]


@dataclass(frozen=True)
class MergeRow:
    merge_id: str
    merged_person_ids: tuple[str, ...]
    # The kinds of identifier the merged persons shared (email, phone, external_id); none for a reviewer's merge.
    evidence_kinds: tuple[str, ...]
    # None when identity did not say.
    decided_by: str | None
    merged_at: str | None
    undone_at: str | None
    can_undo: bool


def merge_rows(person: Mapping[str, Any], person_id: str) -> list[MergeRow]:
    """The merges this person took part in, latest first. A merge can be undone from the survivor's page while it
    stands; the merged persons' pages show it for the record."""
    rows = [
        MergeRow(
            merge_id=merge["merge_id"],
            merged_person_ids=tuple(merge["merged_person_ids"]),
            evidence_kinds=tuple(
                sorted(
                    {
                        kind.partition(":")[0]
                        for item in merge.get("evidence") or ()
                        if (kind := item.get("identifier_type"))
                    }
                )
            ),
            decided_by=merge.get("decided_by"),
            merged_at=merge.get("merged_at"),
            undone_at=merge.get("undone_at"),
            can_undo=merge.get("undone_at") is None and merge["survivor_person_id"] == person_id,
        )
        for merge in person.get("merges") or ()
    ]
    # A merge identity gave no date for comes last.
    return sorted(rows, key=lambda row: row.merged_at or "", reverse=True)


@dataclass(frozen=True)
class SourceRow:
    source: str
    kinds: tuple[str, ...]


def sources_of(person: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> list[SourceRow]:
    """Each upstream system that knows the patron, with the kinds of identifier it gave (an email, an id...)."""
    kinds: dict[str, set[str]] = {source: set() for source in fields.get("sources") or ()}
    for identifier in (person or {}).get("identifiers") or ():
        source = identifier.get("source")
        if source:
            kinds.setdefault(source, set()).add(identifier["type"])
    return [SourceRow(source, tuple(sorted(kinds[source]))) for source in sorted(kinds)]


@dataclass(frozen=True)
class Production:
    title: str
    production_id: str
    performances: tuple[Mapping[str, Any], ...]
    tickets: int
    attended: int


@dataclass(frozen=True)
class SeasonTickets:
    season: str
    productions: tuple[Production, ...]
    tickets: int


def tickets_by_season(lines: Sequence[Mapping[str, Any]], language: Language) -> list[SeasonTickets]:
    """The ticket lines grouped by season (latest first), then by production (most recent performance first)."""
    seasons: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for line in sorted(lines, key=_starts_at, reverse=True):
        seasons.setdefault(line["season"], {}).setdefault(line["production_id"], []).append(line)
    grouped = []
    for season, productions in seasons.items():
        rows = tuple(
            Production(
                title=localized(performances[0].get("title"), language) or production_id,
                production_id=production_id,
                performances=tuple(performances),
                tickets=sum(line["tickets"] for line in performances),
                attended=sum(bool(line.get("attended")) for line in performances),
            )
            for production_id, performances in productions.items()
        )
        grouped.append(SeasonTickets(season, rows, sum(production.tickets for production in rows)))
    return grouped


def _starts_at(line: Mapping[str, Any]) -> datetime:
    """When the performance starts, as a moment: box offices write it with their own offset (`-04:00`, `+00:00`),
    so that its text does not sort in time. A time with no offset is taken as UTC; one that does not read as a
    time sorts last."""
    moment = parse_time(str(line.get("starts_at")))
    if moment is None:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def localized(text: Mapping[str, str | None] | None, language: Language) -> str | None:
    """The text in `language`, else in the other one."""
    if not text:
        return None
    other = Language.EN if language is Language.FR else Language.FR
    return text.get(language.value) or text.get(other.value)


def titles_by_name(definitions: Sequence[Mapping[str, Any]], language: Language) -> dict[str, str]:
    """Each segment's or trigger rule's title in `language`, by name, from profile's definitions."""
    return {
        str(definition["name"]): localized(definition.get("title"), language) or str(definition["name"])
        for definition in definitions
    }


@dataclass(frozen=True)
class Titled:
    name: str
    title: str


def titled(names: Sequence[str], titles: Mapping[str, str]) -> list[Titled]:
    """Names with their titles, in title order; a name profile has no title for (defined since) shows as itself."""
    return sorted((Titled(name, titles.get(name, name)) for name in names), key=lambda item: item.title.casefold())


# The period part of a trigger key for a rule that fires once per person, ever (`Period.ONCE` in profile).
ONCE = "once"


@dataclass(frozen=True)
class FiredTrigger:
    rule: str
    title: str
    # When the rule may fire again: a season, a year, a month, a date or an event id; None for once, ever.
    period: str | None


def fired_triggers(keys: Sequence[str], person_id: str, titles: Mapping[str, str]) -> list[FiredTrigger]:
    """Trigger keys read as rule and period (`rule:person:period`), each rule with its title."""
    fired = []
    for key in keys:
        rule, _, rest = key.partition(":")
        period = rest.removeprefix(f"{person_id}:") if rest.startswith(f"{person_id}:") else rest.partition(":")[2]
        fired.append(FiredTrigger(rule, titles.get(rule, rule), None if period in ("", ONCE) else period))
    return sorted(fired, key=lambda trigger: (trigger.title.casefold(), trigger.period or ""))


@dataclass(frozen=True)
class ComparedField:
    name: str
    left: str
    right: str
    level: str
    verdict: str  # agrees, differs or unknown
    # The right value is the other name: identity found the names agreeing only crossed (`name_order: swapped`), one
    # record's first name against the other's last name, and compared them so.
    crossed: bool = False


# The names' other halves, as identity compares them when it finds them swapped.
_CROSSED_NAMES = {"first_name": "last_name", "last_name": "first_name"}


def compare_for_review(
    left: Mapping[str, Any], right: Mapping[str, Any], agreements: Mapping[str, str]
) -> list[ComparedField]:
    """Two profiles' fields side by side with the level identity found for each comparison. With the names swapped,
    identity's name levels are those of the crossed names: each name is shown beside the one it was compared with
    (the left first name with the right last name, the left last name with the right first name)."""

    def shown(fields: Mapping[str, Any], name: str) -> str:
        if name == "address":
            # The second line too: two apartments at one civic number differ only there, often.
            parts = [fields.get("street"), fields.get("address_2"), fields.get("city"), fields.get("postal_code")]
            return ", ".join(part for part in parts if part) or "—"
        if name in ("email", "phone"):
            values = fields.get(f"{name}s") or []
            return ", ".join(values) or "—"
        value = fields.get(name)
        return str(value) if value else "—"

    swapped = agreements.get("name_order") == "swapped"
    rows = []
    for name in ("first_name", "last_name", "email", "phone", "address", "birth_date"):
        level = agreements.get(name, "missing")
        verdict = "agrees" if level in AGREEING_LEVELS else "unknown" if level in NEUTRAL_LEVELS else "differs"
        crossed = swapped and name in _CROSSED_NAMES
        against = _CROSSED_NAMES[name] if crossed else name
        rows.append(ComparedField(name, shown(left, name), shown(right, against), level, verdict, crossed))
    return rows


def event_summary(event: Mapping[str, Any], language: Language) -> str:
    """A few words on what a fact says beyond its type: the show, the amount, the list, the order cancelled."""
    data = event.get("data") or {}
    performance = data.get("performance") or data.get("to_performance")
    if isinstance(performance, Mapping):
        return localized(performance.get("title"), language) or str(performance.get("production_id", ""))
    for name in ("total", "amount"):
        money = data.get(name)
        if isinstance(money, Mapping) and "amount" in money:
            return _amount(money["amount"], money.get("currency"), language)
    for name in ("list_name", "list_id", "campaign_id", "network", "purpose", "form_id"):
        value = data.get(name)
        if isinstance(value, str):
            return value
    order_id = data.get("order_id")
    return f"#{order_id}" if isinstance(order_id, str) else ""


# The currency `format_money` writes as `$`: the organisations' own.
HOME_CURRENCY = "CAD"


def _amount(amount: Any, currency: Any, language: Language) -> str:
    if currency in (None, "", HOME_CURRENCY):
        return format_money(amount, language)
    # Another currency keeps its code, so that no one reads US dollars as Canadian ones.
    return f"{format_number(amount, language, decimals=2)}\u00a0{currency}"


@dataclass(frozen=True)
class Pager:
    """Links to the pages around a page of a list read forward by cursor (a segment's members by person id)."""

    first: str | None
    previous: str | None
    next: str | None


# How many pages back a list's links remember: each page's link carries one cursor per page remembered, so that
# its address stays short (a proxy refuses an address past 8 KB) at page 300 as at page 3. Beyond them, the first
# page is a link away.
PAGER_TRAIL = 20


def pager(
    base: str, cursor: str | None, trail: Sequence[str], next_cursor: str | None, *, trail_cut: bool = False
) -> Pager:
    """The API pages forward only, so each link carries the trail of cursors that led to its page: going back is
    returning to the last of them. `trail` holds the cursors of the pages before this one, the first page (which
    has none) left out; only the last PAGER_TRAIL are kept, and `trail_cut` (`cut=1` in a link) says that pages
    between the first and the trail's were forgotten, so that the trail's start has no previous page to link to."""
    if len(trail) > PAGER_TRAIL:
        trail, trail_cut = trail[-PAGER_TRAIL:], True

    def link(to: str, earlier: Sequence[str], cut: bool) -> str:
        params = [("cursor", to), *(("previous", cursor) for cursor in earlier), *([("cut", "1")] if cut else [])]
        return base + "?" + urlencode(params)

    if cursor is None:
        return Pager(None, None, link(next_cursor, (), False) if next_cursor else None)
    if trail:
        back: str | None = link(trail[-1], trail[:-1], trail_cut)
    else:
        back = None if trail_cut else base
    ahead = (*trail, cursor)
    forward = link(next_cursor, ahead[-PAGER_TRAIL:], trail_cut or len(ahead) > PAGER_TRAIL) if next_cursor else None
    return Pager(first=base if trail or trail_cut else None, previous=back, next=forward)


def origin_of(event: Mapping[str, Any]) -> str:
    """The upstream system a fact came from: its `source` path names the organisation, then the system."""
    data = event.get("data") or {}
    person = data.get("person") if isinstance(data, Mapping) else None
    if isinstance(person, Mapping) and isinstance(person.get("source"), str):
        return str(person["source"])
    return str(event.get("source") or "").rstrip("/").rpartition("/")[2]


def parse_time(value: str | None) -> datetime | None:
    try:
        return None if value is None else datetime.fromisoformat(value)
    except ValueError:
        return None
