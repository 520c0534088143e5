"""One end-to-end test per user-visible feature, black-box: patrons go in through ingest's HTTP endpoints as the
theatre's box office, shop, newsletter and API send them, and what comes out is read through identity's, profile's
and notify's public APIs and the webhooks a marketing tool receives."""

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.features.patrons import (
    ALBERTINE,
    BELLES_SOEURS,
    HOSANNA,
    Patron,
    boxoffice_export,
    evenings_this_season,
    mailchimp_subscribe,
    mailchimp_unsubscribe,
    new_patron,
    shopify_counter_order,
    shopify_customer_update,
    shopify_order,
    ticket_order,
    ticket_purchased_event,
)
from tests.integration.features.theatre import SUBSCRIPTION_OFFER, TRIGGER_FIRED, Theatre
from tests.integration.waiting import eventually

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

# Long enough for a busy two-core machine; a passing run takes a few seconds per wait.
PIPELINE_SECONDS = 45
# Delivery statuses notify does not change again on its own.
SETTLED = frozenset({"succeeded", "suppressed", "dead", "cancelled"})

Fields = dict[str, Any]


async def test_the_same_patron_through_the_box_office_the_shop_and_the_newsletter_becomes_one_profile(
    theatre: Theatre,
) -> None:
    patron = new_patron("Geneviève", "Thibodeau")
    now = datetime.now(UTC)
    [evening] = evenings_this_season(now, 1)

    await theatre.import_boxoffice(
        boxoffice_export(patron, [ticket_order(BELLES_SOEURS, evening, ordered_at=now - timedelta(days=3))])
    )
    await theatre.send_shopify(shopify_order(patron, created_at=now - timedelta(days=2)))
    await theatre.send_mailchimp(mailchimp_subscribe(patron, fired_at=now - timedelta(days=1)))

    person_id, profile = await _one_person(
        theatre,
        patron,
        showing=lambda fields: (
            fields["tickets_bought"] == 2 and fields["shop_orders"] == 1 and fields["newsletter_status"] == "subscribed"
        ),
    )
    person = await theatre.identity_person(person_id)
    assert person is not None
    identifiers = {(item["type"], item["source"], item["value"]) for item in person["identifiers"]}
    upstream = patron.upstream_ids(theatre.sources)
    assert {("external_id", source, value) for source, value in upstream.items()} <= identifiers
    assert ("email", None, patron.email) in identifiers
    fields = profile["fields"]
    assert fields["sources"] == sorted(upstream)
    assert fields["emails"] == [patron.email]
    assert (fields["first_name"], fields["last_name"]) == (patron.first_name, patron.last_name)
    assert [(line["production_id"], line["tickets"]) for line in profile["tickets"]] == [
        (BELLES_SOEURS.production_id, 2)
    ]
    assert fields["shop_orders"] == 1
    assert fields["newsletter_status"] == "subscribed"
    assert [item["person_id"] for item in await theatre.profiles_with_email(patron.email)] == [person_id]


async def test_an_order_the_box_office_exports_again_as_refunded_is_paid_back_in_the_profile(theatre: Theatre) -> None:
    patron = new_patron("Réjean", "Lapointe")
    now = datetime.now(UTC)
    first, second = evenings_this_season(now, 2)
    kept = ticket_order(BELLES_SOEURS, first, ordered_at=now - timedelta(days=4))
    paid_back = ticket_order(ALBERTINE, second, ordered_at=now - timedelta(days=3))

    await theatre.import_boxoffice(boxoffice_export(patron, [kept, paid_back]))
    through = [theatre.sources.boxoffice]
    await _one_person(
        theatre,
        patron,
        showing=lambda fields: fields["ticket_spend"] == str(kept.amount + paid_back.amount),
        through=through,
    )
    # The next export, made after the refund, and imported twice as a scheduled import would.
    export = boxoffice_export(patron, [kept, paid_back], refunded={paid_back.number})
    first_import = await theatre.import_boxoffice(export)
    second_import = await theatre.import_boxoffice(export, news=False)

    assert (first_import["published"], first_import["duplicates"]) == (1, 1)
    assert (second_import["published"], second_import["duplicates"]) == (0, 2)

    _, profile = await _one_person(
        theatre, patron, showing=lambda fields: fields["ticket_spend"] == str(kept.amount), through=through
    )
    assert [line["production_id"] for line in profile["tickets"] if line["tickets"]] == [BELLES_SOEURS.production_id]


