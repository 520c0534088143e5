"""Synthetic Québec audiences with known truth: the yardstick identity resolution is measured against.

Each true person leaves one to six records in the systems an arts organisation runs (box office, shop,
newsletter, donations, walk-up sales), written the way those systems and people write them, with the errors
they make. Households share an address, a home phone or a family email while remaining distinct people, and a
skewed name distribution makes namesakes common. The module constants are the knobs. They make the data hard
the way audience data is hard, but not beyond a careful human: at most `MAX_DAMAGING_CORRUPTIONS` harmful
corruptions touch one record, which keeps a name and a way to reach the person, and a person's records share a
fact (email, phone, postal code, birth date, account) with one another, except where `NAME_ONLY_LINK_RATE`
leaves them joined by name alone. Among 100,000 people (seed 7), 3.1 % of the true pairs of records are joined
by no exact shared fact and 1.6 % by none even allowing one typo: recall a matcher only gets by weighing names.
"""

import bisect
import csv
import functools
import heapq
import itertools
import json
import math
import random
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Generic, TypeVar

from bench.identity import quebec
from services.identity.domain.batch_input import TEXT_FIELDS

T = TypeVar("T")

BOX_OFFICE = "billetterie-principale"
SHOP = "shopify-boutique"
NEWSLETTER = "mailchimp-principal"
DONATIONS = "dons"

# The batch-input fields, in the order a JSONL line lists them after `record_id`.
INPUT_FIELDS = TEXT_FIELDS

# How many records a person leaves: 1 to 6 with these weights (mean about 2.5).
RECORDS_PER_PERSON_WEIGHTS = (0.32, 0.26, 0.18, 0.11, 0.08, 0.05)


class Channel(StrEnum):
    """How a record reached the organisation; walk-up sales are box-office records without an account."""

    BOX_OFFICE = "box_office"
    WALK_UP = "walk_up"
    SHOP = "shop"
    NEWSLETTER = "newsletter"
    DONATIONS = "donations"


CHANNEL_WEIGHTS = {
    Channel.BOX_OFFICE: 0.34,
    Channel.WALK_UP: 0.13,
    Channel.SHOP: 0.15,
    Channel.NEWSLETTER: 0.24,
    Channel.DONATIONS: 0.14,
}
# People have habits: this share of a person's records comes through their favourite channel.
FAVOURITE_CHANNEL_SHARE = 0.5

# Time: new people arrive at a steady pace and come back within a bounded horizon, so the stream can be put in
# time order with a heap that holds only the people of the last two years, whatever the audience's size.
NEW_PEOPLE_PER_DAY = 40
MEAN_DAYS_BETWEEN_RECORDS = 120
FOLLOW_UP_HORIZON_DAYS = 730

# Households: sizes 1, 2 (partners) and 3 (with an adult child), and what their members share.
HOUSEHOLD_SIZE_WEIGHTS = (0.74, 0.19, 0.07)
PARTNER_SHARES_SURNAME_RATE = 0.4
FAMILY_EMAIL_RATE = 0.3  # of households of two or more: one address every member may give
HOME_PHONE_RATE = 0.45  # of households: a landline every member may give
COMPOUND_SURNAME_RATE = 0.15  # of French-Canadian people born 1975-2000, whose parents' surnames were joined
SECOND_EMAIL_RATE = 0.12  # people who also give a work or older address, alongside their usual one

# Per person, on people with two records or more.
MOVE_RATE = 0.10  # a later record carries a new street and postal code
EMAIL_CHANGE_RATE = 0.08  # a later record carries a new personal email
DUPLICATE_ACCOUNT_RATE = 0.12  # a record from a source with accounts opens a second account for the same person
# A person's records normally share a fact (email, phone, postal code, birth date, account) with one another,
# directly or through another record; this share of the groups that would share none is left joined by name alone.
NAME_ONLY_LINK_RATE = 0.15

# Per record. Conditional kinds apply at this rate where they can (a nickname needs a name that has one).
TYPO_RATE = 0.08  # one edit in one field: a name, the email, the street, the postal code, the phone or birth date
ACCENT_LOSS_RATE = 0.30  # of records with accented text: Hélène → Helene, Montréal → Montreal
MOJIBAKE_RATE = 0.01  # of records with accented text: UTF-8 read as Windows-1252, Hélène → HÃ©lÃ¨ne
CASE_CHANGE_RATE = 0.12  # names in capitals or lower case (and sometimes the email capitalised)
NICKNAME_RATE = 0.15  # Robert → Bob, Jean-François → JF
SPELLING_VARIANT_RATE = 0.15  # Jean-François → Jean François, St-Pierre → Saint-Pierre, D'Amours → Damours
SURNAME_PART_RATE = 0.25  # a compound surname written with one part only: Tremblay-Gagnon → Tremblay
SWAPPED_NAMES_RATE = 0.02  # first and last name in each other's field
MISSING_FIELD_RATE = 0.08  # one more field left empty than the source usually leaves
GMAIL_VARIANT_RATE = 0.20  # of Gmail addresses: dots moved or a +tag, the same mailbox for Gmail

# At most this many harmful corruptions on one record, so every record stays identifiable in principle.
MAX_DAMAGING_CORRUPTIONS = 2

OLDEST_BIRTH_YEAR = 1935
YOUNGEST_BIRTH_YEAR = 2006

# Names are drawn with a rank skew, weight 1 / (rank + offset) ** exponent, tuned so the commonest names have about
# their Québec shares (Tremblay near 1 % of people, a generation's top first name 4 to 8 %). The lists lack the
# long tail of rare surnames, so distinct people sharing a full name are about twice as common here as in life
# (some 100,000 such pairs among 100,000 people): that errs on the hard side.
SURNAME_SKEW = (0.6, 8)  # French-Canadian and Vietnamese surnames, which really are concentrated
OTHER_SURNAME_SKEW = (0.3, 5)  # the smaller communities' surnames, about as varied as their lists are long
FIRST_NAME_SKEW = (0.4, 5)
FIRST_NAME_GENERATION_YEARS = 15  # how far from its peak birth year a first name stays common


class Corruption(StrEnum):
    TYPO = "typo"
    ACCENT_LOSS = "accent_loss"
    MOJIBAKE = "mojibake"
    CASE_CHANGE = "case_change"
    NICKNAME = "nickname"
    SPELLING_VARIANT = "spelling_variant"
    SURNAME_PART = "surname_part"
    SWAPPED_NAMES = "swapped_names"
    MISSING_FIELD = "missing_field"
    GMAIL_VARIANT = "gmail_variant"
    MOVED = "moved"
    CHANGED_EMAIL = "changed_email"


