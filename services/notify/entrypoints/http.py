"""Notify HTTP routes: webhook subscriptions, their deliveries and replays, segment exports as CSV, and what notify
holds about one person (Law 25)."""

import re
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, NoReturn, Self
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from services.notify.context import NotifyContext, NotifyDep, outbound_policy
from services.notify.domain.contacts import Contact, contact_details
from services.notify.domain.exports import segment_csv
from services.notify.domain.subscriptions import (
    DisabledReason,
    EventFilter,
    MailchimpTarget,
    Subscription,
    TargetKind,
)
from services.notify.domain.targets import url_problem
from services.notify.handlers import (
    SUBSCRIPTION_DELETED,
    PersonErasedError,
    ReplayRefusedError,
    SecretsChangedError,
    SubscriptionDeletedError,
    create_subscription,
    delete_subscription,
    replay_delivery,
    rotate_secret,
)
from services.notify.ports import AttemptRecord, Delivery, DeliveryStatus
from shared.access import TOKEN_REFUSALS, PrivacyExporter, SegmentsReader, SubscriptionsAdmin
from shared.errors import bilingual_error
from shared.events.common import ConsentPurpose
from shared.spreadsheets import SEPARATOR_DESCRIPTION, CsvSeparator, csv_line, spreadsheet_cell

router = APIRouter(tags=["notify"])

Name = Annotated[str, Field(min_length=1, max_length=200)]


# The host of Mailchimp's API, after the data centre: `us21.api.mailchimp.com`.
MAILCHIMP_API_HOST = ".api.mailchimp.com"
# A data centre as a Marketing API key ends with it: `us21`.
_DATA_CENTRE = re.compile(r"[a-z]{2,4}[0-9]{1,3}")


class EventsIn(BaseModel):
    """Which events a subscription wants; `*` means every trigger or segment, `consent.*` every consent field."""

    model_config = ConfigDict(extra="forbid")

    triggers: list[Name] = Field(default_factory=list, max_length=200, description="Trigger rule names, or `*`.")
    segments_entered: list[Name] = Field(default_factory=list, max_length=200, description="Segments, or `*`.")
    segments_exited: list[Name] = Field(default_factory=list, max_length=200, description="Segments, or `*`.")
    profile_fields: list[Name] = Field(
        default_factory=list, max_length=200, description="Profile field names or patterns (`consent.*`)."
    )

    def to_filter(self) -> EventFilter:
        return EventFilter(
            triggers=frozenset(self.triggers),
            segments_entered=frozenset(self.segments_entered),
            segments_exited=frozenset(self.segments_exited),
            profile_fields=frozenset(self.profile_fields),
        )


class MailchimpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_url: str = Field(
        min_length=1, max_length=2048, description="`https://<dc>.api.mailchimp.com/3.0` for the account's data centre."
    )
    api_key: str = Field(min_length=1, max_length=200, description="A Mailchimp API key; never shown again.")
    list_id: str = Field(min_length=1, max_length=100, description="The audience (list) id.")


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: TargetKind = Field(default=TargetKind.WEBHOOK, description="`webhook` (Standard Webhooks) or `mailchimp`.")
    url: str = Field(default="", max_length=2048, description="The HTTPS endpoint a webhook receives messages at.")
    events: EventsIn
    description: str | None = Field(default=None, max_length=500)
    enabled: bool = True
    mailchimp: MailchimpIn | None = None
    max_in_flight: int | None = Field(default=None, ge=1, le=64, description="Attempts in flight at once.")

    @model_validator(mode="after")
    def _complete(self) -> Self:
        # Each with a code `french_reason` knows: staff reading French get the reason too, not only a refusal.
        if self.kind is TargetKind.MAILCHIMP and self.mailchimp is None:
            raise PydanticCustomError(
                "mailchimp_target_missing", "A mailchimp subscription needs `mailchimp` (api_url, api_key, list_id)"
            )
        if self.kind is TargetKind.WEBHOOK and not self.url:
            raise PydanticCustomError("webhook_url_missing", "A webhook subscription needs a `url`")
        if self.events.to_filter().empty:
            raise PydanticCustomError("events_empty", "A subscription wants at least one event in `events`")
        return self


