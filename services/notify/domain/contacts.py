"""What notify knows of each person, kept from profile's announcements, and whether a message may reach them now.

Consent is decided again when a message is sent, not only when its trigger fired: a withdrawal or an unsubscribe
announced in between wins. The projection is a fold of `parterre.profile.changed.v1` (fields named as profile's
`view` names them: `emails`, `undeliverable_emails`, `phones`, `preferred_language`,
`consent.<purpose>.status|allowed|expires_at|…`),
applied in profile-version order, plus the opt-outs notify learns itself from the tools it feeds.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.addresses import (
    numbers_of_line,
    postal_code_key,
    postal_code_of_line,
    postal_line,
    same_building,
)
from shared.events.common import Channel, ConsentPurpose, Language

# The channel a message for each purpose uses, as profile chooses a trigger's contact points.
CHANNEL_OF_PURPOSE: Mapping[ConsentPurpose, Channel] = {
    ConsentPurpose.MARKETING_EMAIL: Channel.EMAIL,
    ConsentPurpose.SMS: Channel.SMS,
    ConsentPurpose.POSTAL: Channel.POSTAL,
    ConsentPurpose.SURVEY: Channel.EMAIL,
}
LANGUAGES: tuple[Language, ...] = ("fr", "en")
# The postal address as profile shows it: one address's parts, never mixed with another's.
ADDRESS_FIELDS = ("street", "address_2", "city", "region", "postal_code", "country")
_TEXT_FIELDS = ("first_name", "last_name", *ADDRESS_FIELDS, "preferred_language")
# In `Contact.announced` once profile announced any address field.
ADDRESS = "address"
_CONSENT_ATTRIBUTES = ("status", "allowed", "expires_at", "captured_at", "basis")


class Suppression(StrEnum):
    """Why a message was not sent to a person."""

    ERASED = "erased"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    CONSENT_EXPIRED = "consent_expired"
    NO_CONSENT = "no_consent"
    OPTED_OUT = "opted_out"
    NO_CONTACT_POINT = "no_contact_point"
    FREQUENCY_CAP = "frequency_cap"


@dataclass(frozen=True)
class PurposeConsent:
    """One purpose's consent as profile last announced it; None where it announced nothing yet."""

    status: str | None = None
    allowed: bool | None = None
    expires_at: datetime | None = None
    captured_at: datetime | None = None
    # `express` or an implied basis (`implied_purchase`…); None when profile said none, or before notify kept it.
    basis: str | None = None

    def lifts_opt_out(self, opted_out_at: datetime, now: datetime) -> bool:
        """Whether this consent was given after an unsubscribe a tool reported: only an express grant since does
        (CASL: a withdrawal wins over any later implied basis, so the next purchase does not re-open email). One dated
        after `now` was not given yet (a year mistyped upstream, announced before profile dated it by its fact): it
        lifts nothing, or it would outrank every unsubscribe until that day."""
        if self.captured_at is None or self.captured_at <= opted_out_at or self.captured_at > now:
            return False
        # Kept before the basis was: only express consent has no end.
        return self.basis == "express" if self.basis is not None else self.expires_at is None

    def verdict(self, now: datetime) -> Suppression | None:
        """None if consent allows contact at `now`, else why not."""
        if self.status == "withdrawn":
            return Suppression.CONSENT_WITHDRAWN
        if self.status is not None and self.status != "granted":
            return Suppression.NO_CONSENT
        if self.expires_at is not None and self.expires_at <= now:
            return Suppression.CONSENT_EXPIRED
        if self.allowed is False:
            # Granted but not allowed: an implied consent that profile saw expire.
            return Suppression.CONSENT_EXPIRED if self.status == "granted" else Suppression.NO_CONSENT
        return None

    @property
    def known(self) -> bool:
        return self.status is not None or self.allowed is not None


@dataclass(frozen=True)
class Contact:
    person_id: str
    profile_version: int = 0
    emails: tuple[str, ...] = ()
    # Those of `emails` that bounced hard or were cleaned since they were last given: no message goes there.
    undeliverable_emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    first_name: str | None = None
    last_name: str | None = None
    street: str | None = None
    address_2: str | None = None
    city: str | None = None
    region: str | None = None
    postal_code: str | None = None
    country: str | None = None
    preferred_language: str | None = None
    consents: Mapping[str, PurposeConsent] = field(default_factory=dict)
    # Unsubscribes a tool reported back (a Mailchimp member found unsubscribed), by purpose: when notify learnt them.
    opt_outs: Mapping[str, datetime] = field(default_factory=dict)
    # The address each Mailchimp subscription last kept the person's member under, by subscription id: when the
    # person's latest address changes, that member is moved to it rather than a second one added.
    mailchimp_members: Mapping[str, str] = field(default_factory=dict)
    # The members each Mailchimp subscription archived itself, when the person's implied consent lapsed, by the
    # subscriber hash of their address: those alone it brings back when consent is given again. One archived in
    # Mailchimp by someone else (often after an unsubscribe, whose status archiving hides) stays archived.
    mailchimp_archived: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # Which of `emails`, `phones` and the address (`ADDRESS`) profile announced: one unannounced is unknown, not empty.
    announced: frozenset[str] = frozenset()

    def consent(self, purpose: ConsentPurpose) -> PurposeConsent:
        return self.consents.get(purpose.value, PurposeConsent())

    @property
    def deliverable_emails(self) -> tuple[str, ...]:
        return tuple(email for email in self.emails if email not in self.undeliverable_emails)