DAMAGING = frozenset(
    {
        Corruption.TYPO,
        Corruption.MOJIBAKE,
        Corruption.NICKNAME,
        Corruption.SURNAME_PART,
        Corruption.SWAPPED_NAMES,
        Corruption.MISSING_FIELD,
    }
)


@dataclass(frozen=True, slots=True)
class SyntheticRecord:
    """One upstream record, with the truth behind it (`true_person_id`, `household_id`, `corruptions`)."""

    record_id: str
    true_person_id: str
    household_id: str
    source: str
    external_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None
    street: str | None = None
    address_2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    birth_date: str | None = None
    corruptions: tuple[Corruption, ...] = ()

    def as_input(self) -> dict[str, str]:
        """The record as the batch input carries it: `record_id` and the fields it has, nothing of the truth."""
        line = {"record_id": self.record_id}
        for name in INPUT_FIELDS:
            value = getattr(self, name)
            if value is not None:
                line[name] = value
        return line


def generate_audience(people: int, seed: int) -> Iterator[SyntheticRecord]:
    """Records of `people` true persons in time order, the same for the same seed, in memory that stays flat."""
    world = _World(random.Random(seed))
    pending: list[tuple[float, int, _Draft]] = []
    arrivals = itertools.count()
    emitted = itertools.count(1)
    created = 0
    while created < people:
        household = world.household(first_number=created, most=people - created)
        today = created / NEW_PEOPLE_PER_DAY
        for person in household:
            for draft in world.records_of(person, first_day=today + world.rng.random()):
                heapq.heappush(pending, (draft.day, next(arrivals), draft))
        created += len(household)
        while pending and pending[0][0] <= today:
            yield heapq.heappop(pending)[2].finish(f"rec-{next(emitted):07d}")
    while pending:
        yield heapq.heappop(pending)[2].finish(f"rec-{next(emitted):07d}")


def write_audience(
    records: Iterable[SyntheticRecord],
    input_path: Path,
    truth_path: Path,
    *,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Streams the batch input (JSONL) and the truth (`record_id,true_person_id` CSV); returns the record count."""
    written = 0
    with (
        input_path.open("w", encoding="utf-8") as input_file,
        truth_path.open("w", encoding="utf-8", newline="") as truth_file,
    ):
        truth = csv.writer(truth_file)
        truth.writerow(("record_id", "true_person_id"))
        for record in records:
            input_file.write(json.dumps(record.as_input(), ensure_ascii=False) + "\n")
            truth.writerow((record.record_id, record.true_person_id))
            written += 1
            if progress is not None and written % 10_000 == 0:
                progress(written)
    return written


def read_truth(truth_path: Path) -> dict[str, str]:
    """record_id → true_person_id, as `write_audience` wrote it."""
    with truth_path.open(encoding="utf-8", newline="") as truth_file:
        return {row["record_id"]: row["true_person_id"] for row in csv.DictReader(truth_file)}


# --- people and households -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Home:
    number: int
    street: quebec.Street
    direction: str | None
    unit: str | None
    city: quebec.City
    postal_code: str


@dataclass(slots=True)
class _Person:
    person_id: str
    household_id: str
    origin: quebec.Origin
    female: bool
    first_name: str
    last_name: str
    compound_surname: bool
    birth_date: date
    speaks_english: bool
    home: _Home
    mobile: str | None
    home_phone: str | None = None
    personal_email: str | None = None
    other_email: str | None = None
    family_email: str | None = None
    # Filled once the number of records is known: from which record on the person lives and writes elsewhere.
    new_home: _Home | None = None
    move_at: int | None = None
    new_email: str | None = None
    email_change_at: int | None = None


@dataclass(slots=True)
class _Draft:
    """A record waiting for its turn in the time-ordered stream; it gets its id when emitted."""

    day: float
    person_id: str
    household_id: str
    fields: dict[str, str | None]
    corruptions: tuple[Corruption, ...]

    def finish(self, record_id: str) -> SyntheticRecord:
        fields = self.fields
        return SyntheticRecord(
            record_id=record_id,
            true_person_id=self.person_id,
            household_id=self.household_id,
            source=fields["source"] or "",
            external_id=fields["external_id"],
            first_name=fields["first_name"],
            last_name=fields["last_name"],
            email=fields["email"],
            phone=fields["phone"],
            street=fields["street"],
            address_2=fields["address_2"],
            city=fields["city"],
            region=fields["region"],
            postal_code=fields["postal_code"],
            country=fields["country"],
            birth_date=fields["birth_date"],
            corruptions=self.corruptions,
        )


class _Weighted(Generic[T]):
    """A weighted choice with the cumulative weights computed once."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self.cumulative = tuple(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect_right(self.cumulative, rng.random() * self.cumulative[-1])]


def _zipf(items: Sequence[str], exponent: float, offset: int) -> _Weighted[str]:
    return _Weighted(items, [1 / (rank + offset) ** exponent for rank in range(len(items))])


_ORIGINS = _Weighted(quebec.ORIGINS, [origin.weight for origin in quebec.ORIGINS])
_CITIES = _Weighted(quebec.CITIES, [city.weight for city in quebec.CITIES])
_SURNAMES = {
    origin.key: _zipf(
        origin.surnames, *(SURNAME_SKEW if origin.key in ("franco", "vietnamese") else OTHER_SURNAME_SKEW)
    )
    for origin in quebec.ORIGINS
}
_PERSONAL_DOMAINS = _Weighted(
    [domain for domain, _ in quebec.PERSONAL_EMAIL_DOMAINS], [weight for _, weight in quebec.PERSONAL_EMAIL_DOMAINS]
)
_FAMILY_DOMAINS = _Weighted(
    [domain for domain, _ in quebec.FAMILY_EMAIL_DOMAINS], [weight for _, weight in quebec.FAMILY_EMAIL_DOMAINS]
)
_HOUSEHOLD_SIZES = _Weighted((1, 2, 3), HOUSEHOLD_SIZE_WEIGHTS)
_RECORD_COUNTS = _Weighted(range(1, len(RECORDS_PER_PERSON_WEIGHTS) + 1), RECORDS_PER_PERSON_WEIGHTS)
_CHANNELS = _Weighted(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))