class MailchimpPatch(BaseModel):
    """A Mailchimp subscription's new API key. Its audience stays: `api_url` and `list_id` may be given only as they
    are."""

    model_config = ConfigDict(extra="forbid")

    api_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="A new API key of the same account, after the previous one was rotated or revoked; never shown "
        "again. The next attempt, and a replayed delivery, send with it.",
    )
    api_url: str | None = Field(
        default=None, max_length=2048, description="Only as it is: another audience is a new subscription."
    )
    list_id: str | None = Field(
        default=None, max_length=100, description="Only as it is: another audience is a new subscription."
    )


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: EventsIn | None = None
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = None
    max_in_flight: int | None = Field(default=None, ge=1, le=64)
    mailchimp: MailchimpPatch | None = Field(
        default=None, description="A Mailchimp subscription's new `api_key`; its audience cannot change."
    )


def _fail(http_status: int, code: str, *, en: str, fr: str) -> NoReturn:
    raise HTTPException(http_status, detail=bilingual_error(code, en=en, fr=fr))


def _subscription_not_found() -> NoReturn:
    _fail(status.HTTP_404_NOT_FOUND, "subscription_not_found", en="No such subscription.", fr="Abonnement introuvable.")


def _check_target(url: str, context: NotifyContext) -> None:
    problem = url_problem(url, outbound_policy(context.settings))
    if problem is not None:
        _fail(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "target_refused",
            en=f"This target URL is refused: {problem.en}.",
            fr=f"Cette URL de destination est refusée : {problem.fr}.",
        )


def _audience_with_new_key(subscription: Subscription, patch: MailchimpPatch) -> MailchimpTarget | None:
    """The subscription's audience with the key `patch` gives; None when it gives none."""
    current = subscription.mailchimp
    if subscription.kind is not TargetKind.MAILCHIMP or current is None:
        _fail(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "not_a_mailchimp_subscription",
            en="This is a webhook subscription, not a Mailchimp one: it has no `mailchimp` key to replace.",
            fr="Cet abonnement est un webhook, pas un abonnement Mailchimp : il n'a pas de clé `mailchimp` à "
            "remplacer.",
        )
    # Another list or data centre is another audience, which knows nothing of what this one was sent (who was
    # added, unsubscribed or archived): as for `url`, that is a new subscription.
    moved = [
        f"`mailchimp.{name}`"
        for name, given, kept in (
            ("api_url", patch.api_url, current.api_url),
            ("list_id", patch.list_id, current.list_id),
        )
        if given is not None and given != kept
    ]
    if moved:
        cannot_fr = "ne peuvent pas changer" if len(moved) > 1 else "ne peut pas changer"
        _fail(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "audience_not_changeable",
            en=f"A Mailchimp subscription keeps its audience ({' and '.join(moved)} cannot change): make a new "
            "subscription to send to another audience. Only `mailchimp.api_key` can be replaced.",
            fr=f"Un abonnement Mailchimp garde son audience ({' et '.join(moved)} {cannot_fr}) : créez un nouvel "
            "abonnement pour envoyer à une autre audience. Seule la clé `mailchimp.api_key` peut être remplacée.",
        )
    if patch.api_key is None:
        return None
    _check_key_data_centre(current.api_url, patch.api_key)
    return replace(current, api_key=patch.api_key)