def contact_details(contact: Contact) -> dict[str, Any]:
    """What the contact says of the person, as plain values: addresses, phones, names, postal address, language and
    each purpose's consent (its moments as `datetime`s), as stored and as exported."""
    return {
        "emails": list(contact.emails),
        "undeliverable_emails": list(contact.undeliverable_emails),
        "phones": list(contact.phones),
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        **{name: getattr(contact, name) for name in ADDRESS_FIELDS},
        "preferred_language": contact.preferred_language,
        "consents": {
            purpose: {
                "status": consent.status,
                "allowed": consent.allowed,
                "expires_at": consent.expires_at,
                "captured_at": consent.captured_at,
                "basis": consent.basis,
            }
            for purpose, consent in contact.consents.items()
        },
    }


def _as_time(value: Any) -> datetime | None:
    if isinstance(value, str) and value:
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        # Profile sends its moments in UTC with the offset; one without (another producer's) is read as UTC rather
        # than failing every send check that compares it with the time now.
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def _no_later(moment: datetime | None, latest: datetime) -> datetime | None:
    return moment if moment is None or moment <= latest else latest


def _as_strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, list | tuple):
        return tuple(item for item in value if isinstance(item, str) and item.strip())
    return ()


def apply_change(
    contact: Contact, changed: Mapping[str, Any], profile_version: int, announced_at: datetime
) -> Contact | None:
    """`contact` with profile's changed fields applied; None if this change is not newer than what it holds, or
    changes nothing it holds: most changes (a purchase, an open) touch no contact point, name or consent, and the
    contact is then not written again. The version it keeps is that of the last change it took, which is all a
    change delivered again or late is compared with.

    A consent is taken as captured no later than the change announcing it (`announced_at`, its event's time): one
    dated after (a year mistyped upstream, folded before profile dated consent by its fact) would otherwise lift
    every unsubscribe a tool reports until that day."""
    if profile_version <= contact.profile_version:
        return None
    updates: dict[str, Any] = {"profile_version": profile_version}
    announced = set(contact.announced)
    for name in ("emails", "phones"):
        if name in changed:
            updates[name] = _as_strings(changed[name])
            announced.add(name)
    if "undeliverable_emails" in changed:
        updates["undeliverable_emails"] = _as_strings(changed["undeliverable_emails"])
    if any(name in changed for name in ADDRESS_FIELDS):
        announced.add(ADDRESS)
    for name in _TEXT_FIELDS:
        if name in changed:
            value = changed[name]
            updates[name] = value if isinstance(value, str) and value else None
    consents = dict(contact.consents)
    for purpose in ConsentPurpose:
        given = {
            attribute: changed[f"consent.{purpose.value}.{attribute}"]
            for attribute in _CONSENT_ATTRIBUTES
            if f"consent.{purpose.value}.{attribute}" in changed
        }
        if not given:
            continue
        current = consents.get(purpose.value, PurposeConsent())
        consents[purpose.value] = replace(
            current,
            status=given.get("status", current.status),
            allowed=given["allowed"] if isinstance(given.get("allowed"), bool) else current.allowed,
            expires_at=_as_time(given["expires_at"]) if "expires_at" in given else current.expires_at,
            captured_at=_no_later(_as_time(given["captured_at"]), announced_at)
            if "captured_at" in given
            else current.captured_at,
            basis=given.get("basis", current.basis),
        )
    updates["consents"] = consents
    updates["announced"] = frozenset(announced)
    applied = replace(contact, **updates)
    return None if applied == replace(contact, profile_version=profile_version) else applied


@dataclass(frozen=True)
class OptOut:
    """A tool's report that the person unsubscribed from `purpose`, read at `at`, with the tool's dates of the member's
    last change and last subscription if it said them (Mailchimp's `last_changed`, `timestamp_opt`)."""

    purpose: str
    at: datetime
    changed_at: datetime | None = None
    opted_in_at: datetime | None = None


