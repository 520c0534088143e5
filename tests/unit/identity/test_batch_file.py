"""A batch file's lines whatever ends them, read a piece at a time."""

import io

from services.identity.batch_file import START_BYTES, file_lines


def test_lines_ended_by_a_carriage_return_alone_come_whole_however_the_pieces_cut_them() -> None:
    long_record = b'{"record_id": "r2", "note": "' + b"x" * (3 * START_BYTES) + b'"}'
    # A CRLF cut in two by the end of the first piece, a line longer than several pieces, and a last line unended.
    first = b'{"record_id": "r1"}'.ljust(START_BYTES - 1, b" ") + b"\r"
    content = first + b"\n" + long_record + b"\r" + b'{"record_id": "r3"}\r\r{"record_id": "r4"}'

    lines = list(file_lines(io.BytesIO(content)))

    assert lines == [first + b"\n", long_record + b"\r", b'{"record_id": "r3"}\r', b"\r", b'{"record_id": "r4"}']
    assert b"".join(lines) == content
