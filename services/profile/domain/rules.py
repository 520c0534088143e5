"""Segments and trigger rules as data: the segments a profile is in, the triggers a change fires, whom to contact."""

import dataclasses
import difflib
import hashlib
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Annotated, Any, Self
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from services.profile.domain.history import PERFORMANCE_FACTS, PROFILE_FACTS
from services.profile.domain.rule_conditions import (
    CAUSE_PERFORMANCE_AT,
    Condition,
    ConditionSpec,
    Duration,
    FieldName,
    FieldTest,
    MomentFieldName,
    Op,
    Profile,
    add_months,
    fields_named,
    is_present,
    time_tests_of,
)
from services.profile.domain.seasons import DEFAULT_TIMEZONE
from shared.addresses import postal_line
from shared.bilingual import bilingual_problem
from shared.events.common import SLUG_PATTERN, Channel, ConsentPurpose, Language, LongText, ShortText
from shared.events.profile import ContactPoint, TriggerFiredV1
from shared.events.registry import all_event_types
from shared.records import quick_init
from shared.uuids import uuid5_text
from shared.yaml_models import load_yaml_model

# How late an anniversary (`counted_from` with `year` or `month`) is still marked: the sweep wakes on the day, so
# only a stop of the service makes it late. One passed longer ago, found when an older date is imported (a first
# gift from years back), waits for the next rather than celebrating a day long gone.
ANNIVERSARY_LATENESS = timedelta(days=7)
TRIGGER_NAMESPACE = UUID("6d2f8a41-3c9e-4b7d-9f15-2a8e0c4b7d93")
DEFAULT_LANGUAGE: Language = "fr"  # Québec organisations address a patron in French unless told otherwise.
# Contact details reach a person only through consent-checked contact points, never through a trigger's facts.
_CONTACT_FIELDS = frozenset({"emails", "undeliverable_emails", "phones", "street", "address_2"})
_CHANNEL_OF_PURPOSE = {
    ConsentPurpose.MARKETING_EMAIL: Channel.EMAIL,
    ConsentPurpose.SMS: Channel.SMS,
    ConsentPurpose.POSTAL: Channel.POSTAL,
    ConsentPurpose.SURVEY: Channel.EMAIL,
}


def _slug(name: str) -> str:
    if re.fullmatch(SLUG_PATTERN, name) is None:
        raise bilingual_problem(
            "name_not_a_slug",
            en=f"`{name}` cannot be a name: use 2 to 63 lowercase letters, digits and dashes, such as `lapsed-buyers`",
            fr=f"`{name}` ne peut pas être un nom : utilisez de 2 à 63 lettres minuscules, chiffres et tirets, comme "
            "`lapsed-buyers`",
        )
    return name


def _read_as_text(name: Any) -> Any:
    # Unquoted, YAML reads a name such as `on` or `no` as true or false, and `2026` as a number.
    if isinstance(name, bool):
        raise bilingual_problem(
            "name_not_text",
            en="YAML reads yes, no, on, off, true and false without quotes as true or false: put the name in quotes, "
            "such as 'on'",
            fr="sans guillemets, YAML lit yes, no, on, off, true et false comme vrai ou faux : mettez le nom entre "
            "guillemets, comme 'on'",
        )
    if isinstance(name, int | float):
        raise bilingual_problem(
            "name_not_text",
            en=f"YAML reads {name!r} as a number: put the name in quotes, such as '2026'",
            fr=f"YAML lit {name!r} comme un nombre : mettez le nom entre guillemets, comme '2026'",
        )
    if isinstance(name, date):
        raise bilingual_problem(
            "name_not_text",
            en=f"YAML reads {name.isoformat()} as a date: put the name in quotes, such as '{name}'",
            fr=f"YAML lit {name.isoformat()} comme une date : mettez le nom entre guillemets, comme '{name}'",
        )
    return name


