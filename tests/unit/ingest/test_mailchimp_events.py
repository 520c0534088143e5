"""Mailchimp list webhooks become shared events: subscriptions with consent, cleaned addresses, profile changes."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.ingest.domain.errors import AdapterError
from services.ingest.domain.mailchimp import mailchimp_events
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
    UnsubscribeReason,
    parse_data,
)
from tests.unit.ingest.vendor_fixtures import ORGANISATION, RECEIVED_AT, mailchimp_form, types_of

SOURCE = "nord-mailchimp"
LIST_ID = "a6b5da1054"


def events(form: dict[str, str]) -> list[Envelope]:
    return mailchimp_events(form, organisation_id=ORGANISATION, source=SOURCE, received_at=RECEIVED_AT)


def events_or_error(form: dict[str, str]) -> list[Envelope] | AdapterError:
    try:
        return events(form)
    except AdapterError as exc:
        return exc


def test_a_subscribe_becomes_a_newsletter_subscription_and_express_consent() -> None:
    envelopes = events(mailchimp_form("subscribe"))

    assert types_of(envelopes) == ["parterre.newsletter.subscribed.v1", "parterre.consent.granted.v1"]
    subscribed = parse_data(envelopes[0])
    assert isinstance(subscribed, NewsletterSubscribedV1)
    assert subscribed.list_id == LIST_ID
    consent = parse_data(envelopes[1])
    assert isinstance(consent, ConsentGrantedV1)
    assert (consent.purpose, consent.basis) == (ConsentPurpose.MARKETING_EMAIL, LegalBasis.EXPRESS)
    assert consent.captured_at == datetime(2026, 9, 2, 18, 31, 8, tzinfo=UTC)
    assert consent.evidence is not None
    assert LIST_ID in consent.evidence
    assert "203.0.113.24" in consent.evidence
    assert all(envelope.time == datetime(2026, 9, 2, 18, 31, 8, tzinfo=UTC) for envelope in envelopes)
    assert all(envelope.subject == f"lists/{LIST_ID}" for envelope in envelopes)


def test_a_subscriber_is_described_by_the_merge_fields_address_and_language() -> None:
    person = parse_data(events(mailchimp_form("subscribe"))[0]).model_dump()["person"]

    assert {name: value for name, value in person.items() if value is not None} == {
        "source": SOURCE,
        "external_id": "8a25ff1d98",
        "email": "helene.damours@example.ca",
        "phone": "514 555-0142",
        "first_name": "Hélène",
        "last_name": "D'Amours",
        "street": "4521, rue Saint-Denis",
        "address_2": "app. 3",
        "city": "Montréal",
        "region": "QC",
        "postal_code": "H2J 2L1",
        "country": "CA",
        "locale": "fr",
    }


def test_a_form_with_raw_brackets_in_its_keys_gives_the_same_events() -> None:
    assert events(mailchimp_form("subscribe-raw-brackets")) == events(mailchimp_form("subscribe"))


def test_french_merge_tags_a_one_line_address_and_a_language_field_are_understood() -> None:
    subscribed = parse_data(events(mailchimp_form("subscribe-french-merge-tags"))[0])

    person = subscribed.model_dump()["person"]
    assert (person["first_name"], person["last_name"]) == ("Jean-François", "Côté")
    assert (person["street"], person["city"], person["region"]) == ("12, rue des Érables", "Québec", "QC")
    assert (person["postal_code"], person["country"], person["locale"]) == ("G1R 2B5", "CA", "fr-CA")


def test_an_unsubscribe_becomes_a_newsletter_unsubscription_and_a_withdrawal_of_consent() -> None:
    envelopes = events(mailchimp_form("unsubscribe"))

    assert types_of(envelopes) == ["parterre.newsletter.unsubscribed.v1", "parterre.consent.withdrawn.v1"]
    unsubscribed = parse_data(envelopes[0])
    assert isinstance(unsubscribed, NewsletterUnsubscribedV1)
    assert (unsubscribed.reason, unsubscribed.campaign_id) == (UnsubscribeReason.MANUAL, "cb398d21d2")
    withdrawn = parse_data(envelopes[1])
    assert isinstance(withdrawn, ConsentWithdrawnV1)
    assert withdrawn.purpose is ConsentPurpose.MARKETING_EMAIL
    assert withdrawn.captured_at == datetime(2026, 11, 5, 14, 12, 44, tzinfo=UTC)


def test_an_unsubscribe_with_a_reason_mailchimp_never_documented_still_withdraws_consent_and_keeps_the_reason() -> None:
    envelopes = events({**mailchimp_form("unsubscribe"), "data[reason]": "Bounce-Limit"})

    assert types_of(envelopes) == ["parterre.newsletter.unsubscribed.v1", "parterre.consent.withdrawn.v1"]
    unsubscribed = parse_data(envelopes[0])
    assert isinstance(unsubscribed, NewsletterUnsubscribedV1)
    assert unsubscribed.reason is None
    withdrawn = parse_data(envelopes[1])
    assert isinstance(withdrawn, ConsentWithdrawnV1)
    assert "reason Bounce-Limit" in (withdrawn.evidence or "")


@pytest.mark.parametrize("fixture", ["unsubscribe", "cleaned"])
def test_a_campaign_id_too_long_to_be_one_is_left_out_and_the_person_s_no_kept(fixture: str) -> None:
    form = {**mailchimp_form(fixture), "data[campaign_id]": "c" * 300, "data[reason]": "abuse"}

    envelopes = events(form)

    assert types_of(envelopes)[-1] == "parterre.consent.withdrawn.v1"
    assert envelopes[0].data.get("campaign_id") is None
    assert "c" * 300 not in (envelopes[-1].data.get("evidence") or "")


def test_a_contact_deleted_by_the_list_owner_leaves_the_list_without_withdrawing_consent() -> None:
    assert types_of(events(mailchimp_form("unsubscribe-deleted-by-admin"))) == ["parterre.newsletter.unsubscribed.v1"]


def test_a_deletion_after_a_spam_complaint_withdraws_consent() -> None:
    form = {**mailchimp_form("unsubscribe-deleted-by-admin"), "data[reason]": "abuse"}

    assert types_of(events(form))[-1] == "parterre.consent.withdrawn.v1"


def test_a_cleaned_address_becomes_newsletter_cleaned_with_its_reason_and_campaign() -> None:
    [envelope] = events(mailchimp_form("cleaned"))

    cleaned = parse_data(envelope)
    assert isinstance(cleaned, NewsletterCleanedV1)
    assert cleaned.person.email == "ancienne.adresse@example.com"
    assert (cleaned.reason, cleaned.campaign_id, cleaned.list_id) == (CleanedReason.HARD, "4fjk2ma9xd", LIST_ID)


def test_an_address_cleaned_after_a_spam_complaint_also_withdraws_consent() -> None:
    form = {**mailchimp_form("cleaned"), "data[reason]": "abuse"}

    cleaned, withdrawn = (parse_data(envelope) for envelope in events(form))

    assert isinstance(cleaned, NewsletterCleanedV1)
    assert isinstance(withdrawn, ConsentWithdrawnV1)
    assert withdrawn.purpose is ConsentPurpose.MARKETING_EMAIL
    assert withdrawn.person.email == "ancienne.adresse@example.com"
    assert "spam complaint" in (withdrawn.evidence or "")


@pytest.mark.parametrize("reason", ["soft", "Soft", "unknown", "bounce-limit-reached"])
def test_an_address_cleaned_for_a_reason_mailchimp_never_documented_is_still_cleaned_with_that_reason(
    reason: str,
) -> None:
    [envelope] = events({**mailchimp_form("cleaned"), "data[reason]": reason})

    # `v1` names `hard` and `abuse` only: a reader of it would refuse any other reason, so another type keeps it.
    cleaned = parse_data(envelope)
    assert isinstance(cleaned, NewsletterCleanedV2)
    assert (cleaned.person.email, cleaned.list_id, cleaned.campaign_id) == (
        "ancienne.adresse@example.com",
        LIST_ID,
        "4fjk2ma9xd",
    )
    assert cleaned.reason == reason


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_an_address_cleaned_without_a_reason_is_still_cleaned(reason: str | None) -> None:
    form = mailchimp_form("cleaned")
    form.pop("data[reason]")
    if reason is not None:
        form["data[reason]"] = reason

    [envelope] = events(form)

    cleaned = parse_data(envelope)
    assert isinstance(cleaned, NewsletterCleanedV2)
    assert cleaned.reason is None
    assert cleaned.person.email == "ancienne.adresse@example.com"


def test_a_long_reason_is_cut_so_that_the_cleaning_is_kept() -> None:
    [envelope] = events({**mailchimp_form("cleaned"), "data[reason]": "x" * 5000})

    cleaned = parse_data(envelope)
    assert isinstance(cleaned, NewsletterCleanedV2)
    assert cleaned.reason is not None
    assert 0 < len(cleaned.reason) < 5000


def test_only_a_spam_complaint_withdraws_consent_whatever_other_reason_an_address_is_cleaned_for() -> None:
    for reason, cleaned in (("hard", "v1"), ("soft", "v2"), ("unknown", "v2")):
        form = {**mailchimp_form("cleaned"), "data[reason]": reason}
        assert types_of(events(form)) == [f"parterre.newsletter.cleaned.{cleaned}"], reason
    complaint = {**mailchimp_form("cleaned"), "data[reason]": "ABUSE"}
    assert types_of(events(complaint)) == ["parterre.newsletter.cleaned.v1", "parterre.consent.withdrawn.v1"]


def test_a_documented_reason_in_another_case_keeps_the_first_type() -> None:
    [envelope] = events({**mailchimp_form("cleaned"), "data[reason]": "Hard"})

    cleaned = parse_data(envelope)
    assert isinstance(cleaned, NewsletterCleanedV1)
    assert cleaned.reason is CleanedReason.HARD


def test_a_profile_update_becomes_person_details_updated_listing_every_detail_sent() -> None:
    [envelope] = events(mailchimp_form("profile"))

    updated = parse_data(envelope)
    assert isinstance(updated, PersonDetailsUpdatedV1)
    assert updated.person.last_name == "D'Amours-Gagnon"
    assert updated.previous_email is None
    assert updated.changed_fields == ["external_id", "email", "phone", "first_name", "last_name", "locale"]


def test_an_email_change_carries_the_new_address_and_the_previous_one() -> None:
    [envelope] = events(mailchimp_form("upemail"))

    updated = parse_data(envelope)
    assert isinstance(updated, PersonDetailsUpdatedV1)
    assert updated.person.email == "helene.damours@courriel.example.ca"
    assert updated.person.external_id == "51da8c3259"
    assert updated.previous_email == "helene.damours@example.ca"
    assert updated.changed_fields == ["email", "external_id"]


def test_a_campaign_webhook_concerns_no_person_and_gives_no_event() -> None:
    assert events(mailchimp_form("campaign")) == []


def test_the_same_webhook_delivered_twice_gives_the_same_ids() -> None:
    assert [envelope.id for envelope in events(mailchimp_form("subscribe"))] == [
        envelope.id for envelope in events(mailchimp_form("subscribe"))
    ]


def test_two_profile_updates_within_one_second_that_say_different_things_are_two_facts() -> None:
    profile = mailchimp_form("profile")
    renamed = {**profile, "data[merges][LNAME]": "D'Amours-Roy"}

    assert events(profile)[0].id == events(dict(profile))[0].id
    assert events(renamed)[0].id != events(profile)[0].id


def test_a_second_subscription_later_is_another_fact() -> None:
    later = {**mailchimp_form("subscribe"), "fired_at": "2027-01-15 09:00:00"}

    assert events(later)[0].id != events(mailchimp_form("subscribe"))[0].id


def test_the_same_subscription_on_another_list_is_another_fact() -> None:
    other_list = {**mailchimp_form("subscribe"), "data[list_id]": "ffee001122"}

    assert events(other_list)[0].id != events(mailchimp_form("subscribe"))[0].id


def test_letter_case_of_an_address_does_not_make_a_redelivery_a_new_fact() -> None:
    shouting = {**mailchimp_form("subscribe"), "data[email]": "HELENE.DAMOURS@EXAMPLE.CA"}

    assert events(shouting)[0].id == events(mailchimp_form("subscribe"))[0].id


MALFORMED: list[tuple[str, dict[str, str | None], str]] = [
    ("subscribe", {"type": None}, "type"),
    ("subscribe", {"type": "resubscribe"}, "type"),
    ("subscribe", {"fired_at": None}, "fired_at"),
    ("subscribe", {"fired_at": "26/03/2026 21:35"}, "fired_at"),
    ("subscribe", {"fired_at": "2026-02-30 10:00:00"}, "fired_at"),
    ("subscribe", {"data[list_id]": ""}, "data[list_id]"),
    ("subscribe", {"data[email]": None, "data[merges][EMAIL]": None}, "data[email]"),
    ("subscribe", {"data[email]": "helene at example.ca"}, "data[email]"),
    ("cleaned", {"data[email]": None}, "data[email]"),
    ("upemail", {"data[old_email]": None}, "data[old_email]"),
    ("upemail", {"data[old_email]": "nobody"}, "data[old_email]"),
    ("upemail", {"data[new_email]": None}, "data[new_email]"),
    ("subscribe", {"data[list_id]": "x" * 300}, "data[list_id]"),
]


@pytest.mark.parametrize(("fixture", "changes", "field"), MALFORMED)
def test_a_missing_or_garbled_field_is_an_adapter_error_naming_the_form_key(
    fixture: str, changes: dict[str, str | None], field: str
) -> None:
    form = mailchimp_form(fixture)
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value

    with pytest.raises(AdapterError) as caught:
        events(form)

    assert [error.field for error in caught.value.errors] == [field]
    # Said in French too, and as precisely: not a code, nor a time written as this endpoint refuses it.
    for error in caught.value.errors:
        assert error.reason_fr
        assert "code" not in error.reason_fr
        assert "T19:30" not in error.reason_fr


@pytest.mark.parametrize(
    "changes",
    [
        {"data[merges][LANGUAGE]": "Bilingue"},
        {"data[merges][LANGUAGE]": "le français"},
        {"data[merges][ADDRESS][country]": "Kanada"},
        {"data[merges][PHONE]": "514 555-0199 (cellulaire, le soir seulement, sinon au bureau)"},
    ],
)
def test_a_merge_field_that_cannot_be_read_is_left_out_and_the_subscription_kept(changes: dict[str, str]) -> None:
    form = mailchimp_form("subscribe")
    form.update(changes)

    subscribed = events(form)

    assert [event.type for event in subscribed] == [event.type for event in events(mailchimp_form("subscribe"))]
    person = subscribed[0].data["person"]
    assert person["email"] == "helene.damours@example.ca"
    field = {"LANGUAGE": "locale", "ADDRESS": "country", "PHONE": "phone"}[next(iter(changes)).split("[")[2][:-1]]
    assert person.get(field) is None
    assert person["first_name"] == "Hélène"


def test_a_language_named_with_its_region_in_brackets_is_read() -> None:
    form = mailchimp_form("subscribe") | {"data[merges][LANGUAGE]": "Français (Canada)"}

    assert events(form)[0].data["person"]["locale"] == "fr"


@pytest.mark.parametrize(
    ("flat", "expected"),
    [
        ("12, rue des Érables  app. 3  Québec  QC    CA", ("12, rue des Érables", "app. 3", "Québec", "QC", None)),
        (
            "4521 rue Saint-Denis    Montréal  QC  H2J 2L1  CA",
            ("4521 rue Saint-Denis", None, "Montréal", "QC", "H2J 2L1"),
        ),
        ("  app. 3  Québec  QC  G1R 2B5  CA", (None, "app. 3", "Québec", "QC", "G1R 2B5")),
    ],
)
def test_an_empty_part_of_a_flat_address_leaves_the_others_in_their_places(
    flat: str, expected: tuple[str | None, ...]
) -> None:
    form = {**mailchimp_form("subscribe-french-merge-tags"), "data[merges][ADRESSE]": flat}

    person = parse_data(events(form)[0]).model_dump()["person"]

    assert tuple(person[name] for name in ("street", "address_2", "city", "region", "postal_code")) == expected
    assert person["country"] == "CA"


def test_a_flat_address_without_its_country_keeps_the_postal_code_in_its_place() -> None:
    flat = "12, rue des Érables  app. 3  Québec  QC  G1R 2B5  "
    form = {**mailchimp_form("subscribe-french-merge-tags"), "data[merges][ADRESSE]": flat}

    person = parse_data(events(form)[0]).model_dump()["person"]

    assert (person["postal_code"], person["country"]) == ("G1R 2B5", None)


def test_a_flat_address_not_in_mailchimps_layout_is_kept_whole_as_the_street() -> None:
    form = {**mailchimp_form("subscribe-french-merge-tags"), "data[merges][ADRESSE]": "Case postale 42, Rimouski"}

    person = parse_data(events(form)[0]).model_dump()["person"]

    assert (person["street"], person["city"]) == ("Case postale 42, Rimouski", None)


form_keys = st.sampled_from(
    [
        *("type", "fired_at", "data[email]", "data[list_id]", "data[id]", "data[reason]", "data[action]"),
        *("data[old_email]", "data[new_email]", "data[merges][FNAME]", "data[merges][ADDRESS]"),
        *("data[merges][LANGUAGE]", "data[language]"),
    ]
)


@given(
    kind=st.sampled_from(["subscribe", "unsubscribe", "cleaned", "profile", "upemail", "campaign", "other"]),
    fields=st.dictionaries(form_keys | st.text(max_size=10), st.text(max_size=30), max_size=10),
)
def test_any_form_gives_events_or_an_adapter_error_never_a_crash(kind: str, fields: dict[str, str]) -> None:
    outcome = events_or_error({"type": kind, **fields})

    if isinstance(outcome, AdapterError):
        assert outcome.errors
        assert all(error.field and error.reason for error in outcome.errors)
