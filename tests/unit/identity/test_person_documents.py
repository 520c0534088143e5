"""A person's records are kept as one JSON text: what is written reads back the same, accents included, and so does
what earlier releases wrote with every accent escaped."""

import json
from datetime import UTC, date, datetime

from services.identity.adapters.documents import person_document, person_from, record_document
from services.identity.domain.persons import Person
from services.identity.domain.records import NormalisedRecord

RECORDS = (
    NormalisedRecord(
        source="boxoffice",
        external_id="C-1",
        email="éloïse.côté@exemple.québec",
        first_name="eloise",
        last_name="cote",
        birth_date=date(1984, 5, 17),
    ),
    NormalisedRecord(source="shop", email="ecote@exemple.ca", phone="+15145550199"),
)
PERSON = Person(
    person_id="per_1",
    organisation_id="theatre-du-nord",
    created_at=datetime(2026, 1, 5, 19, 30, tzinfo=UTC),
    created_by_event="e1",
    records=RECORDS,
    version=3,
)


def test_records_read_back_as_they_were_written() -> None:
    assert person_from(person_document(PERSON)) == PERSON


def test_records_are_kept_with_their_accents_as_they_are() -> None:
    text = person_document(PERSON)["records"]

    assert "éloïse.côté@exemple.québec" in text
    assert json.loads(text) == [record_document(record) for record in RECORDS]


def test_records_an_earlier_release_wrote_with_escaped_accents_read_the_same() -> None:
    earlier = {
        **person_document(PERSON),
        "records": json.dumps([record_document(record) for record in RECORDS], separators=(",", ":")),
    }
    assert "\\u00e9lo\\u00efse" in earlier["records"]

    assert person_from(earlier) == PERSON
