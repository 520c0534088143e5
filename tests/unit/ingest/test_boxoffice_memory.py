"""A large export streams through the reader in flat memory: nothing is held beyond the row being read."""

import io
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from services.ingest.domain.boxoffice import AcceptedRow, read_boxoffice_csv

# tracemalloc slows every allocation down about fivefold; this many rows keeps the test near ten seconds while the
# file (over 2 MB, and about 100 MB as events held in memory: 5 KB a row) is far larger than the bound below.
ROWS = 20_000
PEAK_LIMIT_BYTES = 30 * 1024 * 1024
HEADER = "No de commande;Prénom;Nom;Courriel;Spectacle;Date de représentation;Salle;Quantité;Montant\r\n"


def generated_rows(count: int) -> Iterator[bytes]:
    yield HEADER.encode("cp1252")
    for index in range(count):
        day = 1 + index % 28
        line = (
            f"B-{index:07d};Élise{index % 97};Gagnon;patron{index}@example.com;Les Belles-sœurs;"
            f"{day:02d}/10/2026 20 h 00;Salle Jean-Duceppe;{1 + index % 4};{10 + index % 300},50 $\r\n"
        )
        yield line.encode("cp1252")


class GeneratedExport(io.RawIOBase):
    """A CSV export produced as it is read, so the test itself never holds the file either."""

    def __init__(self, rows: int) -> None:
        super().__init__()
        self._chunks = generated_rows(rows)
        self._pending = b""
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        while len(self._pending) < target.nbytes:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._pending += chunk
        count = min(target.nbytes, len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self.size += count
        return count


def test_a_large_export_streams_through_with_bounded_memory() -> None:
    export = GeneratedExport(ROWS)
    accepted = 0
    tracemalloc.start()
    started = time.perf_counter()
    try:
        outcomes = read_boxoffice_csv(
            export,  # type: ignore[arg-type]
            organisation_id="theatre-du-nord",
            source="billetterie-principale",
            imported_at=datetime(2026, 11, 20, tzinfo=UTC),
        )
        for outcome in outcomes:
            accepted += isinstance(outcome, AcceptedRow)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started

    assert accepted == ROWS
    assert export.size > 2_000_000
    assert peak < PEAK_LIMIT_BYTES, f"peak {peak / 1e6:.1f} MB for {ROWS} rows"
    print(f"{ROWS} rows in {elapsed:.1f} s under tracemalloc ({ROWS / elapsed:.0f} rows/s), peak {peak / 1e6:.2f} MB")
