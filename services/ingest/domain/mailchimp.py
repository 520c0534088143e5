"""Mailchimp list webhooks (form-encoded) to Parterre events: subscriptions, consent, cleaned addresses, profiles."""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from services.ingest.domain.drafts import Draft, country_code, normalise_locale, wrap
from services.ingest.domain.errors import AdapterError, ModelT, Problems
from services.ingest.domain.ids import content_digest
from shared.events import (
    CleanedReason,
    ConsentGrantedV1,
    ConsentPurpose,
    ConsentWithdrawnV1,
    Envelope,
    LegalBasis,
    NewsletterCleanedV1,
    NewsletterCleanedV2,
    NewsletterSubscribedV1,
    NewsletterUnsubscribedV1,
    PersonDetailsUpdatedV1,
    PersonRef,
    UnsubscribeReason,
)

__all__ = ["FIRED_AT_FORMAT", "SUPPORTED_TYPES", "AdapterError", "mailchimp_events"]

# Mailchimp's own format, always in UTC: `2026-09-02 18:31:08`.
FIRED_AT_FORMAT = "%Y-%m-%d %H:%M:%S"
MISSING = "missing"
# Merge tags are chosen by each list's owner; these are Mailchimp's defaults and the French names Québec lists use.
_FIRST_NAME_TAGS = ("FNAME", "PRENOM", "FIRSTNAME", "FIRST_NAME")
_LAST_NAME_TAGS = ("LNAME", "NOM", "LASTNAME", "LAST_NAME")
_PHONE_TAGS = ("PHONE", "TELEPHONE", "TEL", "MOBILE", "CELLULAIRE")
_ADDRESS_TAGS = ("ADDRESS", "ADRESSE")
_LANGUAGE_KEYS = ("data[merges][LANGUAGE]", "data[merges][LANGUE]", "data[language]")
# An address merge field comes either split (`data[merges][ADDRESS][city]`) or as one text whose parts Mailchimp
# separates with two spaces: `addr1  addr2  city  state  zip  country`.
_ADDRESS_PARTS = {
    "street": "addr1",
    "address_2": "addr2",
    "city": "city",
    "region": "state",
    "postal_code": "zip",
    "country": "country",
}
_MAX_EVIDENCE = 5000
# A reason Mailchimp gives is one word; one longer is cut, so that it never crowds out the rest of the evidence.
_MAX_REASON = 40
_MAX_LABEL = 200
MAX_ID_LENGTH = 256


@dataclass(frozen=True)
class _Form:
    fields: Mapping[str, str]
    problems: Problems

    def get(self, key: str, *, required: bool = False) -> str | None:
        value = self.fields.get(key)
        text = value.strip() if isinstance(value, str) else None
        if not text:
            if required:
                self.problems.add(key, "is required but missing or empty", MISSING)
            return None
        return text

    def first(self, *keys: str) -> tuple[str | None, str]:
        """The first of `keys` that has a value, and that key (else the first key, where it would be expected)."""
        for key in keys:
            value = self.get(key)
            if value is not None:
                return value, key
        return None, keys[0]


@dataclass(frozen=True)
class _Webhook:
    form: _Form
    source: str
    fired_at: datetime
    fired_at_text: str
    list_id: str


_TypeReader = Callable[[_Webhook], list[Draft]]


def mailchimp_events(
    form: Mapping[str, str], *, organisation_id: str, source: str, received_at: datetime
) -> list[Envelope]:
    """The events one Mailchimp webhook reports; raises `AdapterError` naming each unusable form key.

    `form` is the decoded body with its bracketed keys kept flat (`data[merges][FNAME]`). A `campaign` webhook
    concerns no person (it says a campaign was sent), so it yields no event.
    """
    problems = Problems()
    reader = _Form(form, problems)
    kind = reader.get("type", required=True)
    if kind is None:
        raise AdapterError(problems.errors)
    if kind == "campaign":
        return []
    read_type = _READERS.get(kind)
    if read_type is None:
        raise AdapterError.single(
            "type", f"webhook type {kind!r} is not one Mailchimp sends: {', '.join(SUPPORTED_TYPES)}", "unknown_type"
        )
    fired_at_text = reader.get("fired_at", required=True)
    fired_at = _fired_at(fired_at_text, problems)
    list_id = reader.get("data[list_id]", required=True)
    if list_id is not None and len(list_id) > MAX_ID_LENGTH:
        problems.add(
            "data[list_id]",
            f"is longer than {MAX_ID_LENGTH} characters",
            "string_too_long",
            fr=f"a plus de {MAX_ID_LENGTH} caractères",
        )
    if problems or fired_at_text is None or fired_at is None or list_id is None:
        raise AdapterError(problems.errors)
    drafts = read_type(_Webhook(reader, source, fired_at, fired_at_text, list_id))
    problems.raise_if_any()
    return wrap(drafts, organisation_id=organisation_id, source=source, ingested_at=received_at)


