"""Both ways of reading an export beside the import give the same chunks, refuse a bad file the same way, and stop."""

import io
import multiprocessing
from datetime import UTC, datetime

import pytest

from services.ingest.adapters.boxoffice_reader import READERS, read_in_child_process
from services.ingest.domain.boxoffice import (
    AcceptedRow,
    ColumnMapping,
    CsvFormatError,
    load_mapping,
    read_boxoffice_csv,
)
from services.ingest.ports import BoxOfficeReader, ParsedChunk
from shared.kafka import serialised
from tests.unit.ingest.test_ingest_output_pinned import generated_export
from tests.unit.ingest.vendor_fixtures import ORGANISATION, boxoffice_path

SOURCE = "billetterie-principale"
IMPORTED_AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


async def chunks_of(
    read: BoxOfficeReader, content: bytes, chunk_rows: int = 7, mapping: ColumnMapping | None = None
) -> list[ParsedChunk]:
    stream = io.BytesIO(content)
    return [
        chunk
        async for chunk in read(
            stream,
            organisation_id=ORGANISATION,
            source=SOURCE,
            imported_at=IMPORTED_AT,
            chunk_rows=chunk_rows,
            mapping=mapping,
        )
    ]


@pytest.mark.parametrize("way", sorted(READERS))
async def test_chunks_hold_every_row_in_order_with_the_events_the_domain_reads(way: str) -> None:
    content = generated_export()
    expected = list(
        read_boxoffice_csv(io.BytesIO(content), organisation_id=ORGANISATION, source=SOURCE, imported_at=IMPORTED_AT)
    )

    chunks = await chunks_of(READERS[way], content)

    assert [len(chunk.rows) for chunk in chunks[:-1]] == [7] * (len(chunks) - 1)
    rows = [row for chunk in chunks for row in chunk.rows]
    assert rows == [len(row.envelopes) if isinstance(row, AcceptedRow) else row for row in expected]
    events = [event for chunk in chunks for event in chunk.events]
    assert events == [serialised(e) for row in expected if isinstance(row, AcceptedRow) for e in row.envelopes]


async def test_a_column_mapping_reaches_the_child_process() -> None:
    mapping = load_mapping(boxoffice_path("export-personnalise.mapping.yaml").read_text())
    content = boxoffice_path("export-personnalise.csv").read_bytes()

    [chunk] = await chunks_of(read_in_child_process, content, chunk_rows=100, mapping=mapping)

    assert chunk.rows == [1, 1]


@pytest.mark.parametrize("way", sorted(READERS))
async def test_a_file_missing_a_required_column_is_refused_with_both_languages_whichever_way_it_is_read(
    way: str,
) -> None:
    with pytest.raises(CsvFormatError) as caught:
        await chunks_of(READERS[way], b"Courriel;Spectacle\ne@example.com;Gala\n")

    assert caught.value.code == "missing_columns"
    assert "Montant" in caught.value.fr
    assert "amount" in caught.value.missing


async def test_stopping_after_the_first_chunk_stops_the_child_process() -> None:
    chunks = read_in_child_process(
        io.BytesIO(generated_export() * 50),
        organisation_id=ORGANISATION,
        source=SOURCE,
        mapping=None,
        imported_at=IMPORTED_AT,
        chunk_rows=5,
    )
    first = await anext(chunks)
    await chunks.aclose()

    assert len(first.rows) == 5
    assert multiprocessing.active_children() == []