def _check_key_data_centre(api_url: str, api_key: str) -> None:
    """A key ends with its account's data centre (`…-us21`), which Mailchimp's API URL names (`us21.api.…`): a key
    pasted from another account would be refused there on every attempt, so it is refused here, when it is given."""
    host = urlsplit(api_url).hostname or ""
    _, _, data_centre = api_key.strip().lower().rpartition("-")
    # Only a suffix shaped as a data centre is one, and only it may be quoted back: the rest of a key is secret.
    if not _DATA_CENTRE.fullmatch(data_centre) or not host.endswith(MAILCHIMP_API_HOST):
        return
    url_centre = host.removesuffix(MAILCHIMP_API_HOST)
    if data_centre != url_centre:
        _fail(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "api_key_of_another_data_centre",
            en=f"This API key belongs to the data centre `{data_centre}`, but `api_url` names `{url_centre}`: give the "
            "key of the account the audience belongs to, or its data centre's URL.",
            fr=f"Cette clé d'API appartient au centre de données `{data_centre}`, mais `api_url` nomme "
            f"`{url_centre}` : donnez la clé du compte auquel appartient l'audience, ou l'URL de son centre de "
            "données.",
        )


def _subscription_json(subscription: Subscription, *, secret: str | None = None) -> dict[str, Any]:
    events = subscription.events
    body: dict[str, Any] = {
        "subscription_id": subscription.subscription_id,
        "kind": subscription.kind.value,
        "url": subscription.url,
        "events": {
            "triggers": sorted(events.triggers),
            "segments_entered": sorted(events.segments_entered),
            "segments_exited": sorted(events.segments_exited),
            "profile_fields": sorted(events.profile_fields),
        },
        "enabled": subscription.enabled,
        "disabled_reason": subscription.disabled_reason,
        "disabled_reason_code": subscription.disabled_reason_code,
        "description": subscription.description,
        "max_in_flight": subscription.max_in_flight,
        "created_at": subscription.created_at.isoformat(),
        "secrets": [
            {
                "created_at": entry.created_at.isoformat(),
                "expires_at": entry.expires_at and entry.expires_at.isoformat(),
            }
            for entry in subscription.secrets
        ],
    }
    if subscription.mailchimp is not None:
        body["mailchimp"] = {"api_url": subscription.mailchimp.api_url, "list_id": subscription.mailchimp.list_id}
    if secret is not None:
        body["secret"] = secret
    return body


async def _own_subscription(subscription_id: str, organisation_id: str, context: NotifyContext) -> Subscription:
    subscription = await context.deps.store.subscription(subscription_id)
    if subscription is None or subscription.organisation_id != organisation_id:
        _subscription_not_found()
    return subscription


@router.post(
    "/v1/subscriptions",
    status_code=status.HTTP_201_CREATED,
    summary="Subscribe a tool; the signing secret is in this answer only",
    responses=TOKEN_REFUSALS,
)
async def post_subscription(body: SubscriptionIn, principal: SubscriptionsAdmin, context: NotifyDep) -> dict[str, Any]:
    mailchimp = None
    url = body.url
    if body.mailchimp is not None and body.kind is TargetKind.MAILCHIMP:
        mailchimp = MailchimpTarget(body.mailchimp.api_url, body.mailchimp.api_key, body.mailchimp.list_id)
        url = body.mailchimp.api_url
        _check_key_data_centre(mailchimp.api_url, mailchimp.api_key)
    _check_target(url, context)
    subscription, secret = await create_subscription(
        principal.organisation_id,
        kind=body.kind,
        url=url,
        events=body.events.to_filter(),
        description=body.description,
        enabled=body.enabled,
        mailchimp=mailchimp,
        max_in_flight=body.max_in_flight,
        deps=context.deps,
    )
    context.subscriptions_changed()
    return _subscription_json(subscription, secret=secret)


@router.get(
    "/v1/subscriptions", summary="The organisation's subscriptions (never their secrets)", responses=TOKEN_REFUSALS
)
async def list_subscriptions(principal: SubscriptionsAdmin, context: NotifyDep) -> dict[str, Any]:
    found = await context.deps.store.subscriptions(principal.organisation_id)
    return {"items": [_subscription_json(subscription) for subscription in found]}


