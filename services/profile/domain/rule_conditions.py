"""The condition language of segments and trigger rules: safe tests on profile fields, checked when a file loads."""

import calendar
import dataclasses
import difflib
import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from services.profile.domain.scores import LifecycleStage
from shared.bilingual import BilingualValueError, bilingual_problem
from shared.events.common import ConsentPurpose, LegalBasis

Profile = Mapping[str, Any]


# Durations


class TimeUnit(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"
    YEARS = "years"


_CALENDAR_UNITS = frozenset({TimeUnit.MONTHS, TimeUnit.YEARS})

_UNIT_WORDS: dict[str, TimeUnit] = {
    **dict.fromkeys(("hour", "hours", "heure", "heures"), TimeUnit.HOURS),
    **dict.fromkeys(("day", "days", "jour", "jours"), TimeUnit.DAYS),
    **dict.fromkeys(("week", "weeks", "semaine", "semaines"), TimeUnit.WEEKS),
    **dict.fromkeys(("month", "months", "mois"), TimeUnit.MONTHS),
    **dict.fromkeys(("year", "years", "an", "ans", "année", "années", "annee", "annees"), TimeUnit.YEARS),
}
# Longest span each unit may state: a century is more than any marketing rule means, and it keeps dates in range.
_MAX_AMOUNT = {
    TimeUnit.HOURS: 876_600,
    TimeUnit.DAYS: 36_525,
    TimeUnit.WEEKS: 5_218,
    TimeUnit.MONTHS: 1_200,
    TimeUnit.YEARS: 100,
}
_UNIT_FR = {
    TimeUnit.HOURS: "heures",
    TimeUnit.DAYS: "jours",
    TimeUnit.WEEKS: "semaines",
    TimeUnit.MONTHS: "mois",
    TimeUnit.YEARS: "ans",
}
_DURATION_PATTERN = re.compile(r"^\s*(\d+)\s*([^\W\d_]+)\s*$")
_LATEST = datetime.max.replace(tzinfo=UTC)
_EARLIEST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Duration:
    """A span of calendar time such as `12 months`; months and years follow the calendar (Jan 31 + 1 month = Feb 28)."""

    amount: int
    unit: TimeUnit

    @classmethod
    def parse(cls, text: str) -> Self:
        """`12 months`, `30 days`, `2 years`, `18 mois`, `30 jours`; raises `BilingualValueError` (a `ValueError`)
        saying what is wrong in English and French."""
        match = _DURATION_PATTERN.match(text)
        if match is None:
            raise BilingualValueError(
                en=f"`{text}` is not a duration: write a whole number and a unit, such as `12 months`",
                fr=f"`{text}` n'est pas une durée : écrivez un nombre entier et une unité, comme `12 months`",
            )
        # Python refuses to read a number of over 4,300 digits: any amount of more than 9 is out of range anyway.
        digits = match[1].lstrip("0") or "0"
        amount, word = (int(digits) if len(digits) <= 9 else 10**9), match[2].lower()
        unit = _UNIT_WORDS.get(word)
        if unit is None:
            raise BilingualValueError(
                en=f"`{word}` is not a unit of time; use hours, days, weeks, months or years "
                f"(heures, jours, semaines, mois, ans)",
                fr=f"`{word}` n'est pas une unité de temps ; utilisez heures, jours, semaines, mois ou ans "
                f"(hours, days, weeks, months, years)",
            )
        if not 1 <= amount <= _MAX_AMOUNT[unit]:
            raise BilingualValueError(
                en=f"`{text}` is out of range: from 1 to {_MAX_AMOUNT[unit]} {unit.value}",
                fr=f"`{text}` est hors limites : de 1 à {_MAX_AMOUNT[unit]} {_UNIT_FR[unit]}",
            )
        return cls(amount, unit)

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value.removesuffix('s') if self.amount == 1 else self.unit.value}"

    def after(self, moment: datetime, zone: tzinfo | None = None) -> datetime:
        """`moment` plus this duration, months and years on the calendar of `zone` (the organisation's; `moment`'s
        own without it); a result past the calendar's end is the latest representable moment."""
        return self._shift(moment, 1, zone)

    def before(self, moment: datetime, zone: tzinfo | None = None) -> datetime:
        """`moment` minus this duration, as `after` counts it; a result before the calendar's start is the earliest
        representable moment."""
        return self._shift(moment, -1, zone)

    def _shift(self, moment: datetime, sign: int, zone: tzinfo | None) -> datetime:
        try:
            if self.unit in _CALENDAR_UNITS:
                months = self.amount * (12 if self.unit is TimeUnit.YEARS else 1)
                # The moment told by its wall time, zone and fold: aware moments at one instant compare and hash
                # alike whatever their zones, and the result keeps the moment's own zone.
                return _months_later(moment.replace(tzinfo=None), moment.tzinfo, moment.fold, sign * months, zone)
            return moment + sign * _span(self.amount, self.unit)
        except (OverflowError, ValueError):
            return _LATEST if sign > 0 else _EARLIEST


