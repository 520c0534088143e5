"""Which person a record is about, decided from what the store found: create, link, merge or keep apart."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.identity.domain.identifiers import (
    Identifier,
    IdentifierType,
    count_by_kind,
    identifiers_of,
    load_identifier_policy,
)
from services.identity.domain.matching import DEFAULT_MODEL, MatchBands, first_names_clearly_differ
from services.identity.domain.persons import Person, person_id_for
from services.identity.domain.records import NormalisedRecord
from services.identity.domain.resolution import (
    Evidence,
    Matching,
    MergePlan,
    Resolution,
    may_have_a_look_alike,
    resolve_erasure,
    resolve_record,
    survivor_of,
)
from services.identity.settings import BUNDLED_POLICY
from shared.events.identity import MatchMethod

POLICY = load_identifier_policy(BUNDLED_POLICY.read_text(encoding="utf-8"))
MATCHING = Matching(DEFAULT_MODEL, MatchBands())
ORGANISATION = "theatre-du-nord"
START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
BOX_OFFICE = "billetterie-principale"
NOTHING_KNOWN = Evidence()


def upstream_id(value: str, source: str = BOX_OFFICE) -> Identifier:
    return Identifier(IdentifierType.EXTERNAL_ID, value, source)


def email(value: str) -> Identifier:
    return Identifier(IdentifierType.EMAIL, value)


def phone(value: str) -> Identifier:
    return Identifier(IdentifierType.PHONE, value)


def person(
    person_id: str,
    *identifiers: Identifier,
    minute: int = 0,
    first_names: Iterable[str] = (),
    household_id: str | None = None,
) -> Person:
    return Person(
        person_id=person_id,
        organisation_id=ORGANISATION,
        created_at=START + timedelta(minutes=minute),
        created_by_event=f"created-{person_id}",
        identifiers=frozenset(identifiers),
        records=tuple(NormalisedRecord(first_name=name, last_name="roy") for name in first_names),
        household_id=household_id,
    )


def owned(*persons: Person, only: Iterable[Identifier] | None = None) -> dict[Identifier, Person]:
    """Each person's identifiers mapped to them: what the ownership index holds (limited to `only`)."""
    wanted = None if only is None else set(only)
    return {
        identifier: owner
        for owner in persons
        for identifier in sorted(owner.identifiers)
        if wanted is None or identifier in wanted
    }


def resolve(
    identifiers: Sequence[Identifier],
    evidence: Evidence = NOTHING_KNOWN,
    *,
    first_name: str | None = None,
    event_id: str = "evt-1",
    organisation_id: str = ORGANISATION,
) -> Resolution:
    return resolve_record(
        NormalisedRecord(first_name=first_name, last_name="roy"),
        identifiers,
        evidence,
        organisation_id=organisation_id,
        event_id=event_id,
        policy=POLICY,
        matching=MATCHING,
    )


# Nobody known: a new person


def test_a_record_nobody_owns_creates_a_person_whose_id_the_event_decides() -> None:
    identifiers = [upstream_id("C-1"), email("elise@example.com"), phone("+15145550199")]
    first = resolve(identifiers)
    assert first == Resolution(
        person_id=person_id_for(ORGANISATION, "evt-1"),
        created=True,
        method=MatchMethod.NEW,
        confidence=1.0,
        claims=tuple(identifiers),
    )
    assert resolve(identifiers) == first
    assert resolve(identifiers, event_id="evt-2").person_id != first.person_id
    assert resolve(identifiers, organisation_id="festival-de-l-est").person_id != first.person_id


def test_a_record_with_no_identifier_and_no_look_alike_creates_a_person_claiming_nothing() -> None:
    resolution = resolve([], first_name="elise")
    assert resolution.created
    assert resolution.claims == ()


def test_person_ids_are_distinct_for_distinct_events_and_stable_for_one() -> None:
    ids = {person_id_for(ORGANISATION, f"evt-{index}") for index in range(1000)}
    assert len(ids) == 1000
    assert person_id_for(ORGANISATION, "evt-7") == person_id_for(ORGANISATION, "evt-7")
    assert all(person_id.startswith("per_") and len(person_id) == 28 for person_id in ids)


# One owner: a link


def test_one_owner_found_by_email_is_linked_by_email_and_takes_the_record_s_new_phone() -> None:
    elise = person("per_elise", email("elise@example.com"), first_names=["elise"])
    identifiers = [email("elise@example.com"), phone("+15145550199")]
    resolution = resolve(identifiers, Evidence(owners=owned(elise)), first_name="elise")
    assert resolution == Resolution(
        person_id="per_elise",
        created=False,
        method=MatchMethod.EMAIL,
        confidence=1.0,
        matched=("email",),
        claims=(phone("+15145550199"),),
    )


def test_the_strongest_identifier_an_owner_was_found_by_names_the_method() -> None:
    elise = person("per_elise", upstream_id("C-1"), phone("+15145550199"))
    resolution = resolve([upstream_id("C-1"), phone("+15145550199")], Evidence(owners=owned(elise)))
    assert resolution.method is MatchMethod.EXTERNAL_ID
    assert resolution.confidence == 1.0
    assert resolution.matched == ("external_id:billetterie-principale", "phone")
    assert resolution.claims == ()


def test_an_owner_found_by_phone_alone_is_linked_with_the_phone_s_lower_confidence() -> None:
    elise = person("per_elise", phone("+15145550199"))
    resolution = resolve([email("elise@example.com"), phone("+15145550199")], Evidence(owners=owned(elise)))
    assert (resolution.person_id, resolution.method, resolution.confidence) == ("per_elise", MatchMethod.PHONE, 0.9)
    assert resolution.claims == (email("elise@example.com"),)