async def test_a_third_production_this_season_sends_a_non_subscriber_the_season_pass_offer_once_and_signed(
    theatre: Theatre,
) -> None:
    patron = new_patron("Rosalie", "Vaillancourt")
    now = datetime.now(UTC)
    first, second, third = evenings_this_season(now, 3)
    await theatre.import_boxoffice(
        boxoffice_export(
            patron,
            [
                ticket_order(BELLES_SOEURS, first, ordered_at=now - timedelta(days=3)),
                ticket_order(ALBERTINE, second, ordered_at=now - timedelta(days=2)),
            ],
        )
    )
    person_id, profile = await _one_person(
        theatre,
        patron,
        through=[theatre.sources.boxoffice],
        showing=lambda fields: fields["season.current.productions"] == 2,
    )
    # Two productions: not yet.
    assert not _offers(profile)
    assert profile["fields"]["is_subscriber"] is False
    # A ticket purchase implies consent to marketing email (CASL), which the offer needs.
    assert profile["fields"]["consent.marketing_email.allowed"] is True

    await theatre.import_boxoffice(
        boxoffice_export(patron, [ticket_order(HOSANNA, third, ordered_at=now - timedelta(hours=1))])
    )

    delivery = await _settled_delivery(theatre, person_id)
    assert (delivery["type"], delivery["status"], delivery["attempts"]) == (TRIGGER_FIRED, "succeeded", 1)
    arrivals = theatre.receiver.about(person_id)
    assert len(arrivals) == 1, arrivals
    [arrival] = arrivals
    assert arrival.webhook_id == delivery["message_id"]
    assert arrival.message["type"] == TRIGGER_FIRED
    offer = arrival.message["data"]
    assert (offer["rule"], offer["person_id"], offer["purpose"]) == (SUBSCRIPTION_OFFER, person_id, "marketing_email")
    assert offer["contact_points"] == [{"channel": "email", "value": patron.email}]
    assert offer["facts"]["season.current.productions"] == 3
    assert offer["facts"]["first_name"] == patron.first_name
    # Every message the receiver was sent carried a signature it could verify under the subscription's secret.
    assert theatre.receiver.refused == 0
    profile_after = await theatre.profile_of(person_id)
    assert profile_after is not None
    assert len(_offers(profile_after)) == 1


async def test_after_a_newsletter_unsubscribe_a_qualifying_purchase_sends_that_patron_no_marketing_message(
    theatre: Theatre,
) -> None:
    patron = new_patron("Maxime", "Ouellette")
    now = datetime.now(UTC)
    first, second, third = evenings_this_season(now, 3)
    await theatre.send_mailchimp(mailchimp_subscribe(patron, fired_at=now - timedelta(days=4)))
    await theatre.import_boxoffice(
        boxoffice_export(
            patron,
            [
                ticket_order(BELLES_SOEURS, first, ordered_at=now - timedelta(days=3)),
                ticket_order(ALBERTINE, second, ordered_at=now - timedelta(days=2)),
            ],
        )
    )
    person_id, _ = await _one_person(
        theatre,
        patron,
        through=[theatre.sources.boxoffice, theatre.sources.newsletter],
        showing=lambda fields: (
            fields["season.current.productions"] == 2 and fields["consent.marketing_email.basis"] == "express"
        ),
    )

    await theatre.send_mailchimp(mailchimp_unsubscribe(patron, fired_at=now - timedelta(days=1)))
    unsubscribed = await _profile_showing(
        theatre, person_id, lambda fields: fields["consent.marketing_email.status"] == "withdrawn"
    )
    assert unsubscribed["fields"]["newsletter_status"] == "unsubscribed"
    assert unsubscribed["fields"]["consent.marketing_email.allowed"] is False
    # The third production arrives through the API, as the box office's online sales report it when paid.
    order = ticket_order(HOSANNA, third, ordered_at=now - timedelta(hours=1))
    await theatre.send_events(ticket_purchased_event(theatre.organisation_id, theatre.sources, patron, order))

    # The offer's rule holds and fires, and notify, asked to send it, does not.
    profile = await _profile_showing(theatre, person_id, lambda fields: fields["season.current.productions"] == 3)
    assert len(_offers(profile)) == 1
    delivery = await _settled_delivery(theatre, person_id)
    assert (delivery["type"], delivery["status"]) == (TRIGGER_FIRED, "suppressed")
    # Withdrawn consent, seen by notify as the withdrawal itself or, if profile's news of it is still on its way
    # there, as a trigger that consent gave no address to.
    assert delivery["last_error"] in ("consent_withdrawn", "no_contact_point"), delivery
    assert [item["status"] for item in await theatre.deliveries_about(person_id)] == ["suppressed"]
    assert theatre.receiver.about(person_id) == []


