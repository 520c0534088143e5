"""Mailchimp Marketing API audience sync: members keyed by the MD5 of the lower-cased email, tags for segments."""

import hashlib
from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from services.notify.domain.contacts import Contact, Suppression, message_language
from shared.events.common import ConsentPurpose, Language

# Statuses only the person (`unsubscribed`) or Mailchimp (`cleaned`, after hard bounces) give a member. A cleaned
# address is undeliverable, which says nothing of the person's consent (CASL): it stops mail to that address only.
UNSUBSCRIBED = "unsubscribed"
CLEANED = "cleaned"


def subscriber_hash(email: str) -> str:
    """Mailchimp's member id in a list: MD5 of the lower-cased address (an identifier, not a security measure)."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def member_email(contact: Contact | None) -> str | None:
    """The address a member is kept under: the latest given that is not known to bounce or to be cleaned."""
    if contact is None or not contact.deliverable_emails:
        return None
    return contact.deliverable_emails[0]


def member_body(contact: Contact, email: str, *, fallback: Language) -> dict[str, Any]:
    """The body of `PUT /lists/{list}/members/{hash}`: create or update a consenting member, keeping its status.

    `status_if_new` applies only to a new member, so a person who unsubscribed in Mailchimp is never subscribed
    again by a sync.
    """
    merge_fields = {
        key: value for key, value in (("FNAME", contact.first_name), ("LNAME", contact.last_name)) if value is not None
    }
    return {
        "email_address": email,
        "status_if_new": "subscribed",
        "language": message_language(contact, fallback),
        "merge_fields": merge_fields,
    }


# A withdrawal in Parterre unsubscribes the member in Mailchimp (`PATCH`; a 404 means they never were one), under
# every address the person gave: they may have joined under one they have replaced since.
UNSUBSCRIBE_BODY: dict[str, Any] = {"status": "unsubscribed"}
WITHDRAWALS = frozenset({Suppression.CONSENT_WITHDRAWN, Suppression.OPTED_OUT})
# An implied consent past its term archives the member: not `unsubscribed`, which is the person's own decision (a
# later sync would take it for an opt-out), and a later purchase or express consent brings them back.
LAPSES = frozenset({Suppression.CONSENT_EXPIRED})
# An archived member is brought back with this; a `PUT` leaves it archived.
RESUBSCRIBE_BODY: dict[str, Any] = {"status": "subscribed"}
ARCHIVED = "archived"


def members_to_forget(contact: Contact, given_by_others: Collection[str]) -> list[str]:
    """The subscriber hashes of the members an erased person may have in an audience: under each address they gave
    and each one a sync kept their member under. Not those of an address another person gives too (a family's): that
    member is theirs as well, and stays."""
    addresses = (*contact.emails, *contact.mailchimp_members.values())
    shared = {subscriber_hash(address) for address in given_by_others}
    return sorted({subscriber_hash(address) for address in addresses} - shared)


def tags_body(segment: str, *, entered: bool) -> dict[str, Any]:
    """The body of `POST /lists/{list}/members/{hash}/tags`: a segment's tag made active or inactive."""
    return {"tags": [{"name": segment, "status": "active" if entered else "inactive"}]}


def unsubscribed_in_mailchimp(member: Mapping[str, Any]) -> bool:
    """Whether Mailchimp's answer says the person left the audience there: Parterre must stop emailing them."""
    return member.get("status") == UNSUBSCRIBED


def changed_in_mailchimp(member: Mapping[str, Any]) -> datetime | None:
    """When Mailchimp says the member last changed (`last_changed`, ISO 8601 with its offset); None if it does not
    say, or not readably. Any edit moves it, a sync's own update of the member's fields too."""
    return _moment(member, "last_changed")


def opted_in_in_mailchimp(member: Mapping[str, Any]) -> datetime | None:
    """When the member last confirmed their subscription in Mailchimp (`timestamp_opt`); None if it does not say
    (an empty string when never), or not readably."""
    return _moment(member, "timestamp_opt")


def _moment(member: Mapping[str, Any], name: str) -> datetime | None:
    value = member.get(name)
    if not isinstance(value, str):
        return None
    try:
        changed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return changed if changed.tzinfo is not None else None


def cleaned_in_mailchimp(member: Mapping[str, Any]) -> bool:
    """Whether Mailchimp's answer says the member's address bounces: that address is settled, the person is not."""
    return member.get("status") == CLEANED


MAILCHIMP_PURPOSE = ConsentPurpose.MARKETING_EMAIL