def test_a_redelivered_event_that_finds_the_person_it_created_still_reports_a_creation() -> None:
    created = person_id_for(ORGANISATION, "evt-1")
    elise = Person(
        person_id=created,
        organisation_id=ORGANISATION,
        created_at=START,
        created_by_event="evt-1",
        identifiers=frozenset({email("elise@example.com")}),
    )
    resolution = resolve([email("elise@example.com")], Evidence(owners=owned(elise)))
    assert (resolution.person_id, resolution.created, resolution.method) == (created, True, MatchMethod.NEW)
    assert resolution.matched == ()


# Two owners: a merge, or not


def test_two_owners_found_by_merging_identifiers_merge_into_the_earliest_created_with_the_evidence() -> None:
    box_office = person("per_b", upstream_id("C-1"), minute=0, first_names=["elise"])
    shop = person("per_a", email("elise@example.com"), minute=5, first_names=["elise"])
    identifiers = [upstream_id("C-1"), email("elise@example.com"), phone("+15145550199")]
    resolution = resolve(identifiers, Evidence(owners=owned(box_office, shop)), first_name="elise")
    assert resolution == Resolution(
        person_id="per_b",
        created=False,
        method=MatchMethod.EXTERNAL_ID,
        confidence=1.0,
        matched=("email", "external_id:billetterie-principale"),
        claims=(phone("+15145550199"),),
        merge=MergePlan(survivor=box_office, merged=(shop,), evidence=(email("elise@example.com"), upstream_id("C-1"))),
    )


def test_persons_created_at_the_same_moment_merge_into_the_smaller_id() -> None:
    later_id = person("per_b", upstream_id("C-1"))
    earlier_id = person("per_a", email("elise@example.com"))
    resolution = resolve([upstream_id("C-1"), email("elise@example.com")], Evidence(owners=owned(later_id, earlier_id)))
    assert resolution.merge is not None
    assert resolution.merge.survivor == earlier_id
    assert resolution.merge.merged == (later_id,)
    assert survivor_of([later_id, earlier_id]) == survivor_of([earlier_id, later_id]) == earlier_id


def test_three_owners_merge_at_once_and_the_merged_are_listed_by_id() -> None:
    oldest = person("per_z", upstream_id("C-1"), minute=0)
    middle = person("per_y", upstream_id("207", "shopify-boutique"), minute=1)
    newest = person("per_x", email("elise@example.com"), minute=2)
    identifiers = [upstream_id("C-1"), upstream_id("207", "shopify-boutique"), email("elise@example.com")]
    resolution = resolve(identifiers, Evidence(owners=owned(newest, oldest, middle)))
    assert resolution.merge is not None
    assert resolution.merge.survivor == oldest
    assert [merged.person_id for merged in resolution.merge.merged] == ["per_x", "per_y"]
    assert set(resolution.merge.evidence) == set(identifiers)


def test_an_owner_found_only_by_a_phone_is_never_merged_but_kept_as_a_household() -> None:
    by_email = person("per_email", email("elise@example.com"), minute=5, first_names=["elise"])
    by_phone = person("per_phone", phone("+15145550199"), minute=0, first_names=["elise"])
    identifiers = [email("elise@example.com"), phone("+15145550199")]
    resolution = resolve(identifiers, Evidence(owners=owned(by_email, by_phone)), first_name="elise")
    assert resolution.merge is None
    assert (resolution.person_id, resolution.method) == ("per_email", MatchMethod.EMAIL)
    assert resolution.household_with == "per_phone"
    assert resolution.claims == ()


def test_two_owners_found_only_by_phones_are_never_merged() -> None:
    first = person("per_1", phone("+15145550199"), minute=0)
    second = person("per_2", phone("+15145550100"), minute=1)
    resolution = resolve([phone("+15145550199"), phone("+15145550100")], Evidence(owners=owned(first, second)))
    assert resolution.merge is None
    assert resolution.person_id == "per_1"
    assert resolution.household_with == "per_2"


def test_owners_whose_first_names_clearly_differ_are_never_merged_but_form_a_household() -> None:
    marie = person("per_marie", email("famille.roy@example.com"), minute=0, first_names=["marie"])
    jean = person("per_jean", upstream_id("C-9"), minute=3, first_names=["jean"])
    identifiers = [upstream_id("C-9"), email("famille.roy@example.com")]
    resolution = resolve(identifiers, Evidence(owners=owned(marie, jean)))
    assert resolution.merge is None
    assert (resolution.person_id, resolution.method) == ("per_jean", MatchMethod.EXTERNAL_ID)
    assert resolution.household_with == "per_marie"


def test_owners_known_by_a_nickname_and_a_full_name_do_merge() -> None:
    robert = person("per_robert", email("r.roy@example.com"), minute=0, first_names=["robert"])
    bob = person("per_bob", upstream_id("C-9"), minute=3, first_names=["bob"])
    resolution = resolve([upstream_id("C-9"), email("r.roy@example.com")], Evidence(owners=owned(robert, bob)))
    assert resolution.merge == MergePlan(
        survivor=robert, merged=(bob,), evidence=(email("r.roy@example.com"), upstream_id("C-9"))
    )


def test_a_shared_email_owned_by_someone_with_another_first_name_makes_a_new_person_in_their_household() -> None:
    marie = person("per_marie", email("famille.roy@example.com"), first_names=["marie"])
    resolution = resolve([email("famille.roy@example.com")], Evidence(owners=owned(marie)), first_name="jean")
    assert resolution.created
    assert resolution.person_id == person_id_for(ORGANISATION, "evt-1")
    assert resolution.household_with == "per_marie"
    assert resolution.claims == ()


def test_a_household_member_with_that_first_name_is_linked_through_the_shared_email() -> None:
    marie = person("per_marie", email("famille.roy@example.com"), first_names=["marie"], household_id="hh_roy")
    jean = person("per_jean", phone("+15145550100"), first_names=["jean"], household_id="hh_roy")
    evidence = Evidence(owners=owned(marie), households={"hh_roy": [marie, jean]})
    resolution = resolve([email("famille.roy@example.com")], evidence, first_name="jean")
    assert (resolution.person_id, resolution.created, resolution.method) == ("per_jean", False, MatchMethod.EMAIL)
    assert resolution.confidence == 0.95
    assert resolution.claims == ()


