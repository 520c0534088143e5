"""A batch file's lines as bytes, each with its line end: LF or CRLF, or a carriage return alone as old Macs wrote."""

import re
from collections.abc import Iterator
from typing import BinaryIO

from services.identity.domain.batch_input import ends_lines_with_cr_alone

# Enough for several records of any real length: how the first lines end tells how the file's do.
START_BYTES = 64 * 1024
_LINE_END = re.compile(rb"\r\n?|\n")


def file_lines(raw: BinaryIO) -> Iterator[bytes]:
    """The lines of `raw`, a file open at its start, read a piece at a time: memory stays flat whatever its size.

    A file whose lines end with a carriage return alone is read as the other files are, a line a record: to staff
    it is a list of records like any other (every editor shows it so), and a JSON record cannot hold a bare carriage
    return (JSON writes it `\\r`), so taking one for a line end cuts no record. Read at LF, it would be one line.
    """
    start = raw.read(START_BYTES)
    raw.seek(0)
    if ends_lines_with_cr_alone(start):
        return _lines_ending_in_any_way(raw)
    return iter(raw)


def _lines_ending_in_any_way(raw: BinaryIO) -> Iterator[bytes]:
    # Any line end, not only CR: a file put together from others may change its line ends on the way.
    pending = bytearray()
    # Where the search for the next line end resumes: a long line is read through once, not again with each piece.
    searched = 0
    while piece := raw.read(START_BYTES):
        pending += piece
        taken = 0
        for end in _LINE_END.finditer(pending, searched):
            if end.end() == len(pending) and end[0] == b"\r":
                # Perhaps the CR of a CRLF the read cut in two: the next piece tells.
                break
            yield bytes(pending[taken : end.end()])
            taken = end.end()
        del pending[:taken]
        # A CR held back at the end is searched again with the next piece.
        searched = max(len(pending) - 1, 0)
    if pending:
        yield bytes(pending)