def _event_type_name(name: str) -> str:
    """An event type a profile change can be caused by: an upstream fact the profile folds. Any other (a segment
    entered, a merge) never is, and a rule `on` it would never fire."""
    causes = {event_type.name for event_type in all_event_types() if issubclass(event_type.model, PROFILE_FACTS)}
    if name not in causes:
        near = difflib.get_close_matches(name, causes, n=1)
        hint, hint_fr = (f"; did you mean `{near[0]}`?", f" ; vouliez-vous dire `{near[0]}` ?") if near else ("", "")
        known = {event_type.name for event_type in all_event_types()}
        what, what_fr = (
            ("an event type that changes a profile", "un type d'événement qui change un profil")
            if name in known
            else ("an event type", "un type d'événement")
        )
        raise bilingual_problem(
            "unknown_event_type", en=f"`{name}` is not {what}{hint}", fr=f"`{name}` n'est pas {what_fr}{hint_fr}"
        )
    return name


def _fact_field(name: str) -> str:
    if name in _CONTACT_FIELDS:
        raise bilingual_problem(
            "contact_in_facts",
            en=f"`{name}` reaches the person only as a consented contact point",
            fr=f"`{name}` ne parvient à la personne que par un point de contact auquel elle a consenti",
        )
    return name


def _said(text: str) -> str:
    # Spaces alone pass for a title in the file and show staff nothing in the tools.
    if not text.strip():
        raise bilingual_problem(
            "blank_text",
            en="it is blank: write what staff should read",
            fr="il est vide : écrivez ce que le personnel doit lire",
        )
    return text


Name = Annotated[str, BeforeValidator(_read_as_text), AfterValidator(_slug)]
SaidText = Annotated[ShortText, AfterValidator(_said)]
SaidLongText = Annotated[LongText, AfterValidator(_said)]
EventTypeName = Annotated[str, AfterValidator(_event_type_name)]
FactField = Annotated[FieldName, AfterValidator(_fact_field)]


