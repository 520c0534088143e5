"""The benchmark's and failure tests' stream of upstream events: patrons who are people of their own."""

from collections import defaultdict
from datetime import date
from typing import Any

from demo.traffic import upstream_events
from services.identity.domain.matching import blocking_keys
from services.identity.domain.normalise import normalise_record
from services.identity.domain.records import PersonRecord

ORGANISATION = "theatre-test"


def _people(events: list[dict[str, Any]]) -> dict[str, set[tuple[str, str, str]]]:
    """Email → the (first name, last name, postal code) the stream gives it."""
    people: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
    for event in events:
        person = event["data"]["person"]
        people[person["email"]].add((person["first_name"], person["last_name"], person.get("postal_code", "")))
    return people


def test_each_patron_keeps_one_name_and_home_in_every_system() -> None:
    people = _people(upstream_events(3000, organisation_id=ORGANISATION, patrons=300))
    for email, seen in people.items():
        names = {(first, last) for first, last, _postal_code in seen}
        postal_codes = {postal_code for _first, _last, postal_code in seen if postal_code}
        assert len(names) == 1, f"{email} is known by several names: {names}"
        assert len(postal_codes) <= 1, f"{email} lives at several postal codes: {postal_codes}"


def test_patrons_are_not_one_crowd_of_look_alikes() -> None:
    events = upstream_events(6000, organisation_id=ORGANISATION, patrons=1000)
    people = _people(events)
    assert len(people) > 900
    homes = {home for seen in people.values() for home in seen}
    # A few namesakes at one postal code is life; hundreds would make every new patron a look-alike.
    assert len(homes) >= 0.98 * len(people)
    members: dict[str, set[str]] = defaultdict(set)
    for event in events:
        person = event["data"]["person"]
        record = PersonRecord(
            source=person["source"],
            first_name=person["first_name"],
            last_name=person["last_name"],
            postal_code=person.get("postal_code"),
        )
        for key in blocking_keys(normalise_record(record, today=date(2026, 11, 29))):
            members[key].add(person["email"])
    assert max(len(emails) for emails in members.values()) < 50


def test_the_same_seed_gives_the_same_stream() -> None:
    first = upstream_events(200, organisation_id=ORGANISATION, patrons=50, seed=3)
    again = upstream_events(200, organisation_id=ORGANISATION, patrons=50, seed=3)
    other = upstream_events(200, organisation_id=ORGANISATION, patrons=50, seed=4)
    assert first == again
    assert first != other