@router.get("/v1/subscriptions/{subscription_id}", summary="One subscription", responses=TOKEN_REFUSALS)
async def get_subscription(subscription_id: str, principal: SubscriptionsAdmin, context: NotifyDep) -> dict[str, Any]:
    return _subscription_json(await _own_subscription(subscription_id, principal.organisation_id, context))


@router.patch(
    "/v1/subscriptions/{subscription_id}",
    summary="Change a subscription; re-enabling clears its reason",
    responses=TOKEN_REFUSALS,
)
async def patch_subscription(
    subscription_id: str, body: SubscriptionPatch, principal: SubscriptionsAdmin, context: NotifyDep
) -> dict[str, Any]:
    subscription = await _own_subscription(subscription_id, principal.organisation_id, context)
    changes: dict[str, Any] = {}
    if body.url is not None:
        if subscription.kind is TargetKind.MAILCHIMP:
            # Its audience is reached at `mailchimp.api_url` with its key: a new URL here would be shown and not used.
            _fail(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "url_not_changeable",
                en="A Mailchimp subscription sends to its Mailchimp API, not to a URL: make a new subscription to "
                "send to another audience.",
                fr="Un abonnement Mailchimp envoie à son API Mailchimp, pas à une URL : créez un nouvel abonnement "
                "pour envoyer à une autre audience.",
            )
        _check_target(body.url, context)
        changes["url"] = body.url
    if body.mailchimp is not None and (audience := _audience_with_new_key(subscription, body.mailchimp)) is not None:
        # Stored sealed, as at creation; the answer shows the audience, never the key.
        changes["mailchimp"] = audience
    if body.events is not None:
        if body.events.to_filter().empty:
            _fail(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                "events_empty",
                en="A subscription wants at least one event.",
                fr="Un abonnement veut au moins un événement.",
            )
        changes["events"] = body.events.to_filter()
    if "description" in body.model_fields_set:
        changes["description"] = body.description
    if body.enabled is not None:
        changes["enabled"] = body.enabled
        changes["disabled_reason"] = None if body.enabled else "disabled by an administrator"
        changes["disabled_reason_code"] = None if body.enabled else DisabledReason.BY_ADMINISTRATOR.value
    if "max_in_flight" in body.model_fields_set:
        changes["max_in_flight"] = body.max_in_flight
    updated = replace(subscription, **changes)
    await context.deps.store.save_subscription(updated, fields=changes.keys())
    context.subscriptions_changed()
    return _subscription_json(updated)


@router.post(
    "/v1/subscriptions/{subscription_id}/rotate-secret",
    summary="Issue a new signing secret; the previous one keeps signing for the overlap period",
    responses={**TOKEN_REFUSALS, 409: {"description": "Another rotation came at the same time (`rotated_meanwhile`)."}},
)
async def post_rotate_secret(subscription_id: str, principal: SubscriptionsAdmin, context: NotifyDep) -> dict[str, Any]:
    subscription = await _own_subscription(subscription_id, principal.organisation_id, context)
    try:
        rotated, secret = await rotate_secret(subscription, context.deps)
    except SecretsChangedError:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=bilingual_error(
                "rotated_meanwhile",
                en="Another request rotated this subscription's secret at the same time: the secret it answered with "
                "signs now, and this one was not kept. Rotate again for a new one.",
                fr="Une autre demande a renouvelé le secret de cet abonnement au même moment : c'est le secret donné "
                "dans sa réponse qui signe, celui-ci n'a pas été gardé. Renouvelez de nouveau pour en avoir un autre.",
            ),
        ) from None
    context.subscriptions_changed()
    return _subscription_json(rotated, secret=secret)


