"""Reading box-office exports beside the import: in a worker thread, or in a child process of its own.

Parsing is pure Python; in a thread it holds the GIL the event loop needs to claim ids and publish, in a child
process it runs on another core. Either way rows come back as `ParsedChunk`s, their events already serialised.
"""

import asyncio
import contextlib
import io
import itertools
import multiprocessing
from collections.abc import AsyncGenerator, Iterator
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any, BinaryIO

from services.ingest.domain.boxoffice import AcceptedRow, RowOutcome, read_boxoffice_csv
from services.ingest.domain.boxoffice_mapping import ColumnMapping
from services.ingest.ports import ParsedChunk
from shared.kafka import serialised

# Blocks of the file sent to the child process; with the pipe's own buffer, how far reading runs ahead.
BLOCK_BYTES = 256 * 1024
_STOP_SECONDS = 10


def _chunks(outcomes: Iterator[RowOutcome], chunk_rows: int) -> Iterator[ParsedChunk]:
    while True:
        chunk = ParsedChunk([], [])
        for outcome in itertools.islice(outcomes, chunk_rows):
            if isinstance(outcome, AcceptedRow):
                chunk.rows.append(len(outcome.envelopes))
                chunk.events.extend(serialised(envelope) for envelope in outcome.envelopes)
            else:
                chunk.rows.append(outcome)
        if not chunk.rows:
            return
        yield chunk


async def read_in_thread(
    stream: BinaryIO,
    *,
    organisation_id: str,
    source: str,
    mapping: ColumnMapping | None,
    imported_at: datetime,
    chunk_rows: int,
) -> AsyncGenerator[ParsedChunk, None]:
    """Parses in a worker thread, the next chunk while the caller handles this one; two chunks in memory at most."""
    chunks = await asyncio.to_thread(
        lambda: _chunks(
            read_boxoffice_csv(
                stream, organisation_id=organisation_id, source=source, mapping=mapping, imported_at=imported_at
            ),
            chunk_rows,
        )
    )
    reading = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
    try:
        while (chunk := await reading) is not None:
            reading = asyncio.ensure_future(asyncio.to_thread(next, chunks, None))
            yield chunk
    finally:
        # Never leave the reader running on a file the caller is about to close.
        await asyncio.wait([reading])
        if not reading.cancelled():
            reading.exception()


async def read_in_child_process(
    stream: BinaryIO,
    *,
    organisation_id: str,
    source: str,
    mapping: ColumnMapping | None,
    imported_at: datetime,
    chunk_rows: int,
) -> AsyncGenerator[ParsedChunk, None]:
    """Parses in a child process started for this import and stopped after it.

    This process reads the file and sends it in blocks (so an upload's temporary file, which has no name, works
    as well as a path, and the stream's position still tells progress); the child sends chunks back. Pipes
    block when full, so neither side runs more than a block and a chunk or two ahead of the other.
    """
    # Spawned, not forked: this process runs an event loop and client threads a fork would copy mid-flight.
    context = multiprocessing.get_context("spawn")
    blocks_out, blocks_in = context.Pipe(duplex=False)
    chunks_out, chunks_in = context.Pipe(duplex=False)
    child = context.Process(
        target=_parse_in_child,
        args=(blocks_out, chunks_in, organisation_id, source, mapping, imported_at, chunk_rows),
        name="parterre-boxoffice-reader",
        daemon=True,
    )
    child.start()
    blocks_out.close()
    chunks_in.close()
    feeding = asyncio.ensure_future(asyncio.to_thread(_feed, stream, blocks_in))
    try:
        while True:
            answer = await asyncio.to_thread(chunks_out.recv)
            if isinstance(answer, BaseException):
                raise answer
            if answer is None:
                return
            yield answer
    finally:
        if child.is_alive():
            child.kill()  # also ends the feeding thread: its pipe breaks
        await asyncio.wait([feeding])
        if not feeding.cancelled():
            feeding.exception()
        await asyncio.to_thread(child.join, _STOP_SECONDS)
        for connection in (blocks_in, chunks_out):
            connection.close()


def _feed(stream: BinaryIO, blocks: Connection) -> None:
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        while block := stream.read(BLOCK_BYTES):
            blocks.send_bytes(block)
        blocks.send_bytes(b"")


class _ReceivedBytes(io.RawIOBase):
    """The file as the importing process sends it, block by block; an empty block ends it."""

    def __init__(self, blocks: Connection) -> None:
        super().__init__()
        self._blocks = blocks
        self._pending = memoryview(b"")
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending and not self._ended:
            block = self._blocks.recv_bytes()
            self._ended = not block
            self._pending = memoryview(block)
        target = memoryview(buffer).cast("B")
        count = min(target.nbytes, len(self._pending))
        target[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        return count


def _parse_in_child(
    blocks: Connection,
    chunks: Connection,
    organisation_id: str,
    source: str,
    mapping: ColumnMapping | None,
    imported_at: datetime,
    chunk_rows: int,
) -> None:
    try:
        outcomes = read_boxoffice_csv(
            io.BufferedReader(_ReceivedBytes(blocks)),
            organisation_id=organisation_id,
            source=source,
            mapping=mapping,
            imported_at=imported_at,
        )
        for chunk in _chunks(outcomes, chunk_rows):
            chunks.send(chunk)
        chunks.send(None)
    except Exception as exc:
        try:
            chunks.send(exc)
        except Exception:
            chunks.send(RuntimeError(f"reading the export failed: {exc!r}"))


READERS = {"thread": read_in_thread, "child_process": read_in_child_process}