@functools.cache
def _first_names(origin_key: str, female: bool, birth_year: int) -> _Weighted[str]:
    """First names given in that year: rank skew times closeness to each name's peak year."""
    origin = next(origin for origin in quebec.ORIGINS if origin.key == origin_key)
    names = origin.female if female else origin.male
    exponent, offset = FIRST_NAME_SKEW
    weights = [
        1 / (rank + offset) ** exponent * _generation_fit(name.peak_year, birth_year) + 1e-4
        for rank, name in enumerate(names)
    ]
    return _Weighted([name.name for name in names], weights)


def _generation_fit(peak_year: int | None, birth_year: int) -> float:
    if peak_year is None:
        return 1.0
    return math.exp(-(((birth_year - peak_year) / FIRST_NAME_GENERATION_YEARS) ** 2))


@functools.cache
def _postal_codes(fsa: str) -> tuple[str, ...]:
    """The fixed set of full codes in one forward sortation area; rural areas (second character 0) have few."""
    letters = quebec.POSTAL_LETTERS
    # Seeded by the area alone, so every audience shares one map of Québec.
    local = random.Random(f"postal:{fsa}")
    count = quebec.RURAL_CODES_PER_FSA if fsa[1] == "0" else quebec.URBAN_CODES_PER_FSA
    codes: set[str] = set()
    while len(codes) < count:
        codes.add(f"{fsa} {local.randint(0, 9)}{local.choice(letters)}{local.randint(0, 9)}")
    return tuple(sorted(codes))