@router.delete(
    "/v1/subscriptions/{subscription_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a subscription; what it still had queued goes to the dead letters as `subscription_deleted`",
    responses=TOKEN_REFUSALS,
)
async def delete_one_subscription(subscription_id: str, principal: SubscriptionsAdmin, context: NotifyDep) -> Response:
    subscription = await _own_subscription(subscription_id, principal.organisation_id, context)
    given_up = await delete_subscription(subscription, context.deps)
    context.metrics.evicted.labels(subscription_id, SUBSCRIPTION_DELETED).inc(given_up)
    context.subscriptions_changed()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _attempt_json(record: AttemptRecord) -> dict[str, Any]:
    return {
        "attempt": record.number,
        "claimed_at": record.claimed_at.isoformat(),
        "finished_at": record.finished_at and record.finished_at.isoformat(),
        "outcome": record.outcome,
        "status_code": record.status_code,
        "error": record.error,
        "duration_seconds": record.duration_seconds,
    }


def _delivery_json(delivery: Delivery, attempts: list[AttemptRecord] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "delivery_id": delivery.delivery_id,
        "subscription_id": delivery.subscription_id,
        "message_id": delivery.message_id,
        "type": delivery.kind,
        "person_id": delivery.person_id,
        "status": delivery.status.value,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at and delivery.next_attempt_at.isoformat(),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "replays": delivery.replays,
        "created_at": delivery.created_at.isoformat(),
    }
    if attempts is not None:
        body["attempt_log"] = [_attempt_json(record) for record in attempts]
    return body


