"""Subscriptions: where a tool wants messages, which events it wants, and the secrets that sign them."""

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from services.notify.domain.mailchimp import MAILCHIMP_PURPOSE

ANY = "*"
# A Mailchimp audience hears of a consent for marketing email that stopped allowing it, whatever fields it asked for:
# a withdrawal or a lapse it missed would leave the person subscribed there, and emailed by it (CASL: within 10
# business days). A consent given is not forced on it: that would add people it never asked for.
AUDIENCE_CONSENT_PREFIX = f"consent.{MAILCHIMP_PURPOSE.value}."
AUDIENCE_CONSENT_ALLOWED = f"{AUDIENCE_CONSENT_PREFIX}allowed"


class TargetKind(StrEnum):
    WEBHOOK = "webhook"
    MAILCHIMP = "mailchimp"


class DisabledReason(StrEnum):
    """Why a subscription was disabled, as a code its readers put in their own words; `disabled_reason` says it in
    English, with what the receiver answered. Subscriptions disabled before codes were kept have none."""

    BY_ADMINISTRATOR = "disabled_by_administrator"
    RECEIVER_GONE = "receiver_gone"


class MessageKind(StrEnum):
    """What a message announces, named as the event types that carry it."""

    TRIGGER_FIRED = "parterre.trigger.fired.v1"
    SEGMENT_ENTERED = "parterre.segment.entered.v1"
    SEGMENT_EXITED = "parterre.segment.exited.v1"
    PROFILE_CHANGED = "parterre.profile.changed.v1"
    # Only to Mailchimp audiences, queued by the erasure itself: the person's members are deleted for good.
    PROFILE_ERASED = "parterre.profile.erased.v1"


@dataclass(frozen=True)
class EventFilter:
    """Which events a subscription wants; `*` in a set means every name.

    `profile_fields` are names or shell-style patterns (`consent.*`): a profile change is delivered when one of its
    fields matches, with only the matching fields.
    """

    triggers: frozenset[str] = frozenset()
    segments_entered: frozenset[str] = frozenset()
    segments_exited: frozenset[str] = frozenset()
    profile_fields: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not (self.triggers or self.segments_entered or self.segments_exited or self.profile_fields)

    def wants_trigger(self, rule: str) -> bool:
        return ANY in self.triggers or rule in self.triggers

    def wants_segment(self, kind: MessageKind, segment: str) -> bool:
        names = self.segments_entered if kind is MessageKind.SEGMENT_ENTERED else self.segments_exited
        return ANY in names or segment in names

    def wanted_fields(self, changed: Mapping[str, Any]) -> dict[str, Any]:
        """The changed fields this filter wants; empty when none matches."""
        return {
            name: value
            for name, value in changed.items()
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in self.profile_fields)
        }


@dataclass(frozen=True)
class SigningSecret:
    secret: str
    created_at: datetime
    # Set on the previous secret when a new one is issued: both sign until then, so receivers can switch over.
    expires_at: datetime | None = None

    def in_force(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at


@dataclass(frozen=True)
class MailchimpTarget:
    """A Mailchimp audience: the API's base URL (`https://<dc>.api.mailchimp.com/3.0`), its key and list id."""

    api_url: str
    api_key: str
    list_id: str


@dataclass(frozen=True)
class Subscription:
    subscription_id: str
    organisation_id: str
    kind: TargetKind
    url: str
    events: EventFilter
    enabled: bool
    created_at: datetime
    secrets: tuple[SigningSecret, ...] = ()
    description: str | None = None
    disabled_reason: str | None = None
    # A `DisabledReason`, kept as read: a code written by a newer notify still reads.
    disabled_reason_code: str | None = None
    mailchimp: MailchimpTarget | None = None
    max_in_flight: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def secrets_in_force(self, now: datetime) -> list[str]:
        return [entry.secret for entry in self.secrets if entry.in_force(now)]


def rotate(
    secrets: tuple[SigningSecret, ...], new_secret: str, *, now: datetime, overlap_until: datetime
) -> tuple[SigningSecret, ...]:
    """The secrets after issuing `new_secret`: the newest previous one signs too until `overlap_until`.

    Only two are ever in force: a second rotation inside the overlap ends the oldest at once.
    """
    previous = next((entry for entry in secrets if entry.in_force(now)), None)
    kept = () if previous is None else (SigningSecret(previous.secret, previous.created_at, overlap_until),)
    return (SigningSecret(new_secret, now), *kept)


def matching_subscriptions(
    subscriptions: list[Subscription], kind: MessageKind, *, name: str | None = None, changed: Mapping[str, Any] = {}
) -> list[tuple[Subscription, Mapping[str, Any] | None]]:
    """The enabled subscriptions that want this message, each with the profile fields it gets (for a change)."""
    wanted: list[tuple[Subscription, Mapping[str, Any] | None]] = []
    for subscription in subscriptions:
        if not subscription.enabled:
            continue
        events = subscription.events
        if kind is MessageKind.TRIGGER_FIRED and name is not None and events.wants_trigger(name):
            wanted.append((subscription, None))
        elif kind in (MessageKind.SEGMENT_ENTERED, MessageKind.SEGMENT_EXITED) and name is not None:
            if events.wants_segment(kind, name):
                wanted.append((subscription, None))
        elif kind is MessageKind.PROFILE_CHANGED and (fields := _wanted_fields(subscription, changed)):
            wanted.append((subscription, fields))
    return wanted


def _wanted_fields(subscription: Subscription, changed: Mapping[str, Any]) -> dict[str, Any]:
    wanted = subscription.events.wanted_fields(changed)
    if subscription.kind is TargetKind.MAILCHIMP and changed.get(AUDIENCE_CONSENT_ALLOWED) is False:
        wanted |= {name: value for name, value in changed.items() if name.startswith(AUDIENCE_CONSENT_PREFIX)}
    return wanted
