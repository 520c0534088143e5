"""People a shared name, home, phone or a staff-typed value must not make one: a father and the son named after him,
namesakes given the box office's own phone or email. A wrong merge costs more than a missed link."""

from dataclasses import replace
from datetime import UTC, date, datetime

from services.identity.domain.identifiers import evidence_of, identifiers_of, load_identifier_policy
from services.identity.domain.matching import DEFAULT_MODEL, Band, MatchBands, best_candidate
from services.identity.domain.normalise import normalise_record
from services.identity.domain.persons import Person
from services.identity.domain.records import PersonRecord
from services.identity.domain.resolution import Evidence, Matching, Resolution, resolve_record
from services.identity.settings import BUNDLED_POLICY

ORGANISATION = "theatre-du-nord"
TODAY = date(2026, 9, 1)
START = datetime(2026, 9, 1, 12, 0, tzinfo=UTC)
BANDS = MatchBands()
MATCHING = Matching(DEFAULT_MODEL, BANDS)
# The bundled policy, and the theatre's own phone and address, which clerks type for walk-up buyers.
POLICY = load_identifier_policy(
    BUNDLED_POLICY.read_text(encoding="utf-8")
    + f'\norganisations:\n  {ORGANISATION}:\n    phones: ["+1 514 555 0100"]\n'
    + '    emails: ["billetterie@theatredunord.example"]\n'
)
FATHER = PersonRecord(
    first_name="Jean",
    last_name="Tremblay",
    street="4521, rue Saint-Denis",
    city="Montréal",
    postal_code="H2J 2L1",
    birth_date="1958-05-02",
)
SON = replace(FATHER, birth_date="1988-11-20")


def known_person(person_id: str, raw: PersonRecord, *, minute: int = 0) -> Person:
    """A person as a version before this one stored them: their record as given, blocked values included."""
    record = normalise_record(raw, today=TODAY)
    usable, _ = identifiers_of(record, POLICY, ORGANISATION)
    return Person(
        person_id=person_id,
        organisation_id=ORGANISATION,
        created_at=START.replace(minute=minute),
        created_by_event=f"created-{person_id}",
        identifiers=frozenset(usable),
        records=(record,),
    )


def resolve(raw: PersonRecord, *known: Person) -> Resolution:
    """The record resolved as the service resolves it: as evidence, with its usable identifiers."""
    record, usable = evidence_of(normalise_record(raw, today=TODAY), POLICY, ORGANISATION)
    owners = {identifier: person for person in known for identifier in person.identifiers if identifier in usable}
    return resolve_record(
        record,
        usable,
        Evidence(owners=owners, candidates=known),
        organisation_id=ORGANISATION,
        event_id="evt-new",
        policy=POLICY,
        matching=MATCHING,
    )


def test_a_son_named_after_his_father_at_the_same_address_is_no_link_to_him() -> None:
    father, son = normalise_record(FATHER, today=TODAY), normalise_record(SON, today=TODAY)

    found = best_candidate(son, [("per_father", [father])], DEFAULT_MODEL, BANDS)

    assert found is not None
    assert found.band is not Band.LINK
    assert resolve(SON, known_person("per_father", FATHER)).created


def test_a_son_known_by_his_customer_id_is_not_merged_with_his_father_when_he_buys_again() -> None:
    son_record = replace(SON, source="billetterie", external_id="C-2002")
    father = known_person("per_father", replace(FATHER, source="billetterie", external_id="C-1001"))
    son = known_person("per_son", replace(son_record, street=None, city=None), minute=5)

    resolution = resolve(son_record, father, son)

    assert resolution.merge is None
    assert resolution.person_id == "per_son"


def test_a_shared_home_phone_makes_a_father_and_his_son_a_household_not_one_person() -> None:
    father = known_person("per_father", replace(FATHER, phone="514-555-0199", street=None))

    resolution = resolve(replace(SON, phone="(514) 555-0199", street=None), father)

    assert resolution.created
    assert resolution.household_with == "per_father"


def test_the_same_home_phone_and_birth_date_is_still_the_same_person() -> None:
    father = known_person("per_father", replace(FATHER, phone="514-555-0199", street=None))

    resolution = resolve(replace(FATHER, phone="514 555 0199", street=None, postal_code=None), father)

    assert resolution.person_id == "per_father"
    assert not resolution.created