def record_opt_out(
    contact: Contact,
    purpose: ConsentPurpose,
    at: datetime,
    *,
    changed_at: datetime | None = None,
    opted_in_at: datetime | None = None,
) -> Contact:
    """The contact once a tool reported the person unsubscribed from `purpose` (see `opt_out_learnt`)."""
    learnt = opt_out_learnt(contact, purpose.value, at, changed_at=changed_at, opted_in_at=opted_in_at)
    return contact if learnt is None else replace(contact, opt_outs={**contact.opt_outs, purpose.value: learnt})


def opt_out_learnt(
    contact: Contact, purpose: str, at: datetime, *, changed_at: datetime | None, opted_in_at: datetime | None = None
) -> datetime | None:
    """When the person opted out of `purpose`, once a tool reported them unsubscribed at `at`; None when the opt-out
    kept says so already. `changed_at` is when the tool says the member last changed (Mailchimp's `last_changed`),
    `opted_in_at` when they last subscribed there (`timestamp_opt`).

    A tool reports an unsubscribe again at each sync for as long as it stands (Mailchimp's API cannot subscribe the
    member again), so an opt-out in force keeps the earliest time learnt: dated by when it was read, it would move past
    an express consent given since, and undo it. Once such a consent lifted it, the unsubscribe reported is a new one
    only if the person subscribed in the tool again after that consent: the tool's date of the last change proves
    nothing, as any edit moves it, the sync's own update of the member's name too. An unsubscribe through Mailchimp's
    webhook reaches the profile as consent withdrawn, whatever this says."""
    reported = at if changed_at is None else min(changed_at, at)
    kept = contact.opt_outs.get(purpose)
    if kept is None:
        return reported
    consent = contact.consents.get(purpose, PurposeConsent())
    if not consent.lifts_opt_out(kept, at):
        return reported if reported < kept else None
    given_after = consent.captured_at
    if opted_in_at is None or given_after is None or opted_in_at <= given_after:
        return None
    return max(reported, opted_in_at)


@dataclass(frozen=True)
class SendCheck:
    """Whether a message may go now, and to which of the contact points its trigger named."""

    suppressed: Suppression | None
    contact_points: tuple[tuple[Channel, str], ...] = ()

    @property
    def allowed(self) -> bool:
        return self.suppressed is None


def check_send(
    contact: Contact | None,
    purpose: ConsentPurpose,
    contact_points: Sequence[tuple[Channel, str]],
    *,
    erased: bool,
    now: datetime,
) -> SendCheck:
    """May a message for `purpose` reach the person now, and at which of `contact_points` (the trigger's)?

    The trigger's contact points are those consent allowed when it fired. What notify learnt since narrows them:
    a consent withdrawn or expired stops the message, an unsubscribe reported by a tool stops it unless express
    consent was given since, and an address the profile no longer holds, or found undeliverable since, is dropped.
    Nothing learnt since can widen them.
    """
    if erased:
        return SendCheck(Suppression.ERASED)
    channel = CHANNEL_OF_PURPOSE[purpose]
    points = tuple((point_channel, value) for point_channel, value in contact_points if point_channel is channel)
    if contact is not None:
        consent = contact.consent(purpose)
        if consent.known and (verdict := consent.verdict(now)) is not None:
            return SendCheck(verdict)
        opted_out_at = contact.opt_outs.get(purpose.value)
        if opted_out_at is not None and not consent.lifts_opt_out(opted_out_at, now):
            return SendCheck(Suppression.OPTED_OUT)
        points = tuple(point for point in points if _held(contact, point))
    if not points:
        return SendCheck(Suppression.NO_CONTACT_POINT)
    return SendCheck(None, points)


def address_line(contact: Contact) -> str:
    """The person's postal address on one line, as profile writes it in a trigger; empty without a postal code."""
    return postal_line({name: getattr(contact, name) for name in ADDRESS_FIELDS})


def _held(contact: Contact, point: tuple[Channel, str]) -> bool:
    """Whether the person still has this contact point, as far as profile announced: mail to an address they moved
    from would reach the next household."""
    channel, value = point
    if channel is Channel.POSTAL:
        if ADDRESS not in contact.announced:
            return True
        # The same place, however its other parts were written since: a move changes the postal code, or, within one
        # (a French code covers a town), the building's or apartment's number.
        postal_code = postal_code_key(contact.postal_code)
        if postal_code == "" or postal_code_of_line(value) != postal_code:
            return False
        return same_building(numbers_of_line(value), numbers_of_line(address_line(contact)))
    if channel is Channel.EMAIL and value in contact.undeliverable_emails:
        return False
    list_name = "phones" if channel is Channel.SMS else "emails"
    return list_name not in contact.announced or value in getattr(contact, list_name)


def message_language(contact: Contact | None, fallback: Language) -> Language:
    """The person's preferred language as profile knows it now, else the language the trigger was fired in."""
    preferred = (contact.preferred_language or "") if contact is not None else ""
    primary = preferred.split("-", 1)[0].lower()
    for language in LANGUAGES:
        if primary == language:
            return language
    return fallback