def test_an_upstream_id_links_whatever_first_name_the_record_gives() -> None:
    marie = person("per_marie", upstream_id("C-1"), first_names=["marie"])
    resolution = resolve([upstream_id("C-1")], Evidence(owners=owned(marie)), first_name="jean")
    assert (resolution.person_id, resolution.method, resolution.household_with) == (
        "per_marie",
        MatchMethod.EXTERNAL_ID,
        None,
    )


# Claims and the policy's limits


def test_a_person_already_holding_the_most_emails_claims_no_more() -> None:
    emails = [email(f"elise{index}@example.com") for index in range(5)]
    elise = person("per_elise", *emails)
    identifiers = [emails[0], email("new@example.com"), email("newer@example.com"), phone("+15145550199")]
    resolution = resolve(identifiers, Evidence(owners=owned(elise)))
    assert resolution.person_id == "per_elise"
    assert resolution.claims == (phone("+15145550199"),)


def test_an_address_held_as_an_older_release_wrote_it_and_as_written_today_counts_once_against_the_limit() -> None:
    # Stored by a release before 2026-12, then linked by a fact naming it with its accents: held in both spellings.
    emails = [email(f"elise{index}@example.com") for index in range(3)]
    elise = person("per_elise", *emails, email("elise@xn--thtre-4qa2c.qc.ca"), email("elise@théâtre.qc.ca"))
    identifiers = [emails[0], email("new@example.com"), email("newer@example.com")]
    resolution = resolve(identifiers, Evidence(owners=owned(elise, only=[emails[0]])))
    assert resolution.person_id == "per_elise"
    assert resolution.claims == (email("new@example.com"),)


def test_a_new_person_claims_no_more_phones_than_the_policy_allows() -> None:
    phones = [phone(f"+1514555010{index}") for index in range(6)]
    resolution = resolve(phones)
    assert resolution.claims == tuple(phones[:3])


def test_upstream_ids_are_limited_per_source() -> None:
    box_office_ids = [upstream_id(f"C-{index}") for index in range(5)]
    elise = person("per_elise", *box_office_ids)
    identifiers = [box_office_ids[0], upstream_id("C-99"), upstream_id("207", "shopify-boutique")]
    resolution = resolve(identifiers, Evidence(owners=owned(elise)))
    assert resolution.claims == (upstream_id("207", "shopify-boutique"),)


def test_a_merged_person_s_identifiers_count_against_the_survivor_s_limits() -> None:
    older = person("per_a", upstream_id("C-1"), phone("+15145550101"), phone("+15145550102"), minute=0)
    newer = person("per_b", email("elise@example.com"), phone("+15145550103"), minute=1)
    identifiers = [upstream_id("C-1"), email("elise@example.com"), phone("+15145550104")]
    resolution = resolve(identifiers, Evidence(owners=owned(older, newer, only=identifiers)))
    assert resolution.merge is not None
    assert resolution.claims == ()


# Erasure requests


def test_an_erasure_names_every_person_its_identifiers_find() -> None:
    first = person("per_1", upstream_id("C-1"))
    second = person("per_2", email("elise@example.com"))
    evidence = Evidence(owners=owned(first, second))
    resolution = resolve_erasure(
        [upstream_id("C-1"), email("elise@example.com")], evidence, policy=POLICY, do_not_readd=True
    )
    assert resolution is not None
    assert resolution.person_id == "per_1"
    assert resolution.erasure is not None
    assert resolution.erasure.person_ids == ("per_1", "per_2")
    assert resolution.erasure.do_not_readd


def test_an_erasure_naming_nobody_known_decides_nothing() -> None:
    assert resolve_erasure([email("nobody@example.com")], Evidence(), policy=POLICY, do_not_readd=False) is None


# Properties over any owners and persons

FIRST_NAMES = ["marie", "marie eve", "m", "jean", "robert", "bob", "louise", "louis"]
POOL = [
    upstream_id("C-1"),
    upstream_id("C-2"),
    upstream_id("207", "shopify-boutique"),
    email("elise@example.com"),
    email("famille.roy@example.com"),
    email("e.roy@gmail.com"),
    phone("+15145550199"),
    phone("+15145550100"),
]
# Identifiers the persons hold that the record does not carry, so that limits are reached.
ELSEWHERE = [email(f"other{index}@example.com") for index in range(5)] + [
    phone(f"+1418555010{index}") for index in range(3)
]


@dataclass(frozen=True)
class Situation:
    identifiers: tuple[Identifier, ...]
    persons: tuple[Person, ...]
    owners: dict[Identifier, Person]
    first_name: str | None

    def evidence(self, *, reverse: bool = False) -> Evidence:
        owners = dict(reversed(self.owners.items())) if reverse else dict(self.owners)
        return Evidence(owners=owners)

    def resolve(self, *, reverse: bool = False) -> Resolution:
        return resolve(self.identifiers, self.evidence(reverse=reverse), first_name=self.first_name)


@st.composite
def situations(draw: st.DrawFn) -> Situation:
    chosen = draw(st.lists(st.sampled_from(POOL), unique=True, max_size=len(POOL)))
    # As `identifiers_of` gives them: strongest first, in the record's order within one priority.
    identifiers = tuple(sorted(chosen, key=lambda identifier: -POLICY.rule(identifier).priority))
    count = draw(st.integers(min_value=1, max_value=5))
    owner_of = {
        identifier: index
        for identifier in identifiers
        if (index := draw(st.none() | st.integers(min_value=0, max_value=count - 1))) is not None
    }
    persons = []
    for index in range(count):
        own = [identifier for identifier, owner in owner_of.items() if owner == index]
        extra = draw(st.lists(st.sampled_from(ELSEWHERE), unique=True, max_size=len(ELSEWHERE)))
        persons.append(
            person(
                f"per_{draw(st.sampled_from('abcdefgh'))}{index}",
                *own,
                *extra,
                minute=draw(st.integers(min_value=0, max_value=3)),
                first_names=draw(st.lists(st.sampled_from(FIRST_NAMES), unique=True, max_size=2)),
            )
        )
    owners = {identifier: persons[index] for identifier, index in owner_of.items()}
    first_name = draw(st.none() | st.sampled_from(FIRST_NAMES))
    return Situation(identifiers, tuple(persons), owners, first_name)