async def test_an_erasure_leaves_nothing_of_the_patron_behind(theatre: Theatre) -> None:
    patron = new_patron("Ludivine", "Quintal-Achard")
    name = f"{patron.first_name} {patron.last_name}"
    now = datetime.now(UTC)
    # The shop first knows her by her name alone, from a purchase at the counter: a person of its own.
    await theatre.send_shopify(shopify_counter_order(patron, created_at=now - timedelta(days=6)))
    # The box office and the newsletter know her by her email. Three productions: the season pass offer goes out,
    # so notify too holds something about her.
    orders = [
        ticket_order(production, evening, ordered_at=now - timedelta(days=3))
        for production, evening in zip((BELLES_SOEURS, ALBERTINE, HOSANNA), evenings_this_season(now, 3), strict=True)
    ]
    await theatre.import_boxoffice(boxoffice_export(patron, orders))
    await theatre.send_mailchimp(mailchimp_subscribe(patron, fired_at=now - timedelta(days=2)))
    patron_id, _ = await _one_person(
        theatre,
        patron,
        through=[theatre.sources.boxoffice, theatre.sources.newsletter],
        showing=lambda fields: fields["season.current.productions"] == 3,
    )
    assert (await _settled_delivery(theatre, patron_id))["status"] == "succeeded"
    # Then her shop account gains her email: identity merges the shop's person and hers.
    await theatre.send_shopify(shopify_customer_update(patron, updated_at=now - timedelta(days=1)))
    person_id, _ = await _one_person(
        theatre,
        patron,
        showing=lambda fields: fields["shop_orders"] == 1 and fields["newsletter_status"] == "subscribed",
    )
    person = await theatre.identity_person(person_id)
    assert person is not None
    everyone = {person_id, *(merged for merge in person["merges"] for merged in merge["merged_person_ids"])}
    assert len(everyone) == 2, person["merges"]
    assert patron_id in everyone
    assert [item["person_id"] for item in await theatre.search(name)] == [person_id]

    await theatre.erase(person_id)

    seen: dict[str, Any] = {}

    async def forgotten() -> bool:
        seen["proofs"] = {erased: await theatre.erasure_record(erased) for erased in everyone}
        seen["profiles"] = [await theatre.profile_of(erased) for erased in everyone]
        seen["deliveries"] = [await theatre.deliveries_about(erased) for erased in everyone]
        seen["lookups"] = await _lookups(theatre, patron)
        seen["by email"] = await theatre.profiles_with_email(patron.email)
        seen["search by name"] = await theatre.search(name)
        seen["search by email"] = await theatre.search(patron.email)
        return all(proof["erased"] for proof in seen["proofs"].values()) and not any(
            (
                *seen["profiles"],
                *seen["deliveries"],
                *seen["lookups"].values(),
                seen["by email"],
                seen["search by name"],
                seen["search by email"],
            )
        )

    assert await eventually(forgotten, PIPELINE_SECONDS), seen
    assert seen["proofs"][person_id]["entries"][0]["action"] == "erasure_requested"
    for erased in everyone:
        # Identity keeps each erased id, holding nothing, so that nothing can be resolved to it again.
        tombstone = await theatre.identity_person(erased)
        assert tombstone is None or (tombstone["status"] == "erased" and tombstone["identifiers"] == [])
        # Its merge stays explained, by the kinds of evidence, with no digest of the patron's email or ids.
        evidence = [item for merge in (tombstone or {}).get("merges", []) for item in merge["evidence"]]
        assert [item for item in evidence if item["value_hash"] is not None] == []