def _fired_at(text: str | None, problems: Problems) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.strptime(text, FIRED_AT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        problems.add(
            "fired_at",
            "should be a UTC time written YYYY-MM-DD HH:MM:SS",
            "datetime_parsing",
            fr="doit être une heure UTC écrite AAAA-MM-JJ HH:MM:SS",
        )
        return None


def _member(hook: _Webhook, *, email_key: str = "data[email]", id_key: str = "data[id]") -> PersonRef | None:
    form = hook.form
    email, email_origin = form.first(email_key, "data[merges][EMAIL]")
    if email is None:
        form.problems.add(email_key, "is required but missing or empty", MISSING)
        return None
    first_name, first_name_origin = form.first(*(f"data[merges][{tag}]" for tag in _FIRST_NAME_TAGS))
    last_name, last_name_origin = form.first(*(f"data[merges][{tag}]" for tag in _LAST_NAME_TAGS))
    phone, phone_origin = form.first(*(f"data[merges][{tag}]" for tag in _PHONE_TAGS))
    locale, locale_origin = form.first(*_LANGUAGE_KEYS)
    values: dict[str, Any] = {
        "source": hook.source,
        "external_id": form.get(id_key),
        "email": email,
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "locale": None if locale is None else normalise_locale(locale),
    }
    origins = {
        "external_id": id_key,
        "email": email_origin,
        "first_name": first_name_origin,
        "last_name": last_name_origin,
        "phone": phone_origin,
        "locale": locale_origin,
    }
    address, address_origins = _address(form)
    values.update(address)
    origins.update(address_origins)
    return form.problems.validate(PersonRef, _readable_extras(values), origins, whole=email_key)


# What names the member: refused with a reason when unreadable. Any other merge field is the list's own choice of
# form (a language dropdown offering `Bilingue`, a free-text country): one that cannot be read is left out, never
# the subscription and the consent it carries.
_NAMING_FIELDS = frozenset({"source", "external_id", "email"})
_PROBE_EMAIL = "probe@example.com"


def _readable_extras(values: dict[str, Any]) -> dict[str, Any]:
    readable = dict(values)
    for field, value in values.items():
        if field in _NAMING_FIELDS or value is None:
            continue
        try:
            PersonRef.model_validate({"source": "probe", "email": _PROBE_EMAIL, field: value})
        except ValidationError:
            readable[field] = None
    return readable


def _address(form: _Form) -> tuple[dict[str, str | None], dict[str, str]]:
    for tag in _ADDRESS_TAGS:
        base = f"data[merges][{tag}]"
        split = {field: form.get(f"{base}[{part}]") for field, part in _ADDRESS_PARTS.items()}
        if any(value is not None for value in split.values()):
            split["country"] = _country_code(split["country"])
            return split, {field: f"{base}[{part}]" for field, part in _ADDRESS_PARTS.items()}
        if form.get(base) is not None:
            # As sent: the two spaces at either end stand for an empty first or last part.
            return _flat_address(form.fields[base]), dict.fromkeys(_ADDRESS_PARTS, base)
    return {}, {}


def _flat_address(text: str) -> dict[str, str | None]:
    # Parts are separated by two spaces; an empty part leaves its slot (four spaces), so the others keep theirs.
    slots = [part.strip() for part in text.rstrip("\r\n").split("  ")]
    parts = [part for part in slots if part]
    if len(slots) == len(_ADDRESS_PARTS):
        address: dict[str, str | None] = {name: part or None for name, part in zip(_ADDRESS_PARTS, slots, strict=True)}
    elif len(parts) == len(_ADDRESS_PARTS) - 1:
        street, city, region, postal_code, country = parts
        address = {"street": street, "city": city, "region": region, "postal_code": postal_code, "country": country}
    else:
        # Not in Mailchimp's layout: kept whole as the street line rather than guessed apart.
        return {"street": text.strip()}
    address["country"] = _country_code(address["country"])
    return address


def _country_code(country: str | None) -> str | None:
    """Mailchimp sends ISO codes (`CA`); a common name is translated, anything else is left for validation to
    report at the key it came from."""
    if country is None:
        return None
    return country_code(country) or country


def _subscribed(hook: _Webhook) -> list[Draft]:
    person = _member(hook)
    if person is None:
        return []
    subscribed = _event(hook, NewsletterSubscribedV1, {"person": person, "list_id": hook.list_id})
    opt_in_ip = hook.form.get("data[ip_opt]")
    evidence = f"Mailchimp subscribe webhook: joined list {hook.list_id} at {hook.fired_at_text} UTC" + (
        f", opt-in confirmed from IP {opt_in_ip}" if opt_in_ip else ""
    )
    granted = _event(
        hook,
        ConsentGrantedV1,
        {
            "person": person,
            "purpose": ConsentPurpose.MARKETING_EMAIL,
            "basis": LegalBasis.EXPRESS,
            # What the person agreed to is the list's sign-up form: the list names it.
            "wording_version": f"mailchimp:list:{hook.list_id}"[:_MAX_LABEL],
            "captured_at": hook.fired_at,
            "evidence": evidence[:_MAX_EVIDENCE],
        },
    )
    if subscribed is None or granted is None:
        return []
    fact = _fact_parts(hook, "subscribe", person)
    return [_draft(hook, subscribed, fact), _draft(hook, granted, (*fact, "consent"))]


def _unsubscribed(hook: _Webhook) -> list[Draft]:
    person = _member(hook)
    # A reason Mailchimp may add one day must not lose the unsubscribe, the person's no: it is kept as evidence.
    said = hook.form.get("data[reason]")
    reason = next((choice for choice in UnsubscribeReason if said is not None and choice.value == said.lower()), None)
    if person is None or hook.form.problems:
        return []
    action = hook.form.get("data[action]") or "unsub"
    campaign_id = _campaign_id(hook)
    unsubscribed = _event(
        hook,
        NewsletterUnsubscribedV1,
        {"person": person, "list_id": hook.list_id, "reason": reason, "campaign_id": campaign_id},
    )
    if unsubscribed is None:
        return []
    fact = _fact_parts(hook, "unsubscribe", person)
    drafts = [_draft(hook, unsubscribed, fact)]
    # `delete` means someone removed the contact from the list: that is not the person withdrawing consent, unless
    # it follows their spam complaint.
    if action != "delete" or reason is UnsubscribeReason.ABUSE:
        evidence = (
            f"Mailchimp unsubscribe webhook: {action} from list {hook.list_id} at {hook.fired_at_text} UTC"
            + (f", reason {said[:_MAX_REASON]}" if said else "")
            + (f", from campaign {campaign_id}" if campaign_id else "")
        )
        drafts.append(_email_consent_withdrawn(hook, person, evidence, fact))
    return drafts


def _campaign_id(hook: _Webhook) -> str | None:
    """The campaign the webhook names, if any. One too long to be an id is left out: it only says where the person
    came from, and refusing the webhook for it would lose what it tells (an unsubscribe: the person's no)."""
    campaign_id = hook.form.get("data[campaign_id]")
    return campaign_id if campaign_id is None or len(campaign_id) <= MAX_ID_LENGTH else None


def _email_consent_withdrawn(hook: _Webhook, person: PersonRef, evidence: str, fact: tuple[str, ...]) -> Draft:
    """The person's marketing email consent withdrawn at the webhook's moment, with what Mailchimp said as evidence."""
    withdrawn = ConsentWithdrawnV1(
        person=person,
        purpose=ConsentPurpose.MARKETING_EMAIL,
        captured_at=hook.fired_at,
        evidence=evidence[:_MAX_EVIDENCE],
    )
    return _draft(hook, withdrawn, (*fact, "consent"))


def _cleaned(hook: _Webhook) -> list[Draft]:
    email = hook.form.get("data[email]", required=True)
    # Mailchimp documents `hard` and `abuse`, but an address it cleaned can no longer be mailed whatever the reason:
    # another reason, or none, must not lose that. It is kept as given, in the type that has room for it.
    said = hook.form.get("data[reason]")
    reason = next((choice for choice in CleanedReason if said is not None and choice.value == said.lower()), None)
    if email is None:
        return []
    person = hook.form.problems.validate(
        PersonRef, {"source": hook.source, "email": email}, {"email": "data[email]"}, whole="data[email]"
    )
    if person is None:
        return []
    values = {"person": person, "list_id": hook.list_id, "campaign_id": _campaign_id(hook)}
    cleaned = (
        _event(hook, NewsletterCleanedV2, {**values, "reason": None if said is None else said[:_MAX_REASON]})
        if reason is None
        else _event(hook, NewsletterCleanedV1, {**values, "reason": reason})
    )
    if cleaned is None:
        return []
    fact = _fact_parts(hook, "cleaned", person)
    drafts = [_draft(hook, cleaned, fact)]
    if reason is CleanedReason.ABUSE:
        # Cleaned after a spam complaint: the person said no to this mail, as an unsubscribe for abuse says.
        evidence = f"Mailchimp cleaned webhook: spam complaint, list {hook.list_id}, at {hook.fired_at_text} UTC"
        drafts.append(_email_consent_withdrawn(hook, person, evidence, fact))
    return drafts


def _profile_updated(hook: _Webhook) -> list[Draft]:
    person = _member(hook)
    if person is None:
        return []
    # Mailchimp sends the whole profile without saying what changed: every detail it carries is current.
    changed = [name for name, value in person if name != "source" and value is not None]
    updated = PersonDetailsUpdatedV1.model_validate({"person": person, "changed_fields": changed})
    # Two updates within one second (Mailchimp's time has no finer grain) that say different things are two facts.
    details = content_digest(person.model_dump(mode="json"))
    return [_draft(hook, updated, (*_fact_parts(hook, "profile", person), details))]


def _email_changed(hook: _Webhook) -> list[Draft]:
    form = hook.form
    old_email = form.get("data[old_email]", required=True)
    person = _member(hook, email_key="data[new_email]", id_key="data[new_id]")
    if person is None or old_email is None:
        return []
    # Mailchimp's member id is derived from the address, so it changes with it.
    changed = ["email", "external_id"] if person.external_id else ["email"]
    updated = form.problems.validate(
        PersonDetailsUpdatedV1,
        {"person": person, "previous_email": old_email, "changed_fields": changed},
        {"previous_email": "data[old_email]"},
        whole="data[old_email]",
    )
    if updated is None:
        return []
    fact = ("mailchimp", "upemail", hook.list_id, old_email.casefold(), (person.email or "").casefold())
    return [_draft(hook, updated, (*fact, hook.fired_at_text))]


def _event(hook: _Webhook, model: type[ModelT], values: dict[str, Any]) -> ModelT | None:
    origins = {
        "list_id": "data[list_id]",
        "campaign_id": "data[campaign_id]",
        "reason": "data[reason]",
    }
    return hook.form.problems.validate(model, values, origins, whole="$")


def _fact_parts(hook: _Webhook, kind: str, person: PersonRef) -> tuple[str, ...]:
    # The list, the address and Mailchimp's own time name the fact; a redelivery repeats all three.
    return ("mailchimp", kind, hook.list_id, (person.email or "").casefold(), hook.fired_at_text)


def _draft(hook: _Webhook, data: Any, id_parts: tuple[str, ...]) -> Draft:
    return Draft(data, id_parts, hook.fired_at, subject=f"lists/{hook.list_id}")


_READERS: dict[str, _TypeReader] = {
    "subscribe": _subscribed,
    "unsubscribe": _unsubscribed,
    "cleaned": _cleaned,
    "profile": _profile_updated,
    "upemail": _email_changed,
}
SUPPORTED_TYPES = (*_READERS, "campaign")