class _World:
    """Everything an audience draws from one random stream, and the few things that must stay unique."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        # Mailboxes and phone numbers belong to one person or household, as they do in life; these two sets are
        # the only state that grows with the audience (tens of bytes a person).
        self.taken_emails: set[str] = set()
        self.taken_phones: set[str] = set()
        self.next_account = {
            Channel.BOX_OFFICE: 1000 + rng.randrange(3000),
            Channel.SHOP: 6_400_000_000_000 + rng.randrange(10**9),
            Channel.DONATIONS: 10_000 + rng.randrange(5000),
        }
        self.household_numbers = itertools.count(1)

    # households

    def household(self, first_number: int, most: int) -> list[_Person]:
        rng = self.rng
        household_id = f"hh-{next(self.household_numbers):06d}"
        size = min(most, _HOUSEHOLD_SIZES.pick(rng))
        home = self.new_home(_CITIES.pick(rng))
        primary_year = round(rng.triangular(OLDEST_BIRTH_YEAR, YOUNGEST_BIRTH_YEAR - 16, 1962))
        primary = self.person(f"p-{first_number + 1:06d}", household_id, home, _ORIGINS.pick(rng), primary_year)
        members = [primary]
        if size >= 2:
            origin = primary.origin if rng.random() < 0.85 else _ORIGINS.pick(rng)
            year = min(YOUNGEST_BIRTH_YEAR - 16, max(OLDEST_BIRTH_YEAR, primary_year + round(rng.gauss(0, 4))))
            partner = self.person(
                f"p-{first_number + 2:06d}",
                household_id,
                home,
                origin,
                year,
                female=not primary.female if rng.random() < 0.9 else primary.female,
                surname=primary.last_name if rng.random() < PARTNER_SHARES_SURNAME_RATE else None,
                taken_first_names={primary.first_name},
            )
            members.append(partner)
            child_year = min(primary_year, year) + rng.randint(22, 38)
            if size >= 3 and child_year <= YOUNGEST_BIRTH_YEAR:
                if partner.last_name != primary.last_name and rng.random() < 0.2:
                    surname = f"{primary.last_name}-{partner.last_name}"
                else:
                    surname = primary.last_name if rng.random() < 0.8 else partner.last_name
                members.append(
                    self.person(
                        f"p-{first_number + 3:06d}",
                        household_id,
                        home,
                        primary.origin,
                        child_year,
                        surname=surname,
                        taken_first_names={primary.first_name, partner.first_name},
                    )
                )
        if rng.random() < HOME_PHONE_RATE:
            landline = self.phone(home.city)
            for member in members:
                member.home_phone = landline
        if len(members) >= 2 and rng.random() < FAMILY_EMAIL_RATE:
            family_email = self.family_email(members)
            for member in members:
                member.family_email = family_email
                # Some people only ever give the family address.
                if member.personal_email is not None and rng.random() < 0.35:
                    self.taken_emails.discard(_mailbox_key(member.personal_email))
                    member.personal_email = None
        return members

    def person(
        self,
        person_id: str,
        household_id: str,
        home: _Home,
        origin: quebec.Origin,
        birth_year: int,
        *,
        female: bool | None = None,
        surname: str | None = None,
        taken_first_names: frozenset[str] | set[str] = frozenset(),
    ) -> _Person:
        rng = self.rng
        female = rng.random() < 0.52 if female is None else female
        naming_origin = origin
        # Children of immigrants born here often get a French or English first name.
        if origin.key not in ("franco", "anglo") and birth_year >= 1980 and rng.random() < 0.3:
            naming_origin = quebec.ORIGINS[0] if rng.random() < 0.7 else quebec.ORIGINS[1]
        elif origin.key == "franco" and rng.random() < 0.08:
            naming_origin = quebec.ORIGINS[1]
        # Members of one household never share a first name: a father and son both called Jean Tremblay at one
        # address, one phone and one email could not be told apart, by a human or a program.
        first_name = _first_names(naming_origin.key, female, birth_year).pick(rng)
        while first_name in taken_first_names:
            first_name = _first_names(naming_origin.key, female, birth_year).pick(rng)
        compound = False
        if surname is None:
            surname = _SURNAMES[origin.key].pick(rng)
            if origin.key == "franco" and 1975 <= birth_year <= 2000 and rng.random() < COMPOUND_SURNAME_RATE:
                other = _SURNAMES[origin.key].pick(rng)
                if other != surname and "-" not in surname + other:
                    surname, compound = f"{surname}-{other}", True
        else:
            compound = surname.count("-") == 1 and all(
                part in _SURNAMES[origin.key].items for part in surname.split("-")
            )
        birth = date(birth_year, 1, 1) + timedelta(days=rng.randrange(365))
        speaks_english = rng.random() < max(origin.speaks_english, home.city.speaks_english)
        has_mobile = rng.random() < (0.65 if birth_year < 1955 else 0.95)
        person = _Person(
            person_id=person_id,
            household_id=household_id,
            origin=origin,
            female=female,
            first_name=first_name,
            last_name=surname,
            compound_surname=compound,
            birth_date=birth,
            speaks_english=speaks_english,
            home=home,
            mobile=self.phone(home.city) if has_mobile else None,
        )
        person.personal_email = self.personal_email(first_name, surname, birth_year)
        if rng.random() < SECOND_EMAIL_RATE:
            if rng.random() < 0.6:
                person.other_email = self.unique_email(
                    f"{_mailbox(first_name, rng)}.{_mailbox(surname, rng)}", rng.choice(quebec.WORK_EMAIL_DOMAINS)
                )
            else:
                person.other_email = self.personal_email(first_name, surname, birth_year)
        return person

    def new_home(self, city: quebec.City) -> _Home:
        rng = self.rng
        street = rng.choice(city.streets)
        fsa = rng.choice(city.fsas)
        apartments = 0.45 if city.weight >= 0.05 else 0.2
        unit = None
        if rng.random() < apartments:
            unit = str(rng.randint(1, 8)) if rng.random() < 0.6 else f"{rng.randint(1, 12)}{rng.randint(1, 20):02d}"
        return _Home(
            number=int(math.exp(rng.uniform(math.log(10), math.log(12_000)))),
            street=street,
            direction=rng.choice(street.directions) if street.directions else None,
            unit=unit,
            city=city,
            postal_code=rng.choice(_postal_codes(fsa)),
        )

    def moved_home(self, home: _Home) -> _Home:
        while True:
            city = home.city if self.rng.random() < 0.7 else _CITIES.pick(self.rng)
            new = self.new_home(city)
            if new.postal_code != home.postal_code and new.street != home.street:
                return new

    def phone(self, city: quebec.City) -> str:
        rng = self.rng
        while True:
            exchange = rng.randint(200, 999)
            if exchange % 100 == 11 or exchange == 555:
                continue
            number = f"{rng.choice(city.area_codes)}{exchange}{rng.randrange(10_000):04d}"
            if number not in self.taken_phones:
                self.taken_phones.add(number)
                return number

    # emails

    def unique_email(self, local: str, domain: str) -> str:
        candidate = f"{local}@{domain}"
        while _mailbox_key(candidate) in self.taken_emails:
            candidate = f"{local}{self.rng.randint(1, 99)}@{domain}"
        self.taken_emails.add(_mailbox_key(candidate))
        return candidate

    def personal_email(self, first_name: str, surname: str, birth_year: int) -> str:
        rng = self.rng
        first, last = _mailbox(first_name, rng), _mailbox(surname, rng)
        nickname = quebec.NICKNAMES.get(first_name)
        patterns = [
            (f"{first}.{last}", 0.30),
            (f"{first}{last}", 0.15),
            (f"{first[0]}{last}", 0.12),
            (f"{first}.{last}{rng.randint(1, 99)}", 0.08),
            (f"{first}_{last}", 0.04),
            (f"{last}.{first}", 0.04),
            (f"{first}{birth_year % 100:02d}", 0.05),
            (f"{first}.{last}{birth_year}", 0.04),
            (f"{last}{first[0]}", 0.04),
            (f"{first}{last[0]}", 0.04),
            (f"{_mailbox(nickname[0], rng)}{last}" if nickname else f"{first}{last}", 0.05),
        ]
        local = _Weighted([pattern for pattern, _ in patterns], [weight for _, weight in patterns]).pick(rng)
        return self.unique_email(local, _PERSONAL_DOMAINS.pick(rng))

    def family_email(self, members: list[_Person]) -> str:
        rng = self.rng
        surnames = list(dict.fromkeys(_mailbox(member.last_name, rng) for member in members))
        firsts = [_mailbox(member.first_name, rng) for member in members[:2]]
        local = rng.choice(
            [
                f"famille.{surnames[0]}",
                f"famille{surnames[0]}",
                f"les{surnames[0]}",
                "".join(surnames[:2]),
                "et".join(firsts),
                f"{firsts[0]}.{firsts[1]}",
            ]
        )
        return self.unique_email(local, _FAMILY_DOMAINS.pick(rng))

    def new_account(self, channel: Channel) -> str:
        step = {Channel.BOX_OFFICE: 3, Channel.SHOP: 90_000, Channel.DONATIONS: 2}[channel]
        self.next_account[channel] += 1 + self.rng.randrange(step)
        number = self.next_account[channel]
        if channel is Channel.BOX_OFFICE:
            return f"C-{number:06d}"
        if channel is Channel.DONATIONS:
            return f"D-{number:06d}"
        return str(number)

    # records

    def records_of(self, person: _Person, first_day: float) -> list[_Draft]:
        rng = self.rng
        count = _RECORD_COUNTS.pick(rng)
        days = [first_day]
        for _ in range(count - 1):
            gap = rng.expovariate(1 / MEAN_DAYS_BETWEEN_RECORDS)
            days.append(min(days[-1] + gap, first_day + FOLLOW_UP_HORIZON_DAYS - rng.random()))
        favourite = _CHANNELS.pick(rng)
        channels = [favourite if rng.random() < FAVOURITE_CHANNEL_SHARE else _CHANNELS.pick(rng) for _ in days]
        if set(channels) == {Channel.WALK_UP, Channel.NEWSLETTER}:
            # A walk-up sale and a newsletter address share no field a source carries; such a person buys at least
            # once with an account, else they would be linked by name alone (NAME_ONLY_LINK_RATE sets how often).
            channels[channels.index(Channel.WALK_UP)] = Channel.BOX_OFFICE
        if count >= 2 and rng.random() < MOVE_RATE:
            person.move_at = rng.randint(1, count - 1)
            person.new_home = self.moved_home(person.home)
        if count >= 2 and person.personal_email is not None and rng.random() < EMAIL_CHANGE_RATE:
            person.email_change_at = rng.randint(1, count - 1)
            person.new_email = self.personal_email(person.first_name, person.last_name, person.birth_date.year)
        accounts: dict[Channel, str] = {}
        plans = []
        for index, (day, channel) in enumerate(zip(days, channels, strict=True)):
            external_id = None
            if channel in (Channel.BOX_OFFICE, Channel.SHOP, Channel.DONATIONS):
                if channel not in accounts or rng.random() < DUPLICATE_ACCOUNT_RATE:
                    accounts[channel] = self.new_account(channel)
                external_id = accounts[channel]
            plans.append(self.plan(person, index, channel, external_id, day))
        _connect(plans, person, rng)
        return [plan.corrupted(person, plans, rng) for plan in plans]

    def plan(self, person: _Person, index: int, channel: Channel, external_id: str | None, day: float) -> "_Plan":
        moved = person.move_at is not None and index >= person.move_at
        home = person.new_home if moved and person.new_home is not None else person.home
        fields = _source_fields(
            channel, person, home, self.email_for(person, index), self.phone_for(person), external_id, self.rng
        )
        return _Plan(day, channel, home, moved, fields)

    def email_for(self, person: _Person, index: int) -> str | None:
        """The address this record carries: the family's, a second one, or the personal one of its time."""
        rng = self.rng
        if person.family_email is not None and (person.personal_email is None or rng.random() < 0.5):
            return person.family_email
        if person.other_email is not None and rng.random() < 0.25:
            return person.other_email
        if person.email_change_at is not None and index >= person.email_change_at:
            return person.new_email
        return person.personal_email

    def phone_for(self, person: _Person) -> str | None:
        if person.home_phone is not None and (person.mobile is None or self.rng.random() < 0.5):
            return person.home_phone
        return person.mobile


