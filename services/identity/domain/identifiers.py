"""Strong identifiers (upstream ids, emails, phones) and the policy that says which may link or merge persons."""

import fnmatch
import hashlib
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from services.identity.domain.normalise import normalise_email, normalise_phone
from services.identity.domain.records import NormalisedRecord
from shared.bilingual import BilingualValueError
from shared.emails import accented_form, dns_form, readable_domain
from shared.memo import remembered
from shared.records import quick_init
from shared.yaml_models import load_yaml_model


class IdentifierType(StrEnum):
    EXTERNAL_ID = "external_id"
    EMAIL = "email"
    PHONE = "phone"


@quick_init
@dataclass(frozen=True, slots=True, order=True)
class Identifier:
    """One normalised identifier; upstream ids are scoped by their source, since `C-1` means nothing across systems."""

    type: IdentifierType
    value: str
    source: str | None = None

    @property
    def kind(self) -> str:
        """`email`, `phone`, or `external_id:<source>`: the name merge evidence and match reports use."""
        # `_value_` rather than `value`: an enum's `value` is a descriptor, and this runs for every identifier compared.
        return f"external_id:{self.source}" if self.type is IdentifierType.EXTERNAL_ID else self.type._value_

    @property
    def key(self) -> str:
        return f"{self.kind}={self.value}"

    @property
    def digest(self) -> "IdentifierDigest":
        return _digest_of(self.kind, self.value)


# An unsalted SHA-256 of an address or a number is undone by trying candidates: once its person is erased, a digest
# keeps its kind and loses its hash.
ERASED_VALUE_HASH = ""


@quick_init
@dataclass(frozen=True, slots=True, order=True)
class IdentifierDigest:
    """An identifier without its value: what journals, merge records and the ownership index keep."""

    kind: str
    value_hash: str

    @property
    def key(self) -> str:
        return f"{self.kind}#{self.value_hash}"

    @property
    def is_erased(self) -> bool:
        return self.value_hash == ERASED_VALUE_HASH

    def erased(self) -> "IdentifierDigest":
        """The digest with its kind only: what records keep of an erased person's identifier."""
        return IdentifierDigest(self.kind, ERASED_VALUE_HASH)


@remembered
def _digest_of(kind: str, value: str) -> IdentifierDigest:
    # SHA-256 of the value: proves a match in a merge record without keeping the address or number.
    return IdentifierDigest(kind, hashlib.sha256(value.encode()).hexdigest())


def digest_from_key(key: str) -> IdentifierDigest:
    kind, _, value_hash = key.rpartition("#")
    return IdentifierDigest(kind, value_hash)


def identifier_from_key(key: str) -> Identifier:
    """The identifier `Identifier.key` names."""
    kind, _, value = key.partition("=")
    type_name, _, source = kind.partition(":")
    return Identifier(IdentifierType(type_name), value, source or None)


ShortName = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class IdentifierRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    priority: int = Field(ge=0, le=1000, description="Higher wins: it names the match method and the survivor.")
    max_per_person: int = Field(
        ge=1, le=100, description="Values of this type one person may hold (per source, for upstream ids)."
    )
    merges: bool = Field(description="Whether this identifier alone may merge two known persons.")
    confidence: float = Field(gt=0, le=1, description="Confidence reported for a match on this identifier alone.")


def _blocked_email(entry: str) -> str:
    text = entry.strip().lower()
    if any(wildcard in text for wildcard in "*?["):
        # Matched against addresses as normalised: a domain written in its DNS form is read as theirs are.
        pattern, at, domain = text.rpartition("@")
        return f"{pattern}{at}{readable_domain(domain)}" if at else text
    return normalise_email(text) or text


class BlockedValues(BaseModel):
    """Values shared by many people, which must never link anyone: they would glue a city together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    emails: tuple[ShortName, ...] = Field(default=(), description="Addresses, or `*` patterns such as `info@*`.")
    phones: tuple[ShortName, ...] = Field(default=(), description="Numbers in any format; compared in E.164.")
    external_ids: tuple[ShortName, ...] = Field(default=(), description="Upstream ids such as `GUEST` or `0`.")

    @field_validator("emails")
    @classmethod
    def _as_matched(cls, emails: tuple[str, ...]) -> tuple[str, ...]:
        # Records' addresses are compared normalised (Gmail dots and `+tags` gone): a plain address must be too,
        # or `billetterie.theatre@gmail.com` would never block `billetterietheatre@gmail.com`.
        return tuple(_blocked_email(email) for email in emails)

    @field_validator("phones")
    @classmethod
    def _phones_parse(cls, phones: tuple[str, ...]) -> tuple[str, ...]:
        # A blocked number that does not parse would block nothing, silently: say so instead.
        unusable = [phone for phone in phones if normalise_phone(phone) is None]
        if unusable:
            raise BilingualValueError(
                en=f"not phone numbers, so they would block nothing: {', '.join(unusable)}",
                fr=f"ce ne sont pas des numéros de téléphone, ils ne bloqueraient rien : {', '.join(unusable)}",
            )
        return phones


class IdentifierPolicy(BaseModel):
    """Identifier policy as data: priorities, limits, blocked values, and one organisation's own additions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    identifiers: dict[IdentifierType, IdentifierRule]
    blocked: BlockedValues = Field(default_factory=BlockedValues)
    organisations: dict[ShortName, BlockedValues] = Field(
        default_factory=dict, description="Values blocked for one organisation only, e.g. its box office's address."
    )

    @field_validator("identifiers")
    @classmethod
    def _every_type_has_a_rule(
        cls, rules: dict[IdentifierType, IdentifierRule]
    ) -> dict[IdentifierType, IdentifierRule]:
        missing = [kind.value for kind in IdentifierType if kind not in rules]
        if missing:
            raise BilingualValueError(
                en=f"every identifier type needs a rule; missing: {', '.join(missing)}",
                fr=f"chaque type d'identifiant a besoin d'une règle ; il manque : {', '.join(missing)}",
            )
        return rules

    def rule(self, identifier: Identifier) -> IdentifierRule:
        return self.identifiers[identifier.type]

    def is_blocked(self, identifier: Identifier, organisation_id: str) -> bool:
        return _block_list(self, organisation_id).blocks(identifier)

    def strongest(self, identifiers: Iterable[Identifier]) -> Identifier | None:
        return max(identifiers, key=lambda identifier: (self.rule(identifier).priority, identifier), default=None)


