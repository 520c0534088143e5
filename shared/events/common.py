"""Value types shared by every event: bilingual text, money, what a source knows about a person, performances."""

import re
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal, Self

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

Language = Literal["fr", "en"]

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"
Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
# Upstream ids are opaque: Shopify sends integers as text, Eventbrite long digit strings, box offices anything.
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
# Parterre's own person ids are minted by identity; the contracts only need them non-empty and bounded.
PersonId = Annotated[str, StringConstraints(min_length=1, max_length=256)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(min_length=1, max_length=5000)]
# An address or number to reach someone by: an email has up to 254 characters, a postal line several address fields.
ContactValue = Annotated[str, StringConstraints(min_length=1, max_length=1200)]
CurrencyCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
LocaleTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]
# A season is named by its years: "2026" for a summer festival, "2026-2027" for a theatre season.
SeasonLabel = Annotated[str, StringConstraints(pattern=r"^\d{4}(-\d{4})?$")]
MAX_EMAIL_LENGTH = 254
# The validation context under which an event arriving from outside is read: stricter than events stored before.
ARRIVING = "arriving"


def _rfc3339(value: object, info: ValidationInfo) -> object:
    # Pydantic would also read a number of seconds since 1970 (`1788373868`, `"1.788373868e9"`) as a time in UTC.
    # Refused when an event arrives; one stored before this rule is still read as it was.
    if info.context and info.context.get(ARRIVING) and _seconds_since_1970(value):
        raise PydanticCustomError(
            "rfc3339_time", "should be an RFC 3339 time with its offset, such as 2026-10-03T19:30:00-04:00"
        )
    return value


def _seconds_since_1970(value: object) -> bool:
    if isinstance(value, int | float | Decimal | bytes):
        return True
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


# A moment as events carry it: RFC 3339 text with its UTC offset (or a timezone-aware datetime, in Python).
Moment = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]


def _iso_day(value: object, info: ValidationInfo) -> object:
    # Pydantic would read `0` as 1970-01-01, which systems send for a birth date they do not know: two strangers would
    # share one. Refused when an event arrives, as seconds are for a moment.
    if info.context and info.context.get(ARRIVING) and _seconds_since_1970(value):
        raise PydanticCustomError("iso_date", "should be a date such as 1984-03-17")
    return value


# A calendar day as events carry it: ISO 8601 text (`1984-03-17`), or a date in Python.
Day = Annotated[date, BeforeValidator(_iso_day)]


class EventData(BaseModel):
    """Base of every event's data and of the value types inside it."""

    # `ignore`, not `forbid`: vendors add fields without notice, and an additive change (schemaversion 1.0 → 1.1)
    # must not break a consumer still on 1.0. Nothing is lost: the envelope keeps the raw data untouched.
    model_config = ConfigDict(extra="ignore", frozen=True)


# The same characters as `str.isspace`, found faster: every email of every event passes here.
_WHITESPACE = re.compile(r"\s")


def check_email_shape(email: str) -> str:
    """`email` if it has the shape of an address; raises a pydantic error (`email_invalid`) otherwise."""
    # Deliberately loose: rejecting a real but unusual address would lose a patron.
    local, at, domain = email.partition("@")
    if not (at and local and domain) or "@" in domain or _WHITESPACE.search(email):
        raise PydanticCustomError("email_invalid", "An email address has one @ and no spaces")
    return email


class LocalizedText(EventData):
    """Text in French, English or both, such as a show title, a product name or a campaign name."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"fr": "Les Belles-sœurs", "en": "The Sisters-in-Law"}]})

    fr: str | None = Field(default=None, min_length=1, max_length=500, description="The French text.")
    en: str | None = Field(default=None, min_length=1, max_length=500, description="The English text.")

    @model_validator(mode="after")
    def _has_some_text(self) -> Self:
        if self.fr is None and self.en is None:
            raise PydanticCustomError("text_missing", "Give the text in French (`fr`), English (`en`) or both")
        return self

    def best(self, lang: Language) -> str:
        """The text in `lang`, else in the other language."""
        preferred, other = (self.fr, self.en) if lang == "fr" else (self.en, self.fr)
        text = preferred if preferred is not None else other
        assert text is not None, "the validator guarantees one language"
        return text


class Money(EventData):
    """An amount in one currency, exact to the cent."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"amount": "54.50", "currency": "CAD"}]})

    amount: Decimal = Field(
        ge=0,
        max_digits=14,
        decimal_places=2,
        description="The amount, at most two decimal places; sent as a string so no cent is lost to floating point.",
    )
    currency: CurrencyCode = Field(default="CAD", description="ISO 4217 currency code, e.g. `CAD`.")