@dataclass(slots=True)
class _Plan:
    """A record as its source writes it, before corruption: what it reveals decides how it links to the others."""

    day: float
    channel: Channel
    home: _Home
    moved: bool
    fields: dict[str, str | None]

    def evidence(self) -> dict[str, tuple[str, str]]:
        """Field → the fact it reveals, comparable across sources (the same mailbox, number, postal code...)."""
        fields = self.fields
        facts: dict[str, tuple[str, str]] = {}
        if fields["external_id"]:
            facts["external_id"] = ("account", f"{fields['source']}:{fields['external_id']}")
        if fields["email"]:
            facts["email"] = ("email", _mailbox_key(fields["email"]))
        if fields["phone"]:
            facts["phone"] = ("phone", "".join(character for character in fields["phone"] if character.isdigit())[-10:])
        if fields["postal_code"]:
            facts["postal_code"] = ("postal_code", _canonical_postal_code(fields["postal_code"]))
        if fields["street"]:
            facts["street"] = ("street", f"{self.home.number} {self.home.street.name} {self.home.postal_code}")
        if fields["birth_date"]:
            facts["birth_date"] = ("birth_date", fields["birth_date"].replace("-", ""))
        return facts

    def corrupted(self, person: _Person, plans: list["_Plan"], rng: random.Random) -> _Draft:
        facts = self.evidence()
        shared_elsewhere = {fact for plan in plans if plan is not self for fact in plan.evidence().values()}
        linking = [name for name, fact in facts.items() if fact in shared_elsewhere]
        # A record whose only link to the person's other records is one field keeps that field.
        protected = frozenset(linking) if len(linking) == 1 else frozenset()
        email = self.fields["email"]
        corruptions = _corrupt(self.fields, person, protected, rng)
        if self.moved and any(self.fields[name] for name in ("street", "postal_code")):
            corruptions.append(Corruption.MOVED)
        if email is not None and email == person.new_email and self.fields["email"]:
            corruptions.append(Corruption.CHANGED_EMAIL)
        return _Draft(self.day, person.person_id, person.household_id, self.fields, tuple(corruptions))


_CARRIERS = {
    "email": {Channel.BOX_OFFICE, Channel.SHOP, Channel.NEWSLETTER, Channel.DONATIONS},
    "phone": {Channel.BOX_OFFICE, Channel.WALK_UP, Channel.SHOP, Channel.DONATIONS},
    "postal_code": {Channel.BOX_OFFICE, Channel.WALK_UP, Channel.SHOP, Channel.DONATIONS},
    "birth_date": {Channel.BOX_OFFICE, Channel.WALK_UP, Channel.DONATIONS},
}


def _connect(plans: list[_Plan], person: _Person, rng: random.Random) -> None:
    """Joins a person's records that share nothing with the others by one fact both sides' sources can carry.

    Without this, a newsletter address and a walk-up sale could share only a name; a few are left so on purpose
    (NAME_ONLY_LINK_RATE), and some cannot be joined at all (a walk-up sale carries no email, a newsletter
    record nothing else).
    """
    left_apart: set[int] = set()
    joined = True
    while joined:
        joined = False
        for group in _groups(plans)[1:]:
            if group & left_apart:
                continue
            if rng.random() < NAME_ONLY_LINK_RATE:
                left_apart |= group
                continue
            outside = [index for index in range(len(plans)) if index not in group]
            if _carry_fact(plans, group, outside, person, rng) or _carry_fact(plans, outside, group, person, rng):
                joined = True
                break
            left_apart |= group


def _groups(plans: list[_Plan]) -> list[set[int]]:
    """Records linked by shared facts, directly or through others; the group of the first record comes first."""
    groups: list[set[int]] = []
    group_facts: list[set[tuple[str, str]]] = []
    for index, plan in enumerate(plans):
        facts = set(plan.evidence().values())
        touching = [number for number, known in enumerate(group_facts) if known & facts]
        merged, merged_facts = {index}, facts
        for number in reversed(touching):
            merged |= groups.pop(number)
            merged_facts |= group_facts.pop(number)
        groups.append(merged)
        group_facts.append(merged_facts)
    return sorted(groups, key=min)


def _carry_fact(
    plans: list[_Plan], takers: Iterable[int], givers: Iterable[int], person: _Person, rng: random.Random
) -> bool:
    """Writes into one taker a fact a giver reveals, if the taker's source carries such a field; True if done."""
    options = []
    for taker in takers:
        plan = plans[taker]
        for giver in givers:
            for name, (_, value) in plans[giver].evidence().items():
                if plan.channel not in _CARRIERS.get(name, set()):
                    continue
                # A postal code only travels to a record written while the person lived at that address.
                if name == "postal_code" and value != _canonical_postal_code(plan.home.postal_code):
                    continue
                options.append((taker, name, plans[giver]))
    if not options:
        return False
    taker, name, giver_plan = rng.choice(options)
    plan = plans[taker]
    if name == "email":
        plan.fields["email"] = giver_plan.fields["email"]
    elif name == "phone":
        digits = "".join(character for character in giver_plan.fields["phone"] or "" if character.isdigit())[-10:]
        plan.fields["phone"] = _phone_text(digits, plan.channel, rng)
    elif name == "postal_code":
        plan.fields["postal_code"] = _postal_text(plan.home.postal_code, rng)
    else:
        plan.fields["birth_date"] = _birth_text(person.birth_date, rng)
    return True