class _BlockList:
    """One organisation's blocked values, compiled once: every identifier of every fact is checked against them."""

    def __init__(self, lists: Iterable[BlockedValues]) -> None:
        lists = list(lists)
        patterns = [fnmatch.translate(pattern) for blocked in lists for pattern in blocked.emails]
        self._emails = re.compile("|".join(patterns)) if patterns else None
        self._phones = {normalise_phone(phone) for blocked in lists for phone in blocked.phones} - {None}
        self._external_ids = {_external_id_as_compared(value) for blocked in lists for value in blocked.external_ids}

    def blocks(self, identifier: Identifier) -> bool:
        if identifier.type is IdentifierType.EMAIL:
            return self._emails is not None and self._emails.match(identifier.value) is not None
        if identifier.type is IdentifierType.PHONE:
            return identifier.value in self._phones
        return _external_id_as_compared(identifier.value) in self._external_ids


def _external_id_as_compared(external_id: str) -> str:
    # Upstream systems write placeholders in any case (GUEST, Guest, guest) and padded (`GUEST `, `0\t`). The id itself
    # stays as sent, padding included, since records were filed under it; only the comparison ignores both.
    return external_id.strip().casefold()


# Policies are frozen and few (one per process, a couple in tests), so caching by identity is safe and small.
_BLOCK_LISTS: dict[tuple[int, str], tuple[IdentifierPolicy, _BlockList]] = {}


def _block_list(policy: IdentifierPolicy, organisation_id: str) -> _BlockList:
    key = (id(policy), organisation_id)
    cached = _BLOCK_LISTS.get(key)
    if cached is None or cached[0] is not policy:
        lists = [policy.blocked]
        if organisation_id in policy.organisations:
            lists.append(policy.organisations[organisation_id])
        cached = (policy, _BlockList(lists))
        if len(_BLOCK_LISTS) > 10_000:
            _BLOCK_LISTS.clear()
        _BLOCK_LISTS[key] = cached
    return cached[1]


def load_identifier_policy(yaml_text: str, *, file_name: str = "identifier policy") -> IdentifierPolicy:
    """The policy a YAML file states; raises `shared.yaml_models.ConfigFileError` naming each bad line."""
    return load_yaml_model(yaml_text, IdentifierPolicy, file_name=file_name)


def identifiers_of(
    record: NormalisedRecord, policy: IdentifierPolicy, organisation_id: str, *, previous_emails: Iterable[str] = ()
) -> tuple[list[Identifier], list[Identifier]]:
    """(usable, blocked) identifiers of a record, strongest first; a blocked value never links anyone."""
    found: list[Identifier] = []
    if record.external_id is not None and record.source is not None:
        found.append(Identifier(IdentifierType.EXTERNAL_ID, record.external_id, record.source))
    if record.email is not None:
        found.append(Identifier(IdentifierType.EMAIL, record.email))
    for raw in previous_emails:
        email = normalise_email(raw)
        # `Old.Name@x` and `old.name@x` are one address: listed twice, it would count twice against the limit.
        if email is not None and Identifier(IdentifierType.EMAIL, email) not in found:
            found.append(Identifier(IdentifierType.EMAIL, email))
    if record.phone is not None:
        found.append(Identifier(IdentifierType.PHONE, record.phone))
    block_list = _block_list(policy, organisation_id)
    usable: list[Identifier] = []
    blocked: list[Identifier] = []
    for identifier in found:
        (blocked if block_list.blocks(identifier) else usable).append(identifier)
    usable.sort(key=lambda identifier: -policy.rule(identifier).priority)
    return usable, blocked