class _Bilingual(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _in_both_languages(cls, data: Any) -> Any:
        if isinstance(data, str):
            raise bilingual_problem(
                "not_bilingual",
                en="give it in French and in English, such as {fr: Donateurs, en: Donors}",
                fr="donnez-le en français et en anglais, comme {fr: Donateurs, en: Donors}",
            )
        return data


class BilingualTitle(_Bilingual):
    fr: SaidText = Field(description="The title in French.")
    en: SaidText = Field(description="The title in English.")


class BilingualDescription(_Bilingual):
    fr: SaidLongText = Field(description="The description in French.")
    en: SaidLongText = Field(description="The description in English.")


# Segments


class SegmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: BilingualTitle = Field(description="What staff see in the tools, in both languages.")
    description: BilingualDescription = Field(description="Who is in the segment, in plain words, in both languages.")
    when: ConditionSpec = Field(description="The condition a profile meets to be in the segment.")

    @model_validator(mode="after")
    def _reads_the_profile_alone(self) -> Self:
        if CAUSE_PERFORMANCE_AT in fields_named(self.when.compile()):
            raise bilingual_problem(
                "cause_field_in_segment",
                en=f"`{CAUSE_PERFORMANCE_AT}` is the performance of the fact a trigger handles; a segment has none",
                fr=f"`{CAUSE_PERFORMANCE_AT}` est la représentation du fait que traite un déclencheur ; un segment "
                "n'en a pas",
            )
        return self


class SegmentsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    segments: dict[Name, SegmentSpec] = Field(default_factory=dict, description="Segments by name.")


@dataclass(frozen=True, slots=True)
class Segment:
    name: str
    title: BilingualTitle
    description: BilingualDescription
    condition: Condition
    time_tests: tuple[FieldTest, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_tests", time_tests_of(self.condition))


@dataclass(frozen=True, slots=True)
class SegmentDefinitions:
    segments: tuple[Segment, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(segment.name for segment in self.segments)


def load_segments(yaml_text: str, *, file_name: str = "segments.yaml") -> SegmentDefinitions:
    """The segments a YAML file defines; raises `shared.yaml_models.ConfigFileError` naming each bad line."""
    loaded = load_yaml_model(yaml_text, SegmentsFile, file_name=file_name)
    return SegmentDefinitions(
        tuple(
            Segment(name, spec.title, spec.description, spec.when.compile()) for name, spec in loaded.segments.items()
        )
    )


def evaluate_segments(
    definitions: SegmentDefinitions, profile: Profile, as_of: datetime, zone: tzinfo = DEFAULT_TIMEZONE
) -> frozenset[str]:
    """The names of the segments `profile` is in at `as_of`, months and years counted on `zone`'s calendar (the
    organisation's)."""
    _require_aware(as_of)
    local = as_of.astimezone(zone)
    return frozenset(segment.name for segment in definitions.segments if segment.condition.holds(profile, local))


@quick_init
@dataclass(frozen=True, slots=True)
class SegmentChanges:
    entered: tuple[str, ...]
    exited: tuple[str, ...]


def segment_changes(before: Set[str], after: Set[str]) -> SegmentChanges:
    """Segments entered and exited between two memberships, each sorted by name."""
    return SegmentChanges(entered=tuple(sorted(after - before)), exited=tuple(sorted(before - after)))


# Trigger rules


class Period(StrEnum):
    """How often a rule may fire for one person: the part of its dedupe key that is not the rule or the person."""

    ONCE = "once"
    SEASON = "season"
    YEAR = "year"
    MONTH = "month"
    PER_EVENT = "per_event"
    # Once per performance the causing fact is about: two tickets scanned at one show are one performance.
    PER_PERFORMANCE = "per_performance"


# Periods keyed by the causing fact, never by time: such a rule fires on events only, never in the sweep.
_EVENT_PERIODS = frozenset({Period.PER_EVENT, Period.PER_PERFORMANCE})


class TriggerSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: BilingualTitle = Field(description="What staff see in the tools, in both languages.")
    description: LongText = Field(description="What the rule is for, in plain words.")
    when: ConditionSpec = Field(description="The condition the profile enters for the rule to fire.")
    while_: ConditionSpec | None = Field(
        default=None,
        alias="while",
        description="A condition the profile must be in as well when it enters `when`; entering it fires nothing.",
    )
    on: tuple[EventTypeName, ...] | None = Field(
        default=None,
        description="Evaluate only when one of these event types caused the change; never in the time sweep.",
    )
    period: Period = Field(description="At most one firing per person and period.")
    counted_from: MomentFieldName | None = Field(
        default=None,
        description="A date the period is counted from: with `once`, once per value of the date; with `year` or "
        "`month`, years or months since it (anniversaries) rather than calendar ones.",
    )
    purpose: ConsentPurpose | None = Field(
        default=None, description="What the trigger contacts the person for; omit when it contacts no one."
    )
    facts: tuple[FactField, ...] = Field(default=(), description="Profile fields copied into the trigger.")

    @model_validator(mode="before")
    @classmethod
    def _on_is_a_key(cls, data: Any) -> Any:
        # YAML 1.1 reads a bare `on` as the boolean true, even as a key.
        if isinstance(data, dict) and True in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @field_validator("on")
    @classmethod
    def _names_an_event_type(cls, event_types: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if event_types is not None and not event_types:
            raise bilingual_problem(
                "list_empty",
                en="needs at least one event type; to fire on any change, leave `on` out",
                fr="il faut au moins un type d'événement ; pour réagir à tout changement, retirez `on`",
            )
        return event_types

    @model_validator(mode="after")
    def _counted_from_fits_period(self) -> Self:
        if self.counted_from is not None and (self.period is Period.SEASON or self.period in _EVENT_PERIODS):
            raise bilingual_problem(
                "counted_from_not_allowed",
                en=f"`counted_from` applies to once, year and month, not to {self.period}",
                fr=f"`counted_from` s'applique à once, year et month, pas à {self.period}",
            )
        return self

    @model_validator(mode="after")
    def _while_guards_a_rule_fired_on_entering(self) -> Self:
        if self.while_ is None:
            return self
        timed = time_tests_of(self.when.compile()) or time_tests_of(self.while_.compile())
        if timed or self.period in _EVENT_PERIODS or (self.counted_from is not None and self.period in _STEP_MONTHS):
            raise bilingual_problem(
                "while_not_allowed",
                en="`while` applies to a rule fired when the profile enters `when`, without time tests, anniversaries "
                "or a per-event period: this one fires whenever its condition holds",
                fr="`while` s'applique à une règle déclenchée quand le profil entre dans `when`, sans test de temps, "
                "anniversaire ni période par événement : celle-ci se déclenche tant que sa condition tient",
            )
        return self

    @model_validator(mode="after")
    def _cause_fields_in_per_performance_rules(self) -> Self:
        guarded = fields_named(self.while_.compile()) if self.while_ is not None else frozenset()
        named = fields_named(self.when.compile()) | guarded | set(self.facts) | {self.counted_from}
        if self.period is not Period.PER_PERFORMANCE and CAUSE_PERFORMANCE_AT in named:
            raise bilingual_problem(
                "cause_field_needs_per_performance",
                en=f"`{CAUSE_PERFORMANCE_AT}` is the performance of the fact handled; only `per_performance` rules "
                "handle one",
                fr=f"`{CAUSE_PERFORMANCE_AT}` est la représentation du fait traité ; seules les règles "
                "`per_performance` en traitent une",
            )
        return self

    @model_validator(mode="after")
    def _per_performance_follows_performance_facts(self) -> Self:
        if self.period is not Period.PER_PERFORMANCE:
            return self
        about_performances = sorted(
            event_type.name for event_type in all_event_types() if event_type.model in PERFORMANCE_FACTS
        )
        others = sorted(set(self.on or ()) - set(about_performances))
        if self.on is None or others:
            listed = ", ".join(f"`{name}`" for name in others)
            named, named_fr = "", ""
            if others:
                concerns = "ne concerne" if len(others) == 1 else "ne concernent"
                named, named_fr = f"; {listed} is about no performance", f" ; {listed} {concerns} aucune représentation"
            raise bilingual_problem(
                "per_performance_needs_performance_events",
                en=f"`per_performance` needs `on` to list only events about a performance "
                f"({', '.join(about_performances)}){named}",
                fr=f"`per_performance` demande que `on` ne liste que des événements sur une représentation "
                f"({', '.join(about_performances)}){named_fr}",
            )
        return self


class TriggersFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    triggers: dict[Name, TriggerSpec] = Field(default_factory=dict, description="Trigger rules by name.")


@dataclass(frozen=True, slots=True)
class TriggerRule:
    name: str
    title: BilingualTitle
    description: str
    condition: Condition
    on: frozenset[str] | None
    period: Period
    counted_from: str | None
    purpose: ConsentPurpose | None
    facts: tuple[str, ...]
    # The rule's `while`: it must hold as well for the rule to fire, but its coming to hold alone fires nothing (a
    # patron reaching a third production without a pass is offered one, not one whose pass ran out since).
    guard: Condition | None = None
    time_tests: tuple[FieldTest, ...] = dataclasses.field(init=False, repr=False, compare=False)
    # Whether the rule fires whenever its condition holds, not only when a change makes it hold: time alone can
    # make a time-based condition hold, with no change to compare, or bring an anniversary of `counted_from`, and
    # for a per-event rule the event is the occasion. The dedupe key is what keeps these from firing twice in one
    # period.
    fires_while_true: bool = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        guarded = time_tests_of(self.guard) if self.guard is not None else ()
        object.__setattr__(self, "time_tests", time_tests_of(self.condition) + guarded)
        counts_anniversaries = self.counted_from is not None and self.period in _STEP_MONTHS
        object.__setattr__(
            self,
            "fires_while_true",
            self.period in _EVENT_PERIODS or bool(self.time_tests) or counts_anniversaries,
        )


@dataclass(frozen=True, slots=True)
class TriggerRules:
    rules: tuple[TriggerRule, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.rules)


def load_triggers(yaml_text: str, *, file_name: str = "triggers.yaml") -> TriggerRules:
    """The trigger rules a YAML file defines; raises `shared.yaml_models.ConfigFileError` naming each bad line."""
    loaded = load_yaml_model(yaml_text, TriggersFile, file_name=file_name)
    return TriggerRules(
        tuple(
            TriggerRule(
                name=name,
                title=spec.title,
                description=spec.description,
                condition=spec.when.compile(),
                on=frozenset(spec.on) if spec.on is not None else None,
                period=spec.period,
                counted_from=spec.counted_from,
                purpose=spec.purpose,
                facts=spec.facts,
                guard=spec.while_.compile() if spec.while_ is not None else None,
            )
            for name, spec in loaded.triggers.items()
        )
    )


@dataclass(frozen=True, slots=True)
class TriggerDecision:
    """A rule fired for a person; publish it unless its dedupe key was already stored."""

    rule: str
    trigger_id: str
    purpose: ConsentPurpose | None
    dedupe_key: str
    person_id: str
    language: Language
    contact_points: tuple[tuple[Channel, str], ...]
    facts: Mapping[str, Any]
    fired_at: datetime

    def as_event(self) -> TriggerFiredV1:
        return TriggerFiredV1(
            trigger_id=self.trigger_id,
            rule=self.rule,
            purpose=self.purpose,
            dedupe_key=self.dedupe_key,
            person_id=self.person_id,
            language=self.language,
            contact_points=[ContactPoint(channel=channel, value=value) for channel, value in self.contact_points],
            facts=dict(self.facts),
            fired_at=self.fired_at,
        )


def evaluate_triggers(
    rules: TriggerRules,
    before: Profile,
    after: Profile,
    *,
    as_of: datetime,
    cause_event_type: str | None,
    cause_event_id: str | None,
    cause_performance_id: str | None = None,
    cause_performance_at: datetime | None = None,
    person_id: str,
    conditions_only: bool = False,
    zone: tzinfo = DEFAULT_TIMEZONE,
    sent: Collection[str] = (),
) -> list[TriggerDecision]:
    """The rules that fire for a change from `before` to `after`, in file order.

    A rule fires when its condition holds after the change and did not before in the same period (a season's
    rule holding at the end of one season and the start of the next fires for the new one), its `while` holding
    after the change too; a time-based,
    anniversary or per-event rule fires whenever its condition holds (see `TriggerRule.fires_while_true`), so the
    caller must store each dedupe key under a unique index and publish only decisions whose key is new. For the
    time sweep, pass the profile as both `before` and `after` and no cause: rules restricted by `on` and per-event
    rules then skip.
    `cause_performance_id` is the performance the causing fact is about (`history.performance_about`), which keys
    `per_performance` rules; without it they skip; `cause_performance_at`, its start, is the condition's
    `cause.performance_at`. With `conditions_only` (a merge), only the rules that fire when
    their condition comes to hold, counted by a fixed period, are looked at: time-based ones are the sweep's, and a
    period counted from a date the merge may change would count anew what a person merged in was sent. `sent` holds
    what the person was sent, as `rule:period` (their dedupe keys without the person): a rule fired once per moment
    it is counted from is not fired for a moment older than one it was sent for, nor for one less than a lapse after it
    (see `_asked_for_this_lapse`).
    """
    _require_aware(as_of)
    # Months and years of the conditions are counted on the organisation's calendar.
    local = as_of.astimezone(zone)
    judged = {**after, CAUSE_PERFORMANCE_AT: cause_performance_at} if cause_performance_at is not None else after
    decisions = []
    for rule in rules.rules:
        if rule.on is not None and cause_event_type not in rule.on:
            continue
        if conditions_only and (rule.fires_while_true or rule.counted_from is not None):
            continue
        if not rule.condition.holds(judged, local) or (rule.guard is not None and not rule.guard.holds(judged, local)):
            continue
        period_key = _period_key(rule, after, as_of, cause_event_id, cause_performance_id, zone)
        if period_key is None or _anniversary_long_past(rule, after, as_of, zone):
            continue
        if (
            rule.period is Period.ONCE
            and rule.counted_from is not None
            and _asked_for_this_lapse(rule, period_key, sent, zone)
        ):
            continue
        # Held before in the same period: the change did not make it hold. A new season is a new chance: three
        # productions of the coming season booked in summer make the offer when that season begins. The `while`
        # is not asked of `before`: a profile entering it alone (a pass run out) did not enter the condition.
        if (
            not rule.fires_while_true
            and rule.condition.holds(before, local)
            and _period_key(rule, before, as_of, cause_event_id, cause_performance_id, zone) == period_key
        ):
            continue
        dedupe_key = _dedupe_key(rule.name, person_id, period_key)
        decisions.append(
            TriggerDecision(
                rule=rule.name,
                trigger_id=uuid5_text(TRIGGER_NAMESPACE, dedupe_key),
                purpose=rule.purpose,
                dedupe_key=dedupe_key,
                person_id=person_id,
                language=_language(after),
                contact_points=tuple(contact_points(after, rule.purpose, as_of=as_of)) if rule.purpose else (),
                facts={name: judged.get(name) for name in rule.facts},
                fired_at=as_of,
            )
        )
    return decisions


_MOMENT_KEY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def _asked_for_this_lapse(rule: TriggerRule, period_key: str, sent: Collection[str], zone: tzinfo) -> bool:
    """Whether a rule fired once per moment it is counted from (a lapse) was sent for `period_key`'s moment, for a
    later one, or for one less than a lapse before it.

    The moment may move back: a lapsed buyer is counted from their last purchase kept, which goes back a year when
    their latest order is refunded in full. Asked to come back after that order, the patron is not asked again for
    the older one. It may also move on without the patron having come back: an old history imported purchase after
    purchase brings last purchases days apart, each a year old. The patron lapsed once, and is asked once; a moment
    is new only a whole lapse (the rule's `older_than` on the field it is counted from) after the one they were asked
    about, when they came back after being asked."""
    if not _MOMENT_KEY.fullmatch(period_key):
        return False
    moment = _key_moment(period_key)
    lapses = [
        test.value
        for test in rule.time_tests
        if test.field == rule.counted_from and test.op is Op.OLDER_THAN and isinstance(test.value, Duration)
    ]
    prefix = f"{rule.name}:"
    for key in sent:
        period = key.removeprefix(prefix)
        if not key.startswith(prefix) or _MOMENT_KEY.fullmatch(period) is None:
            continue
        # Keys of one format, in UTC: their text sorts as their moments do.
        if period >= period_key:
            return True
        asked_about = _key_moment(period)
        if any(moment < lapse.after(asked_about, zone) for lapse in lapses):
            return True
    return False


def _key_moment(period_key: str) -> datetime:
    return datetime.strptime(period_key, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


# What a `trigger fired` event carries at most (an upstream id's length), and the longest period kept as it is: a
# rule's name (63 at most) and a person's id leave it room.
MAX_DEDUPE_KEY = 256
LONGEST_PERIOD_KEY = 128


def _dedupe_key(rule_name: str, person_id: str, period_key: str) -> str:
    """`<rule>:<person>:<period>`; a period longer than `LONGEST_PERIOD_KEY` (a long performance id) is named by its
    digest instead, as stable and as distinct, and the same for every person: keys of persons merged into one
    compare by their period. A whole key still too long is a digest of itself after its first characters."""
    if len(period_key) > LONGEST_PERIOD_KEY:
        period_key = "#" + hashlib.sha256(period_key.encode()).hexdigest()
    key = f"{rule_name}:{person_id}:{period_key}"
    if len(key) <= MAX_DEDUPE_KEY:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: MAX_DEDUPE_KEY - len(digest) - 1]}#{digest}"


def _period_key(
    rule: TriggerRule,
    profile: Profile,
    as_of: datetime,
    cause_event_id: str | None,
    cause_performance_id: str | None,
    zone: tzinfo,
) -> str | None:
    """The period part of the dedupe key, or None when the period cannot be named (no season, event, performance
    or date). A calendar year or month, and an anniversary, are the organisation's (`zone`): an evening on October 31
    in Montréal is November in UTC."""
    if rule.period is Period.PER_EVENT:
        return cause_event_id
    if rule.period is Period.PER_PERFORMANCE:
        return cause_performance_id
    if rule.period is Period.SEASON:
        label = profile.get("season.current.label")
        return label if is_present(label) else None
    if rule.counted_from is not None:
        anchor = profile.get(rule.counted_from)
        if not isinstance(anchor, datetime):
            return None
        if rule.period is Period.ONCE:
            # In UTC, so the key does not depend on the offset the date happened to be stored with.
            return anchor.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        # Dated in UTC, as the keys of anniversaries counted in UTC were: keyed by its date in the organisation's
        # zone, every evening's anniversary would change key, and one sent in the week before an upgrade would go out
        # again. Dated so, only rare ones change: a month-end day that UTC and the zone clamp differently, and a time
        # within an hour of midnight UTC on the other side of a change of summer time.
        return _anniversary(anchor, as_of, _STEP_MONTHS[rule.period], zone).strftime("%Y-%m-%d")
    local = as_of.astimezone(zone)
    if rule.period is Period.YEAR:
        return f"{local.year}"
    if rule.period is Period.MONTH:
        return f"{local.year}-{local.month:02}"
    return "once"


_STEP_MONTHS = {Period.YEAR: 12, Period.MONTH: 1}


def _anniversary_long_past(rule: TriggerRule, profile: Profile, as_of: datetime, zone: tzinfo) -> bool:
    """Whether `rule` counts anniversaries and the latest one passed ANNIVERSARY_LATENESS ago or more."""
    if rule.counted_from is None or rule.period not in _STEP_MONTHS:
        return False
    anchor = profile.get(rule.counted_from)
    if not isinstance(anchor, datetime):
        return False
    return as_of - _anniversary(anchor, as_of, _STEP_MONTHS[rule.period], zone) >= ANNIVERSARY_LATENESS


def _anniversary(anchor: datetime, as_of: datetime, step_months: int, zone: tzinfo, *, later: int = 0) -> datetime:
    """The latest anniversary of `anchor` by `as_of` (`anchor` itself if later), or the `later`-th after it, in UTC.

    Counted on the organisation's calendar (`zone`) at the hour of `anchor` there: a first purchase at 20:00 on
    January 30 in Montréal, January 31 in UTC, has its monthly anniversaries at 20:00 on February 28 and April 30
    in Montréal, not on the 27th and the 29th.
    """
    local = anchor.astimezone(zone)
    steps = _steps_since(local, as_of.astimezone(UTC), step_months) + later
    return add_months(local, steps * step_months).astimezone(UTC)


def _steps_since(anchor: datetime, as_of: datetime, step_months: int) -> int:
    """The largest n ≥ 0 with `anchor + n × step` not after `as_of` (0 when `anchor` is later than `as_of`).

    Each step is counted from `anchor` itself, so a day clamped once (Feb 29 → Feb 28) comes back (Feb 29).
    """
    moment = as_of.astimezone(anchor.tzinfo)
    steps = max(0, ((moment.year - anchor.year) * 12 + moment.month - anchor.month) // step_months)
    while steps > 0 and add_months(anchor, steps * step_months) > as_of:
        steps -= 1
    return steps


def _language(profile: Profile) -> Language:
    language = profile.get("preferred_language")
    if language == "en":
        return "en"
    return DEFAULT_LANGUAGE


# Contact points


# As many contact points as `TriggerFiredV1` carries: a patron seen with more addresses over the years keeps the
# most recent ones.
MAX_CONTACT_POINTS = 20


def contact_points(
    profile: Profile, purpose: ConsentPurpose, *, as_of: datetime | None = None
) -> list[tuple[Channel, str]]:
    """The channels and values consent allows for `purpose`, without duplicates; empty when consent is lacking.

    Consent counts only when `consent.<purpose>.allowed` is exactly true and, given `as_of`, has not expired by
    then (a stored `allowed` can be older than an implied consent's end). Addresses in `undeliverable_emails` are
    left out: a tool told to write there would bounce, or have the address cleaned already.
    """
    purpose = ConsentPurpose(purpose)
    if profile.get(f"consent.{purpose}.allowed") is not True:
        return []
    expires_at = profile.get(f"consent.{purpose}.expires_at")
    if as_of is not None and isinstance(expires_at, datetime) and expires_at <= as_of:
        return []
    channel = _CHANNEL_OF_PURPOSE[purpose]
    if channel is Channel.POSTAL:
        values = [postal_line(profile)]
    elif channel is Channel.SMS:
        values = list(profile.get("phones") or ())
    else:
        dead = {email for email in profile.get("undeliverable_emails") or () if isinstance(email, str)}
        values = [email for email in profile.get("emails") or () if isinstance(email, str) and email not in dead]
    usable = [(channel, value) for value in dict.fromkeys(values) if isinstance(value, str) and value.strip()]
    # The most recent first (the profile lists them so), as many as a trigger carries.
    return usable[:MAX_CONTACT_POINTS]


# The time sweep


def time_conditions_due(
    definitions: Iterable[SegmentDefinitions | TriggerRules],
    profile: Profile,
    as_of: datetime,
    zone: tzinfo = DEFAULT_TIMEZONE,
) -> datetime | None:
    """The earliest moment after `as_of` at which time alone could change a segment or make a trigger fire.

    An over-approximation, never late: it is the earliest boundary of any time test (`last_purchase_at` older
    than 12 months changes at `last_purchase_at + 12 months`) whether or not the rest of the condition lets that
    boundary matter, and, for a time-based rule that holds now with a `year` or `month` period, the start of its
    next period (the next anniversary with `counted_from`). It assumes the profile does not change meanwhile:
    the caller recomputes it after every change. Rules restricted by `on` and per-event rules never fire in the
    sweep and are ignored; `season` periods end when the profile's season label changes, which is a change.
    None when nothing in the definitions depends on time for this profile.
    """
    _require_aware(as_of)
    candidates: list[datetime] = []
    for definition in definitions:
        if isinstance(definition, SegmentDefinitions):
            owners: Iterable[Segment | TriggerRule] = definition.segments
        else:
            swept = [rule for rule in definition.rules if rule.on is None and rule.period not in _EVENT_PERIODS]
            candidates.extend(_next_period_starts(swept, profile, as_of, zone))
            owners = swept
        for owner in owners:
            for test in owner.time_tests:
                candidates.extend(test.boundaries(profile, zone))
    return min((moment for moment in candidates if moment > as_of), default=None)


def _next_period_starts(
    rules: Iterable[TriggerRule], profile: Profile, as_of: datetime, zone: tzinfo
) -> Iterator[datetime]:
    """When the dedupe key of each time-based year or month rule that holds now next changes."""
    for rule in rules:
        if (
            rule.period not in _STEP_MONTHS
            or not rule.fires_while_true
            or not rule.condition.holds(profile, as_of.astimezone(zone))
        ):
            continue
        step = _STEP_MONTHS[rule.period]
        if rule.counted_from is None:
            # Midnight on the first of the organisation's next month or year.
            period_start = as_of.astimezone(zone).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            yield add_months(period_start.replace(month=1) if step == 12 else period_start, step)
            continue
        anchor = profile.get(rule.counted_from)
        if isinstance(anchor, datetime):
            # When the latest anniversary stops being marked, and when the next one is due.
            yield _anniversary(anchor, as_of, step, zone) + ANNIVERSARY_LATENESS
            yield _anniversary(anchor, as_of, step, zone, later=1)


def _require_aware(as_of: datetime) -> None:
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise ValueError("`as_of` needs a time zone: profile dates are compared as moments")