@router.get("/v1/deliveries", summary="Deliveries, newest first, with each one's attempts", responses=TOKEN_REFUSALS)
async def list_deliveries(
    principal: SubscriptionsAdmin,
    context: NotifyDep,
    subscription: Annotated[str | None, Query(max_length=100, description="Only this subscription's.")] = None,
    person: Annotated[
        str | None, Query(min_length=1, max_length=256, description="Only the messages sent about this person.")
    ] = None,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status", description="Only this status.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    store = context.deps.store
    found = await store.deliveries(
        principal.organisation_id,
        subscription_id=subscription,
        status=None if delivery_status is None else delivery_status.value,
        limit=limit,
        person_id=person,
    )
    return {"items": [_delivery_json(delivery, await store.attempts(delivery)) for delivery in found]}


@router.post(
    "/v1/deliveries/{delivery_id}/replay",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Queue a dead delivery again, with a fresh retry schedule; consent is checked again when it is sent",
    responses=TOKEN_REFUSALS,
)
async def post_replay(delivery_id: str, principal: SubscriptionsAdmin, context: NotifyDep) -> dict[str, Any]:
    try:
        replayed = await replay_delivery(principal.organisation_id, delivery_id, context.deps)
    except ReplayRefusedError as exc:
        _fail(
            status.HTTP_409_CONFLICT,
            "not_replayable",
            en=f"Only a dead delivery can be replayed; this one is {exc}.",
            fr=f"Seule une livraison abandonnée peut être rejouée ; celle-ci est {exc.french} (« {exc} »).",
        )
    except SubscriptionDeletedError:
        _fail(
            status.HTTP_409_CONFLICT,
            "subscription_deleted",
            en="This delivery's subscription was deleted; there is nowhere to send it again.",
            fr="L'abonnement de cette livraison a été supprimé ; elle ne peut plus être envoyée.",
        )
    except PersonErasedError:
        _fail(
            status.HTTP_409_CONFLICT,
            "person_erased",
            en="This delivery is about a person who was erased; nothing about them is sent any more.",
            fr="Cette livraison concerne une personne effacée ; plus rien à son sujet n'est envoyé.",
        )
    if replayed is None:
        _fail(status.HTTP_404_NOT_FOUND, "delivery_not_found", en="No such delivery.", fr="Livraison introuvable.")
    context.wake(replayed.subscription_id)
    return _delivery_json(replayed)


@router.get(
    "/v1/segments/{segment}/export.csv",
    summary="A segment's members whom consent allows to be contacted for a purpose, as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, **TOKEN_REFUSALS},
)
async def export_segment(
    segment: str,
    principal: SegmentsReader,
    context: NotifyDep,
    purpose: Annotated[ConsentPurpose, Query(description="The consent the use of this list needs.")] = (
        ConsentPurpose.MARKETING_EMAIL
    ),
    separator: Annotated[CsvSeparator, Query(description=SEPARATOR_DESCRIPTION)] = CsvSeparator.COMMA,
) -> Response:
    store = context.deps.store
    members = []
    for person_id in await store.segment_members(principal.organisation_id, segment):
        contact = await store.contact(principal.organisation_id, person_id)
        if contact is not None:
            members.append(contact)
    now = context.deps.clock.now()
    text = segment_csv(members, purpose, now=now, delimiter=separator.delimiter)
    # The contact points of a segment's members at once: an export of many persons, logged as a person's is.
    await store.log_segment_export(
        principal.organisation_id,
        segment,
        now,
        f"token:{principal.token_id}",
        {"segment": segment, "purpose": purpose.value, "members": len(members), "separator": separator.value},
    )
    return Response(
        text.encode("utf-8-sig"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": _attachment(segment, purpose.value)},
    )


def _attachment(segment: str, purpose: str) -> str:
    # A header travels as Latin-1 bytes (`chœur` has no byte there): the plain `filename` is ASCII for every client,
    # and `filename*` (RFC 6266) gives the name itself, percent-encoded, to those that read it.
    name = quote(f"{segment[:100]}-{purpose}.csv", safe="")
    return f"attachment; filename=\"{_file_name(segment)}-{purpose}.csv\"; filename*=UTF-8''{name}"


def _file_name(segment: str) -> str:
    # Segment names come from configuration, but a header must never carry a quote or a line break.
    return (
        "".join(char if char.isascii() and (char.isalnum() or char in "-_") else "_" for char in segment)[:100]
        or "segment"
    )


# ---------------------------------------------------------------------------------------------------------------
# Privacy (Québec Law 25): what notify holds about a person, beside what profile's export gives


@router.get(
    "/v1/persons/{person_id}/export",
    summary="What notify holds about a person: contact details, consents and opt-outs as it knows them, and every "
    "message sent about them, to which receiver or audience; JSON or CSV",
    response_model=None,
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}, **TOKEN_REFUSALS, 404: {}, 422: {}},
)
async def export_person(
    person_id: str,
    principal: PrivacyExporter,
    context: NotifyDep,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
    separator: Annotated[CsvSeparator, Query(description=SEPARATOR_DESCRIPTION + " With `format=csv`.")] = (
        CsvSeparator.COMMA
    ),
) -> dict[str, Any] | Response:
    """The contact notify keeps for the person (their details and consents as profile announced them, the unsubscribes
    tools reported, when messages were last sent, the address of each Mailchimp member kept for them) and every
    message about them with its receiver, status and attempts: who was told what, and when. The export is logged,
    naming the person by a digest, and the exports before it are listed. A person merged into another keeps their
    own messages: ask for each id profile's export lists in `merged_persons` too."""
    store, organisation_id = context.deps.store, principal.organisation_id
    contact = await store.contact(organisation_id, person_id)
    deliveries = sorted(
        await store.person_deliveries(organisation_id, person_id),
        key=lambda delivery: delivery.created_at,
        reverse=True,
    )
    segments = await store.segments_of(organisation_id, person_id)
    if contact is None and not deliveries and not segments:
        _fail(
            status.HTTP_404_NOT_FOUND,
            "person_not_found",
            en="Notify holds nothing about this person.",
            fr="Notify ne détient rien sur cette personne.",
        )
    receivers: dict[str, Subscription | None] = {}
    for subscription_id in sorted({delivery.subscription_id for delivery in deliveries}):
        found = await store.subscription(subscription_id)
        receivers[subscription_id] = found if found is not None and found.organisation_id == organisation_id else None
    messages = [
        _message_export(delivery, receivers[delivery.subscription_id], await store.attempts(delivery))
        for delivery in deliveries
    ]
    earlier = await store.exports_logged(organisation_id, person_id)
    exported_at = context.deps.clock.now()
    document = {
        "person_id": person_id,
        "organisation_id": organisation_id,
        "exported_at": exported_at.isoformat(),
        "contact": None if contact is None else _contact_export(contact, await store.sends(organisation_id, person_id)),
        # As notify records them for segment exports.
        "segments": segments,
        "messages": messages,
        "earlier_exports": [
            {"at": _moment(entry["at"]), "requested_by": entry["requested_by"], **entry.get("details", {})}
            for entry in earlier
        ],
    }
    await store.log_export(
        organisation_id,
        person_id,
        exported_at,
        f"token:{principal.token_id}",
        {"format": format, "messages": len(messages)},
    )
    if format == "json":
        return document
    return Response(
        "\ufeff" + _person_csv(document, separator.delimiter),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{quote(person_id)}-notify.csv"'},
    )


