"""The synthetic audience is a fair yardstick: deterministic, streamed, and hard in the ways real audiences are."""

import collections
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.identity import quebec
from bench.identity import synthetic as audience
from bench.identity.synthetic import Corruption, SyntheticRecord, generate_audience, read_truth, write_audience

PEOPLE = 2_000
TEXT_FIELDS = ("first_name", "last_name", "street", "address_2", "city", "region")


@pytest.fixture(scope="module")
def records() -> list[SyntheticRecord]:
    return list(generate_audience(PEOPLE, seed=11))


@pytest.fixture(scope="module")
def by_person(records: list[SyntheticRecord]) -> dict[str, list[SyntheticRecord]]:
    grouped: dict[str, list[SyntheticRecord]] = collections.defaultdict(list)
    for record in records:
        grouped[record.true_person_id].append(record)
    return grouped


def mailbox(email: str) -> str:
    local, _, domain = email.lower().partition("@")
    if domain == "gmail.com":
        local = local.split("+")[0].replace(".", "")
    return f"{local}@{domain}"


def phone_digits(phone: str) -> str:
    return re.sub(r"\D", "", phone)[-10:]


def share(records: list[SyntheticRecord], kind: Corruption) -> float:
    return sum(kind in record.corruptions for record in records) / len(records)


def test_the_same_seed_gives_the_same_audience_and_another_seed_another() -> None:
    assert list(generate_audience(300, seed=3)) == list(generate_audience(300, seed=3))
    assert list(generate_audience(300, seed=3)) != list(generate_audience(300, seed=4))


def test_the_audience_is_streamed_record_by_record(monkeypatch: pytest.MonkeyPatch) -> None:
    people_made = 0
    make_household = audience._World.household

    def counted_household(world: audience._World, first_number: int, most: int) -> list[Any]:
        nonlocal people_made
        household = make_household(world, first_number, most)
        people_made += len(household)
        return household

    monkeypatch.setattr(audience._World, "household", counted_household)
    stream = generate_audience(10_000_000, seed=1)

    first_thousand = list(itertools.islice(stream, 1_000))

    assert isinstance(stream, Iterator)
    assert len(first_thousand) == 1_000
    # Building ten million people first would take half an hour: only those whose records come first are made.
    assert 0 < people_made < 5_000


def test_every_person_has_between_one_and_six_records_about_two_and_a_half_on_average(
    records: list[SyntheticRecord], by_person: dict[str, list[SyntheticRecord]]
) -> None:
    assert len(by_person) == PEOPLE
    assert {len(person_records) for person_records in by_person.values()} <= set(range(1, 7))
    assert 2.3 <= len(records) / PEOPLE <= 2.7


def test_record_ids_are_unique_and_say_nothing_of_the_person(records: list[SyntheticRecord]) -> None:
    assert len({record.record_id for record in records}) == len(records)
    assert all(record.true_person_id not in record.record_id for record in records)


def test_records_come_in_time_order_not_grouped_by_person(records: list[SyntheticRecord]) -> None:
    next_to_same_person = sum(
        first.true_person_id == second.true_person_id for first, second in itertools.pairwise(records)
    )

    assert next_to_same_person < len(records) * 0.02


def test_every_source_and_walk_up_sales_without_an_account_occur(records: list[SyntheticRecord]) -> None:
    sources = collections.Counter(record.source for record in records)
    walk_ups = [record for record in records if record.source == audience.BOX_OFFICE and record.external_id is None]

    assert set(sources) == {audience.BOX_OFFICE, audience.SHOP, audience.NEWSLETTER, audience.DONATIONS}
    assert len(walk_ups) > len(records) * 0.08
    assert all(record.email is None and record.street is None for record in walk_ups)
    assert all(record.external_id is None for record in records if record.source == audience.NEWSLETTER)
    assert all(
        re.fullmatch(r"C-\d{6}", record.external_id or "C-000000")
        for record in records
        if record.source == audience.BOX_OFFICE
    )
    assert all((record.external_id or "").isdigit() for record in records if record.source == audience.SHOP)