def evidence_of(
    record: NormalisedRecord, policy: IdentifierPolicy, organisation_id: str, *, previous_emails: Iterable[str] = ()
) -> tuple[NormalisedRecord, list[Identifier]]:
    """The record as evidence of who it is, and its usable identifiers, strongest first (see `identifiers_of`)."""
    usable, blocked = identifiers_of(record, policy, organisation_id, previous_emails=previous_emails)
    return without_blocked(record, blocked), usable


def without_blocked(record: NormalisedRecord, blocked: Iterable[Identifier]) -> NormalisedRecord:
    """A blocked email or phone (the box office's own, a placeholder typed by staff) says nothing of the person: the
    model neither compares it nor makes a look-alike block of it."""
    blocked = set(blocked)
    email = None if Identifier(IdentifierType.EMAIL, record.email or "") in blocked else record.email
    phone = None if Identifier(IdentifierType.PHONE, record.phone or "") in blocked else record.phone
    if (email, phone) == (record.email, record.phone):
        return record
    return replace(record, email=email, phone=phone)


def without_identifiers(record: NormalisedRecord, gone: Collection[Identifier]) -> NormalisedRecord:
    """`record` without the values of `gone` it names (its upstream id, email or phone); the rest stays."""
    named = {identifier.type for identifier in named_identifiers(record) if identifier in gone}
    if not named:
        return record
    return replace(
        record,
        external_id=None if IdentifierType.EXTERNAL_ID in named else record.external_id,
        email=None if IdentifierType.EMAIL in named else record.email,
        phone=None if IdentifierType.PHONE in named else record.phone,
    )


def named_identifiers(record: NormalisedRecord) -> list[Identifier]:
    """Every identifier the record names, usable or blocked: what an erasure looks for in records others hold."""
    named: list[Identifier] = []
    if record.external_id is not None and record.source is not None:
        named.append(Identifier(IdentifierType.EXTERNAL_ID, record.external_id, record.source))
    if record.email is not None:
        named.append(Identifier(IdentifierType.EMAIL, record.email))
    if record.phone is not None:
        named.append(Identifier(IdentifierType.PHONE, record.phone))
    return named


def records_without_erased(
    records: tuple[NormalisedRecord, ...], erased: Collection[Identifier]
) -> tuple[NormalisedRecord, ...]:
    """`records` as another person keeps them once the owner of `erased` is erased: a record naming only erased
    identifiers was the erased person's alone and goes whole; one naming someone else's too keeps everything but
    the erased values (`D-1` with an erased email keeps `D-1`)."""
    kept: list[NormalisedRecord] = []
    for record in records:
        named = named_identifiers(record)
        gone = {identifier.type for identifier in named if identifier in erased}
        if not gone:
            kept.append(record)
        elif len(gone) < len(named):
            kept.append(
                replace(
                    record,
                    external_id=None if IdentifierType.EXTERNAL_ID in gone else record.external_id,
                    email=None if IdentifierType.EMAIL in gone else record.email,
                    phone=None if IdentifierType.PHONE in gone else record.phone,
                )
            )
    # Two records made one by what went: the newest place is kept, as `add_record` keeps it.
    return tuple(reversed(dict.fromkeys(reversed(kept))))


# The form stored identifiers are written in, raised when normalisation writes a stored one otherwise; persons stored
# in an older form are claimed in this one by `parterre identity rekey-identifiers`.
# 1: an address's domain is written accented, not in the DNS's `xn--` form (2026-12).
IDENTIFIER_FORM_VERSION = 1


def as_written_today(identifier: Identifier) -> Identifier:
    """The identifier as today's normalisation writes it: an address a release before 2026-12 kept with its domain in
    the DNS's form (`marie@xn--thtre-4qa2c.qc.ca`) with the accented name it stands for (`marie@théâtre.qc.ca`), which
    is what a fact naming it either way is linked by now. Any other identifier is itself."""
    if identifier.type is not IdentifierType.EMAIL:
        return identifier
    today = accented_form(identifier.value)
    return identifier if today == identifier.value else Identifier(IdentifierType.EMAIL, today)


def written_either_way(identifier: Identifier) -> frozenset[Identifier]:
    """The identifier, and for an address the other form it is held in: as written today (`as_written_today`) and as
    a release before 2026-12 kept it when given with its domain in the DNS's form (`dns_form`). What hands one over
    (an unmerge) hands over both: `parterre identity rekey-identifiers` claims the second for the holder of the
    first."""
    if identifier.type is not IdentifierType.EMAIL:
        return frozenset({identifier})
    return frozenset(
        {identifier, as_written_today(identifier), Identifier(IdentifierType.EMAIL, dns_form(identifier.value))}
    )


def count_by_kind(identifiers: Iterable[Identifier]) -> Mapping[str, int]:
    """How many values of each kind: an address held both as an older release wrote it and as written today (claimed
    so since, by a fact that named it so or by `parterre identity rekey-identifiers`) is one address, and counts once
    against `max_per_person`."""
    counts: dict[str, int] = {}
    for identifier in {as_written_today(identifier) for identifier in identifiers}:
        counts[identifier.kind] = counts.get(identifier.kind, 0) + 1
    return counts