def clearly_different(one: Person, other: Person) -> bool:
    names, other_names = one.first_names(), other.first_names()
    return bool(names and other_names) and all(first_names_clearly_differ(a, b) for a in names for b in other_names)


@settings(max_examples=200)
@given(situation=situations())
def test_the_survivor_of_any_merge_is_the_earliest_created_and_is_not_among_the_merged(situation: Situation) -> None:
    merge = situation.resolve().merge
    if merge is None:
        return
    together = [merge.survivor, *merge.merged]
    assert merge.survivor == min(together, key=lambda member: (member.created_at, member.person_id))
    assert merge.survivor.person_id not in {member.person_id for member in merge.merged}
    assert len({member.person_id for member in together}) == len(together)
    assert all(member.created_at >= merge.survivor.created_at for member in merge.merged)


@settings(max_examples=200)
@given(situation=situations())
def test_a_merge_joins_only_owners_found_by_a_merging_identifier_whose_names_agree(situation: Situation) -> None:
    resolution = situation.resolve()
    merge = resolution.merge
    if merge is None:
        return
    assert resolution.person_id == merge.survivor.person_id
    together = [merge.survivor, *merge.merged]
    for member in together:
        found_by = [identifier for identifier, owner in situation.owners.items() if owner == member]
        assert any(POLICY.rule(identifier).merges for identifier in found_by), "merged through a phone alone"
    assert not any(
        clearly_different(one, other) for index, one in enumerate(together) for other in together[index + 1 :]
    )
    assert set(merge.evidence) <= set(situation.identifiers)


@settings(max_examples=150)
@given(situation=situations())
def test_claims_are_never_owned_already_and_never_exceed_the_policy_s_limits(situation: Situation) -> None:
    resolution = situation.resolve()
    claims = resolution.claims
    assert not set(claims) & set(situation.owners)
    assert set(claims) <= set(situation.identifiers)
    assert len(set(claims)) == len(claims)
    if resolution.created:
        held: frozenset[Identifier] = frozenset()
    elif resolution.merge is not None:
        held = frozenset().union(
            *(member.identifiers for member in (resolution.merge.survivor, *resolution.merge.merged))
        )
    else:
        held = next(member for member in situation.persons if member.person_id == resolution.person_id).identifiers
    assert not set(claims) & held
    for kind, count in count_by_kind([*held, *claims]).items():
        rule = POLICY.identifiers[IdentifierType(kind.partition(":")[0])]
        assert count <= max(rule.max_per_person, count_by_kind(held).get(kind, 0))


@settings(max_examples=100)
@given(situation=situations())
def test_resolution_is_deterministic_whatever_order_the_store_returns_owners_in(situation: Situation) -> None:
    first = situation.resolve()
    assert situation.resolve() == first
    assert situation.resolve(reverse=True) == first


@settings(max_examples=100)
@given(situation=situations())
def test_a_record_is_linked_to_a_known_person_whenever_it_carries_an_upstream_id_someone_owns(
    situation: Situation,
) -> None:
    resolution = situation.resolve()
    owners_by_upstream_id = {
        owner.person_id
        for identifier, owner in situation.owners.items()
        if identifier.type is IdentifierType.EXTERNAL_ID
    }
    if owners_by_upstream_id:
        assert not resolution.created
        assert resolution.person_id in {owner.person_id for owner in situation.owners.values()}
        assert resolution.person_id in owners_by_upstream_id or resolution.merge is not None
    if not situation.owners:
        assert resolution.created
        assert resolution.person_id == person_id_for(ORGANISATION, "evt-1")


# A person the record also looks like, beyond its identifiers' owners

LOISELLE = NormalisedRecord(
    first_name="frederic", last_name="loiselle", phone="+14188258088", postal_code="G1M 4J7", city="quebec"
)


def look_alike(person_id: str, *identifiers: Identifier, minute: int, record: NormalisedRecord) -> Person:
    return replace(person(person_id, *identifiers, minute=minute), records=(record,))


def resolve_full(record: NormalisedRecord, identifiers: Sequence[Identifier], evidence: Evidence) -> Resolution:
    return resolve_record(
        record, identifiers, evidence, organisation_id=ORGANISATION, event_id="evt-1", policy=POLICY, matching=MATCHING
    )


def test_the_owner_of_the_record_s_phone_who_the_model_says_is_the_same_person_is_merged_with_the_upstream_id_s() -> (
    None
):
    by_phone = look_alike("per_phone", phone("+14188258088"), minute=0, record=LOISELLE)
    by_shop_id = look_alike(
        "per_shop", upstream_id("640016", "shopify-boutique"), minute=5, record=replace(LOISELLE, phone=None)
    )
    identifiers = [upstream_id("640016", "shopify-boutique"), phone("+14188258088")]

    resolution = resolve_full(LOISELLE, identifiers, Evidence(owners=owned(by_phone, by_shop_id)))

    assert resolution.merge is not None
    assert (resolution.merge.survivor.person_id, [merged.person_id for merged in resolution.merge.merged]) == (
        "per_phone",
        ["per_shop"],
    )
    assert resolution.person_id == "per_phone"
    assert resolution.household_with is None
    assert resolution.merge.look_alike_probability is not None
    assert resolution.merge.look_alike_probability >= MATCHING.bands.link_at


