"""Which household a resolution puts a person in, who is new to it, and which of two decisions a person keeps."""

from dataclasses import replace
from datetime import date, timedelta

from services.identity.domain.persons import household_id_for, moved_to_household
from services.identity.domain.records import NormalisedRecord
from services.identity.domain.resolution import Evidence, resolve_record
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


def test_at_the_same_millisecond_the_decision_applied_last_wins_and_without_a_moment_any_does() -> None:
    jean = person("per_jean", upstream_id("C-9"))
    merged_at = START + timedelta(microseconds=250)

    # A fact's merge moves the survivor, then its relative's household: both decided at the fact's moment.
    after_both = moved_to_household(moved_to_household(jean, "hh_other", merged_at), "hh_roy", START)

    assert (after_both.household_id, after_both.household_at) == ("hh_roy", START)
    assert moved_to_household(replace(after_both, household_at=None), "hh_x", None).household_id == "hh_x"
    assert moved_to_household(after_both, None, START) is after_both
