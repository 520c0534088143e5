"""What identity knows of one person from one upstream record: as given, and normalised for matching."""

from dataclasses import dataclass, field
from datetime import date

from shared.records import quick_init


@quick_init
@dataclass(frozen=True, slots=True)
class PersonRecord:
    """A person as one upstream record describes them, before any cleaning; every field is optional."""

    source: str | None = None
    external_id: str | None = None
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    street: str | None = None
    address_2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    # Text as given (ISO `1984-03-17` or `19840317`), or a date already parsed by the event contract.
    birth_date: str | date | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class NormalisedRecord:
    """A record in the canonical form matching compares; a field that did not parse is None, with a warning."""

    source: str | None = None
    external_id: str | None = None
    # Lower-cased, trimmed, Unicode NFC; Gmail dots and `+tags` removed: the key deterministic links use.
    email: str | None = None
    # E.164, e.g. `+15145550199`.
    phone: str | None = None
    # Folded: lower-case ASCII, accents removed, hyphens and apostrophes as spaces, `st`/`ste` for Saint/Sainte,
    # single spaces, e.g. `marie eve`, `st pierre`.
    first_name: str | None = None
    last_name: str | None = None
    # Street number apart (`4521`, `4521a`), street folded with types abbreviated in one vocabulary
    # (`st denis rue`, `main st`): see `normalise.normalise_street`.
    street_number: str | None = None
    street_name: str | None = None
    # The apartment or suite, its word left out (`3`, `12b`): two units at one civic number are two homes. Records
    # stored before it was kept have none, as have the many that leave it out: see `normalise.street_unit`.
    unit: str | None = None
    city: str | None = None
    # Canadian codes as `H2J 2L1`; any other country's code upper-cased and trimmed, never rejected.
    postal_code: str | None = None
    country: str | None = None
    birth_date: date | None = None
    # One line per field that was given but could not be used, e.g. `phone: "12" is not a phone number`.
    warnings: tuple[str, ...] = field(default=())