def test_a_look_alike_among_the_candidates_is_merged_with_the_person_an_email_names() -> None:
    walk_up = look_alike("per_walk_up", minute=0, record=replace(LOISELLE, birth_date=date(1975, 1, 23)))
    by_email = look_alike("per_email", email("loisellef@gmail.com"), minute=5, record=replace(LOISELLE, phone=None))
    record = replace(LOISELLE, email="loisellef@gmail.com", birth_date=date(1975, 1, 23))

    resolution = resolve_full(
        record, [email("loisellef@gmail.com")], Evidence(owners=owned(by_email), candidates=[walk_up])
    )

    assert resolution.merge is not None
    assert resolution.person_id == "per_walk_up"
    assert [merged.person_id for merged in resolution.merge.merged] == ["per_email"]
    assert resolution.merge.evidence == (email("loisellef@gmail.com"),)


def test_a_look_alike_the_model_only_suggests_is_not_merged() -> None:
    # Same name, same postal code, nothing else: a review at most for a new record, so no merge either.
    walk_up = look_alike("per_walk_up", minute=0, record=NormalisedRecord(first_name="frederic", last_name="loiselle"))
    by_email = look_alike("per_email", email("loisellef@gmail.com"), minute=5, record=LOISELLE)
    record = replace(LOISELLE, email="loisellef@gmail.com", phone=None, postal_code=None, city=None)

    resolution = resolve_full(
        record, [email("loisellef@gmail.com")], Evidence(owners=owned(by_email), candidates=[walk_up])
    )

    assert resolution.merge is None
    assert resolution.person_id == "per_email"


def test_a_phone_owner_with_another_first_name_stays_a_household_however_alike_the_rest() -> None:
    partner = look_alike("per_partner", phone("+14188258088"), minute=0, record=replace(LOISELLE, first_name="sylvie"))
    by_shop_id = look_alike("per_shop", upstream_id("640016", "shopify-boutique"), minute=5, record=LOISELLE)
    identifiers = [upstream_id("640016", "shopify-boutique"), phone("+14188258088")]

    resolution = resolve_full(LOISELLE, identifiers, Evidence(owners=owned(partner, by_shop_id)))

    assert resolution.merge is None
    assert (resolution.person_id, resolution.household_with) == ("per_shop", "per_partner")


def test_two_look_alikes_equally_likely_are_left_for_review_not_merged() -> None:
    first = look_alike("per_first", minute=0, record=replace(LOISELLE, birth_date=date(1975, 1, 23)))
    second = look_alike("per_second", minute=1, record=replace(LOISELLE, birth_date=date(1975, 1, 23)))
    by_email = look_alike("per_email", email("loisellef@gmail.com"), minute=5, record=replace(LOISELLE, phone=None))
    record = replace(LOISELLE, email="loisellef@gmail.com", birth_date=date(1975, 1, 23))

    resolution = resolve_full(
        record, [email("loisellef@gmail.com")], Evidence(owners=owned(by_email), candidates=[first, second])
    )

    assert resolution.merge is None
    assert resolution.person_id == "per_email"


FAMILY_EMAIL = email("famille.loiselle@videotron.ca")


def family_member(person_id: str, *identifiers: Identifier, minute: int, record: NormalisedRecord) -> Person:
    return replace(look_alike(person_id, *identifiers, minute=minute, record=record), household_id="hh_loiselle")


def test_a_look_alike_of_the_household_member_a_family_email_names_is_merged_with_them() -> None:
    # Sylvie gave the family's email first; Frédéric, who gave it too, is her household's. A walk-up buyer with
    # Frédéric's name, postal code and birth date is the record's person as surely as an identifier would say.
    sylvie = family_member("per_sylvie", FAMILY_EMAIL, minute=0, record=replace(LOISELLE, first_name="sylvie"))
    frederic = family_member("per_frederic", minute=1, record=replace(LOISELLE, phone=None, postal_code=None))
    walk_up = look_alike("per_walk_up", minute=2, record=replace(LOISELLE, birth_date=date(1975, 1, 23)))
    record = replace(LOISELLE, email=FAMILY_EMAIL.value, birth_date=date(1975, 1, 23))
    evidence = Evidence(owners=owned(sylvie), candidates=[walk_up], households={"hh_loiselle": [sylvie, frederic]})

    resolution = resolve_full(record, [FAMILY_EMAIL], evidence)

    assert resolution.merge is not None
    assert (resolution.person_id, [merged.person_id for merged in resolution.merge.merged]) == (
        "per_frederic",
        ["per_walk_up"],
    )
    assert resolution.merge.look_alike_probability is not None
    assert resolution.merge.look_alike_probability >= MATCHING.bands.link_at
    # Still the household member behind a shared email: a little less sure than the email alone.
    assert resolution.confidence == 0.95


def test_of_namesakes_in_a_household_a_family_email_names_the_one_the_record_agrees_with_and_merges_neither() -> None:
    # A father and the son named after him, both in the family's household: the record is the son's (his birth
    # date), and the father stays apart.
    sylvie = family_member("per_sylvie", FAMILY_EMAIL, minute=0, record=replace(LOISELLE, first_name="sylvie"))
    father = family_member("per_father", minute=1, record=replace(LOISELLE, phone=None, postal_code=None))
    son = family_member("per_son", minute=2, record=replace(LOISELLE, birth_date=date(2001, 6, 2)))
    record = replace(LOISELLE, email=FAMILY_EMAIL.value, birth_date=date(2001, 6, 2))
    evidence = Evidence(owners=owned(sylvie), candidates=[son], households={"hh_loiselle": [sylvie, father, son]})

    resolution = resolve_full(record, [FAMILY_EMAIL], evidence)

    assert resolution.merge is None
    assert resolution.person_id == "per_son"


def test_only_records_with_more_than_names_and_identifiers_are_worth_comparing_with_look_alikes() -> None:
    assert may_have_a_look_alike(LOISELLE)
    assert may_have_a_look_alike(NormalisedRecord(last_name="loiselle", birth_date=date(1975, 1, 23)))
    assert not may_have_a_look_alike(NormalisedRecord(first_name="frederic", last_name="loiselle", email="f@x.ca"))
    assert not may_have_a_look_alike(NormalisedRecord(postal_code="G1M 4J7", phone="+14188258088"))