def test_households_share_an_email_or_phone_between_different_people_and_only_households_do(
    records: list[SyntheticRecord],
) -> None:
    people_by_key: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    households_by_key: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for record in records:
        keys = [("email", mailbox(record.email))] if record.email else []
        keys += [("phone", phone_digits(record.phone))] if record.phone else []
        for key in keys:
            people_by_key[key].add(record.true_person_id)
            households_by_key[key].add(record.household_id)
    shared = [key for key, people in people_by_key.items() if len(people) > 1]

    assert sum(kind == "email" for kind, _ in shared) >= 20
    assert sum(kind == "phone" for kind, _ in shared) >= 20
    # A typo can land on someone else's address in principle; here it never does.
    assert all(len(households_by_key[key]) == 1 for key in shared)


def test_members_of_one_household_never_share_a_first_name(records: list[SyntheticRecord]) -> None:
    first_names: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for record in records:
        if record.first_name and not record.corruptions:
            first_names[record.household_id][record.true_person_id] = record.first_name
    households = [names for names in first_names.values() if len(names) > 1]

    assert len(households) >= 100
    assert all(len(set(names.values())) == len(names) for names in households)


def test_distinct_people_often_share_a_full_name(by_person: dict[str, list[SyntheticRecord]]) -> None:
    people_by_name: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for person_id, person_records in by_person.items():
        for record in person_records:
            if record.first_name and record.last_name and not record.corruptions:
                people_by_name[(record.first_name, record.last_name)].add(person_id)
    namesakes = [people for people in people_by_name.values() if len(people) > 1]

    assert len(namesakes) >= 10


def test_many_people_share_a_forward_sortation_area_and_some_a_full_postal_code(
    records: list[SyntheticRecord],
) -> None:
    codes_by_person: dict[str, set[str]] = collections.defaultdict(set)
    for record in records:
        if record.postal_code and Corruption.TYPO not in record.corruptions:
            codes_by_person[record.true_person_id].add(re.sub(r"[^A-Z0-9]", "", record.postal_code.upper()))
    people_by_code = collections.Counter(code for codes in codes_by_person.values() for code in codes)
    people_by_area = collections.Counter(code[:3] for codes in codes_by_person.values() for code in codes)

    assert max(people_by_area.values()) >= 20
    assert sum(count > 1 for count in people_by_code.values()) >= 100
    assert all(re.fullmatch(r"[A-Z]\d[A-Z]\d[A-Z]\d", code) for code in people_by_code)


def test_one_person_is_written_many_ways_across_sources(records: list[SyntheticRecord]) -> None:
    phone_layouts = {re.sub(r"\d", "9", record.phone) for record in records if record.phone}
    street_forms = " ".join(record.street for record in records if record.street)

    assert len(phone_layouts) >= 8
    assert {"boul.", "boulevard", "rue", "av.", "Street"} <= set(street_forms.split())
    assert any(record.birth_date and "-" in record.birth_date for record in records)
    assert any(record.birth_date and record.birth_date.isdigit() for record in records)


@pytest.mark.parametrize(
    ("kind", "rate"),
    [
        (Corruption.TYPO, audience.TYPO_RATE),
        (Corruption.CASE_CHANGE, audience.CASE_CHANGE_RATE),
        (Corruption.MISSING_FIELD, audience.MISSING_FIELD_RATE),
        (Corruption.SWAPPED_NAMES, audience.SWAPPED_NAMES_RATE),
    ],
)
def test_corruptions_that_can_touch_any_record_occur_at_about_their_rate(
    records: list[SyntheticRecord], kind: Corruption, rate: float
) -> None:
    # The cap on harmful corruptions per record and fields that cannot be dropped lower the rate a little.
    assert 0.6 * rate <= share(records, kind) <= 1.3 * rate


def test_accent_loss_and_mojibake_occur_at_about_their_rate_among_records_with_accents(
    records: list[SyntheticRecord],
) -> None:
    accented = [
        record
        for record in records
        if {Corruption.ACCENT_LOSS, Corruption.MOJIBAKE} & set(record.corruptions)
        or any(not (getattr(record, name) or "").isascii() for name in TEXT_FIELDS)
    ]

    assert 0.8 * audience.ACCENT_LOSS_RATE <= share(accented, Corruption.ACCENT_LOSS) <= 1.2 * audience.ACCENT_LOSS_RATE
    assert 0 < share(accented, Corruption.MOJIBAKE) <= 2.5 * audience.MOJIBAKE_RATE
    assert any("Ã" in (record.first_name or "") + (record.last_name or "") for record in accented)