def test_the_box_office_s_own_phone_links_no_namesakes_from_two_towns() -> None:
    in_quebec = known_person(
        "per_quebec",
        PersonRecord(first_name="Marie", last_name="Tremblay", postal_code="G1R 4P5", phone="514-555-0100"),
    )

    resolution = resolve(
        PersonRecord(first_name="Marie", last_name="Tremblay", postal_code="H2J 2L1", phone="514-555-0100"), in_quebec
    )

    assert resolution.created


def test_a_placeholder_phone_links_no_namesakes_from_two_towns() -> None:
    in_quebec = known_person(
        "per_quebec", PersonRecord(first_name="Jean", last_name="Gagnon", city="Québec", phone="514-555-5555")
    )

    resolution = resolve(
        PersonRecord(first_name="Jean", last_name="Gagnon", city="Gatineau", phone="514-555-5555"), in_quebec
    )

    assert resolution.created


def test_the_box_office_s_own_email_links_no_namesakes_and_is_no_evidence() -> None:
    in_quebec = known_person(
        "per_quebec",
        PersonRecord(
            first_name="Marie", last_name="Tremblay", city="Québec", email="billetterie@theatredunord.example"
        ),
    )
    in_laval = PersonRecord(
        first_name="Marie", last_name="Tremblay", city="Laval", email="Billetterie@TheatreDuNord.example"
    )

    record, usable = evidence_of(normalise_record(in_laval, today=TODAY), POLICY, ORGANISATION)

    assert (record.email, usable) == (None, [])
    assert resolve(in_laval, in_quebec).created


def test_a_switchboard_number_makes_no_one_of_two_colleagues_with_one_given_name() -> None:
    colleague = known_person(
        "per_marie_gagnon", PersonRecord(first_name="Marie", last_name="Gagnon", phone="514-555-0142 poste 212")
    )

    resolution = resolve(PersonRecord(first_name="Marie", last_name="Côté", phone="514-555-0142 poste 348"), colleague)

    assert resolution.created


def test_a_phone_still_links_the_same_given_and_family_name_spelled_otherwise() -> None:
    known = known_person("per_marie", PersonRecord(first_name="Marie", last_name="Côté", phone="514-555-0142"))

    resolution = resolve(PersonRecord(first_name="MARIE", last_name="Cote", phone="(514) 555-0142"), known)

    assert resolution.person_id == "per_marie"


# The same person still found: birth dates rule someone out only when none agrees.
ELISE = PersonRecord(
    first_name="Élise",
    last_name="Gagnon",
    email="elise.gagnon@example.com",
    postal_code="H2J 2L1",
    birth_date="1985-03-10",
)


def test_an_email_still_links_a_birth_date_one_day_off() -> None:
    # A date picker storing midnight UTC shows 1985-03-09 in Montréal: same person, same email, same names.
    resolution = resolve(replace(ELISE, birth_date="1985-03-09"), known_person("per_elise", ELISE))

    assert resolution.person_id == "per_elise"
    assert not resolution.created


def test_an_email_still_links_a_person_whose_records_already_carry_two_birth_dates() -> None:
    # The date first typed at the box office, and the one corrected since.
    typed_wrong = known_person("per_elise", replace(ELISE, birth_date="2001-06-14", source="bo", external_id="C-7"))
    known = replace(typed_wrong, records=(*typed_wrong.records, normalise_record(ELISE, today=TODAY)))

    resolution = resolve(ELISE, known)

    assert resolution.person_id == "per_elise"
    assert not resolution.created


def test_a_customer_id_and_an_email_still_merge_two_records_of_one_person_a_day_apart() -> None:
    box_office = known_person("per_bo", replace(ELISE, email=None, source="bo", external_id="C-7"))
    shop = known_person("per_shop", replace(ELISE, birth_date="1985-03-09"), minute=5)

    resolution = resolve(replace(ELISE, source="bo", external_id="C-7"), box_office, shop)

    assert resolution.merge is not None


def test_a_phone_still_links_a_family_name_given_with_or_without_its_particle() -> None:
    known = known_person("per_maria", PersonRecord(first_name="Maria", last_name="dos Santos", phone="514-555-0142"))

    resolution = resolve(PersonRecord(first_name="Maria", last_name="Santos", phone="514 555 0142"), known)

    assert resolution.person_id == "per_maria"


def test_a_phone_and_the_same_birth_date_still_link_a_woman_who_changed_family_name() -> None:
    known = known_person(
        "per_marie", PersonRecord(first_name="Marie", last_name="Gagnon", phone="514-555-0142", birth_date="1961-04-12")
    )

    resolution = resolve(
        PersonRecord(first_name="Marie", last_name="Côté", phone="514 555 0142", birth_date="1961-04-12"), known
    )

    assert resolution.person_id == "per_marie"