async def test_an_unmerge_gives_a_patron_back_the_shop_orders_she_placed_while_merged(theatre: Theatre) -> None:
    at_the_box_office = new_patron("Marie-Claude", "Tremblay")
    at_the_shop = new_patron("Marie-Claude", "Gagnon")
    now = datetime.now(UTC)
    [evening] = evenings_this_season(now, 1)
    shop_id = str(at_the_shop.shopify_customer_id)
    await theatre.import_boxoffice(
        boxoffice_export(at_the_box_office, [ticket_order(BELLES_SOEURS, evening, ordered_at=now - timedelta(days=5))])
    )
    # Each known first, in this order, so that the box office's person is the one that survives their merge.
    box_office_person, _ = await _one_person(
        theatre, at_the_box_office, through=[theatre.sources.boxoffice], showing=lambda fields: True
    )
    await theatre.send_shopify(shopify_order(at_the_shop, created_at=now - timedelta(days=4)))
    shop_person, _ = await _one_person(
        theatre, at_the_shop, through=[theatre.sources.shop], showing=lambda fields: fields["shop_orders"] == 1
    )
    # An order on the shop account carrying the other Marie-Claude's email (the counter picked the wrong one): the
    # same first name, and each one's identifier, so identity merges them.
    await theatre.send_shopify(
        shopify_order(replace(at_the_shop, email=at_the_box_office.email), now - timedelta(days=3))
    )
    await _profile_showing(theatre, box_office_person, lambda fields: fields["shop_orders"] == 2)
    assert await theatre.person_by(source=theatre.sources.shop, external_id=shop_id) == box_office_person
    # She orders again on her account, with her own email, while merged.
    await theatre.send_shopify(shopify_order(at_the_shop, created_at=now - timedelta(days=2)))
    await _profile_showing(theatre, box_office_person, lambda fields: fields["shop_orders"] == 3)

    assert (await theatre.unmerge(box_office_person))["restored_person_ids"] == [shop_person]

    # Identity gives the shop account's records back to her, the orders placed since the merge too; profile shows
    # the same: her three orders, and the other Marie-Claude her tickets alone.
    survivor = await _profile_showing(theatre, box_office_person, lambda fields: fields["shop_orders"] == 0)
    # Her profile, kept while she was merged, shows her orders already: the unmerge makes it hers again.
    seen: dict[str, Any] = {}

    async def restored() -> bool:
        seen["profile"] = profile = await theatre.profile_of(shop_person)
        return profile is not None and profile["merged_into"] is None

    assert await eventually(restored, PIPELINE_SECONDS), seen
    assert (survivor["fields"]["tickets_bought"], seen["profile"]["fields"]["tickets_bought"]) == (2, 0)
    assert seen["profile"]["fields"]["shop_orders"] == 3
    assert await theatre.person_by(source=theatre.sources.shop, external_id=shop_id) == shop_person
    assert await theatre.person_by(email=at_the_shop.email) == shop_person
    assert await theatre.person_by(email=at_the_box_office.email) == box_office_person


# Waiting for the pipeline