# Pure, and asked for each time test of each rule at every change: the same few moments and spans come back.
@functools.lru_cache(maxsize=16384)
def _months_later(
    wall_time: datetime, own_zone: tzinfo | None, fold: int, months: int, zone: tzinfo | None
) -> datetime:
    # Twelve months after 23:30 on March 8 in Montréal is 23:30 on March 8 there, whatever UTC's date and offset:
    # counted in UTC, it would come an hour late across a change of summer time, and a day early or late where UTC's
    # month ends elsewhere.
    moment = wall_time.replace(tzinfo=own_zone, fold=fold)
    local = moment if zone is None else moment.astimezone(zone)
    return add_months(local, months).astimezone(own_zone)


@functools.lru_cache(maxsize=64)
def _span(amount: int, unit: TimeUnit) -> timedelta:
    return timedelta(**{unit.value: amount})


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` moved by whole calendar months, the day clamped to the target month's length; ValueError off the end."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month_index = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError("outside the calendar")
    day = moment.day if moment.day <= 28 else min(moment.day, calendar.monthrange(year, month_index + 1)[1])
    return moment.replace(year=year, month=month_index + 1, day=day)


# The profile fields conditions may name


class FieldKind(Enum):
    TEXT = "text"
    NUMBER = "a number"
    MONEY = "an amount of money"
    FLAG = "true or false"
    MOMENT = "a date and time"
    TEXT_LIST = "a list of text"

    @property
    def fr(self) -> str:
        """What a field of this kind holds, as the French messages say it."""
        return _KIND_FR[self]


_KIND_FR = {
    FieldKind.TEXT: "du texte",
    FieldKind.NUMBER: "un nombre",
    FieldKind.MONEY: "un montant d'argent",
    FieldKind.FLAG: "vrai ou faux",
    FieldKind.MOMENT: "une date et une heure",
    FieldKind.TEXT_LIST: "une liste de textes",
}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    kind: FieldKind
    choices: frozenset[str] | None = None


def _consent_fields() -> dict[str, FieldSpec]:
    fields: dict[str, FieldSpec] = {}
    for purpose in ConsentPurpose:
        fields |= {
            f"consent.{purpose}.status": FieldSpec(FieldKind.TEXT, frozenset({"granted", "withdrawn", "none"})),
            f"consent.{purpose}.basis": FieldSpec(FieldKind.TEXT, frozenset(LegalBasis)),
            f"consent.{purpose}.expires_at": FieldSpec(FieldKind.MOMENT),
            f"consent.{purpose}.captured_at": FieldSpec(FieldKind.MOMENT),
            f"consent.{purpose}.source": FieldSpec(FieldKind.TEXT),
            f"consent.{purpose}.wording_version": FieldSpec(FieldKind.TEXT),
            f"consent.{purpose}.allowed": FieldSpec(FieldKind.FLAG),
        }
    return fields


def _season_fields() -> dict[str, FieldSpec]:
    fields: dict[str, FieldSpec] = {}
    for season in ("current", "previous"):
        fields |= {
            f"season.{season}.tickets": FieldSpec(FieldKind.NUMBER),
            f"season.{season}.productions": FieldSpec(FieldKind.NUMBER),
            f"season.{season}.spend": FieldSpec(FieldKind.MONEY),
            f"season.{season}.label": FieldSpec(FieldKind.TEXT),
        }
    return fields


def _of_kind(kind: FieldKind, *names: str) -> dict[str, FieldSpec]:
    return dict.fromkeys(names, FieldSpec(kind))


CAUSE_PERFORMANCE_AT = "cause.performance_at"
# The flat profile the profile service computes, by dotted name; a condition naming anything else is refused.
PROFILE_FIELDS: Mapping[str, FieldSpec] = {
    **_of_kind(FieldKind.TEXT, "first_name", "last_name", "household_id"),
    **_of_kind(FieldKind.TEXT, "street", "address_2", "city", "region", "postal_code", "country"),
    **_of_kind(FieldKind.TEXT_LIST, "emails", "undeliverable_emails", "phones", "sources", "external_ids"),
    "preferred_language": FieldSpec(FieldKind.TEXT, frozenset({"fr", "en"})),
    **_consent_fields(),
    **_of_kind(FieldKind.NUMBER, "tickets_bought", "performances_attended", "no_shows", "productions"),
    "ticket_spend": FieldSpec(FieldKind.MONEY),
    **_of_kind(FieldKind.TEXT_LIST, "genres", "venues"),
    **_of_kind(FieldKind.MOMENT, "first_purchase_at", "last_purchase_at", "last_performance_at"),
    "is_subscriber": FieldSpec(FieldKind.FLAG),
    "subscription_renewal_at": FieldSpec(FieldKind.MOMENT),
    "subscription_spend": FieldSpec(FieldKind.MONEY),
    **_season_fields(),
    "shop_orders": FieldSpec(FieldKind.NUMBER),
    "shop_spend": FieldSpec(FieldKind.MONEY),
    "last_order_at": FieldSpec(FieldKind.MOMENT),
    "shop_categories": FieldSpec(FieldKind.TEXT_LIST),
    "donations_count": FieldSpec(FieldKind.NUMBER),
    **_of_kind(FieldKind.MONEY, "donations_total", "largest_donation"),
    **_of_kind(FieldKind.MOMENT, "first_donation_at", "last_donation_at"),
    "newsletter_status": FieldSpec(FieldKind.TEXT, frozenset({"subscribed", "unsubscribed", "cleaned", "none"})),
    **_of_kind(FieldKind.NUMBER, "opens_30d", "opens_90d", "clicks_30d", "clicks_90d", "social_engagements", "bounces"),
    **_of_kind(FieldKind.NUMBER, "rfm.recency", "rfm.frequency", "rfm.monetary", "engagement_score"),
    # The three digits side by side ("545"), a code marketers read, not a quantity to compare.
    **_of_kind(FieldKind.TEXT, "rfm.score"),
    "lifecycle_stage": FieldSpec(FieldKind.TEXT, frozenset(LifecycleStage)),
    # Not the profile's: the start of the performance the fact being handled is about (a scan at the door before the
    # curtain rises, or one imported days later), for `per_performance` trigger rules.
    CAUSE_PERFORMANCE_AT: FieldSpec(FieldKind.MOMENT),
}


def known_field(name: str) -> str:
    """`name` if it is a profile field; raises a pydantic error suggesting the nearest name otherwise."""
    if name in PROFILE_FIELDS:
        return name
    near = difflib.get_close_matches(name, PROFILE_FIELDS, n=1)
    hint, hint_fr = (f"; did you mean `{near[0]}`?", f" ; vouliez-vous dire `{near[0]}` ?") if near else ("", "")
    raise bilingual_problem(
        "unknown_field",
        en=f"`{name}` is not a profile field{hint}",
        fr=f"`{name}` n'est pas un champ du profil{hint_fr}",
    )


def _of_kinds(*kinds: FieldKind) -> Callable[[str], str]:
    def check(name: str) -> str:
        kind = PROFILE_FIELDS[known_field(name)].kind
        if kind not in kinds:
            wanted = " or ".join(k.value for k in kinds)
            wanted_fr = " ou ".join(k.fr for k in kinds)
            raise bilingual_problem(
                "wrong_field_kind",
                en=f"`{name}` holds {kind.value}; this needs a field holding {wanted}",
                fr=f"`{name}` contient {kind.fr} ; il faut ici un champ qui contient {wanted_fr}",
            )
        return name

    return check


FieldName = Annotated[str, AfterValidator(known_field)]
NumericFieldName = Annotated[str, AfterValidator(_of_kinds(FieldKind.NUMBER, FieldKind.MONEY))]
MomentFieldName = Annotated[str, AfterValidator(_of_kinds(FieldKind.MOMENT))]


# Operators and the values they take


class Op(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    EXISTS = "exists"
    MISSING = "missing"
    WITHIN_LAST = "within_last"
    OLDER_THAN = "older_than"
    WITHIN_NEXT = "within_next"


TIME_OPS = frozenset({Op.WITHIN_LAST, Op.OLDER_THAN, Op.WITHIN_NEXT})
_ORDER_OPS = frozenset({Op.GT, Op.GTE, Op.LT, Op.LTE})
_SUM_OPS = _ORDER_OPS | {Op.EQ, Op.NE}
_SCALAR_KINDS = frozenset({FieldKind.TEXT, FieldKind.NUMBER, FieldKind.MONEY, FieldKind.FLAG})


class _NoValue:
    def __repr__(self) -> str:
        return "no value"


_NO_VALUE: Any = _NoValue()


def _scalar(shown: tuple[str, str], spec: FieldSpec, value: Any) -> Any:
    """`value` as a value of a field `spec` describes, money as an exact Decimal; raises a pydantic error if it cannot
    be one, naming what is compared as `shown` says it in English and French."""
    shown_en, shown_fr = shown
    kind = FieldKind.TEXT if spec.kind is FieldKind.TEXT_LIST else spec.kind
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if is_number and not math.isfinite(value):
        # YAML's `.nan` and `.inf`: no count or amount is either, and `.nan` is no Decimal to compare money with.
        raise bilingual_problem(
            "value_not_finite",
            en=f"{shown_en} is compared with a finite number, not {value!r}",
            fr=f"{shown_fr} se compare à un nombre fini, pas à {value!r}",
        )
    if kind is FieldKind.TEXT and isinstance(value, str):
        if spec.choices is not None and value not in spec.choices:
            choices = ", ".join(sorted(spec.choices))
            raise bilingual_problem(
                "value_not_a_choice",
                en=f"{shown_en} is one of {choices}, not `{value}`",
                fr=f"{shown_fr} prend l'une des valeurs {choices}, pas `{value}`",
            )
        return value
    if kind is FieldKind.NUMBER and is_number:
        return value
    if kind is FieldKind.MONEY and is_number:
        return Decimal(str(value))
    if kind is FieldKind.FLAG and isinstance(value, bool):
        return value
    hint = hint_fr = ""
    if kind is FieldKind.TEXT and (isinstance(value, bool) or is_number):
        # Unquoted, YAML reads Ontario's `ON` and Norway's `NO` as true and false, and a code of digits as a number.
        hint = (
            "; without quotes, YAML reads yes, no, on, off, true and false as true or false, and digits as a "
            "number: put the text in quotes, such as 'ON' or '555'"
        )
        hint_fr = (
            " ; sans guillemets, YAML lit yes, no, on, off, true et false comme vrai ou faux, et des chiffres comme "
            "un nombre : mettez le texte entre guillemets, comme 'ON' ou '555'"
        )
    raise bilingual_problem(
        "wrong_value_type",
        en=f"{shown_en} holds {kind.value}, so {value!r} cannot be compared with it{hint}",
        fr=f"{shown_fr} contient {kind.fr}, donc {value!r} ne peut pas lui être comparé{hint_fr}",
    )


def checked_value(name: str, op: Op, value: Any) -> Any:
    """The value a test of field `name` with `op` compares against, normalised; raises a pydantic error if unfit."""
    spec = PROFILE_FIELDS[name]
    kind = spec.kind
    if op in (Op.EXISTS, Op.MISSING):
        if value is not _NO_VALUE:
            raise bilingual_problem(
                "value_not_expected", en=f"`{op}` takes no value", fr=f"`{op}` ne prend pas de valeur"
            )
        return None
    if value is _NO_VALUE or value is None:
        raise _value_missing(op)
    if op in TIME_OPS:
        if kind is not FieldKind.MOMENT:
            raise bilingual_problem(
                "wrong_op_for_field",
                en=f"`{op}` compares dates, and `{name}` holds {kind.value}",
                fr=f"`{op}` compare des dates, et `{name}` contient {kind.fr}",
            )
        if not isinstance(value, str):
            raise bilingual_problem(
                "not_a_duration",
                en=f"`{op}` needs a duration such as `12 months` or `30 jours`",
                fr=f"`{op}` a besoin d'une durée, comme `12 months` ou `30 jours`",
            )
        try:
            return Duration.parse(value)
        except BilingualValueError as exc:
            raise bilingual_problem("not_a_duration", en=exc.en, fr=exc.fr) from None
    if kind is FieldKind.MOMENT:
        raise bilingual_problem(
            "wrong_op_for_field",
            en=f"`{name}` is a date: test it with within_last, older_than, within_next or exists",
            fr=f"`{name}` est une date : testez-la avec within_last, older_than, within_next ou exists",
        )
    if op in (Op.IN, Op.NOT_IN):
        if not isinstance(value, list) or not value:
            raise bilingual_problem(
                "not_a_list",
                en=f"`{op}` needs a list of values, such as [fr, en]",
                fr=f"`{op}` a besoin d'une liste de valeurs, comme [fr, en]",
            )
        return frozenset(_scalar(_field_named(name), spec, item) for item in value)
    if op is Op.CONTAINS:
        if kind is not FieldKind.TEXT_LIST:
            raise bilingual_problem(
                "wrong_op_for_field",
                en=f"`contains` tests a list, and `{name}` holds {kind.value}",
                fr=f"`contains` teste une liste, et `{name}` contient {kind.fr}",
            )
        if isinstance(value, list):
            raise bilingual_problem(
                "not_a_single_value",
                en="`contains` takes one value; for any of several, use `in`",
                fr="`contains` prend une seule valeur ; pour l'une de plusieurs, utilisez `in`",
            )
        return _scalar(_field_named(name), spec, value)
    if kind is FieldKind.TEXT_LIST:
        raise bilingual_problem(
            "wrong_op_for_field",
            en=f"`{name}` is a list: test it with contains, in, not_in or exists",
            fr=f"`{name}` est une liste : testez-la avec contains, in, not_in ou exists",
        )
    if op in _ORDER_OPS and kind not in (FieldKind.NUMBER, FieldKind.MONEY):
        raise bilingual_problem(
            "wrong_op_for_field",
            en=f"`{op}` compares numbers, and `{name}` holds {kind.value}",
            fr=f"`{op}` compare des nombres, et `{name}` contient {kind.fr}",
        )
    return _scalar(_field_named(name), spec, value)


def _value_missing(op: Op) -> Exception:
    return bilingual_problem("value_missing", en=f"`{op}` needs a `value`", fr=f"`{op}` a besoin d'une `value`")


def _checked_total(names: tuple[str, ...], op: Op, value: Any) -> Any:
    if op not in _SUM_OPS:
        ops = ", ".join(sorted(_SUM_OPS))
        raise bilingual_problem(
            "wrong_op_for_sum",
            en=f"a sum is compared with {ops}, not `{op}`",
            fr=f"une somme se compare avec {ops}, pas avec `{op}`",
        )
    if value is _NO_VALUE or value is None:
        raise _value_missing(op)
    return _scalar(("`the sum`", "la somme"), FieldSpec(PROFILE_FIELDS[names[0]].kind), value)


def _field_named(name: str) -> tuple[str, str]:
    return f"`{name}`", f"`{name}`"


# Conditions as written in a file


class ConditionSpec(BaseModel):
    """A condition as a file states it: `all:`, `any:`, `not:`, a field test, or a test of a sum of fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    all_of: "tuple[ConditionSpec, ...] | None" = Field(
        default=None, alias="all", description="Holds when every condition in the list holds."
    )
    any_of: "tuple[ConditionSpec, ...] | None" = Field(
        default=None, alias="any", description="Holds when at least one condition in the list holds."
    )
    negated: "ConditionSpec | None" = Field(default=None, alias="not", description="Holds when its condition fails.")
    field_name: FieldName | None = Field(default=None, alias="field", description="The profile field tested.")
    summed: tuple[NumericFieldName, ...] | None = Field(
        default=None, alias="sum", description="Fields added up (a missing one counts as 0), then tested."
    )
    op: Op | None = Field(default=None, description="How the field is compared with `value`.")
    value: Any = Field(default=_NO_VALUE, validate_default=True, description="What the field is compared with.")

    @model_validator(mode="before")
    @classmethod
    def _not_a_list(cls, data: Any) -> Any:
        # Conditions listed one under the other read as "all of these" to a person, but YAML gives no such meaning.
        if isinstance(data, list):
            raise bilingual_problem(
                "condition_is_a_list",
                en="a list of conditions goes under `all:` (each holds) or `any:` (one holds)",
                fr="une liste de conditions se met sous `all:` (toutes sont vraies) ou `any:` (l'une est vraie)",
            )
        return data

    # Emptiness is checked after the items (not with `min_length`), so a list whose one item is wrong is not
    # also reported as empty.
    @field_validator("all_of", "any_of")
    @classmethod
    def _not_empty(cls, parts: tuple["ConditionSpec", ...] | None) -> tuple["ConditionSpec", ...] | None:
        if parts is not None and not parts:
            raise bilingual_problem(
                "list_empty", en="needs at least one condition", fr="il faut au moins une condition"
            )
        return parts

    @field_validator("summed")
    @classmethod
    def _several_of_one_kind(cls, names: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if names is not None and len(names) < 2:
            raise bilingual_problem(
                "sum_too_short",
                en="a sum needs at least two fields; to test one, use `field`",
                fr="une somme demande au moins deux champs ; pour n'en tester qu'un, utilisez `field`",
            )
        # A field named twice counts twice: copied once too many, it would halve a threshold such as 2,500 $.
        repeated = sorted({name for name in names if names.count(name) > 1}) if names is not None else []
        if repeated:
            raise bilingual_problem(
                "sum_repeats_field",
                en=f"`{repeated[0]}` is in the sum twice: name each field once",
                fr=f"`{repeated[0]}` est deux fois dans la somme : nommez chaque champ une seule fois",
            )
        # Counts and amounts never add up to anything meaningful, and float + Decimal is an error.
        if names is not None and len({PROFILE_FIELDS[name].kind for name in names}) > 1:
            raise bilingual_problem(
                "sum_mixes_kinds",
                en="a sum adds fields of one kind: all numbers or all amounts of money",
                fr="une somme additionne des champs d'une même sorte : tous des nombres ou tous des montants d'argent",
            )
        return names

    @field_validator("value")
    @classmethod
    def _fits_field_and_op(cls, value: Any, info: ValidationInfo) -> Any:
        # Fields that failed their own validation are absent from `info.data`: their error is already reported.
        op = info.data.get("op")
        if op is None:
            return value
        if info.data.get("field_name") is not None:
            return checked_value(info.data["field_name"], op, value)
        if info.data.get("summed") is not None:
            return _checked_total(info.data["summed"], op, value)
        return value

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = {
            "all": self.all_of,
            "any": self.any_of,
            "not": self.negated,
            "field": self.field_name,
            "sum": self.summed,
        }
        given = [name for name, part in forms.items() if part is not None]
        if len(given) > 1:
            raise bilingual_problem(
                "condition_ambiguous",
                en=f"a condition is one of all, any, not, field or sum; this one has {' and '.join(given)}",
                fr=f"une condition prend un seul de all, any, not, field ou sum ; celle-ci a {' et '.join(given)}",
            )
        if not given:
            raise bilingual_problem(
                "condition_empty",
                en="a condition needs all, any, not, or a test: field (or sum), op and value",
                fr="une condition demande all, any, not, ou un test : field (ou sum), op et value",
            )
        is_test = given[0] in ("field", "sum")
        if is_test and self.op is None:
            raise bilingual_problem(
                "op_missing",
                en=f"a test needs `op`: one of {', '.join(Op)}",
                fr=f"un test a besoin de `op`, l'un de ceux-ci : {', '.join(Op)}",
            )
        if not is_test and (self.op is not None or self.value is not _NO_VALUE):
            raise bilingual_problem(
                "op_not_expected",
                en=f"`{given[0]}` combines conditions; `op` and `value` belong in a test",
                fr=f"`{given[0]}` combine des conditions ; `op` et `value` vont dans un test",
            )
        return self

    def compile(self) -> "Condition":
        """The runtime form of this condition."""
        if self.all_of is not None:
            return AllOf(tuple(part.compile() for part in self.all_of))
        if self.any_of is not None:
            return AnyOf(tuple(part.compile() for part in self.any_of))
        if self.negated is not None:
            return Not(self.negated.compile())
        assert self.op is not None, "the validator requires `op` in a test"
        if self.summed is not None:
            return SumTest(self.summed, self.op, self.value)
        assert self.field_name is not None, "the validator requires one form"
        return FieldTest(self.field_name, self.op, self.value)


# Conditions as evaluated


def is_present(value: Any) -> bool:
    """A value counts as present unless it is None, blank text or an empty list."""
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, list | tuple | set | frozenset):
        return bool(value)
    return True


def _equals(actual: Any, expected: Any, _as_of: datetime) -> bool:
    return actual is not None and bool(actual == expected)


def _differs(actual: Any, expected: Any, as_of: datetime) -> bool:
    return not _equals(actual, expected, as_of)


def _above(actual: Any, expected: Any, _as_of: datetime) -> bool:
    return actual is not None and bool(actual > expected)


def _at_least(actual: Any, expected: Any, _as_of: datetime) -> bool:
    return actual is not None and bool(actual >= expected)


def _below(actual: Any, expected: Any, _as_of: datetime) -> bool:
    return actual is not None and bool(actual < expected)


def _at_most(actual: Any, expected: Any, _as_of: datetime) -> bool:
    return actual is not None and bool(actual <= expected)


def _one_of(actual: Any, expected: frozenset[Any], _as_of: datetime) -> bool:
    return actual is not None and actual in expected


def _shares_one_of(actual: Any, expected: frozenset[Any], _as_of: datetime) -> bool:
    return actual is not None and any(item in expected for item in actual)


def _not_one_of(actual: Any, expected: frozenset[Any], as_of: datetime) -> bool:
    return not _one_of(actual, expected, as_of)


def _shares_none_of(actual: Any, expected: frozenset[Any], as_of: datetime) -> bool:
    return not _shares_one_of(actual, expected, as_of)


def _has(actual: Any, expected: Any, _as_of: datetime) -> bool:
    return actual is not None and expected in actual


def _exists(actual: Any, _expected: Any, _as_of: datetime) -> bool:
    return is_present(actual)


def _missing(actual: Any, _expected: Any, _as_of: datetime) -> bool:
    return not is_present(actual)


# Time tests hold on half-open spans, so at the moment `boundaries` names the test already has its new result. They
# count months and years on the calendar of the zone `as_of` is given in (the organisation's).
def _within_last(actual: Any, span: Duration, as_of: datetime) -> bool:
    return actual is not None and actual <= as_of < span.after(actual, as_of.tzinfo)


def _older_than(actual: Any, span: Duration, as_of: datetime) -> bool:
    return actual is not None and as_of >= span.after(actual, as_of.tzinfo)


def _within_next(actual: Any, span: Duration, as_of: datetime) -> bool:
    return actual is not None and span.before(actual, as_of.tzinfo) <= as_of < actual


Test = Callable[[Any, Any, datetime], bool]
_TESTS: dict[Op, Test] = {
    Op.EQ: _equals,
    Op.NE: _differs,
    Op.GT: _above,
    Op.GTE: _at_least,
    Op.LT: _below,
    Op.LTE: _at_most,
    Op.IN: _one_of,
    Op.NOT_IN: _not_one_of,
    Op.CONTAINS: _has,
    Op.EXISTS: _exists,
    Op.MISSING: _missing,
    Op.WITHIN_LAST: _within_last,
    Op.OLDER_THAN: _older_than,
    Op.WITHIN_NEXT: _within_next,
}
_LIST_TESTS: dict[Op, Test] = {
    Op.IN: _shares_one_of,
    Op.NOT_IN: _shares_none_of,
}


@dataclass(frozen=True, slots=True)
class FieldTest:
    """`field op value`. A missing field fails every test but ne, not_in and missing, which hold."""

    field: str
    op: Op
    value: Any
    _test: Test = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        is_list = PROFILE_FIELDS[self.field].kind is FieldKind.TEXT_LIST
        test = (_LIST_TESTS if is_list else {}).get(self.op) or _TESTS[self.op]
        object.__setattr__(self, "_test", test)

    def holds(self, profile: Profile, as_of: datetime) -> bool:
        return self._test(profile.get(self.field), self.value, as_of)

    def time_tests(self) -> Iterator["FieldTest"]:
        if self.op in TIME_OPS:
            yield self

    def boundaries(self, profile: Profile, zone: tzinfo) -> tuple[datetime, ...]:
        """The moments at which this time test's result changes for `profile`, months and years counted on `zone`'s
        calendar as `holds` counts them given a moment there; empty for other tests."""
        moment = profile.get(self.field)
        if self.op not in TIME_OPS or not isinstance(moment, datetime):
            return ()
        span: Duration = self.value
        if self.op is Op.WITHIN_LAST:
            return (moment, span.after(moment, zone))
        if self.op is Op.OLDER_THAN:
            return (span.after(moment, zone),)
        return (span.before(moment, zone), moment)


@dataclass(frozen=True, slots=True)
class SumTest:
    """The sum of number or money fields, a missing one counting as 0, compared with a value."""

    fields: tuple[str, ...]
    op: Op
    value: Any

    def holds(self, profile: Profile, as_of: datetime) -> bool:
        total: Any = 0
        for name in self.fields:
            part = profile.get(name)
            if part is not None:
                total += part
        return _TESTS[self.op](total, self.value, as_of)

    def time_tests(self) -> Iterator[FieldTest]:
        return iter(())


@dataclass(frozen=True, slots=True)
class AllOf:
    parts: tuple["Condition", ...]

    def holds(self, profile: Profile, as_of: datetime) -> bool:
        return all(part.holds(profile, as_of) for part in self.parts)

    def time_tests(self) -> Iterator[FieldTest]:
        for part in self.parts:
            yield from part.time_tests()


@dataclass(frozen=True, slots=True)
class AnyOf:
    parts: tuple["Condition", ...]

    def holds(self, profile: Profile, as_of: datetime) -> bool:
        return any(part.holds(profile, as_of) for part in self.parts)

    def time_tests(self) -> Iterator[FieldTest]:
        for part in self.parts:
            yield from part.time_tests()


@dataclass(frozen=True, slots=True)
class Not:
    part: "Condition"

    def holds(self, profile: Profile, as_of: datetime) -> bool:
        return not self.part.holds(profile, as_of)

    def time_tests(self) -> Iterator[FieldTest]:
        return self.part.time_tests()


Condition = AllOf | AnyOf | Not | FieldTest | SumTest


def fields_named(condition: Condition) -> frozenset[str]:
    """Every field `condition` reads."""
    match condition:
        case FieldTest():
            return frozenset({condition.field})
        case SumTest():
            return frozenset(condition.fields)
        case AllOf() | AnyOf():
            return frozenset().union(*(fields_named(part) for part in condition.parts))
        case Not():
            return fields_named(condition.part)


def time_tests_of(condition: Condition) -> tuple[FieldTest, ...]:
    """The tests in `condition` whose result time passing alone can change."""
    return tuple(condition.time_tests())