def test_a_record_its_linked_person_already_holds_as_compared_reads_no_look_alikes_again() -> None:
    known = look_alike("per_known", upstream_id("C-2327"), minute=0, record=LOISELLE)

    assert not may_have_a_look_alike(replace(LOISELLE, source="shopify-boutique", external_id="640016"), known)
    assert may_have_a_look_alike(replace(LOISELLE, birth_date=date(1975, 1, 23)), known)
    assert may_have_a_look_alike(replace(LOISELLE, postal_code="G1R 4P5"), known)


# Persons a record matches that may be one patron recorded apart

WALK_UP = NormalisedRecord(first_name="frederic", last_name="loiselle", postal_code="G1M 4J7")


def test_a_record_linking_a_person_links_it_despite_a_look_alike_pending_review_with_it() -> None:
    # Two typos put the second walk-up in review with the first: a rival for the margin rule, not another patron.
    walk_up = look_alike("per_walk_up", minute=0, record=WALK_UP)
    typed = look_alike("per_typed", minute=1, record=replace(WALK_UP, first_name="frederik", last_name="loiseile"))
    record = replace(WALK_UP, phone="+14188258088")

    resolution = resolve_full(record, [phone("+14188258088")], Evidence(candidates=[walk_up, typed]))

    assert (resolution.person_id, resolution.created, resolution.method) == (
        "per_walk_up",
        False,
        MatchMethod.PROBABILISTIC,
    )
    assert resolution.merge is None
    assert resolution.confidence >= MATCHING.bands.link_at


def test_two_persons_a_record_links_each_as_surely_are_merged_as_one_patron_recorded_apart() -> None:
    walk_up = look_alike("per_walk_up", minute=0, record=WALK_UP)
    donor = look_alike("per_donor", minute=1, record=replace(WALK_UP, birth_date=date(1975, 1, 23)))
    record = replace(WALK_UP, phone="+14188258088")

    resolution = resolve_full(record, [phone("+14188258088")], Evidence(candidates=[donor, walk_up]))

    assert resolution.merge is not None
    assert (resolution.person_id, resolution.method, resolution.created) == (
        "per_walk_up",
        MatchMethod.PROBABILISTIC,
        False,
    )
    assert [merged.person_id for merged in resolution.merge.merged] == ["per_donor"]
    assert resolution.merge.evidence == ()
    assert resolution.merge.look_alike_probability is not None
    assert resolution.merge.look_alike_probability >= MATCHING.bands.link_at
    assert resolution.claims == (phone("+14188258088"),)


@pytest.mark.parametrize(
    ("label", "second"),
    [
        ("birth dates that differ", {"birth_date": date(1982, 6, 2)}),
        ("a household known to hold both", {"household_id": "hh_loiselle"}),
    ],
)
def test_namesakes_a_record_matches_alike_stay_apart_for_a_reviewer(label: str, second: dict[str, Any]) -> None:
    first = replace(
        look_alike("per_first", minute=0, record=replace(WALK_UP, birth_date=date(1975, 1, 23))),
        household_id="hh_loiselle",
    )
    other_record = replace(WALK_UP, birth_date=second.get("birth_date", date(1975, 1, 23)))
    other = replace(look_alike("per_other", minute=1, record=other_record), household_id=second.get("household_id"))
    record = replace(WALK_UP, phone="+14188258088")

    resolution = resolve_full(record, [phone("+14188258088")], Evidence(candidates=[first, other]))

    assert resolution.merge is None, label
    assert resolution.created, label
    assert resolution.review is not None, label
    assert resolution.method is MatchMethod.REVIEW_PENDING, label


# Persons an unmerge split


def split(one: Person, other: Person) -> tuple[Person, Person]:
    """The two persons after an unmerge of one from the other: each remembers the other."""
    return (
        replace(one, kept_apart_from=frozenset({other.person_id})),
        replace(other, kept_apart_from=frozenset({one.person_id})),
    )


@pytest.mark.parametrize("remembered_by", ["both", "the survivor", "the restored"])
def test_owners_an_unmerge_split_are_not_merged_again_by_a_record_naming_both(remembered_by: str) -> None:
    box_office = person("per_b", upstream_id("C-1"), minute=0, first_names=["elise"])
    shop = person("per_a", email("elise@example.com"), minute=5, first_names=["elise"])
    split_box_office, split_shop = split(box_office, shop)
    box_office = split_box_office if remembered_by in ("both", "the survivor") else box_office
    shop = split_shop if remembered_by in ("both", "the restored") else shop
    identifiers = [upstream_id("C-1"), email("elise@example.com"), phone("+15145550199")]

    resolution = resolve(identifiers, Evidence(owners=owned(box_office, shop)), first_name="elise")

    assert resolution.merge is None
    assert (resolution.person_id, resolution.method) == ("per_b", MatchMethod.EXTERNAL_ID)
    assert resolution.claims == (phone("+15145550199"),)


def test_of_three_owners_only_the_two_an_unmerge_split_stay_apart_the_third_merges_with_the_strongest() -> None:
    box_office = person("per_b", upstream_id("C-1"), minute=0, first_names=["elise"])
    shop = person("per_a", email("elise@example.com"), minute=5, first_names=["elise"])
    newsletter = person("per_c", email("elise.g@example.com"), minute=9, first_names=["elise"])
    box_office, shop = split(box_office, shop)
    identifiers = [upstream_id("C-1"), email("elise@example.com"), email("elise.g@example.com")]

    resolution = resolve(identifiers, Evidence(owners=owned(box_office, shop, newsletter)), first_name="elise")

    assert resolution.merge is not None
    assert resolution.merge.survivor.person_id == "per_b"
    assert [merged.person_id for merged in resolution.merge.merged] == ["per_c"]