def _moment(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _contact_export(contact: Contact, sends: dict[str, datetime]) -> dict[str, Any]:
    details = contact_details(contact)
    return {
        **details,
        "consents": {
            purpose: {name: _moment(value) for name, value in consent.items()}
            for purpose, consent in sorted(details["consents"].items())
        },
        "opt_outs": {purpose: _moment(at) for purpose, at in sorted(contact.opt_outs.items())},
        # Kept for the frequency cap: which message went out when.
        "messages_sent_at": {message: _moment(at) for message, at in sorted(sends.items())},
        "mailchimp_members": dict(sorted(contact.mailchimp_members.items())),
    }


def _message_export(delivery: Delivery, receiver: Subscription | None, attempts: list[AttemptRecord]) -> dict[str, Any]:
    sent_to: dict[str, Any] | None = None
    if receiver is not None:
        # The receiver's site alone: a webhook's path or query is often its key (a Slack or Zapier hook), which the
        # person, or anyone they hand their file to, must not be able to post with.
        sent_to = {"kind": receiver.kind.value, "url": _site(receiver.url), "description": receiver.description}
        if receiver.mailchimp is not None:
            sent_to["mailchimp_list_id"] = receiver.mailchimp.list_id
    return {
        **_delivery_json(delivery, attempts),
        # None once the subscription is deleted.
        "sent_to": sent_to,
        "purpose": delivery.purpose,
        "occurred_at": delivery.occurred_at.isoformat(),
        # As it was queued; a trigger's contact points are checked against consent again at each attempt.
        "data": dict(delivery.data) if isinstance(delivery.data, dict) else delivery.data,
    }


def _site(url: str) -> str:
    """`scheme://host[:port]` of `url`, without its path, query or fragment."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _person_csv(document: dict[str, Any], delimiter: str) -> str:
    """One line per item, as profile's export: what part of the record it is, its name, its value."""
    rows: list[tuple[str, Any, Any]] = [("person", name, document[name]) for name in ("person_id", "organisation_id")]
    rows.append(("person", "exported_at", document["exported_at"]))
    contact = document["contact"] or {}
    grouped = {"consents": "consent", "opt_outs": "opt_out", "messages_sent_at": "message_sent_at"}
    grouped["mailchimp_members"] = "mailchimp_member"
    for name, value in contact.items():
        if name in grouped:
            rows += [(grouped[name], key, item) for key, item in value.items()]
        else:
            rows.append(("contact", name, value))
    rows += [("segment", name, "") for name in document["segments"]]
    rows += [("message", message["delivery_id"], message) for message in document["messages"]]
    rows += [("earlier_export", entry["at"], entry) for entry in document["earlier_exports"]]
    return csv_line(("part", "name", "value"), delimiter) + "".join(
        csv_line((part, spreadsheet_cell(name), spreadsheet_cell(value)), delimiter) for part, name, value in rows
    )
