"""Consent at send time: the projection notify keeps from profile's announcements, and what it allows now."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.notify.domain.contacts import (
    Contact,
    PurposeConsent,
    Suppression,
    apply_change,
    check_send,
    message_language,
    record_opt_out,
)
from services.notify.domain.frequency import FrequencyCap
from shared.addresses import postal_line
from shared.events.common import Channel, ConsentPurpose

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
EMAIL = ConsentPurpose.MARKETING_EMAIL
ELISE = (Channel.EMAIL, "elise@example.com")
# When profile announced the changes these tests apply: after every moment they give.
ANNOUNCED = NOW + timedelta(days=365)


def announce(contact: Contact, changed: dict[str, Any], version: int, at: datetime = ANNOUNCED) -> Contact | None:
    return apply_change(contact, changed, version, at)


def _contact(*, version: int = 1, **changed: Any) -> Contact:
    applied = announce(Contact("per_elise"), {"emails": ["elise@example.com"], **changed}, version)
    assert applied is not None
    return applied


def _granted(**extra: Any) -> dict[str, Any]:
    return {"consent.marketing_email.status": "granted", "consent.marketing_email.allowed": True, **extra}


def test_express_consent_allows_the_trigger_contact_points() -> None:
    check = check_send(_contact(**_granted()), EMAIL, [ELISE], erased=False, now=NOW)
    assert check.allowed
    assert check.contact_points == (ELISE,)


def test_a_withdrawal_announced_after_the_trigger_fired_blocks_the_message() -> None:
    contact = _contact(**_granted())
    withdrawn = announce(
        contact, {"consent.marketing_email.status": "withdrawn", "consent.marketing_email.allowed": False}, 2
    )
    assert withdrawn is not None
    assert check_send(withdrawn, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.CONSENT_WITHDRAWN


def test_implied_consent_past_its_expiry_blocks_even_if_profile_has_not_said_so_yet() -> None:
    contact = _contact(**_granted(**{"consent.marketing_email.expires_at": (NOW - timedelta(seconds=1)).isoformat()}))
    assert check_send(contact, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.CONSENT_EXPIRED
    still = _contact(**_granted(**{"consent.marketing_email.expires_at": (NOW + timedelta(days=1)).isoformat()}))
    assert check_send(still, EMAIL, [ELISE], erased=False, now=NOW).allowed


@pytest.mark.parametrize(("expires_at", "allowed"), [("2026-10-01T11:59:59", False), ("2026-10-02", True)])
def test_an_expiry_given_without_its_offset_is_read_in_utc(expires_at: str, allowed: bool) -> None:
    contact = _contact(**_granted(**{"consent.marketing_email.expires_at": expires_at}))
    assert check_send(contact, EMAIL, [ELISE], erased=False, now=NOW).allowed is allowed


def test_an_opt_out_stamped_without_its_offset_is_weighed_in_utc() -> None:
    granted_then = _granted(**{"consent.marketing_email.captured_at": "2026-09-01T00:00:00"})
    opted_out = record_opt_out(_contact(**granted_then), EMAIL, at=NOW - timedelta(days=1))
    assert check_send(opted_out, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.OPTED_OUT


def test_granted_but_not_allowed_is_an_expired_implied_consent() -> None:
    contact = _contact(**_granted(**{"consent.marketing_email.allowed": False}))
    assert check_send(contact, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.CONSENT_EXPIRED


def test_no_consent_at_all_blocks() -> None:
    contact = _contact(
        **_granted(**{"consent.marketing_email.status": "none", "consent.marketing_email.allowed": False})
    )
    assert check_send(contact, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.NO_CONSENT


def test_an_erased_person_gets_nothing_whatever_their_consent_was() -> None:
    assert check_send(_contact(**_granted()), EMAIL, [ELISE], erased=True, now=NOW).suppressed is Suppression.ERASED


def test_an_unsubscribe_reported_by_a_tool_wins_until_a_newer_grant() -> None:
    contact = record_opt_out(_contact(**_granted()), EMAIL, NOW - timedelta(hours=1))
    assert check_send(contact, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.OPTED_OUT
    regranted = announce(contact, {"consent.marketing_email.captured_at": NOW.isoformat()}, 2)
    assert regranted is not None
    assert check_send(regranted, EMAIL, [ELISE], erased=False, now=NOW).allowed


def _express_since(contact: Contact, at: datetime) -> Contact:
    regranted = announce(
        contact,
        {"consent.marketing_email.basis": "express", "consent.marketing_email.captured_at": at.isoformat()},
        contact.profile_version + 1,
    )
    assert regranted is not None
    return regranted


def test_an_unsubscribe_reported_again_after_an_express_consent_keeps_its_first_date_and_the_consent_stands() -> None:
    # Each sync of a member who stays unsubscribed in Mailchimp reports it again, the API unable to subscribe them.
    learnt = NOW - timedelta(days=1)
    contact = _express_since(record_opt_out(_contact(**_granted()), EMAIL, learnt), NOW - timedelta(hours=1))
    for reported_again in (record_opt_out(contact, EMAIL, NOW), record_opt_out(contact, EMAIL, NOW, changed_at=learnt)):
        assert reported_again.opt_outs[EMAIL.value] == learnt
        assert check_send(reported_again, EMAIL, [ELISE], erased=False, now=NOW).allowed


def test_an_unsubscribe_after_subscribing_in_the_tool_again_since_the_express_consent_is_a_new_one() -> None:
    consented = NOW - timedelta(days=2)
    contact = _express_since(record_opt_out(_contact(**_granted()), EMAIL, NOW - timedelta(days=3)), consented)
    unsubscribed = NOW - timedelta(days=1)
    # Changed since the consent, and never subscribed again: the sync's own update of her name, say.
    edited = record_opt_out(contact, EMAIL, NOW, changed_at=unsubscribed, opted_in_at=NOW - timedelta(days=300))
    assert check_send(edited, EMAIL, [ELISE], erased=False, now=NOW).allowed
    # Subscribed again through the audience's form after the consent, then left.
    again = record_opt_out(contact, EMAIL, NOW, changed_at=unsubscribed, opted_in_at=NOW - timedelta(days=1, hours=5))
    assert again.opt_outs[EMAIL.value] == unsubscribed
    assert check_send(again, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.OPTED_OUT


MISTYPED = datetime(2062, 10, 1, 12, 0, tzinfo=UTC)


def test_an_express_consent_dated_after_the_change_announcing_it_counts_from_that_change() -> None:
    # A year mistyped upstream, announced before profile dated consent by its fact, then an unsubscribe in Mailchimp.
    announced_at = NOW - timedelta(days=7)
    granted = announce(
        Contact("per_elise", emails=("elise@example.com",), announced=frozenset({"emails"})),
        _granted(
            **{"consent.marketing_email.basis": "express", "consent.marketing_email.captured_at": MISTYPED.isoformat()}
        ),
        1,
        at=announced_at,
    )
    assert granted is not None
    assert granted.consent(EMAIL).captured_at == announced_at

    opted_out = record_opt_out(granted, EMAIL, NOW)

    for later in (NOW, NOW + timedelta(days=30)):
        assert check_send(opted_out, EMAIL, [ELISE], erased=False, now=later).suppressed is Suppression.OPTED_OUT


def test_a_stored_express_consent_dated_ahead_of_now_lifts_no_unsubscribe() -> None:
    # Kept from an announcement folded before consent was dated no later than it.
    stored = Contact(
        "per_elise",
        emails=("elise@example.com",),
        announced=frozenset({"emails"}),
        consents={"marketing_email": PurposeConsent("granted", True, None, MISTYPED, "express")},
    )

    opted_out = record_opt_out(stored, EMAIL, NOW)

    assert check_send(opted_out, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.OPTED_OUT
    assert record_opt_out(opted_out, EMAIL, NOW + timedelta(days=1)).opt_outs[EMAIL.value] == NOW


def test_an_unsubscribe_in_force_keeps_the_earliest_date_learnt_and_the_tool_s_own_date_first() -> None:
    contact = _contact(**_granted())
    dated = record_opt_out(contact, EMAIL, NOW, changed_at=NOW - timedelta(days=30))
    assert dated.opt_outs[EMAIL.value] == NOW - timedelta(days=30)
    assert record_opt_out(dated, EMAIL, NOW + timedelta(days=1)).opt_outs[EMAIL.value] == NOW - timedelta(days=30)
    earlier = record_opt_out(dated, EMAIL, NOW, changed_at=NOW - timedelta(days=40))
    assert earlier.opt_outs[EMAIL.value] == NOW - timedelta(days=40)
    # A date ahead of when notify learnt it (a clock off) is no later than that.
    assert record_opt_out(contact, EMAIL, NOW, changed_at=NOW + timedelta(hours=2)).opt_outs[EMAIL.value] == NOW


def test_a_purchase_after_an_unsubscribe_reported_by_a_tool_does_not_reopen_email() -> None:
    bought = NOW - timedelta(days=120)
    implied = {
        "consent.marketing_email.basis": "implied_purchase",
        "consent.marketing_email.captured_at": bought.isoformat(),
        "consent.marketing_email.expires_at": (bought + timedelta(days=730)).isoformat(),
    }
    contact = record_opt_out(_contact(**_granted(**implied)), EMAIL, NOW - timedelta(days=7))
    again = NOW - timedelta(days=1)
    # The next ticket: profile announces the newer implied basis, a purchase and no grant.
    bought_again = announce(
        contact,
        {
            "consent.marketing_email.captured_at": again.isoformat(),
            "consent.marketing_email.expires_at": (again + timedelta(days=730)).isoformat(),
        },
        2,
    )
    assert bought_again is not None
    assert check_send(bought_again, EMAIL, [ELISE], erased=False, now=NOW).suppressed is Suppression.OPTED_OUT
    # She subscribes again: express consent, given after the unsubscribe.
    subscribed = announce(
        bought_again,
        {
            "consent.marketing_email.basis": "express",
            "consent.marketing_email.captured_at": NOW.isoformat(),
            "consent.marketing_email.expires_at": None,
        },
        3,
    )
    assert subscribed is not None
    assert check_send(subscribed, EMAIL, [ELISE], erased=False, now=NOW).allowed


def test_a_consent_kept_before_its_basis_was_lifts_an_opt_out_only_if_it_never_ends() -> None:
    opted_out = NOW - timedelta(days=7)
    implied = _granted(
        **{
            "consent.marketing_email.captured_at": (NOW - timedelta(days=1)).isoformat(),
            "consent.marketing_email.expires_at": (NOW + timedelta(days=700)).isoformat(),
        }
    )
    assert record_opt_out(_contact(**implied), EMAIL, opted_out).consent(EMAIL).basis is None
    checked = check_send(record_opt_out(_contact(**implied), EMAIL, opted_out), EMAIL, [ELISE], erased=False, now=NOW)
    assert checked.suppressed is Suppression.OPTED_OUT


def test_a_change_of_nothing_the_contact_holds_is_not_taken_and_an_older_one_is_still_refused_after_it() -> None:
    contact = _contact(**_granted(), version=3)

    assert announce(contact, {"tickets_count": 4, "rfm.recency": 5, "segments": ["donors"]}, 4) is None
    assert announce(contact, {"emails": ["elise@example.com"], **_granted()}, 5) is None, "the same values"
    assert announce(contact, {"emails": ["elise.new@example.com"]}, 2) is None, "older than the one it took"
    moved = announce(contact, {"emails": ["elise.new@example.com"]}, 6)
    assert moved is not None
    assert (moved.emails, moved.profile_version) == (("elise.new@example.com",), 6)


def test_an_address_the_profile_no_longer_holds_is_dropped() -> None:
    moved = announce(_contact(**_granted()), {"emails": ["elise.new@example.com"]}, 2)
    assert moved is not None
    check = check_send(moved, EMAIL, [ELISE, (Channel.EMAIL, "elise.new@example.com")], erased=False, now=NOW)
    assert check.contact_points == ((Channel.EMAIL, "elise.new@example.com"),)
    gone = check_send(moved, EMAIL, [ELISE], erased=False, now=NOW)
    assert gone.suppressed is Suppression.NO_CONTACT_POINT


def test_an_address_profile_announced_undeliverable_after_the_trigger_fired_is_dropped() -> None:
    other = (Channel.EMAIL, "elise.bis@example.com")
    contact = _contact(**_granted(), emails=["elise@example.com", "elise.bis@example.com"])
    bounced = announce(contact, {"undeliverable_emails": ["elise@example.com"]}, 2)
    assert bounced is not None

    assert check_send(bounced, EMAIL, [ELISE, other], erased=False, now=NOW).contact_points == (other,)
    gone = check_send(bounced, EMAIL, [ELISE], erased=False, now=NOW)
    assert gone.suppressed is Suppression.NO_CONTACT_POINT
    given_again = announce(bounced, {"undeliverable_emails": []}, 3)
    assert given_again is not None
    assert check_send(given_again, EMAIL, [ELISE], erased=False, now=NOW).contact_points == (ELISE,)


@pytest.mark.parametrize(
    ("then", "now", "held"),
    [
        # A French postal code covers a town: a move within it changes the building.
        (
            {"street": "12 rue Oberkampf", "city": "Paris", "postal_code": "75011", "country": "FR"},
            {"street": "30 rue de la Roquette"},
            False,
        ),
        (
            {"street": "4521, rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"},
            {"street": "4600 rue Saint-Denis"},
            False,
        ),
        # The same building written otherwise, or given its apartment since: the same place.
        (
            {"street": "4521, rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"},
            {"street": "4521 Rue St-Denis", "address_2": "app. 3"},
            True,
        ),
        # A street with no number says nothing of a move: the postal code alone decides.
        ({"street": "Chemin du Lac", "city": "Sutton", "region": "QC", "postal_code": "J0E 2K0"}, {}, True),
        # A number given since, on a line whose only digits were its postal code's: nothing moved that anyone said.
        (
            {"street": "Rang Saint-Joseph", "city": "Sutton", "postal_code": "J0E 2K0"},
            {"street": "2 rang Saint-Joseph"},
            True,
        ),
        # Canada Post writes the unit first (`3-4521`): a move keeping the apartment's number is still a move.
        (
            {"street": "3-4521 rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"},
            {"street": "3-4600 rue Saint-Denis"},
            False,
        ),
        (
            {"street": "app. 3, 4521 rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"},
            {"street": "app. 3, 4600 rue Saint-Denis"},
            False,
        ),
        # The same building, its unit given since, however written.
        (
            {"street": "4521 rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"},
            {"street": "12-4521 rue Saint-Denis"},
            True,
        ),
        # A city written with its arrondissement: its number is the line's, on both sides.
        (
            {"street": "12 rue Oberkampf", "city": "Paris 11e", "postal_code": "75011", "country": "FR"},
            {"address_2": "Appartement 4"},
            True,
        ),
        (
            {"street": "12 rue Oberkampf", "city": "Paris 11e", "postal_code": "75011", "country": "FR"},
            {"street": "11 rue de la Roquette"},
            False,
        ),
    ],
    ids=[
        "paris-same-code",
        "montreal-same-code",
        "same-building",
        "no-number",
        "number-given-since",
        "unit-first-moved",
        "apartment-first-moved",
        "unit-given-since",
        "arrondissement-apartment-given-since",
        "arrondissement-moved-to-its-number",
    ],
)
def test_a_move_within_one_postal_code_drops_the_address_moved_from(
    then: dict[str, str], now: dict[str, str], held: bool
) -> None:
    postal = {"consent.postal.status": "granted", "consent.postal.allowed": True}
    contact = announce(Contact("per_elise"), {**then, **postal}, 1)
    assert contact is not None
    old_line = (Channel.POSTAL, postal_line(then))
    later = announce(contact, now, 2) if now else contact
    assert later is not None

    check = check_send(later, ConsentPurpose.POSTAL, [old_line], erased=False, now=NOW)

    assert check.contact_points == ((old_line,) if held else ())


def test_a_postal_address_the_person_moved_from_is_dropped_and_the_one_they_have_kept() -> None:
    # The trigger fired with the address of the time; she moved before it was delivered.
    address = {"street": "4521, rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"}
    postal = {"consent.postal.status": "granted", "consent.postal.allowed": True}
    contact = announce(Contact("per_elise"), {**address, **postal}, 1)
    assert contact is not None
    old_line = (Channel.POSTAL, "4521, rue Saint-Denis, Montréal, QC, H2J 2L1")
    assert check_send(contact, ConsentPurpose.POSTAL, [old_line], erased=False, now=NOW).contact_points == (old_line,)

    moved = announce(contact, {"street": "10, avenue des Pins Ouest", "postal_code": "H2W 1P9"}, 2)
    assert moved is not None

    assert check_send(moved, ConsentPurpose.POSTAL, [old_line], erased=False, now=NOW).suppressed is (
        Suppression.NO_CONTACT_POINT
    )
    new_line = (Channel.POSTAL, "10, avenue des Pins Ouest, Montréal, QC, H2W 1P9")
    assert check_send(moved, ConsentPurpose.POSTAL, [new_line], erased=False, now=NOW).contact_points == (new_line,)


def test_a_letter_still_goes_to_the_place_the_person_lives_however_its_parts_were_written_since() -> None:
    # The trigger fired with the line profile wrote; since, a newsletter gave her city without its accent, and the
    # box office her apartment number: she has not moved.
    address = {"street": "4521, rue Saint-Denis", "city": "Montréal", "region": "QC", "postal_code": "H2J 2L1"}
    contact = announce(Contact("per_elise"), {**address, "consent.postal.status": "granted"}, 1)
    assert contact is not None
    line = (Channel.POSTAL, "4521, rue Saint-Denis, Montréal, QC, H2J 2L1")
    rewritten = announce(contact, {"city": "Montreal", "address_2": "app. 3", "postal_code": "h2j2l1"}, 2)
    assert rewritten is not None

    assert check_send(rewritten, ConsentPurpose.POSTAL, [line], erased=False, now=NOW).contact_points == (line,)


def test_an_address_abroad_ends_with_its_country_as_profile_writes_it() -> None:
    abroad = {"street": "3 rue de Rivoli", "city": "Paris", "postal_code": "75004", "country": "FR"}
    contact = announce(Contact("per_elise"), {**abroad, "consent.postal.status": "granted"}, 1)
    assert contact is not None
    line = (Channel.POSTAL, "3 rue de Rivoli, Paris, 75004, FR")

    assert check_send(contact, ConsentPurpose.POSTAL, [line], erased=False, now=NOW).contact_points == (line,)


def test_an_address_never_announced_leaves_the_trigger_s_own_standing() -> None:
    postal: dict[str, Any] = {"consent.postal.status": "granted", "consent.postal.allowed": True}
    contact = _contact(**postal)
    line = (Channel.POSTAL, "4521, rue Saint-Denis, Montréal, QC, H2J 2L1")

    assert check_send(contact, ConsentPurpose.POSTAL, [line], erased=False, now=NOW).contact_points == (line,)


def test_contact_points_on_another_channel_are_ignored() -> None:
    check = check_send(_contact(**_granted()), EMAIL, [(Channel.SMS, "+15145550199")], erased=False, now=NOW)
    assert check.suppressed is Suppression.NO_CONTACT_POINT


def test_without_a_projection_the_triggers_own_consent_verdict_stands() -> None:
    assert check_send(None, EMAIL, [ELISE], erased=False, now=NOW).allowed
    assert check_send(None, EMAIL, [], erased=False, now=NOW).suppressed is Suppression.NO_CONTACT_POINT


def test_an_older_or_repeated_change_is_not_applied() -> None:
    contact = _contact(version=5, **_granted())
    assert announce(contact, {"consent.marketing_email.status": "withdrawn"}, 5) is None
    assert announce(contact, {"consent.marketing_email.status": "withdrawn"}, 4) is None


def test_a_change_touching_one_attribute_keeps_the_others() -> None:
    contact = _contact(**_granted(**{"consent.marketing_email.expires_at": "2027-01-01T00:00:00+00:00"}))
    changed = announce(contact, {"consent.marketing_email.allowed": True, "first_name": "Élise"}, 2)
    assert changed is not None
    assert changed.consent(EMAIL).status == "granted"
    assert changed.consent(EMAIL).expires_at == datetime(2027, 1, 1, tzinfo=UTC)
    assert changed.first_name == "Élise"
    assert changed.emails == ("elise@example.com",)


@pytest.mark.parametrize(
    ("preferred", "fallback", "expected"),
    [
        ("fr", "en", "fr"),
        ("en", "fr", "en"),
        ("fr-CA", "en", "fr"),
        ("EN-ca", "fr", "en"),
        ("es", "fr", "fr"),
        (None, "en", "en"),
    ],
)
def test_the_message_language_follows_the_persons_preference(
    preferred: str | None, fallback: str, expected: str
) -> None:
    contact = _contact(preferred_language=preferred)
    assert message_language(contact, fallback) == expected  # type: ignore[arg-type]


def test_the_frequency_cap_admits_three_messages_a_week_and_counts_each_once() -> None:
    cap = FrequencyCap(limit=3, window=timedelta(days=7))
    sent = {"msg_a": NOW - timedelta(days=6), "msg_b": NOW - timedelta(days=1), "msg_c": NOW - timedelta(hours=1)}
    assert not cap.admits(sent, "msg_d", NOW)
    assert cap.admits(sent, "msg_b", NOW), "a message already counted (a retry, a redelivery) is admitted again"
    assert cap.admits(sent, "msg_d", NOW + timedelta(days=1)), "msg_a leaves the window a day later"
    assert set(cap.recent(sent, NOW + timedelta(days=1))) == {"msg_b", "msg_c"}


def test_a_frequency_cap_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="frequency cap"):
        FrequencyCap(limit=0)