def _canonical_postal_code(text: str) -> str:
    return "".join(character for character in text.upper() if character.isalnum())


# --- how each source writes a person ---------------------------------------------------------------------------


def _source_fields(
    channel: Channel,
    person: _Person,
    home: _Home,
    email: str | None,
    phone: str | None,
    external_id: str | None,
    rng: random.Random,
) -> dict[str, str | None]:
    fields: dict[str, str | None] = dict.fromkeys(INPUT_FIELDS)
    fields["source"] = {
        Channel.BOX_OFFICE: BOX_OFFICE,
        Channel.WALK_UP: BOX_OFFICE,
        Channel.SHOP: SHOP,
        Channel.NEWSLETTER: NEWSLETTER,
        Channel.DONATIONS: DONATIONS,
    }[channel]
    fields["external_id"] = external_id
    fields["first_name"] = person.first_name
    fields["last_name"] = person.last_name
    english = person.speaks_english

    def maybe(rate: float, value: str | None) -> str | None:
        return value if rng.random() < rate else None

    if channel is Channel.BOX_OFFICE:
        fields["email"] = maybe(0.7, email)
        fields["phone"] = maybe(0.8, _phone_text(phone, channel, rng))
        fields["postal_code"] = maybe(0.95, _postal_text(home.postal_code, rng))
        if rng.random() < 0.5:
            fields["street"], _ = _street_text(home, english, inline_unit=True, rng=rng)
            fields["city"] = _city_text(home.city, english, rng)
            fields["region"] = rng.choice(("QC", "Québec", "QC", "Qc"))
        fields["country"] = maybe(0.3, "Canada")
        fields["birth_date"] = maybe(0.06, _birth_text(person.birth_date, rng))
    elif channel is Channel.WALK_UP:
        fields["postal_code"] = _postal_text(home.postal_code, rng)
        fields["phone"] = maybe(0.4, _phone_text(phone, channel, rng))
        fields["birth_date"] = maybe(0.15, _birth_text(person.birth_date, rng))
    elif channel is Channel.SHOP:
        fields["email"] = email or person.family_email or person.other_email
        fields["phone"] = maybe(0.45, _phone_text(phone, channel, rng))
        fields["street"], fields["address_2"] = _street_text(home, english, inline_unit=rng.random() < 0.4, rng=rng)
        fields["city"] = _city_text(home.city, english, rng)
        fields["region"] = "QC" if rng.random() < 0.8 else "Québec"
        fields["postal_code"] = _postal_text(home.postal_code, rng)
        fields["country"] = "CA" if rng.random() < 0.7 else "Canada"
    elif channel is Channel.NEWSLETTER:
        fields["email"] = email or person.family_email or person.other_email
        fields["first_name"] = maybe(0.9, person.first_name)
        fields["last_name"] = maybe(0.8, person.last_name)
        if fields["first_name"] is None and fields["last_name"] is None:
            fields["first_name"] = person.first_name
    else:
        fields["email"] = maybe(0.8, email)
        fields["phone"] = maybe(0.5, _phone_text(phone, channel, rng))
        if rng.random() < 0.95:
            fields["street"], fields["address_2"] = _street_text(home, english, inline_unit=rng.random() < 0.5, rng=rng)
            fields["city"] = _city_text(home.city, english, rng)
            fields["region"] = "Québec" if rng.random() < 0.6 else "QC"
            fields["postal_code"] = _postal_text(home.postal_code, rng)
        fields["country"] = maybe(0.5, "Canada")
        fields["birth_date"] = maybe(0.35, _birth_text(person.birth_date, rng))
    if not any(fields[name] for name in ("email", "phone", "postal_code", "street")):
        # Every record carries at least one way to reach the person, as every source here requires one.
        fields["postal_code"] = _postal_text(home.postal_code, rng)
    return fields


_FRENCH_KINDS = {"rue": "rue", "avenue": "av.", "boulevard": "boul.", "chemin": "ch.", "route": "rte", "montée": "mtée"}
_ENGLISH_KINDS = {
    "rue": ("Street", "St.", "St"),
    "avenue": ("Avenue", "Ave.", "Ave"),
    "boulevard": ("Boulevard", "Blvd.", "Blvd"),
    "chemin": ("Road", "Rd", "Chemin"),
    "route": ("Route",),
    "montée": ("Montée",),
}
_FRENCH_SIDES = {"Est": "E.", "Ouest": "O.", "Nord": "N.", "Sud": "S."}
_ENGLISH_SIDES = {"Est": ("East", "E."), "Ouest": ("West", "W."), "Nord": ("North", "N."), "Sud": ("South", "S.")}
_PARTICLES = ("de la ", "de l'", "du ", "des ", "de ", "d'")


def _street_text(home: _Home, english: bool, *, inline_unit: bool, rng: random.Random) -> tuple[str, str | None]:
    """The street line as one source writes it, and the unit line when the unit is not inline."""
    street = home.street
    name = street.name
    if rng.random() < 0.3:
        name = name.replace("Sainte-", "Ste-").replace("Saint-", "St-")
    if english and rng.random() < 0.75:
        for particle in _PARTICLES:
            if name.startswith(particle):
                name = name[len(particle) :]
                name = name[0].upper() + name[1:]
                break
        parts = [str(home.number), name]
        if street.kind:
            parts.append(rng.choice(_ENGLISH_KINDS[street.kind]))
        if home.direction:
            parts.append(rng.choice(_ENGLISH_SIDES[home.direction]))
        line = " ".join(parts)
        unit_forms = ("Apt {}", "Apt. {}", "Unit {}", "#{}", "Suite {}")
    else:
        short = rng.random() < 0.4
        kind = (_FRENCH_KINDS[street.kind] if short else street.kind) if street.kind else ""
        side = (_FRENCH_SIDES[home.direction] if short else home.direction) if home.direction else ""
        number = f"{home.number}," if not short and rng.random() < 0.7 else str(home.number)
        line = " ".join(part for part in (number, kind, name, side) if part)
        unit_forms = ("app. {}", "App {}", "appartement {}", "#{}", "app {}")
    if home.unit is None:
        return line, None
    unit = rng.choice(unit_forms).format(home.unit)
    if not inline_unit:
        return line, unit
    if rng.random() < 0.5:
        return f"{home.unit}-{line}", None
    return f"{line}, {unit}", None


