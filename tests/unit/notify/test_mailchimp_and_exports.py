"""Mailchimp member bodies and the segment CSV export, from the contact projection."""

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime

from services.notify.domain.contacts import Contact, apply_change
from services.notify.domain.exports import CSV_COLUMNS, segment_csv
from services.notify.domain.mailchimp import (
    cleaned_in_mailchimp,
    member_body,
    member_email,
    members_to_forget,
    subscriber_hash,
    tags_body,
    unsubscribed_in_mailchimp,
)
from shared.events.common import ConsentPurpose

NOW = datetime(2026, 10, 1, tzinfo=UTC)


def _contact(person: str, email: str, status: str, **more: object) -> Contact:
    changed = {
        "emails": [email],
        "first_name": "Élise",
        "last_name": "Gagnon",
        "preferred_language": "fr",
        "consent.marketing_email.status": status,
        "consent.marketing_email.allowed": status == "granted",
        **more,
    }
    contact = apply_change(Contact(person), changed, 1, NOW)
    assert contact is not None
    return contact


def test_the_member_id_is_the_md5_of_the_lower_cased_email() -> None:
    # Mailchimp's documented example: the MD5 of "urist.mcvankab@freddiesjokes.com".
    assert subscriber_hash("Urist.McVankab@freddiesjokes.com") == "62eeb292278cc15f5817cb78f7790b08"


def test_a_member_is_created_subscribed_but_an_existing_status_is_never_overridden() -> None:
    body = member_body(_contact("per_1", "elise@example.com", "granted"), "elise@example.com", fallback="en")
    assert body == {
        "email_address": "elise@example.com",
        "status_if_new": "subscribed",
        "language": "fr",
        "merge_fields": {"FNAME": "Élise", "LNAME": "Gagnon"},
    }
    assert "status" not in body


def test_an_erased_person_s_members_are_those_under_each_address_given_or_kept_but_not_one_a_family_shares() -> None:
    contact = _contact("per_1", "elise@example.com", "granted", emails=["elise@example.com", "famille@example.com"])
    contact = replace(contact, mailchimp_members={"sub_a": "ancienne@example.com", "sub_b": "elise@example.com"})

    hashes = members_to_forget(contact, given_by_others={"FAMILLE@example.com"})

    assert hashes == sorted([subscriber_hash("elise@example.com"), subscriber_hash("ancienne@example.com")])
    assert members_to_forget(Contact("per_2"), given_by_others=set()) == []


def test_segments_become_tags_made_active_or_inactive() -> None:
    assert tags_body("abonnes", entered=True) == {"tags": [{"name": "abonnes", "status": "active"}]}
    assert tags_body("abonnes", entered=False) == {"tags": [{"name": "abonnes", "status": "inactive"}]}


def test_only_an_unsubscribed_member_left_the_audience_a_cleaned_one_has_an_address_that_bounces() -> None:
    assert unsubscribed_in_mailchimp({"status": "unsubscribed"})
    assert not unsubscribed_in_mailchimp({"status": "cleaned"})
    assert cleaned_in_mailchimp({"status": "cleaned"})
    assert not unsubscribed_in_mailchimp({"status": "subscribed"})


def test_the_csv_export_lists_only_members_whose_consent_allows_contact_now() -> None:
    members = [
        _contact("per_1", "elise@example.com", "granted"),
        _contact("per_2", "luc@example.com", "withdrawn"),
        _contact("per_3", "=HYPERLINK(1)@example.com", "granted"),
        _contact(
            "per_4", "old@example.com", "granted", **{"consent.marketing_email.expires_at": "2026-01-01T00:00:00+00:00"}
        ),
    ]
    rows = list(csv.reader(io.StringIO(segment_csv(members, ConsentPurpose.MARKETING_EMAIL, now=NOW))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row[0] for row in rows[1:]] == ["per_1", "per_3"]
    assert rows[1][1] == "elise@example.com"
    assert rows[2][1].startswith("'="), "a formula is defused so a spreadsheet shows it as text"


def test_the_csv_export_gives_the_latest_address_that_is_not_undeliverable_and_leaves_out_those_with_none() -> None:
    members = [
        _contact(
            "per_1",
            "dead@example.com",
            "granted",
            emails=["dead@example.com", "elise@example.com"],
            undeliverable_emails=["dead@example.com"],
        ),
        _contact("per_2", "luc@example.com", "granted", undeliverable_emails=["luc@example.com"]),
    ]

    rows = list(csv.reader(io.StringIO(segment_csv(members, ConsentPurpose.MARKETING_EMAIL, now=NOW))))

    assert [(row[0], row[1]) for row in rows[1:]] == [("per_1", "elise@example.com")]


def test_a_member_is_kept_under_the_latest_address_that_is_not_undeliverable() -> None:
    contact = _contact(
        "per_1",
        "dead@example.com",
        "granted",
        emails=["dead@example.com", "elise@example.com"],
        undeliverable_emails=["dead@example.com"],
    )

    assert member_email(contact) == "elise@example.com"
    only_dead = _contact("per_2", "luc@example.com", "granted", undeliverable_emails=["luc@example.com"])
    assert member_email(only_dead) is None


def test_an_sms_export_gives_each_phone_in_e164_and_still_defuses_a_formula_in_a_name() -> None:
    texted = {"consent.sms.status": "granted", "consent.sms.allowed": True}
    members = [
        _contact("per_1", "elise@example.com", "granted", phones=["+15145550199"], **texted),
        _contact("per_2", "luc@example.com", "granted", phones=["+15145550100"], first_name="+1+cmd", **texted),
    ]

    rows = list(csv.reader(io.StringIO(segment_csv(members, ConsentPurpose.SMS, now=NOW))))

    phone, first_name = CSV_COLUMNS.index("phone"), CSV_COLUMNS.index("first_name")
    assert [row[phone] for row in rows[1:]] == ["+15145550199", "+15145550100"]
    assert rows[2][first_name] == "'+1+cmd"


ADDRESS = {
    "street": "4521, rue Saint-Denis",
    "address_2": "app. 3",
    "city": "Montréal",
    "region": "QC",
    "postal_code": "H2J 2L1",
    "country": "CA",
}


def test_a_postal_export_gives_the_whole_address_and_others_give_none_of_it() -> None:
    postal_consent = {"consent.postal.status": "granted", "consent.postal.allowed": True}
    member = _contact("per_1", "elise@example.com", "granted", **ADDRESS, **postal_consent)

    [header, postal] = list(csv.reader(io.StringIO(segment_csv([member], ConsentPurpose.POSTAL, now=NOW))))
    [_, email] = list(csv.reader(io.StringIO(segment_csv([member], ConsentPurpose.MARKETING_EMAIL, now=NOW))))

    assert {name: postal[header.index(name)] for name in ADDRESS} == ADDRESS
    assert postal[header.index("email")] == ""
    assert [email[header.index(name)] for name in ADDRESS] == [""] * len(ADDRESS)
    assert email[header.index("email")] == "elise@example.com"


def test_the_csv_export_for_excel_in_french_separates_cells_with_semicolons() -> None:
    members = [_contact("per_1", "elise@example.com", "granted")]

    text = segment_csv(members, ConsentPurpose.MARKETING_EMAIL, now=NOW, delimiter=";")

    [header, row] = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert tuple(header) == CSV_COLUMNS
    assert row[:2] == ["per_1", "elise@example.com"]