def test_a_survivor_keeps_apart_from_whom_a_person_merged_into_it_was_split_from() -> None:
    box_office = person("per_b", upstream_id("C-1"), minute=0, first_names=["elise"])
    shop = person("per_a", email("elise@example.com"), minute=5, first_names=["elise"])
    box_office, shop = split(box_office, shop)
    # The shop's person later merged into a donor, who inherited what the shop's person was kept apart from.
    donor = replace(
        person("per_d", email("elise@example.com"), minute=-5, first_names=["elise"]),
        kept_apart_from=shop.kept_apart_from,
    )
    identifiers = [upstream_id("C-1"), email("elise@example.com")]

    resolution = resolve(
        identifiers, Evidence(owners=owned(replace(box_office, kept_apart_from=frozenset()), donor)), first_name="elise"
    )

    assert resolution.merge is None
    assert resolution.person_id == "per_b"


def test_a_look_alike_an_unmerge_split_from_the_person_an_identifier_names_is_not_folded_into_them() -> None:
    by_phone = look_alike("per_phone", phone("+14188258088"), minute=0, record=LOISELLE)
    by_shop_id = look_alike(
        "per_shop", upstream_id("640016", "shopify-boutique"), minute=5, record=replace(LOISELLE, phone=None)
    )
    by_phone, by_shop_id = split(by_phone, by_shop_id)
    identifiers = [upstream_id("640016", "shopify-boutique"), phone("+14188258088")]

    resolution = resolve_full(LOISELLE, identifiers, Evidence(owners=owned(by_phone, by_shop_id)))

    assert resolution.merge is None
    assert resolution.person_id == "per_shop"


def test_two_persons_alike_only_in_name_are_joined_by_a_record_each_alone_would_link() -> None:
    # The newsletter's Adel Khalil and a walk-up Adel Khalil share nothing but the name: two persons. A donation then
    # gives the newsletter's address with one slip and the walk-up's postal code: each alone would link it, and the
    # record is both.
    newsletter = look_alike(
        "per_newsletter",
        email("adel.khalil1958@hotmail.ca"),
        minute=0,
        record=NormalisedRecord(first_name="adel", last_name="khalil", email="adel.khalil1958@hotmail.ca"),
    )
    walk_up = look_alike(
        "per_walk_up",
        minute=1,
        record=NormalisedRecord(first_name="adel", last_name="khalil", phone="+18197326497", postal_code="G9C 2N5"),
    )
    record = NormalisedRecord(
        first_name="adel", last_name="khalil", email="addel.khalil1958@hotmail.ca", postal_code="G9C 2N5"
    )

    resolution = resolve_full(
        record, [email("addel.khalil1958@hotmail.ca")], Evidence(candidates=[newsletter, walk_up])
    )

    assert resolution.merge is not None
    assert {resolution.person_id, *(merged.person_id for merged in resolution.merge.merged)} == {
        "per_newsletter",
        "per_walk_up",
    }


def test_two_look_alikes_an_unmerge_split_are_not_joined_by_a_record_linking_both() -> None:
    walk_up = look_alike("per_walk_up", minute=0, record=WALK_UP)
    donor = look_alike("per_donor", minute=1, record=replace(WALK_UP, birth_date=date(1975, 1, 23)))
    walk_up, donor = split(walk_up, donor)
    record = replace(WALK_UP, phone="+14188258088")

    resolution = resolve_full(record, [phone("+14188258088")], Evidence(candidates=[donor, walk_up]))

    assert resolution.merge is None
    assert resolution.created
    assert resolution.review is not None


def test_a_record_giving_only_the_family_name_is_linked_through_a_shared_email_not_made_a_relative() -> None:
    marie = person("per_marie", email("famille.roy@example.com"), first_names=["marie"])
    # The names swapped by a form, the given name left out: `Roy` fills the first-name field alone.
    record = NormalisedRecord(first_name="roy", email="famille.roy@example.com")

    resolution = resolve_full(record, [email("famille.roy@example.com")], Evidence(owners=owned(marie)))

    assert (resolution.person_id, resolution.created, resolution.household_with) == ("per_marie", False, None)


def test_a_record_giving_only_another_family_name_with_a_shared_email_is_a_relative() -> None:
    # Partners keep their own names: Furtado writes to the Silvas' family mailbox.
    maria = replace(
        person("per_maria", email("famillesilva@videotron.ca")),
        records=(NormalisedRecord(first_name="maria", last_name="silva"),),
    )
    record = NormalisedRecord(last_name="furtado", email="famillesilva@videotron.ca")

    resolution = resolve_full(record, [email("famillesilva@videotron.ca")], Evidence(owners=owned(maria)))

    assert resolution.created
    assert resolution.household_with == "per_maria"


@pytest.mark.parametrize("last_name", ["silva", "silvas", "silva furtado", None])
def test_a_record_giving_only_the_owner_s_family_name_or_none_is_linked_through_a_shared_email(
    last_name: str | None,
) -> None:
    maria = replace(
        person("per_maria", email("famillesilva@videotron.ca")),
        records=(NormalisedRecord(first_name="maria", last_name="silva"),),
    )
    record = NormalisedRecord(last_name=last_name, email="famillesilva@videotron.ca")

    resolution = resolve_full(record, [email("famillesilva@videotron.ca")], Evidence(owners=owned(maria)))

    assert (resolution.person_id, resolution.created, resolution.household_with) == ("per_maria", False, None)


def test_owners_whose_first_names_are_one_typed_letter_apart_merge() -> None:
    natalia = person("per_natalia", email("natalia.guzman@gmail.com"), minute=0, first_names=["nztalia"])
    by_id = person("per_by_id", upstream_id("C-13454"), minute=3, first_names=["natalia"])
    identifiers = [upstream_id("C-13454"), email("natalia.guzman@gmail.com")]

    resolution = resolve(identifiers, Evidence(owners=owned(natalia, by_id)), first_name="natalia")

    assert resolution.merge is not None
    assert (resolution.person_id, [merged.person_id for merged in resolution.merge.merged]) == (
        "per_natalia",
        ["per_by_id"],
    )