async def _lookups(theatre: Theatre, patron: Patron, through: Sequence[str] | None = None) -> dict[str, str | None]:
    """The person identity holds behind the patron's email and their id in each upstream system (those `through`
    names, else all three)."""
    upstream = patron.upstream_ids(theatre.sources)
    found = {
        source: await theatre.person_by(source=source, external_id=upstream[source]) for source in through or upstream
    }
    found["email"] = await theatre.person_by(email=patron.email)
    return found


async def _one_person(
    theatre: Theatre, patron: Patron, *, showing: Callable[[Fields], bool], through: Sequence[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """The one person the patron's email and upstream ids (in the systems `through` names, else all three) lead
    to, once their profile shows what `showing` looks for; and that profile."""
    seen: dict[str, Any] = {}

    async def resolved() -> bool:
        seen["lookups"] = lookups = await _lookups(theatre, patron, through)
        people = set(lookups.values())
        if len(people) != 1 or None in people:
            return False
        [seen["person_id"]] = people
        seen["profile"] = profile = await theatre.profile_of(seen["person_id"])
        return profile is not None and showing(profile["fields"])

    assert await eventually(resolved, PIPELINE_SECONDS), seen
    return seen["person_id"], seen["profile"]


async def _profile_showing(theatre: Theatre, person_id: str, showing: Callable[[Fields], bool]) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def shows() -> bool:
        seen["profile"] = profile = await theatre.profile_of(person_id)
        return profile is not None and showing(profile["fields"])

    assert await eventually(shows, PIPELINE_SECONDS), seen
    profile: dict[str, Any] = seen["profile"]
    return profile


async def _settled_delivery(theatre: Theatre, person_id: str) -> dict[str, Any]:
    """Notify's one delivery to the marketing tool about the person, once it is settled."""
    seen: dict[str, Any] = {}

    async def settled() -> bool:
        seen["deliveries"] = deliveries = await theatre.deliveries_about(person_id)
        return len(deliveries) == 1 and deliveries[0]["status"] in SETTLED

    assert await eventually(settled, PIPELINE_SECONDS), seen
    delivery: dict[str, Any] = seen["deliveries"][0]
    return delivery


def _offers(profile: dict[str, Any]) -> list[str]:
    return [key for key in profile["triggers_fired"] if key.startswith(f"{SUBSCRIPTION_OFFER}:")]


async def test_a_couple_sharing_one_email_are_two_patrons_whose_profiles_show_one_household(theatre: Theatre) -> None:
    marc = new_patron("Marc", "Lavoie")
    julie = replace(new_patron("Julie", "Lavoie"), email=marc.email)
    now = datetime.now(UTC)
    [evening] = evenings_this_season(now, 1)

    await theatre.import_boxoffice(
        boxoffice_export(marc, [ticket_order(BELLES_SOEURS, evening, ordered_at=now - timedelta(days=3))])
    )
    await theatre.import_boxoffice(
        boxoffice_export(julie, [ticket_order(ALBERTINE, evening, ordered_at=now - timedelta(days=2))])
    )

    seen: dict[str, Any] = {}

    async def one_household() -> bool:
        seen["persons"] = persons = [
            await theatre.person_by(source=theatre.sources.boxoffice, external_id=patron.boxoffice_id)
            for patron in (marc, julie)
        ]
        if None in persons or len(set(persons)) != 2:
            return False
        seen["profiles"] = profiles = [await theatre.profile_of(str(person_id)) for person_id in persons]
        households = {None if profile is None else profile["fields"]["household_id"] for profile in profiles}
        return len(households) == 1 and None not in households

    assert await eventually(one_household, PIPELINE_SECONDS), seen
    marc_id, julie_id = seen["persons"]
    marc_seen_by_identity = await theatre.identity_person(marc_id)
    assert marc_seen_by_identity is not None
    [household_id] = {profile["fields"]["household_id"] for profile in seen["profiles"]}
    assert marc_seen_by_identity["household"] == {"household_id": household_id, "members": [julie_id]}
    assert [profile["fields"]["first_name"] for profile in seen["profiles"]] == ["Marc", "Julie"]
