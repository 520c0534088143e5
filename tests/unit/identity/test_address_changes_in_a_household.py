"""Which person a changed address (a newsletter member's, a customer's) is about when a household shared the old one."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain.identifiers import Identifier, identifiers_of
from services.identity.domain.persons import Person, person_id_for
from services.identity.domain.records import NormalisedRecord
from services.identity.domain.resolution import Evidence, Resolution, resolve_record
from shared.events.identity import MatchMethod
from tests.unit.identity.test_resolution import MATCHING, ORGANISATION, POLICY, email, owned, upstream_id

START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
NEWSLETTER = "mailchimp-principal"
BOX_OFFICE = "billetterie-principale"
FAMILY = "famille@example.com"
HOUSEHOLD = "hh_tremblay"


def record(
    source: str, first_name: str | None, address: str = FAMILY, external_id: str | None = None
) -> NormalisedRecord:
    return NormalisedRecord(
        source=source, external_id=external_id, email=address, first_name=first_name, last_name="tremblay"
    )


def sharer(
    person_id: str,
    *records: NormalisedRecord,
    owns: Sequence[Identifier] = (),
    minute: int = 0,
    household_id: str | None = HOUSEHOLD,
) -> Person:
    return Person(
        person_id=person_id,
        organisation_id=ORGANISATION,
        created_at=START + timedelta(minutes=minute),
        created_by_event=f"created-{person_id}",
        identifiers=frozenset(owns),
        records=records,
        household_id=household_id,
    )


def address_changed(
    *persons: Person,
    new_email: str = "luc@example.com",
    first_name: str | None = None,
    last_name: str | None = None,
    previous: str = FAMILY,
) -> Resolution:
    """An `upemail` as ingest publishes it: the member's new address and new member id, the old address beside, and
    no merge field (Mailchimp sends none with it) unless given. The store knows `persons`, in one household."""
    changed = NormalisedRecord(
        source=NEWSLETTER, external_id="51da8c3259", email=new_email, first_name=first_name, last_name=last_name
    )
    identifiers, _blocked = identifiers_of(changed, POLICY, ORGANISATION, previous_emails=[previous])
    owners = owned(*persons, only=identifiers)
    households: dict[str, list[Person]] = {}
    for member in persons:
        if member.household_id is not None:
            households.setdefault(member.household_id, []).append(member)
    return resolve_record(
        changed,
        identifiers,
        Evidence(owners=owners, households=households),
        organisation_id=ORGANISATION,
        event_id="evt-upemail",
        policy=POLICY,
        matching=MATCHING,
    )


def marie_first(*, luc_subscribed: bool = True) -> tuple[Person, Person]:
    """Marie gave the family address at the box office first, so she holds it; Luc gave it too and joined her
    household, and subscribed to the newsletter with it (or gave it at the box office only)."""
    marie = sharer("per_marie", record(BOX_OFFICE, "marie"), owns=[email(FAMILY)])
    luc_record = record(NEWSLETTER, "luc", external_id="8a25ff1d98") if luc_subscribed else record(BOX_OFFICE, "luc")
    luc = sharer("per_luc", luc_record, minute=5)
    return marie, luc


def test_a_newsletter_member_moving_off_a_household_s_shared_address_is_the_sharer_the_newsletter_knew_by_it() -> None:
    marie, luc = marie_first()

    resolution = address_changed(marie, luc)

    assert (resolution.person_id, resolution.created, resolution.method) == ("per_luc", False, MatchMethod.EMAIL)
    # Found behind a shared address, as a household member named by a record is: a little less sure than an email.
    assert resolution.confidence == 0.95
    assert set(resolution.claims) == {email("luc@example.com"), upstream_id("51da8c3259", NEWSLETTER)}
    assert (resolution.merge, resolution.household_with, resolution.review) == (None, None, None)


def test_which_sharer_is_created_first_does_not_decide_whose_address_changed() -> None:
    luc = sharer("per_luc", record(BOX_OFFICE, "luc"), owns=[email(FAMILY)])
    marie = sharer("per_marie", record(NEWSLETTER, "marie", external_id="8a25ff1d98"), minute=5)

    assert address_changed(luc, marie, new_email="marie@example.com").person_id == "per_marie"


def test_the_member_s_merge_fields_name_the_sharer_when_the_webhook_carries_them() -> None:
    marie, luc = marie_first(luc_subscribed=False)

    assert address_changed(marie, luc, first_name="luc").person_id == "per_luc"
    assert address_changed(marie, luc, first_name="marie").person_id == "per_marie"


def test_a_sharer_already_holding_the_new_address_is_the_one_whose_address_changed() -> None:
    marie, luc = marie_first(luc_subscribed=False)
    luc_records = (*luc.records, record(BOX_OFFICE, "luc", "luc@example.com"))
    luc = sharer("per_luc", *luc_records, owns=[email("luc@example.com")], minute=5)

    resolution = address_changed(marie, luc)

    assert (resolution.person_id, resolution.created, resolution.merge) == ("per_luc", False, None)
    assert resolution.confidence == 1.0


def test_a_sharer_the_newsletter_knows_by_another_address_since_is_not_the_one_moving_off_it() -> None:
    # Marie was the newsletter's member at the family address, then moved to her own; Luc subscribed with it after.
    marie = sharer(
        "per_marie",
        record(NEWSLETTER, "marie", external_id="8a25ff1d98"),
        record(NEWSLETTER, "marie", "marie@example.com", external_id="0b9e7a41c2"),
        owns=[email(FAMILY), email("marie@example.com")],
    )
    luc = sharer("per_luc", record(NEWSLETTER, "luc", external_id="3f6d2c8e11"), minute=5)

    assert address_changed(marie, luc).person_id == "per_luc"


def test_when_nothing_tells_the_sharers_apart_the_change_makes_a_new_person_left_to_a_reviewer() -> None:
    marie, luc = marie_first(luc_subscribed=False)

    resolution = address_changed(marie, luc)

    assert resolution.created
    assert resolution.person_id == person_id_for(ORGANISATION, "evt-upemail")
    assert resolution.method is MatchMethod.REVIEW_PENDING
    # The new address and member id are the new person's, for the facts that follow; the shared one stays Marie's.
    assert set(resolution.claims) == {email("luc@example.com"), upstream_id("51da8c3259", NEWSLETTER)}
    assert resolution.merge is None
    # The member was known at the household's address: of the household, and maybe one of its sharers.
    assert (resolution.household_with, resolution.household_id) == ("per_marie", HOUSEHOLD)
    assert resolution.review is not None
    assert resolution.review.candidate_id in {"per_marie", "per_luc"}
    assert resolution.review.agreements["email"] == "exact"
    assert resolution.confidence == round(1 - resolution.review.probability, 6)


def test_two_sharers_the_newsletter_both_knows_by_the_old_address_are_not_guessed_between() -> None:
    marie = sharer("per_marie", record(NEWSLETTER, "marie", external_id="8a25ff1d98"), owns=[email(FAMILY)])
    luc = sharer("per_luc", record(NEWSLETTER, "luc", external_id="3f6d2c8e11"), minute=5)

    resolution = address_changed(marie, luc)

    assert (resolution.created, resolution.method) == (True, MatchMethod.REVIEW_PENDING)


@pytest.mark.parametrize("household_id", [None, HOUSEHOLD], ids=["alone", "in a household of one sharer"])
def test_an_address_held_by_one_person_alone_still_follows_its_holder(household_id: str | None) -> None:
    marie = sharer("per_marie", record(BOX_OFFICE, "marie"), owns=[email(FAMILY)], household_id=household_id)
    # Luc is of the household by the home phone, never gave the address: he is no sharer of it.
    luc = sharer("per_luc", record(BOX_OFFICE, "luc", "luc@example.com"), minute=5, household_id=household_id)

    resolution = address_changed(marie, luc, new_email="marie.tremblay@example.com")

    assert (resolution.person_id, resolution.created, resolution.confidence) == ("per_marie", False, 1.0)


def test_a_sharer_s_own_new_address_does_not_merge_them_with_the_holder_of_the_shared_one() -> None:
    # Nameless records both: nothing in the names keeps them apart, and the change names both their addresses.
    marie = sharer("per_marie", record(BOX_OFFICE, None), owns=[email(FAMILY)])
    luc_records = (record(BOX_OFFICE, None), record(BOX_OFFICE, None, "luc@example.com"))
    luc = sharer("per_luc", *luc_records, owns=[email("luc@example.com")], minute=5)

    resolution = address_changed(marie, luc)

    assert (resolution.person_id, resolution.merge) == ("per_luc", None)