def test_a_shared_email_s_owner_known_with_the_names_swapped_is_the_record_s_person_not_a_relative() -> None:
    swapped = replace(
        person("per_kathy", email("katherinemurphy@outlook.com")),
        records=(NormalisedRecord(first_name="murphy", last_name="kathy"),),
    )
    record = NormalisedRecord(first_name="katherine", last_name="murphy", email="katherinemurphy@outlook.com")

    resolution = resolve_full(record, [email("katherinemurphy@outlook.com")], Evidence(owners=owned(swapped)))

    assert (resolution.person_id, resolution.created, resolution.household_with) == ("per_kathy", False, None)


def test_a_shared_email_s_owner_known_by_a_given_name_alone_is_the_record_s_person_with_the_names_swapped() -> None:
    caroline = replace(
        person("per_caroline", email("caroline.lagace@yahoo.ca")), records=(NormalisedRecord(first_name="caroline"),)
    )
    record = NormalisedRecord(first_name="lagace", last_name="caroline", email="caroline.lagace@yahoo.ca")

    resolution = resolve_full(record, [email("caroline.lagace@yahoo.ca")], Evidence(owners=owned(caroline)))

    assert (resolution.person_id, resolution.created, resolution.household_with) == ("per_caroline", False, None)


def test_a_relative_whose_family_name_is_the_owner_s_first_name_stays_a_relative() -> None:
    martin = replace(
        person("per_martin", email("famille@example.com")),
        records=(NormalisedRecord(first_name="martin", last_name="tremblay"),),
    )
    record = NormalisedRecord(first_name="julie", last_name="martin", email="famille@example.com")

    resolution = resolve_full(record, [email("famille@example.com")], Evidence(owners=owned(martin)))

    assert resolution.created
    assert resolution.household_with == "per_martin"


@pytest.mark.parametrize(("known", "arriving"), [("jocelyn", "jocelyne"), ("emile", "emilie"), ("marc", "marcel")])
def test_a_sibling_or_spouse_with_a_name_alike_using_the_family_email_joins_the_household(
    known: str, arriving: str
) -> None:
    owner = person("per_known", email("famille.roy@example.com"), first_names=[known])

    resolution = resolve([email("famille.roy@example.com")], Evidence(owners=owned(owner)), first_name=arriving)

    assert resolution.created
    assert resolution.household_with == "per_known"


@pytest.mark.parametrize(("known", "arriving"), [("roy sr", "roy jr"), ("roy pere", "roy fils")])
def test_a_son_named_as_his_father_using_the_family_email_joins_the_household(known: str, arriving: str) -> None:
    father = Person(
        person_id="per_father",
        organisation_id=ORGANISATION,
        created_at=START,
        created_by_event="created-per_father",
        identifiers=frozenset({email("famille.roy@example.com")}),
        records=(NormalisedRecord(first_name="jean", last_name=known),),
    )

    resolution = resolve_full(
        NormalisedRecord(first_name="jean", last_name=arriving),
        [email("famille.roy@example.com")],
        Evidence(owners=owned(father)),
    )

    assert resolution.created
    assert resolution.household_with == "per_father"


# Whose history a fact resolved to a survivor is part of: whom an unmerge would give its record back to

SHOP = "shopify-boutique"


def anne_holding_bea_and_carl() -> Evidence:
    """Anne, created first, with Béa merged into her and Carl merged into Béa: the ownership index follows the merges
    to Anne, and remembers who claimed each identifier."""
    anne = person("per_anne", upstream_id("C-1"), email("anne@example.com"), first_names=["anne"])
    claimed_by = {
        upstream_id("C-1"): "per_anne",
        email("anne@example.com"): "per_anne",
        upstream_id("207", SHOP): "per_bea",
        email("bea@example.com"): "per_bea",
        upstream_id("311", SHOP): "per_carl",
    }
    return Evidence(owners=dict.fromkeys(claimed_by, anne), claimers=claimed_by)


@pytest.mark.parametrize(
    ("record", "history_of"),
    [
        # Béa's shop id, later, with her own email or with none: hers.
        (NormalisedRecord(source=SHOP, external_id="207", email="bea@example.com"), "per_bea"),
        (NormalisedRecord(source=SHOP, external_id="207"), "per_bea"),
        # Her email alone: hers too.
        (NormalisedRecord(email="bea@example.com"), "per_bea"),
        # An upstream id outranks an email: Béa's shop id with Anne's email is Béa's, Anne's box-office id with
        # Béa's email Anne's own.
        (NormalisedRecord(source=SHOP, external_id="207", email="anne@example.com"), "per_bea"),
        (NormalisedRecord(source=BOX_OFFICE, external_id="C-1", email="bea@example.com"), None),
        # Carl's shop id: his, though he is merged into Béa, and she into Anne.
        (NormalisedRecord(source=SHOP, external_id="311"), "per_carl"),
        # Anne's own email: her own history.
        (NormalisedRecord(email="anne@example.com"), None),
    ],
)
def test_a_later_fact_resolved_to_a_survivor_is_part_of_the_history_of_whoever_claimed_its_strongest_identifier(
    record: NormalisedRecord, history_of: str | None
) -> None:
    evidence = anne_holding_bea_and_carl()
    usable, _blocked = identifiers_of(record, POLICY, ORGANISATION)

    resolution = resolve_full(record, usable, evidence)

    assert (resolution.person_id, resolution.merge, resolution.history_of) == ("per_anne", None, history_of)


def test_a_later_fact_whose_strongest_identifier_the_survivor_claims_with_it_is_the_survivor_s_own() -> None:
    # A new box-office id with Béa's email: Anne claims the id, which outranks the email, so the fact is Anne's own.
    evidence = anne_holding_bea_and_carl()
    record = NormalisedRecord(source=BOX_OFFICE, external_id="C-9", email="bea@example.com")
    usable, _blocked = identifiers_of(record, POLICY, ORGANISATION)

    resolution = resolve_full(record, usable, evidence)

    assert resolution.claims == (upstream_id("C-9"),)
    assert resolution.history_of is None