class PersonRef(EventData):
    """What one upstream system knows about a person, as it gave it; matching and normalising is identity's job."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "billetterie-principale",
                    "external_id": "C-004521",
                    "email": "Elise.Gagnon@example.com",
                    "phone": "+1 514 555 0199",
                    "first_name": "Élise",
                    "last_name": "Gagnon",
                    "street": "4521, rue Saint-Denis",
                    "address_2": "app. 3",
                    "city": "Montréal",
                    "region": "QC",
                    "postal_code": "H2J 2L1",
                    "country": "CA",
                    "birth_date": "1984-03-17",
                    "locale": "fr-CA",
                }
            ]
        }
    )

    source: Slug = Field(description="The upstream system this person comes from, e.g. `shopify-boutique`.")
    external_id: ExternalId | None = Field(
        default=None, description="The person's id in that system (customer, constituent or contact id)."
    )
    email: str | None = Field(
        default=None,
        max_length=MAX_EMAIL_LENGTH,
        description="Email address exactly as the source gave it; case and spacing are normalised by identity.",
    )
    phone: str | None = Field(default=None, min_length=1, max_length=40, description="Phone number as given.")
    first_name: ShortText | None = Field(default=None, description="Given name.")
    last_name: ShortText | None = Field(default=None, description="Family name.")
    street: ShortText | None = Field(default=None, description="Street address, first line.")
    address_2: ShortText | None = Field(default=None, description="Street address, second line (apartment, suite).")
    city: ShortText | None = Field(default=None, description="City or municipality.")
    region: ShortText | None = Field(default=None, description="Province, state or region, e.g. `QC`.")
    # Any country's format is accepted: festivals sell to visitors from abroad.
    postal_code: str | None = Field(default=None, min_length=1, max_length=20, description="Postal or ZIP code.")
    country: CountryCode | None = Field(default=None, description="ISO 3166-1 alpha-2 country code, e.g. `CA`.")
    birth_date: Day | None = Field(default=None, description="Date of birth, when the source collects it.")
    locale: LocaleTag | None = Field(
        default=None, description="Preferred language as a BCP 47 tag, e.g. `fr-CA` or `en`."
    )

    @field_validator("email")
    @classmethod
    def _looks_like_an_email(cls, email: str | None) -> str | None:
        return None if email is None else check_email_shape(email)

    @model_validator(mode="after")
    def _identifies_someone(self) -> Self:
        if not (self.external_id or self.email or self.phone or (self.first_name and self.last_name)):
            raise PydanticCustomError(
                "person_unidentifiable",
                "A person needs an external_id, an email, a phone, or both first_name and last_name",
            )
        return self

    def partition_key(self) -> str | None:
        """The Kafka key of this person's upstream facts, so one customer's facts stay in order before identity."""
        if self.external_id is not None:
            return f"{self.source}:{self.external_id}"
        if self.email is not None:
            return self.email.lower()
        return None


class PerformanceRef(EventData):
    """One performance of a production, as the box office names it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "production_id": "belles-soeurs-2026",
                    "title": {"fr": "Les Belles-sœurs", "en": "The Sisters-in-Law"},
                    "genre": "théâtre",
                    "performance_id": "belles-soeurs-2026-10-17-20h",
                    "starts_at": "2026-10-17T20:00:00-04:00",
                    "venue": "Salle Jean-Duceppe",
                }
            ]
        }
    )

    production_id: ExternalId = Field(description="The production (show) id in the box office.")
    title: LocalizedText = Field(description="The production's title.")
    genre: ShortText | None = Field(default=None, description="Genre as the organisation labels it, e.g. `danse`.")
    performance_id: ExternalId = Field(description="The performance (date and time of one show) id.")
    starts_at: Moment = Field(description="When the performance begins, with its UTC offset.")
    venue: ShortText | None = Field(default=None, description="Hall or venue name.")


class ConsentPurpose(StrEnum):
    """What a person may be contacted for; CASL and Law 25 consent is given per purpose."""

    MARKETING_EMAIL = "marketing_email"
    SMS = "sms"
    POSTAL = "postal"
    SURVEY = "survey"


class LegalBasis(StrEnum):
    """Why contacting is allowed: express consent lasts until withdrawn, implied consent expires (CASL)."""

    EXPRESS = "express"
    IMPLIED_PURCHASE = "implied_purchase"
    IMPLIED_DONATION = "implied_donation"
    IMPLIED_INQUIRY = "implied_inquiry"
    IMPLIED_MEMBERSHIP = "implied_membership"


class Channel(StrEnum):
    """A way to reach a person."""

    EMAIL = "email"
    SMS = "sms"
    POSTAL = "postal"