def test_gmail_variants_occur_at_about_their_rate_among_gmail_addresses(records: list[SyntheticRecord]) -> None:
    gmail = [record for record in records if record.email and record.email.lower().endswith("@gmail.com")]

    assert (
        0.7 * audience.GMAIL_VARIANT_RATE <= share(gmail, Corruption.GMAIL_VARIANT) <= 1.3 * audience.GMAIL_VARIANT_RATE
    )
    assert any("+" in (record.email or "") for record in gmail)


def test_nicknames_and_spelling_variants_occur_at_about_their_rate_where_a_name_allows_them(
    records: list[SyntheticRecord],
) -> None:
    nameable = [
        record
        for record in records
        if Corruption.NICKNAME in record.corruptions or record.first_name in quebec.NICKNAMES
    ]
    spellable = [
        record
        for record in records
        if Corruption.SPELLING_VARIANT in record.corruptions
        or "-" in (record.first_name or "") + (record.last_name or "")
        or "'" in (record.last_name or "")
    ]

    assert 0.6 * audience.NICKNAME_RATE <= share(nameable, Corruption.NICKNAME) <= 1.6 * audience.NICKNAME_RATE
    assert (
        0.6 * audience.SPELLING_VARIANT_RATE
        <= share(spellable, Corruption.SPELLING_VARIANT)
        <= 1.6 * audience.SPELLING_VARIANT_RATE
    )
    assert any(record.first_name in ("JF", "Bob", "Alex", "Steph", "Mike") for record in records)


def test_compound_surnames_are_sometimes_written_with_one_part(records: list[SyntheticRecord]) -> None:
    assert 0 < share(records, Corruption.SURNAME_PART) <= audience.SURNAME_PART_RATE * 0.1


def test_people_move_and_change_email_at_about_their_rate(by_person: dict[str, list[SyntheticRecord]]) -> None:
    returning = [person_records for person_records in by_person.values() if len(person_records) > 1]

    def people_with(kind: Corruption) -> float:
        return sum(any(kind in record.corruptions for record in person) for person in returning) / len(returning)

    # Only records that show an address (or an email) reveal the change, so fewer people show it than make it.
    assert 0.5 * audience.MOVE_RATE <= people_with(Corruption.MOVED) <= 1.1 * audience.MOVE_RATE
    assert 0.3 * audience.EMAIL_CHANGE_RATE <= people_with(Corruption.CHANGED_EMAIL) <= 1.1 * audience.EMAIL_CHANGE_RATE


def test_a_moved_person_shows_two_postal_codes(by_person: dict[str, list[SyntheticRecord]]) -> None:
    def codes(person_records: list[SyntheticRecord]) -> set[str]:
        return {re.sub(r"[^A-Z0-9]", "", (record.postal_code or "").upper()) for record in person_records}

    for person_records in by_person.values():
        if any(Corruption.TYPO in record.corruptions for record in person_records):
            continue
        with_code = [record for record in person_records if record.postal_code]
        moved = [record for record in with_code if Corruption.MOVED in record.corruptions]
        stayed = [record for record in with_code if Corruption.MOVED not in record.corruptions]
        if moved and stayed:
            assert codes(moved).isdisjoint(codes(stayed))


def test_no_record_is_corrupted_beyond_recognition(records: list[SyntheticRecord]) -> None:
    for record in records:
        assert sum(kind in audience.DAMAGING for kind in record.corruptions) <= audience.MAX_DAMAGING_CORRUPTIONS
        assert record.first_name or record.last_name
        assert record.email or record.phone or record.postal_code or record.street


def test_the_writer_streams_the_input_and_a_separate_truth(tmp_path: Path) -> None:
    input_path, truth_path = tmp_path / "input.jsonl", tmp_path / "truth.csv"
    records = list(generate_audience(200, seed=5))

    written = write_audience(iter(records), input_path, truth_path)

    lines = [json.loads(line) for line in input_path.read_text(encoding="utf-8").splitlines()]
    assert written == len(records) == len(lines)
    assert lines[0] == records[0].as_input()
    assert all(set(line) <= {"record_id", *audience.INPUT_FIELDS} and None not in line.values() for line in lines)
    assert read_truth(truth_path) == {record.record_id: record.true_person_id for record in records}
    assert truth_path.read_text(encoding="utf-8").splitlines()[0] == "record_id,true_person_id"
