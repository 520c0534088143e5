"""Which household a resolution puts a person in, who is new to it, and which of two decisions a person keeps."""

from dataclasses import replace
from datetime import date, timedelta

from services.identity.domain.persons import household_id_for, moved_to_household
from services.identity.domain.records import NormalisedRecord
from services.identity.domain.resolution import Evidence, resolve_record
from shared.households import merge_move_moment
from tests.unit.identity.test_resolution import (
    MATCHING,
    ORGANISATION,
    POLICY,
    START,
    email,
    owned,
    person,
    resolve,
    upstream_id,
)

FAMILY = email("famille.roy@example.com")


def test_a_new_person_sharing_an_email_founds_a_household_with_its_owner_both_new_to_it() -> None:
    marie = person("per_marie", FAMILY, first_names=["marie"])

    resolution = resolve([FAMILY], Evidence(owners=owned(marie)), first_name="jean")

    assert resolution.household_id == household_id_for(ORGANISATION, "per_marie")
    assert resolution.household_joiners == (resolution.person_id, "per_marie")


def test_a_person_already_in_their_relative_s_household_is_new_to_nothing() -> None:
    marie = person("per_marie", FAMILY, first_names=["marie"], household_id="hh_roy")
    jean = person("per_jean", upstream_id("C-9"), minute=3, first_names=["jean"], household_id="hh_roy")

    resolution = resolve([upstream_id("C-9"), FAMILY], Evidence(owners=owned(marie, jean)))

    assert (resolution.person_id, resolution.household_with) == ("per_jean", "per_marie")
    assert (resolution.household_id, resolution.household_joiners) == ("hh_roy", ())


def test_a_person_in_another_household_moves_to_their_relative_s_alone() -> None:
    marie = person("per_marie", FAMILY, first_names=["marie"], household_id="hh_roy")
    jean = person("per_jean", upstream_id("C-9"), minute=3, first_names=["jean"], household_id="hh_tremblay")

    resolution = resolve([upstream_id("C-9"), FAMILY], Evidence(owners=owned(marie, jean)))

    assert (resolution.household_id, resolution.household_joiners) == ("hh_roy", ("per_jean",))


def test_a_survivor_is_new_to_its_relative_s_household_when_the_merge_moves_it_to_another_first() -> None:
    # A walk-up record as like Jean's box-office record as his shop account's joins the two, and shares the family
    # email with Marie. The merge is applied first and moves the survivor to the shop account's household: the
    # relative's household must follow it.
    walk_up = NormalisedRecord(
        first_name="jean",
        last_name="roy",
        street_number="4521",
        street_name="st denis rue",
        postal_code="H2J 2L1",
        birth_date=date(1975, 1, 23),
    )
    box_office = replace(person("per_jean", upstream_id("C-9"), minute=0, household_id="hh_roy"), records=(walk_up,))
    shop = replace(
        person("per_shop", email("jean.roy@example.com"), minute=2, household_id="hh_other"), records=(walk_up,)
    )
    marie = person("per_marie", FAMILY, minute=1, first_names=["marie"], household_id="hh_roy")
    evidence = Evidence(owners=owned(marie), candidates=[box_office, shop])

    resolution = resolve_record(
        walk_up,
        [FAMILY],
        evidence,
        organisation_id=ORGANISATION,
        event_id="evt-1",
        policy=POLICY,
        matching=MATCHING,
    )

    assert resolution.merge is not None
    assert (resolution.person_id, [merged.person_id for merged in resolution.merge.merged]) == (
        "per_jean",
        ["per_shop"],
    )
    assert resolution.household_with == "per_marie"
    assert (resolution.household_id, resolution.household_joiners) == ("hh_roy", ("per_jean",))


def test_a_person_keeps_the_household_decided_last_whatever_order_the_decisions_are_applied_in() -> None:
    jean = person("per_jean", upstream_id("C-9"))
    earlier, later = START, START + timedelta(seconds=2)

    in_order = moved_to_household(moved_to_household(jean, "hh_roy", earlier), "hh_tremblay", later)
    late = moved_to_household(moved_to_household(jean, "hh_tremblay", later), "hh_roy", earlier)

    assert (in_order.household_id, in_order.household_at) == ("hh_tremblay", later)
    assert (late.household_id, late.household_at) == ("hh_tremblay", later)


def test_two_decisions_of_one_millisecond_end_alike_in_either_order_and_a_merge_s_move_comes_first() -> None:
    jean = person("per_jean", upstream_id("C-9"))
    at = START + timedelta(microseconds=250)

    one_way = moved_to_household(moved_to_household(jean, "hh_a", at), "hh_b", START)
    other_way = moved_to_household(moved_to_household(jean, "hh_b", START), "hh_a", at)
    # A fact's merge moves the survivor, then its relative's household does: both at the fact's moment.
    relative_last = moved_to_household(moved_to_household(jean, "hh_z", merge_move_moment(at)), "hh_a", at)
    relative_first = moved_to_household(moved_to_household(jean, "hh_a", at), "hh_z", merge_move_moment(at))

    assert one_way.household_id == other_way.household_id == "hh_b"
    assert relative_last.household_id == relative_first.household_id == "hh_a"


def test_the_same_household_decided_again_later_moves_its_moment_on() -> None:
    jean = moved_to_household(person("per_jean", upstream_id("C-9")), "hh_roy", START)
    later = START + timedelta(seconds=3)

    again = moved_to_household(jean, "hh_roy", later)
    # An older decision for another household, applied after, no longer moves him.
    assert moved_to_household(again, "hh_tremblay", START + timedelta(seconds=1)).household_id == "hh_roy"
    assert again.household_at == later


def test_without_a_moment_a_household_is_taken_as_before_moments_were_kept() -> None:
    jean = person("per_jean", upstream_id("C-9"), household_id="hh_old")
    assert moved_to_household(jean, "hh_x", None).household_id == "hh_x"
    assert moved_to_household(jean, None, START) is jean
