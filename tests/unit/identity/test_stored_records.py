"""Records as identity stores them, read back."""

from datetime import date

from services.identity.adapters.documents import record_document, record_from
from services.identity.domain.matching import Level, birth_dates_differ, compare
from services.identity.domain.records import NormalisedRecord


def test_a_record_reads_back_as_it_was_stored() -> None:
    record = NormalisedRecord(source="billetterie", email="anne@example.com", birth_date=date(1984, 3, 17))

    assert record_from(record_document(record)) == record


def test_a_placeholder_birth_date_stored_before_it_was_read_as_none_reads_back_as_none() -> None:
    stored = record_from({"source": "billetterie", "email": "anne@example.com", "birth_date": "1970-01-01"})
    arriving = NormalisedRecord(source="boutique", email="anne@example.com", birth_date=date(1984, 3, 17))

    assert stored.birth_date is None
    assert not birth_dates_differ(stored, arriving)


def test_a_record_reads_back_with_its_unit() -> None:
    record = NormalisedRecord(street_number="4521", street_name="st denis rue", unit="3", postal_code="H2J 2L1")

    assert record_document(record)["unit"] == "3"
    assert record_from(record_document(record)) == record


def test_a_record_stored_before_units_were_kept_reads_as_giving_none_and_agrees_with_any() -> None:
    stored = record_from(
        {"first_name": "marie", "street_number": "4521", "street_name": "st denis rue", "postal_code": "H2J 2L1"}
    )
    arriving = NormalisedRecord(
        first_name="marie", street_number="4521", street_name="st denis rue", unit="12", postal_code="H2J 2L1"
    )

    assert stored.unit is None
    assert compare(stored, arriving).address is Level.SAME_ADDRESS