def _city_text(city: quebec.City, english: bool, rng: random.Random) -> str:
    if english and rng.random() < 0.6:
        return city.english_name
    return city.name


def _postal_text(code: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.6:
        return code
    if roll < 0.9:
        return code.replace(" ", "")
    if roll < 0.95:
        return code.lower()
    return code.replace(" ", "-")


_PHONE_FORMATS = (
    "({a}) {e}-{l}",
    "{a}-{e}-{l}",
    "{a}.{e}.{l}",
    "{a} {e}-{l}",
    "{a} {e} {l}",
    "{a}{e}{l}",
    "+1 {a} {e} {l}",
    "+1 ({a}) {e}-{l}",
    "1-{a}-{e}-{l}",
    "+1{a}{e}{l}",
    "1 {a} {e}-{l}",
)
_PHONE_FORMAT_WEIGHTS = {
    Channel.BOX_OFFICE: (0.35, 0.2, 0.05, 0.1, 0.05, 0.1, 0.02, 0.02, 0.05, 0.01, 0.05),
    Channel.WALK_UP: (0.3, 0.25, 0.05, 0.1, 0.05, 0.15, 0.02, 0.01, 0.05, 0.0, 0.02),
    Channel.SHOP: (0.1, 0.1, 0.05, 0.05, 0.05, 0.15, 0.1, 0.05, 0.05, 0.3, 0.0),
    Channel.NEWSLETTER: (0.2, 0.2, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.0),
    Channel.DONATIONS: (0.4, 0.2, 0.1, 0.1, 0.05, 0.05, 0.02, 0.03, 0.03, 0.0, 0.02),
}
_PHONE_STYLES = {channel: _Weighted(_PHONE_FORMATS, weights) for channel, weights in _PHONE_FORMAT_WEIGHTS.items()}


def _phone_text(digits: str | None, channel: Channel, rng: random.Random) -> str | None:
    if digits is None:
        return None
    return _PHONE_STYLES[channel].pick(rng).format(a=digits[:3], e=digits[3:6], l=digits[6:])


def _birth_text(born: date, rng: random.Random) -> str:
    return born.isoformat() if rng.random() < 0.6 else born.strftime("%Y%m%d")


# --- corruptions -----------------------------------------------------------------------------------------------

_TEXT_FIELDS = ("first_name", "last_name", "street", "address_2", "city", "region")
_MISSABLE_FIELDS = ("email", "phone", "postal_code", "street", "birth_date", "first_name", "last_name", "city")
_CONTACT_FIELDS = ("email", "phone", "postal_code", "street")
_TYPO_FIELDS = _Weighted(
    ("first_name", "last_name", "email", "street", "postal_code", "phone", "birth_date"),
    (3, 3, 2, 1, 0.5, 0.5, 0.3),
)


def _corrupt(
    fields: dict[str, str | None], person: _Person, protected: frozenset[str], rng: random.Random
) -> list[Corruption]:
    """Applies this record's corruptions in place and names them; at most MAX_DAMAGING_CORRUPTIONS harmful ones."""
    applied: list[Corruption] = []

    def room() -> bool:
        return sum(kind in DAMAGING for kind in applied) < MAX_DAMAGING_CORRUPTIONS

    first, last = fields["first_name"], fields["last_name"]
    if first in quebec.NICKNAMES and rng.random() < NICKNAME_RATE:
        fields["first_name"] = rng.choice(quebec.NICKNAMES[first])
        applied.append(Corruption.NICKNAME)
    if _has_spelling_variant(fields["first_name"], last) and rng.random() < SPELLING_VARIANT_RATE:
        fields["first_name"], fields["last_name"] = _spelling_variant(fields["first_name"], last, rng)
        applied.append(Corruption.SPELLING_VARIANT)
    if person.compound_surname and fields["last_name"] == person.last_name and rng.random() < SURNAME_PART_RATE:
        parts = person.last_name.split("-")
        fields["last_name"] = parts[0] if rng.random() < 0.75 else parts[1]
        applied.append(Corruption.SURNAME_PART)
    if fields["first_name"] and fields["last_name"] and rng.random() < SWAPPED_NAMES_RATE and room():
        fields["first_name"], fields["last_name"] = fields["last_name"], fields["first_name"]
        applied.append(Corruption.SWAPPED_NAMES)
    if rng.random() < TYPO_RATE and room():
        present = [name for name in _TYPO_FIELDS.items if fields[name]]
        if present:
            name = _TYPO_FIELDS.pick(rng)
            while not fields[name]:
                name = _TYPO_FIELDS.pick(rng)
            fields[name] = _typo_in(name, fields[name] or "", rng)
            applied.append(Corruption.TYPO)
    if rng.random() < MISSING_FIELD_RATE and room():
        removable = [
            name for name in _MISSABLE_FIELDS if fields[name] and name not in protected and _can_lose(fields, name)
        ]
        if removable:
            removed = rng.choice(removable)
            fields[removed] = None
            if removed == "street":
                fields["address_2"] = None
            applied.append(Corruption.MISSING_FIELD)
    accented = any(not (fields[name] or "").isascii() for name in _TEXT_FIELDS)
    if accented:
        roll = rng.random()
        if roll < MOJIBAKE_RATE and room():
            for name in _TEXT_FIELDS:
                fields[name] = _mojibake(fields[name])
            applied.append(Corruption.MOJIBAKE)
        elif MOJIBAKE_RATE <= roll < MOJIBAKE_RATE + ACCENT_LOSS_RATE:
            for name in _TEXT_FIELDS:
                fields[name] = _without_accents(fields[name])
            applied.append(Corruption.ACCENT_LOSS)
    if (fields["first_name"] or fields["last_name"]) and rng.random() < CASE_CHANGE_RATE:
        change = str.upper if rng.random() < 0.7 else str.lower
        for name in ("first_name", "last_name"):
            if fields[name]:
                fields[name] = change(fields[name] or "")
        if fields["email"] and rng.random() < 0.3:
            fields["email"] = _capitalised_email(fields["email"] or "")
        applied.append(Corruption.CASE_CHANGE)
    email = fields["email"]
    if email and email.lower().endswith("@gmail.com") and rng.random() < GMAIL_VARIANT_RATE:
        fields["email"] = _gmail_variant(email, rng)
        applied.append(Corruption.GMAIL_VARIANT)
    return applied


def _can_lose(fields: dict[str, str | None], name: str) -> bool:
    """A record keeps one name and one way to reach the person; losing either would make it anonymous."""
    if name in ("first_name", "last_name"):
        other = "last_name" if name == "first_name" else "first_name"
        return bool(fields[other])
    if name in _CONTACT_FIELDS:
        return any(fields[other] for other in _CONTACT_FIELDS if other != name)
    return True


def _has_spelling_variant(first: str | None, last: str | None) -> bool:
    return bool(first and "-" in first) or bool(last and ("-" in last or "'" in last))


def _spelling_variant(first: str | None, last: str | None, rng: random.Random) -> tuple[str | None, str | None]:
    """One of the ways the same name is spelt: hyphens as spaces, saints in full, apostrophes curly or gone."""
    choices = []
    if first and "-" in first:
        choices.append("first")
    if last and ("-" in last or "'" in last):
        choices.append("last")
    if rng.choice(choices) == "first" and first:
        return first.replace("-", " "), last
    assert last is not None
    if last.startswith(("St-", "Ste-")) and rng.random() < 0.7:
        full = last.replace("Ste-", "Sainte-", 1).replace("St-", "Saint-", 1)
        return first, rng.choice((full, full.replace("-", " "), last.replace("-", " ")))
    if "'" in last:
        return first, rng.choice((last.replace("'", "’"), last.replace("'", ""), last.replace("'", " ")))
    return first, last.replace("-", " ")


_KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


@functools.cache
def _neighbours(letter: str) -> str:
    for row_index, row in enumerate(_KEYBOARD_ROWS):
        column = row.find(letter)
        if column >= 0:
            near = row[max(0, column - 1) : column] + row[column + 1 : column + 2]
            for other in (row_index - 1, row_index + 1):
                if 0 <= other < len(_KEYBOARD_ROWS):
                    near += _KEYBOARD_ROWS[other][max(0, column - 1) : column + 1]
            return near
    return "e"


def _typo(text: str, rng: random.Random) -> str:
    """One edit a hurried hand makes: a neighbouring key, a letter dropped, doubled, or two letters swapped."""
    positions = [index for index, character in enumerate(text) if character.isalpha()]
    if len(positions) < 2:
        return text
    for _ in range(10):
        # The first letter is right more often than the others.
        index = rng.choice(positions[1:]) if rng.random() < 0.9 else positions[0]
        character = text[index]
        roll = rng.random()
        if roll < 0.35:
            replacement = rng.choice(_neighbours(_without_accents(character.lower()) or "e"))
            edited = text[:index] + (replacement.upper() if character.isupper() else replacement) + text[index + 1 :]
        elif roll < 0.6:
            edited = text[:index] + text[index + 1 :]
        elif roll < 0.8:
            edited = text[:index] + character + text[index:]
        elif index + 1 < len(text) and text[index + 1].isalpha():
            edited = text[:index] + text[index + 1] + character + text[index + 2 :]
        else:
            edited = text[:index] + text[index + 1 :]
        if edited != text:
            return edited
    return text


def _typo_in(name: str, value: str, rng: random.Random) -> str:
    if name == "email":
        local, _, domain = value.partition("@")
        if domain in quebec.DOMAIN_TYPOS and rng.random() < 0.25:
            return f"{local}@{rng.choice(quebec.DOMAIN_TYPOS[domain])}"
        return f"{_typo(local, rng)}@{domain}" if len(local) >= 3 else value
    if name == "phone":
        digits = [index for index, character in enumerate(value) if character.isdigit()][-7:]
        index = rng.choice(digits)
        replacement = rng.choice([digit for digit in "0123456789" if digit != value[index]])
        return value[:index] + replacement + value[index + 1 :]
    if name == "postal_code":
        index = rng.choice([index for index, character in enumerate(value) if character.isalnum()][1:])
        pool = "0123456789" if value[index].isdigit() else quebec.POSTAL_LETTERS
        replacement = rng.choice([character for character in pool if character != value[index].upper()])
        return value[:index] + (replacement.lower() if value[index].islower() else replacement) + value[index + 1 :]
    if name == "birth_date":
        return _birth_typo(value, rng)
    return _typo(value, rng)


def _birth_typo(value: str, rng: random.Random) -> str:
    """Day and month swapped where both read as a month, else a day off by one: the errors clerks make."""
    iso = "-" in value
    born = date.fromisoformat(value) if iso else date(int(value[:4]), int(value[4:6]), int(value[6:]))
    if born.day <= 12 and born.day != born.month and rng.random() < 0.6:
        wrong = born.replace(month=born.day, day=born.month)
    else:
        wrong = born + timedelta(days=rng.choice((-1, 1)))
    return wrong.isoformat() if iso else wrong.strftime("%Y%m%d")


def _without_accents(text: str | None) -> str | None:
    if text is None:
        return None
    return "".join(
        character for character in unicodedata.normalize("NFKD", text) if not unicodedata.combining(character)
    )


def _mojibake(text: str | None) -> str | None:
    if text is None or text.isascii():
        return text
    raw = text.encode("utf-8")
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _mailbox(name: str, rng: random.Random) -> str:
    """A name as it goes into a mailbox: no accents, no apostrophes or spaces, hyphens kept or dropped."""
    plain = (_without_accents(name) or "").lower().replace("'", "").replace(" ", "")
    return plain if rng.random() < 0.3 else plain.replace("-", "")


def _mailbox_key(email: str) -> str:
    """The mailbox an address delivers to: Gmail ignores dots in the local part, every provider ignores case."""
    local, _, domain = email.lower().partition("@")
    return f"{local.replace('.', '')}@{domain}" if domain == "gmail.com" else f"{local}@{domain}"


def _capitalised_email(email: str) -> str:
    local, _, domain = email.partition("@")
    words = ".".join(part[:1].upper() + part[1:] for part in local.split("."))
    return f"{words}@{domain[:1].upper()}{domain[1:]}"


def _gmail_variant(email: str, rng: random.Random) -> str:
    local, _, domain = email.partition("@")
    if rng.random() < 0.5:
        return f"{local}+{rng.choice(quebec.GMAIL_TAGS)}@{domain}"
    if "." in local:
        return f"{local.replace('.', '', 1)}@{domain}"
    cut = rng.randint(1, max(1, len(local) - 1))
    return f"{local[:cut]}.{local[cut:]}@{domain}"
