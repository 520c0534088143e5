"""Records as identity stores them, read back."""

from datetime import date

from services.identity.adapters.documents import record_document, record_from
from services.identity.domain.matching import birth_dates_differ
from services.identity.domain.records import NormalisedRecord


def test_a_record_reads_back_as_it_was_stored() -> None:
    record = NormalisedRecord(source="billetterie", email="anne@example.com", birth_date=date(1984, 3, 17))

    assert record_from(record_document(record)) == record


def test_a_placeholder_birth_date_stored_before_it_was_read_as_none_reads_back_as_none() -> None:
    stored = record_from({"source": "billetterie", "email": "anne@example.com", "birth_date": "1970-01-01"})
    arriving = NormalisedRecord(source="boutique", email="anne@example.com", birth_date=date(1984, 3, 17))

    assert stored.birth_date is None
    assert not birth_dates_differ(stored, arriving)
